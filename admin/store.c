/*
 * store - what mssante-admin does to the mail itself, through doveadm:
 * retention (expire), export, and the BALs nobody opens any more (inactive).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "admin.h"
#include "mymalloc.h"
#include "notice.h"
#include "params.h"

/* The METADATA entry of a folder's retention, in days (conf/dovecot-retention.conf). */
#define RETENTION_ENTRY "/private/vendor/mssante/retention-days"
#define MAX_DAYS        36500

const char *opt_days, *opt_notified_before, *opt_export, *opt_folder, *opt_format;
int opt_notify, opt_delete;

/* days - "N" or "Nd", 1 to MAX_DAYS; -1 when it is not */
static long days(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);

    if (end == s || (*end == 'd' && end[1] == 0 ? 0 : *end != 0) || n < 1 || n > MAX_DAYS)
        return -1;
    return n;
}

/* lines - the lines of a text (in place, NUL-terminated); their number */
static int lines(char *text, char ***out)
{
    int n = 0, cap = 8;
    char **v = xcalloc((size_t) cap, sizeof(*v)), *next;

    for (char *l = text; l && *l; l = next) {
        if ((next = strchr(l, '\n')) != NULL)
            *next++ = 0;
        if (n + 1 >= cap)
            v = xrealloc(v, (size_t) (cap *= 2) * sizeof(*v));
        v[n++] = l;
    }
    *out = v;
    return n;
}

/* folders - the folders of a BAL (a JSON array from doveadm, names in UTF-8); NULL on failure */
static json_t *folders(const char *bal)
{
    const char *args[] = {"-f", "json", "mailbox", "list", "-u", bal, NULL};
    char *what = xasprintf("folders of %s", bal), *out = doveadm(what, args);
    json_t *list = NULL;
    json_error_t jerr;

    if (out && ((list = json_loads(out, 0, &jerr)) == NULL || !json_is_array(list))) {
        fprintf(stderr, "mssante-admin: %s: doveadm's answer is not a list%s%s\n", what, list ? "" : ": ",
                list ? "" : jerr.text);
        json_decref(list);
        list = NULL;
    }
    free(out);
    free(what);
    return list;
}

/* folder_name - the name of the i-th folder of a list */
static const char *folder_name(json_t *list, size_t i)
{
    const char *name = json_string_value(json_object_get(json_array_get(list, i), "mailbox"));

    return name ? name : "";
}

/* named - whether a folder of the list has this name */
static int named(json_t *list, const char *name)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(folder_name(list, i), name) == 0)
            return 1;
    return 0;
}

/* retentions - each folder's retention in days (0 none), from one doveadm batch; -1 on failure */
static int retentions(const char *bal, json_t *list, long *keep)
{
    size_t n = json_array_size(list), na = 0;
    const char **args = xcalloc(6 + 6 * n + 1, sizeof(*args));
    /* The batch separator must be no folder's name. */
    const char *sep = !named(list, ":") ? ":" : !named(list, "::mssante::") ? "::mssante::" : NULL;
    char *what = xasprintf("retention of the folders of %s", bal), *out, **hdr;
    int ret = -1;

    if (n == 0 || sep == NULL) {
        free(what);
        free(args);
        return n == 0 ? 0 : -1;
    }
    args[na++] = "-f", args[na++] = "tab", args[na++] = "batch", args[na++] = "-u", args[na++] = bal;
    for (size_t i = 0; i < n; i++) {
        args[na++] = sep, args[na++] = "mailbox", args[na++] = "metadata", args[na++] = "get";
        args[na++] = folder_name(list, i);
        args[na++] = RETENTION_ENTRY;
    }
    if ((out = doveadm(what, args)) != NULL) {
        /* A header line, then one row: each folder's value, tab-separated, empty when unset. */
        if (lines(out, &hdr) == 2) {
            char *p = hdr[1];
            size_t i = 0;

            for (; i < n && p; i++) {
                char *v = strsep(&p, "\t");

                keep[i] = *v ? days(v) : 0;
                if (keep[i] < 0) {
                    fprintf(stderr,
                            "mssante-admin: %s: a folder's %s is \"%.20s\", not a number of days"
                            " (1 to %d): that folder keeps all\n",
                            bal, RETENTION_ENTRY, v, MAX_DAYS);
                    keep[i] = 0;
                }
            }
            ret = i == n && p == NULL ? 0 : -1;
        }
        if (ret < 0)
            fprintf(stderr, "mssante-admin: %s: doveadm's answer is not one value per folder\n", what);
        free(hdr);
    }
    free(out);
    free(what);
    free(args);
    return ret;
}

