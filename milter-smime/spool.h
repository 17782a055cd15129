/*
 * spool - a byte buffer that moves to a private temporary file when it
 * grows past a threshold, so that a 25 MB message costs a bounded amount
 * of memory.
 *
 * Writes append; spool_data() then gives the whole content as one
 * read-only region (the memory itself, or a mapping of the file). The
 * file is created unnamed (O_TMPFILE, mode 0600): nothing is left behind
 * whatever happens to the process.
 */
#ifndef MSSANTE_SPOOL_H
#define MSSANTE_SPOOL_H

#include <stddef.h>
#include <openssl/bio.h>

struct spool {
    unsigned char *buf; /* the content, or the write buffer of the file */
    size_t len;         /* bytes in buf */
    size_t cap;
    size_t total; /* bytes written in all */
    size_t threshold;
    const char *dir;
    int fd;    /* -1 while in memory */
    void *map; /* spool_data() of a file */
    size_t maplen;
    int failed; /* a write failed: errno saved in err */
    int err;
};

void spool_init(struct spool *s, size_t threshold, const char *dir);

/* spool_write - append; 0, or -1 (errno; the spool stays failed) */
int spool_write(struct spool *s, const void *data, size_t len);
int spool_puts(struct spool *s, const char *str);

/* spool_put_field - a header field "Name: value", its folding written CRLF */
void spool_put_field(struct spool *s, const char *name, const char *value);

/* spool_reserve - room for about n bytes at once (a hint: nothing if it would go to the file) */
void spool_reserve(struct spool *s, size_t n);

/* spool_data - the whole content; NULL with errno on failure */
const unsigned char *spool_data(struct spool *s);

/* spool_size - bytes written so far */
size_t spool_size(const struct spool *s);

/* spool_reset - empty it for reuse (closes any file) */
void spool_reset(struct spool *s);
void spool_free(struct spool *s);

/*
 * spool_bio - a write-only OpenSSL BIO appending to s; with base64 set,
 * what is written arrives base64-encoded in 76-character CRLF lines
 * (BIO_flush writes the last line).
 */
BIO *spool_bio(struct spool *s, int base64);

#endif
