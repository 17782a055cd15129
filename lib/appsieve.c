/*
 * appsieve - the Sieve script of the APP BALs' addresses (see appsieve.h).
 *
 * Addresses come from the national directory too: one with a character a
 * Sieve string or an address cannot hold (a quote, a backslash, a control
 * character) is left out and counted, never written. Pigeonhole refuses a
 * script above sieve_max_script_size (1 MB by default): a larger one is an
 * error here, the old script staying in force.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appsieve.h"
#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "pgutil.h"

#define APP_SIEVE_MAX (1024 * 1024)

/* plain - whether an address can stand in a Sieve string as it is */
static int plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x21 || *s == 0x7f || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

/* app_senders_write - see appsieve.h */
int app_senders_write(PGconn *conn, const char *path, long *count, char **err)
{
    PGresult *res;
    char *buf = NULL, *tmp;
    size_t len = 0;
    FILE *fp;
    long n = 0, skipped = 0;
    int fd, written, ret = -1;

    res = PQexec(conn, "SELECT address FROM bal WHERE bal_type = 'APP'"
                       " UNION SELECT address FROM annuaire_bal WHERE bal_type = 'APP' ORDER BY 1");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char *why = pgu_error(conn);

        *err = xasprintf("%s not written: reading the APP BALs: %s", path, why);
        free(why);
        PQclear(res);
        return -1;
    }
    if ((fp = open_memstream(&buf, &len)) == NULL)
        msg_fatal("open_memstream: %m");
    fprintf(fp,
            "# %s - written by mssante-admin and annuaire-sync: do not edit.\n"
            "# The APP (software) BALs, ours and the directory's: no automatic reply\n"
            "# to them (dovecot-sieve.conf runs this before each user's script).\n"
            "require [\"envelope\", \"editheader\"];\n",
            path);
    for (int i = 0; i < PQntuples(res); i++) {
        const char *a = PQgetvalue(res, i, 0);

        if (!plain(a)) {
            skipped++;
            continue;
        }
        fprintf(fp, "%s\"%s\"", n++ ? ",\n    " : "if envelope :is \"from\" [\n    ", a);
    }
    if (n)
        fprintf(fp,
                "\n] {\n    addheader :last \"Auto-Submitted\" \"auto-generated; mssante-guard=yes\";\n}\n");
    PQclear(res);
    if (fclose(fp) != 0)
        msg_fatal("open_memstream: %m");
    if (len > APP_SIEVE_MAX) {
        *err = xasprintf("%s not written: %ld addresses make %zu bytes, more than Pigeonhole's "
                         "sieve_max_script_size (1 MB)",
                         path, n, len);
        free(buf);
        return -1;
    }
    tmp = xasprintf("%s.tmp%ld", path, (long) getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    written = fd >= 0 && write(fd, buf, len) == (ssize_t) len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) < 0)
        written = 0;
    if (!written) {
        *err = xasprintf("%s not written: %s: %s", path, tmp, strerror(errno));
    } else if (rename(tmp, path) < 0) {
        *err = xasprintf("%s not written: rename: %s", path, strerror(errno));
    } else {
        fsync_dir(path);
        if (skipped)
            msg_warn("%s: %ld APP address(es) with characters a Sieve string cannot hold left out", path,
                     skipped);
        *count = n;
        ret = 0;
    }
    unlink(tmp); /* after a rename, this removes nothing */
    free(tmp);
    free(buf);
    return ret;
}