/* expire_folder - expunge what a folder received more than n days ago; the count, -1 on failure */
static long expire_folder(const char *bal, const char *folder, long n)
{
    char before[24], *what = xasprintf("expire in %s", bal), *out;
    const char *search[] = {"search", "-u", bal, "mailbox", folder, "before", before, NULL};
    const char *expunge[] = {"expunge", "-u", bal, "mailbox", folder, "before", before, NULL};
    long count = -1;
    char **l;

    snprintf(before, sizeof(before), "%ldd", n);
    if ((out = doveadm(what, search)) != NULL) {
        count = lines(out, &l);
        free(l);
        free(out);
        if (count > 0) {
            if ((out = doveadm(what, expunge)) == NULL)
                count = -1;
            free(out);
        }
    }
    free(what);
    return count;
}

/*
 * expire - every active BAL: the folders whose user chose a retention lose
 * what they received longer ago. A line per BAL that lost mail (counts,
 * never a folder's name or a subject), an audit row each.
 */
int expire(char **a)
{
    PGresult *res = sql("SELECT address FROM bal WHERE state = 'active' ORDER BY address", 0, NULL);
    long total = 0, failed = 0;

    (void) a;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *bal = PQgetvalue(res, r, 0);
        json_t *list = folders(bal);
        size_t n = json_array_size(list);
        long *keep = xcalloc(n + 1, sizeof(*keep)), gone = 0, nf = 0, c;
        int bad = list == NULL || retentions(bal, list, keep) < 0;

        for (size_t i = 0; !bad && i < n; i++) {
            if (keep[i] == 0)
                continue;
            nf++;
            if ((c = expire_folder(bal, folder_name(list, i), keep[i])) < 0)
                bad = 1;
            else
                gone += c;
        }
        if (gone > 0) {
            char *detail = xasprintf("%ld messages", gone);

            printf("%s: %ld messages expunged from %ld folders\n", bal, gone, nf);
            audit("expire", bal, detail);
            free(detail);
        }
        total += gone;
        failed += bad;
        free(keep);
        json_decref(list);
    }
    printf("expire: %ld messages expunged from %d BALs%s", total, PQntuples(res), failed ? "" : "\n");
    if (failed)
        printf(", %ld BALs failed (said above)\n", failed);
    PQclear(res);
    return failed ? 1 : 0;
}

/* mail_owner - the uid and gid Dovecot writes a BAL's mail as (doveadm user); -1 on failure */
static int mail_owner(const char *bal, uid_t *uid, gid_t *gid)
{
    const char *args[] = {"user", "-f", NULL, bal, NULL};
    const char *field[] = {"uid", "gid"};
    long id[2];

    for (int i = 0; i < 2; i++) {
        char *what = xasprintf("the mail %s of %s", field[i], bal), *out, *end;

        args[2] = field[i];
        if ((out = doveadm(what, args)) == NULL) {
            free(what);
            return -1;
        }
        out[strcspn(out, "\n")] = 0;
        id[i] = strtol(out, &end, 10);
        if (*out == 0 || *end != 0) {
            struct passwd *pw = i == 0 ? getpwnam(out) : NULL;
            struct group *gr = i == 1 ? getgrnam(out) : NULL;

            id[i] = pw ? (long) pw->pw_uid : gr ? (long) gr->gr_gid : -1;
        }
        if (id[i] < 0)
            fprintf(stderr, "mssante-admin: %s: \"%s\" is no %s\n", what, out, i == 0 ? "user" : "group");
        free(out);
        free(what);
        if (id[i] < 0)
            return -1;
    }
    *uid = (uid_t) id[0];
    *gid = (gid_t) id[1];
    return 0;
}

/*
 * export_bal - a BAL's mail (or one folder) into a new directory, Maildir
 * or mbox, folder names in UTF-8, nothing of Dovecot's indexes; audited.
 * -1 when it failed (said on stderr).
 */
