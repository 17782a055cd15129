/*
 * strlist - lists of words from configuration values.
 */
#ifndef MSSANTE_STRLIST_H
#define MSSANTE_STRLIST_H

#include <stddef.h>

/* strlist_split - split on any of seps, trimmed, empty items dropped */
char **strlist_split(const char *s, const char *seps);

/* strlist_has - whether a list holds a string (ASCII case-insensitive) */
int strlist_has(char **list, const char *s);

/* strlist_push - append s (taken, not copied) to a list of n items; cap as for xgrow */
char **strlist_push(char **list, size_t *n, size_t *cap, char *s);

/* strlist_free - the items and the list */
void strlist_free(char **list);

#endif
