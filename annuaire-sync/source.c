/*
 * source.c - open an extraction file, a ZIP of it, or a URL of either.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <zip.h>

#include "https.h"
#include "mymalloc.h"
#include "source.h"

/* fd_write - libcurl write callback: append to a file descriptor */
static size_t fd_write(char *p, size_t size, size_t nm, void *ctx)
{
    int fd = *(int *) ctx;
    size_t len = size * nm, done = 0;

    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0; /* curl stops: disk full, ... */
        done += (size_t) w;
    }
    return len;
}

/* download - the body of an https:// URL into an unnamed temporary file */
static int download(const char *url, const char *ca, char **err)
{
    const char *tmpdir = getenv("TMPDIR");
    char cerr[CURL_ERROR_SIZE];
    int fd = open(tmpdir && *tmpdir ? tmpdir : "/tmp", O_TMPFILE | O_RDWR, 0600);
    CURL *c;
    CURLcode rc;

    if (fd < 0) {
        *err = xasprintf("%s: cannot create a temporary file: %m", url);
        return -1;
    }
    if ((c = https_handle(url, ca, cerr)) == NULL) {
        *err = xasprintf("%s: cannot start libcurl", url);
        close(fd);
        return -1;
    }
    /* A national file is large: no total timeout, but no stalled transfer. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fd_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &fd);
    rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        *err = xasprintf("%s: %s", url,
                         rc == CURLE_WRITE_ERROR ? "cannot write the temporary file"
                         : *cerr                 ? cerr
                                                 : curl_easy_strerror(rc));
        close(fd);
        return -1;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        *err = xasprintf("%s: %m", url);
        close(fd);
        return -1;
    }
    return fd;
}

/* A ZIP member read as a stdio stream. */
struct zipstream {
    zip_t *za;
    zip_file_t *zf;
    char *src;
};

/* zs_read - read from a zip member (fopencookie) */
static ssize_t zs_read(void *cookie, char *buf, size_t size)
{
    struct zipstream *z = cookie;
    zip_int64_t n = zip_fread(z->zf, buf, size);

    if (n < 0) {
        /* A bad CRC or damaged data: stdio keeps only "error", say which. */
        fprintf(stderr, "annuaire-sync: %s: damaged archive: %s\n", z->src, zip_file_strerror(z->zf));
        errno = EIO;
        return -1;
    }
    return (ssize_t) n;
}

/* zs_close - close a zip member and its archive (fopencookie) */
static int zs_close(void *cookie)
{
    struct zipstream *z = cookie;

    zip_fclose(z->zf);
    zip_discard(z->za);
    free(z->src);
    free(z);
    return 0;
}

/* zip_member - the single .txt member of the archive on fd (taken over) */
static FILE *zip_member(int fd, const char *src, char **err)
{
    static const cookie_io_functions_t io = {zs_read, NULL, NULL, zs_close};
    zip_error_t ze;
    zip_t *za;
    zip_int64_t n, found = -1;
    struct zipstream *z;
    int zerr = 0;
    FILE *fp;

    if ((za = zip_fdopen(fd, ZIP_CHECKCONS, &zerr)) == NULL) {
        zip_error_init_with_code(&ze, zerr);
        *err = xasprintf("%s: not a readable ZIP archive: %s", src, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        close(fd);
        return NULL;
    }
    n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(za, (zip_uint64_t) i, 0);
        size_t len = name ? strlen(name) : 0;

        if (len > 4 && strcasecmp(name + len - 4, ".txt") == 0) {
            if (found >= 0) {
                *err = xasprintf("%s: the ZIP holds several .txt files (%s, %s)", src,
                                 zip_get_name(za, (zip_uint64_t) found, 0), name);
                zip_discard(za);
                return NULL;
            }
            found = i;
        }
    }
    if (found < 0) {
        *err = xasprintf("%s: the ZIP holds no .txt extraction file", src);
        zip_discard(za);
        return NULL;
    }
    z = xmalloc(sizeof(*z));
    z->za = za;
    if ((z->zf = zip_fopen_index(za, (zip_uint64_t) found, 0)) == NULL) {
        *err = xasprintf("%s: %s: %s", src, zip_get_name(za, (zip_uint64_t) found, 0), zip_strerror(za));
        zip_discard(za);
        free(z);
        return NULL;
    }
    z->src = xstrdup(src);
    if ((fp = fopencookie(z, "r", io)) == NULL) {
        *err = xasprintf("%s: %m", src);
        zs_close(z);
    }
    return fp;
}

/* source_open - a file, URL or zip archive opened as the extraction stream */
FILE *source_open(const char *src, const char *ca, char **err)
{
    unsigned char magic[4];
    int fd;
    ssize_t got;
    FILE *fp;

    if (strstr(src, "://"))
        fd = download(src, ca, err);
    else if ((fd = open(src, O_RDONLY)) < 0)
        *err = xasprintf("%s: cannot open: %m", src);
    if (fd < 0)
        return NULL;
    got = pread(fd, magic, sizeof(magic), 0);
    if (got == 4 && memcmp(magic, "PK\3\4", 4) == 0)
        return zip_member(fd, src, err);
    if ((fp = fdopen(fd, "r")) == NULL) {
        *err = xasprintf("%s: %m", src);
        close(fd);
    }
    return fp;
}