static int export_bal(const char *bal, const char *dir, const char *folder, const char *format)
{
    int mbox = strcmp(format, "mbox") == 0;
    /* (mbox needs index files for its folders' GUIDs: in DIR/.imap) */
    char *loc = mbox ? xasprintf("mbox:%s:INBOX=%s/INBOX:UTF-8", dir, dir)
                     : xasprintf("maildir:%s:UTF-8:INDEX=MEMORY", dir);
    char *what = xasprintf("export of %s", bal), *out, **l, *detail;
    const char *args[12],
        *status[] = {
            "-f", "tab", "mailbox", "status", "-u", bal, "-t", "messages vsize", folder ? folder : "*", NULL};
    int n = 0, ret = -1;
    uid_t uid;
    gid_t gid;

    /* mbox names folders with '/': the BAL's namespace must say the same for dsync. */
    if (mbox)
        args[n++] = "-o", args[n++] = "namespace/inbox/separator=/";
    args[n++] = "backup", args[n++] = "-u", args[n++] = bal;
    if (folder)
        args[n++] = "-m", args[n++] = folder;
    args[n++] = loc;
    args[n] = NULL;
    if (mail_owner(bal, &uid, &gid) < 0) {
        /* said */
    } else if (mkdir(dir, 0700) < 0) {
        fprintf(stderr, "mssante-admin: %s: %s: %s%s\n", what, dir, strerror(errno),
                errno == EEXIST ? " (an export goes into a new directory, never into one that exists)" : "");
    } else if (chown(dir, uid, gid) < 0) {
        fprintf(stderr, "mssante-admin: %s: chown %s: %s\n", what, dir, strerror(errno));
    } else if ((out = doveadm(what, args)) != NULL) {
        free(out);
        /* What was exported, as Dovecot counts it: "messages vsize" then the totals. */
        if ((out = doveadm(what, status)) != NULL && lines(out, &l) == 2) {
            char *count = strsep(&l[1], "\t");

            detail = xasprintf("%s, %s: %s messages, %s bytes", dir, format, count, l[1] ? l[1] : "?");
            audit("export", bal, detail);
            fprintf(stderr, "mssante-admin: %s%s%s exported to %s\n", bal, folder ? " " : "",
                    folder ? folder : "", detail);
            free(detail);
            free(l);
            ret = 0;
        }
        free(out);
    }
    free(loc);
    free(what);
    return ret;
}

/* format_ok - the --format, checked */
static const char *format_ok(void)
{
    const char *f = opt_format ? opt_format : "maildir";

    if (strcmp(f, "maildir") != 0 && strcmp(f, "mbox") != 0)
        refuse("--format %s: maildir or mbox", f);
    return f;
}

/* active_bal - refuse unless the BAL exists and is active (Dovecot knows no other) */
static void active_bal(const char *bal)
{
    const char *p[1] = {bal};
    PGresult *res = sql("SELECT state FROM bal WHERE address = lower($1)", 1, p);

    if (PQntuples(res) != 1)
        refuse("%s: no such BAL", bal);
    if (strcmp(PQgetvalue(res, 0, 0), "active") != 0)
        refuse("%s is %s: Dovecot opens active BALs only (bal enable, then export)", bal,
               PQgetvalue(res, 0, 0));
    PQclear(res);
}

/* export - export: a BAL's messages in the asked format */
int export(char **a)
{
    const char *format = format_ok();

    active_bal(a[0]);
    return export_bal(a[0], a[1], opt_folder, format) < 0 ? 1 : 0;
}

/* The BALs nobody opened for $1 days (created as long ago when never opened). */
static const char *inactive_sql =
    "SELECT b.address, b.bal_type AS type, to_char(b.last_login_at, 'YYYY-MM-DD') AS last_login,"
    " to_char(b.created_at, 'YYYY-MM-DD') AS created,"
    " to_char(b.inactive_notified_at, 'YYYY-MM-DD') AS notified,"
    " b.inactive_notified_at > coalesce(b.last_login_at, b.created_at)"
    "  AND b.inactive_notified_at <= now() - make_interval(days => $2::integer) AS deletable,"
    " b.inactive_notified_at > coalesce(b.last_login_at, b.created_at) AS told"
    " FROM bal b WHERE b.state = 'active'"
    " AND coalesce(b.last_login_at, b.created_at) < now() - make_interval(days => $1::integer)"
    " ORDER BY b.address";

