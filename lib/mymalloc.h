/*
 * mymalloc - allocation that succeeds or ends the program.
 *
 * A daemon that cannot allocate a few bytes cannot do anything safe;
 * exiting lets the MTA's default action (tempfail) take over.
 */
#ifndef MSSANTE_MYMALLOC_H
#define MSSANTE_MYMALLOC_H

#include <stddef.h>

void *xmalloc(size_t len);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t len);
char *xstrdup(const char *str);
char *xstrndup(const char *str, size_t len);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * xgrow - ptr resized, if needed, to hold at least n elements of size
 * bytes; *cap (elements) doubles, so appending one at a time stays linear.
 *     list = xgrow(list, &cap, count + 1, sizeof(*list)); list[count++] = item;
 */
void *xgrow(void *ptr, size_t *cap, size_t n, size_t size);

#endif
