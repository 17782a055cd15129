/*
 * lb_fetch - the cron job that keeps the liste blanche current.
 *
 * The download goes to a temporary file beside the destination, is
 * verified exactly as the milter will verify it, and only then replaces
 * the installed list by rename(2), after fsync, so that a reader sees the
 * old file or the new one, never a part. A list that does not verify is
 * deleted and the installed list stays. HTTPS only, the server checked
 * against the configured CAs (IGC-Santé is not in public trust stores).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "https.h"
#include "cmd.h"
#include "lb_fetch.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"

#define FETCH_MAX (64L * 1024 * 1024)

struct sink {
    FILE *fp;
    curl_off_t got;
    int err; /* errno of a failed write (disk full...) */
};

/* sink_write - curl write callback: the body into the temporary file */
static size_t sink_write(char *data, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;

    if ((s->got += (curl_off_t) (size * n)) > FETCH_MAX)
        return 0; /* larger than any list: abort */
    if (fwrite(data, size, n, s->fp) != n) {
        s->err = errno;
        return 0;
    }
    return size * n;
}

/* lb_fetch - download, verify and install a new list */
int lb_fetch(const char *url, const char *dest, const char *https_ca, const struct lb_options *opt, int force)
{
    char *tmp = xasprintf("%s.XXXXXX", dest), *err = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    struct stat st;
    struct sink sink = {0};
    CURL *curl;
    CURLcode rc;
    long status = 0, filetime = -1, unmet = 0;
    int fd, ret = 1;
    struct lb *lb;

    if ((fd = mkstemp(tmp)) < 0 || (sink.fp = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "liste-blanche: cannot create a file beside %s: %s\n", dest, strerror(errno));
        free(tmp);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((curl = https_handle(url, https_ca, curl_err)) == NULL)
        msg_fatal("cannot initialise libcurl");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, var_whitelist_fetch_timeout);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(curl, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) FETCH_MAX);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mssante-liste-blanche/" MSSANTE_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    /* Conditional GET: the installed file carries the server's date. */
    if (!force && stat(dest, &st) == 0) {
        curl_easy_setopt(curl, CURLOPT_TIMECONDITION, (long) CURL_TIMECOND_IFMODSINCE);
        curl_easy_setopt(curl, CURLOPT_TIMEVALUE_LARGE, (curl_off_t) st.st_mtime);
    }
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_FILETIME, &filetime);
    curl_easy_getinfo(curl, CURLINFO_CONDITION_UNMET, &unmet);
    if (fclose(sink.fp) != 0 && rc == CURLE_OK) {
        sink.err = errno;
        rc = CURLE_WRITE_ERROR;
    }
    if (rc == CURLE_WRITE_ERROR && sink.err) {
        fprintf(stderr,
                "liste-blanche: cannot write the downloaded list beside %s: %s; "
                "installed list unchanged\n",
                dest, strerror(sink.err));
        goto out;
    }
    if (rc != CURLE_OK) {
        fprintf(stderr, "liste-blanche: download of %s failed: %s; installed list unchanged\n", url,
                *curl_err ? curl_err : curl_easy_strerror(rc));
        goto out;
    }
    if (status == 304 || unmet) {
        printf("%s: unchanged since the installed copy (HTTP %ld); nothing to do\n", url, status);
        ret = 0;
        goto out;
    }
    if ((lb = lb_load(tmp, opt, &err)) == NULL) {
        fprintf(stderr, "liste-blanche: downloaded list REFUSED: %s; installed list unchanged\n", err);
        free(err);
        goto out;
    }
    if ((fd = open(tmp, O_RDONLY)) < 0 || fsync(fd) < 0 || fchmod(fd, 0644) < 0) {
        fprintf(stderr, "liste-blanche: %s: %s; installed list unchanged\n", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        lb_free(lb);
        goto out;
    }
    close(fd);
    if (filetime > 0) {
        struct timeval tv[2] = {{filetime, 0}, {filetime, 0}};

        utimes(tmp, tv);
    }
    if (rename(tmp, dest) < 0) {
        fprintf(stderr, "liste-blanche: cannot install %s: %s; installed list unchanged\n", dest,
                strerror(errno));
        lb_free(lb);
        goto out;
    }
    fsync_dir(dest);
    printf("installed %s: generated %s, %zu entries, %zu domains, %zu operators\n", dest,
           lb->generated ? lb->generated : "(unknown)", lb->entries, lb->ndomains, lb->noperators);
    lb_free(lb);
    ret = 0;
out:
    unlink(tmp); /* after a rename, this removes nothing */
    free(tmp);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return ret;
}
