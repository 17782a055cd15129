/*
 * buf - a string that grows: appended to, printed into, HTML-escaped into.
 * Memory grows by doubling; an allocation failure ends the process (xmalloc).
 */
#ifndef MSSANTE_BUF_H
#define MSSANTE_BUF_H

#include <stddef.h>

struct buf {
    char *s; /* NUL-terminated, or NULL when empty */
    size_t len, cap;
};

/* buf_reserve - room for n more bytes and the NUL (to write at s + len) */
void buf_reserve(struct buf *b, size_t n);

/* buf_add - append len bytes */
void buf_add(struct buf *b, const char *s, size_t len);

/* buf_puts - append a string */
void buf_puts(struct buf *b, const char *s);

/* buf_printf - append formatted text */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* buf_html - append text escaped for HTML content and attribute values */
void buf_html(struct buf *b, const char *s);

/* buf_str - the string so far ("" when empty) */
const char *buf_str(const struct buf *b);

/* buf_wipe - zero the bytes (secrets) and free */
void buf_wipe(struct buf *b);

/* buf_free - free */
void buf_free(struct buf *b);

#endif
