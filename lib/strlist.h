/*
 * strlist - lists of words from configuration values.
 */
#ifndef MSSANTE_STRLIST_H
#define MSSANTE_STRLIST_H

/* strlist_split - split on any of seps, trimmed, empty items dropped */
char  **strlist_split(const char *s, const char *seps);

/* strlist_has - whether a list holds a string (ASCII case-insensitive) */
int     strlist_has(char **list, const char *s);

void    strlist_free(char **list);

#endif
