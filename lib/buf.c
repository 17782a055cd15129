/*
 * buf - a string that grows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "mymalloc.h"

/* buf_reserve - room for n more bytes and the NUL, by doubling */
void buf_reserve(struct buf *b, size_t n)
{
    size_t cap = b->cap ? b->cap : 64;

    if (b->len + n + 1 <= b->cap)
        return;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
}

/* buf_add - append len bytes */
void buf_add(struct buf *b, const char *s, size_t len)
{
    buf_reserve(b, len);
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
}

/* buf_puts - append a string */
void buf_puts(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* buf_printf - append formatted text */
void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    buf_reserve(b, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

/* buf_html - append text escaped for HTML */
void buf_html(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&#39;");
            break;
        default:
            buf_add(b, s, 1);
        }
    }
}

/* buf_str - the string so far, "" when empty */
const char *buf_str(const struct buf *b)
{
    return b->s ? b->s : "";
}

/* buf_wipe - zero the bytes, then free */
void buf_wipe(struct buf *b)
{
    if (b->s)
        OPENSSL_cleanse(b->s, b->cap);
    buf_free(b);
}

/* buf_free - free the string */
void buf_free(struct buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}
