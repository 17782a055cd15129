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

#endif