/* notify - tell a BAL's holder that it will be deleted; 0 when told */
static int notify(const char *bal, const char *since, long grace)
{
    char *rcpt = bal_holder(bal, NULL), *subject, *body, *err = NULL;
    const char *p[1] = {bal};
    int ret = -1;

    if (rcpt == NULL) {
        fprintf(stderr, "mssante-admin: %s: no notification or contact address to tell\n", bal);
        return -1;
    }
    subject = xstrdup("Votre BAL MSSant\xc3\xa9 inutilis\xc3\xa9"
                      "e / unused MSSant\xc3\xa9 mailbox");
    body =
        xasprintf("Personne ne s'est connect\xc3\xa9 \xc3\xa0 la bo\xc3\xaete aux lettres MSSant\xc3\xa9 %s"
                  " depuis le %s.\nSans connexion, elle sera supprim\xc3\xa9"
                  "e dans %ld jours avec"
                  " ses messages.\nConnectez-vous pour la garder.\n\n"
                  "Nobody has logged in to the MSSant\xc3\xa9 mailbox %s since %s.\nUnless someone"
                  " logs in, it will be deleted with its mail in %ld days.\n",
                  bal, since, grace, bal, since, grace);
    if (notice_send(var_otp_sendmail, var_otp_email_sender, rcpt, subject, body, &err) < 0) {
        fprintf(stderr, "mssante-admin: %s: the notice was not sent: %s\n", bal, err);
        free(err);
    } else {
        sql_do("BEGIN", 0, NULL);
        sql_do("UPDATE bal SET inactive_notified_at = now() WHERE address = $1", 1, p);
        audit("inactive-notify", bal, since);
        sql_do("COMMIT", 0, NULL);
        fprintf(stderr, "mssante-admin: %s: told (%s)\n", bal, rcpt);
        ret = 0;
    }
    free(subject);
    free(body);
    free(rcpt);
    return ret;
}

/*
 * inactive - list the active BALs nobody opened for --days (default 365);
 * --notify tells the holders not yet told; --delete deletes those told at
 * least --notified-before days ago and still unopened, each exported into
 * --export DIR first when given.
 */
int inactive(char **a)
{
    long d = days(opt_days ? opt_days : "365"), grace = opt_notified_before ? days(opt_notified_before) : 30;
    char ds[24], gs[24];
    const char *p[2] = {ds, gs}, *format = format_ok();
    PGresult *res;
    int failed = 0;

    (void) a;
    if (d < 0)
        refuse("--days %s: a number of days, 1 to %d", opt_days, MAX_DAYS);
    if (grace < 0)
        refuse("--notified-before %s: a number of days (\"30d\"), 1 to %d", opt_notified_before, MAX_DAYS);
    if (opt_delete && opt_notified_before == NULL)
        refuse("--delete needs --notified-before DAYS: how long the holders have had to log in");
    snprintf(ds, sizeof(ds), "%ld", d);
    snprintf(gs, sizeof(gs), "%ld", grace);
    /* Each BAL's export is a directory of the mail user's: they may pass through this one. */
    if (opt_delete && opt_export && mkdir(opt_export, 0711) < 0 && errno != EEXIST)
        refuse("--export %s: %s", opt_export, strerror(errno));
    res = sql(inactive_sql, 2, p);
    print_rows(res, 0, 5);
    for (int r = 0; r < PQntuples(res); r++) {
        const char *bal = PQgetvalue(res, r, 0), *q[1] = {bal};
        int deletable = *PQgetvalue(res, r, 5) == 't', told = *PQgetvalue(res, r, 6) == 't';

        if (opt_delete && deletable) {
            char *dir = opt_export ? xasprintf("%s/%s", opt_export, bal) : NULL;

            if (dir && export_bal(bal, dir, NULL, format) < 0) {
                fprintf(stderr, "mssante-admin: %s: not deleted (its export failed)\n", bal);
                failed++;
            } else {
                change_one("DELETE FROM bal WHERE address = $1", 1, q, "inactive-delete", "no such BAL");
                fprintf(stderr, "mssante-admin: %s: deleted (%s)\n", bal,
                        dir ? "exported first" : "its mail stays in its home directory");
            }
            free(dir);
        } else if (opt_notify && !told) {
            failed += notify(bal, PQgetisnull(res, r, 2) ? PQgetvalue(res, r, 3) : PQgetvalue(res, r, 2),
                             grace) < 0;
        }
    }
    PQclear(res);
    return failed ? 1 : 0;
}
