/*
 * mymalloc - allocation wrappers that never return NULL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "mymalloc.h"

/* xmalloc - allocate or die */
void *xmalloc(size_t len)
{
    void *p = malloc(len ? len : 1);

    if (p == NULL)
        msg_fatal("out of memory allocating %zu bytes", len);
    return p;
}

/* xcalloc - allocate zeroed memory or die */
void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        msg_fatal("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

/* xrealloc - resize or die */
void *xrealloc(void *ptr, size_t len)
{
    void *p = realloc(ptr, len ? len : 1);

    if (p == NULL)
        msg_fatal("out of memory allocating %zu bytes", len);
    return p;
}

/* xgrow - room for n elements, by doubling the capacity */
void *xgrow(void *ptr, size_t *cap, size_t n, size_t size)
{
    size_t c = *cap ? *cap : 8;

    if (n <= *cap && ptr != NULL)
        return ptr;
    while (c < n) {
        if (c > ((size_t) -1) / 2)
            msg_fatal("out of memory growing an array to %zu elements", n);
        c *= 2;
    }
    if (size && c > ((size_t) -1) / size)
        msg_fatal("out of memory growing an array to %zu elements of %zu bytes", n, size);
    *cap = c;
    return xrealloc(ptr, c * size);
}

/* xstrdup - copy a string or die */
char *xstrdup(const char *str)
{
    return xstrndup(str, strlen(str));
}

/* xstrndup - copy at most len bytes of a string, always terminated */
char *xstrndup(const char *str, size_t len)
{
    size_t n = strnlen(str, len);
    char *p = xmalloc(n + 1);

    memcpy(p, str, n);
    p[n] = 0;
    return p;
}

/* xasprintf - format into a new string or die */
char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    if (vasprintf(&p, fmt, ap) < 0)
        msg_fatal("out of memory formatting a string");
    va_end(ap);
    return p;
}
