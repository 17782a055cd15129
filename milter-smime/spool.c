/*
 * spool - memory first, then an unnamed temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "mymalloc.h"
#include "spool.h"

#define FILE_BUFSIZE 65536

/* spool_init - an empty spool: memory up to threshold, then a file in dir */
void spool_init(struct spool *s, size_t threshold, const char *dir)
{
    memset(s, 0, sizeof(*s));
    s->threshold = threshold;
    s->dir = dir;
    s->fd = -1;
}

/* fail - remember the first error; the spool stays failed */
static int fail(struct spool *s)
{
    s->failed = 1;
    s->err = errno ? errno : EIO;
    return -1;
}

/* write_all - write n bytes, across short writes and EINTR */
static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

/* to_file - move the content to an unnamed file; buf becomes its write buffer */
static int to_file(struct spool *s)
{
    if ((s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0)
        return fail(s);
    if (write_all(s->fd, s->buf, s->len) < 0)
        return fail(s);
    s->len = 0;
    if (s->cap > FILE_BUFSIZE) {
        free(s->buf);
        s->buf = xmalloc(FILE_BUFSIZE);
        s->cap = FILE_BUFSIZE;
    }
    return 0;
}

/* flush_file - the write buffer out to the file */
static int flush_file(struct spool *s)
{
    if (s->len && write_all(s->fd, s->buf, s->len) < 0)
        return fail(s);
    s->len = 0;
    return 0;
}

/* spool_reserve - room for about n bytes at once, when they would stay in memory */
void spool_reserve(struct spool *s, size_t n)
{
    if (s->fd < 0 && !s->map && n > s->cap && n <= s->threshold) {
        s->buf = xrealloc(s->buf, n);
        s->cap = n;
    }
}

/* spool_write - append, moving to a file past the threshold */
int spool_write(struct spool *s, const void *data, size_t len)
{
    if (s->failed) {
        errno = s->err;
        return -1;
    }
    if (s->map) { /* written after being read: not allowed */
        errno = EINVAL;
        return fail(s);
    }
    if (len == 0) /* nothing to add (and maybe no buffer yet) */
        return 0;
    if (s->fd < 0 && s->total + len > s->threshold && to_file(s) < 0)
        return -1;
    if (s->fd >= 0 && s->len + len > s->cap) {
        if (flush_file(s) < 0)
            return -1;
        if (len >= s->cap) {
            s->total += len;
            return write_all(s->fd, data, len) < 0 ? fail(s) : 0;
        }
    }
    if (s->len + len > s->cap) /* doubling, from 8 KB */
        s->buf = xgrow(s->buf, &s->cap, s->len + len < 8192 ? 8192 : s->len + len, 1);
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->total += len;
    return 0;
}

/* spool_puts - append a string */
int spool_puts(struct spool *s, const char *str)
{
    return spool_write(s, str, strlen(str));
}

/* spool_size - bytes written so far */
size_t spool_size(const struct spool *s)
{
    return s->total;
}

/* spool_data - the whole content, mapped when in a file; NULL on error */
const unsigned char *spool_data(struct spool *s)
{
    static const unsigned char empty[1];

    if (s->failed) {
        errno = s->err;
        return NULL;
    }
    if (s->fd < 0)
        return s->buf ? s->buf : empty;
    if (s->map)
        return s->map;
    if (flush_file(s) < 0)
        return NULL;
    if (s->total == 0)
        return empty;
    if ((s->map = mmap(NULL, s->total, PROT_READ, MAP_PRIVATE, s->fd, 0)) == MAP_FAILED) {
        s->map = NULL;
        fail(s);
        return NULL;
    }
    s->maplen = s->total;
    madvise(s->map, s->maplen, MADV_SEQUENTIAL);
    return s->map;
}

/* spool_reset - empty, for reuse */
void spool_reset(struct spool *s)
{
    size_t threshold = s->threshold;
    const char *dir = s->dir;

    spool_free(s);
    spool_init(s, threshold, dir);
}

/* spool_free - release memory, mapping and file */
void spool_free(struct spool *s)
{
    if (s->map)
        munmap(s->map, s->maplen);
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    s->buf = NULL;
    s->map = NULL;
    s->fd = -1;
}

/* ------------------------------------------------------------ BIO */

struct spool_bio {
    struct spool *s;
    int base64;
    unsigned char pend[57]; /* raw bytes of the next base64 line */
    size_t npend;
};

/* b64_line - one base64 line of the pending bytes into the spool */
static int b64_line(struct spool_bio *b)
{
    unsigned char out[80];
    int n = EVP_EncodeBlock(out, b->pend, (int) b->npend);

    out[n++] = '\r';
    out[n++] = '\n';
    b->npend = 0;
    return spool_write(b->s, out, (size_t) n);
}

/* sb_write - BIO write: straight, or base64 in 76-column lines */
static int sb_write(BIO *bio, const char *data, int len)
{
    struct spool_bio *b = BIO_get_data(bio);

    if (len <= 0)
        return 0;
    if (!b->base64)
        return spool_write(b->s, data, (size_t) len) < 0 ? -1 : len;
    for (int i = 0; i < len;) {
        size_t n = sizeof(b->pend) - b->npend;

        if (n > (size_t) (len - i))
            n = (size_t) (len - i);
        memcpy(b->pend + b->npend, data + i, n);
        b->npend += n;
        i += (int) n;
        if (b->npend == sizeof(b->pend) && b64_line(b) < 0)
            return -1;
    }
    return len;
}

/* sb_ctrl - BIO control: flush writes the last base64 line */
static long sb_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    struct spool_bio *b = BIO_get_data(bio);

    (void) num;
    (void) ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        if (b->base64 && b->npend && b64_line(b) < 0)
            return 0;
        return 1;
    case BIO_CTRL_PENDING:
    case BIO_CTRL_WPENDING:
        return 0;
    default:
        return 0;
    }
}

/* sb_destroy - BIO free: the pending bytes go out first */
static int sb_destroy(BIO *bio)
{
    free(BIO_get_data(bio));
    BIO_set_data(bio, NULL);
    return 1;
}

/* sb_create - BIO new: no state until spool_bio sets it */
static int sb_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static BIO_METHOD *sb_method;
static pthread_once_t sb_once = PTHREAD_ONCE_INIT;

/* sb_method_init - the BIO method, made once */
static void sb_method_init(void)
{
    sb_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mssante spool");
    BIO_meth_set_write(sb_method, sb_write);
    BIO_meth_set_ctrl(sb_method, sb_ctrl);
    BIO_meth_set_create(sb_method, sb_create);
    BIO_meth_set_destroy(sb_method, sb_destroy);
}

/* spool_bio - a write-only BIO into a spool, optionally base64-encoding */
BIO *spool_bio(struct spool *s, int base64)
{
    struct spool_bio *b = xcalloc(1, sizeof(*b));
    BIO *bio;

    pthread_once(&sb_once, sb_method_init);
    b->s = s;
    b->base64 = base64;
    if ((bio = BIO_new(sb_method)) == NULL) {
        free(b);
        return NULL;
    }
    BIO_set_data(bio, b);
    return bio;
}

/* spool_put_field - "Name: value" with any folding written CRLF */
void spool_put_field(struct spool *s, const char *name, const char *value)
{
    spool_puts(s, name);
    spool_puts(s, ": ");
    for (const char *p = value; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            spool_write(s, "\r", 1);
        spool_write(s, p, 1);
    }
    spool_puts(s, "\r\n");
}
