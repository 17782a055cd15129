/*
 * mssante-admin - accounts of the operator's users, without SQL.
 *
 *   mssante-admin account add LOGIN [--contact ADDRESS] [--generate]
 *   mssante-admin account show LOGIN [--json]
 *   mssante-admin account list [--json]
 *   mssante-admin account passwd LOGIN [--generate]
 *   mssante-admin account disable|enable|delete LOGIN
 *
 * A password is read from the standard input (one line), or generated and
 * printed once with --generate: never on the command line, where ps and
 * shell histories would keep it. It is stored hashed (SHA512-CRYPT, which
 * Dovecot verifies). Every change is a row of audit_event. Exit: 0 done,
 * 1 refused or failed (nothing changed), 2 usage.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "addr.h"
#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"
#include "pwhash.h"

#define OPT_CONTACT 0x200
#define OPT_GENERATE 0x201
#define OPT_JSON 0x202
#define PASSWORD_MIN 12

static PGconn *conn;
static const char *opt_contact;
static int opt_generate, opt_json;

/* usage - the verbs and options */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mssante-admin [options] account add LOGIN [--contact ADDRESS] [--generate]\n"
            "       mssante-admin [options] account show LOGIN [--json]\n"
            "       mssante-admin [options] account list [--json]\n"
            "       mssante-admin [options] account passwd LOGIN [--generate]\n"
            "       mssante-admin [options] account disable|enable|delete LOGIN\n"
            "A password is read from the standard input (one line, %d characters at least)\n"
            "or, with --generate, made and printed once.\n"
            "%s"
            "Exit: 0 done; 1 refused or failed (nothing changed); 2 usage.\n",
            PASSWORD_MIN, cmd_usage_common);
}

/* refuse - a decided refusal: say why, change nothing, exit 1 */
static void __attribute__((noreturn, format(printf, 1, 2))) refuse(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "mssante-admin: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (conn)
        PQfinish(conn);
    exit(1);
}

/* login_ok - prenom.nom: lower-case letters, digits, '.', '-', '_' */
static int login_ok(const char *login)
{
    if (*login == 0 || strlen(login) > 64 || *login == '.' || *login == '-')
        return 0;
    for (const char *p = login; *p; p++)
        if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || strchr(".-_", *p)))
            return 0;
    return 1;
}

/* new_password - from stdin, or generated; malloc'd, *shown when it must be printed */
static char *new_password(int *shown)
{
    char   *line = NULL;
    size_t  cap = 0;
    ssize_t n;

    *shown = opt_generate;
    if (opt_generate)
        return pwhash_random();
    if ((n = getline(&line, &cap, stdin)) <= 0)
        refuse("no password on the standard input (or use --generate)");
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (n < PASSWORD_MIN || !utf8_valid(line, (size_t) n)) {
        pwhash_forget(line);
        refuse("a password has %d characters at least (UTF-8)", PASSWORD_MIN);
    }
    return line;
}

/*
 * store_password - hash a new password into $2 of the statement (one row
 * for $1, or refuse with "login: none"); print it if generated
 */
static void store_password(const char *sql, const char *login, const char *none)
{
    int     shown;
    char   *pw = new_password(&shown), *err = NULL, *hash = pwhash_hash(pw, &err);
    const char *p[2] = {login, hash};
    PGresult *res;

    if (hash == NULL)
        refuse("%s", err);
    res = pgu_must(conn, sql, 2, p);
    if (atol(PQcmdTuples(res)) != 1)
        refuse("%s: %s", login, none);
    PQclear(res);
    free(hash);
    if (shown)
        printf("%s\n", pw);
    pwhash_forget(pw);
}

static int account_add(char **a)
{
    struct addr contact;
    const char *why;

    if (!login_ok(a[0]))
        refuse("\"%s\" is not a login (prenom.nom: lower-case letters, digits, '.', '-', '_')", a[0]);
    if (opt_contact) {
        if (addr_parse(opt_contact, &contact, &why) < 0)
            refuse("\"%s\" is not an e-mail address: %s", opt_contact, why);
        addr_free(&contact);
    }
    PQclear(pgu_must(conn, "BEGIN", 0, NULL));
    store_password("INSERT INTO account (login, password) VALUES ($1, $2) ON CONFLICT (login) DO NOTHING",
                   a[0], "this login exists already");
    if (opt_contact) {
        const char *p[2] = {a[0], opt_contact};

        PQclear(pgu_must(conn, "UPDATE account SET contact_email = $2 WHERE login = $1", 2, p));
    }
    pgu_audit(conn, "mssante-admin", "account-add", a[0], opt_contact);
    PQclear(pgu_must(conn, "COMMIT", 0, NULL));
    fprintf(stderr, "mssante-admin: account %s added\n", a[0]);
    return 0;
}

static int account_passwd(char **a)
{
    PQclear(pgu_must(conn, "BEGIN", 0, NULL));
    store_password("UPDATE account SET password = $2 WHERE login = lower($1)", a[0], "no such login");
    pgu_audit(conn, "mssante-admin", "account-passwd", a[0], NULL);
    PQclear(pgu_must(conn, "COMMIT", 0, NULL));
    fprintf(stderr, "mssante-admin: password of %s changed\n", a[0]);
    return 0;
}

/* set_state - disable or enable */
static int set_state(const char *login, const char *state)
{
    const char *p[2] = {login, state};
    PGresult *res = pgu_must(conn, "UPDATE account SET state = $2 WHERE login = lower($1)", 2, p);

    if (atol(PQcmdTuples(res)) != 1)
        refuse("%s: no such login", login);
    PQclear(res);
    pgu_audit(conn, "mssante-admin", strcmp(state, "active") ? "account-disable" : "account-enable",
              login, NULL);
    fprintf(stderr, "mssante-admin: %s is %s\n", login, strcmp(state, "active") ? "disabled" : "enabled");
    return 0;
}

static int account_disable(char **a) { return set_state(a[0], "disabled"); }
static int account_enable(char **a) { return set_state(a[0], "active"); }

static int account_delete(char **a)
{
    const char *p[1] = {a[0]};
    PGresult *res;

    PQclear(pgu_must(conn, "BEGIN", 0, NULL));
    /* A BAL left without an owner would be nobody's: reassign or delete it first. */
    res = pgu_must(conn, "SELECT string_agg(x.bal, ', ' ORDER BY x.bal) FROM bal_access x"
                   " JOIN account a ON a.id = x.account_id WHERE a.login = lower($1) AND x.role = 'owner'",
                   1, p);
    if (!PQgetisnull(res, 0, 0))
        refuse("%s owns %s: give each BAL another owner or delete it first", a[0],
               PQgetvalue(res, 0, 0));
    PQclear(res);
    res = pgu_must(conn, "DELETE FROM account WHERE login = lower($1)", 1, p);
    if (atol(PQcmdTuples(res)) != 1)
        refuse("%s: no such login", a[0]);
    PQclear(res);
    pgu_audit(conn, "mssante-admin", "account-delete", a[0], NULL);
    PQclear(pgu_must(conn, "COMMIT", 0, NULL));
    fprintf(stderr, "mssante-admin: account %s deleted\n", a[0]);
    return 0;
}

/* The columns of show and list, in order; the JSON keys are the same names. */
static const char *const account_cols[] = {
    "login", "state", "contact_email", "otp_method", "bals", "devices", "created", "last_login",
};

/* print_accounts - rows of the account query, as a table or JSON */
static void print_accounts(PGresult *res, int one)
{
    int     ncols = (int) (sizeof(account_cols) / sizeof(account_cols[0]));

    if (opt_json) {
        json_t *arr = json_array();

        for (int i = 0; i < PQntuples(res); i++) {
            json_t *o = json_object();

            for (int c = 0; c < ncols; c++)
                json_object_set_new(o, account_cols[c], PQgetisnull(res, i, c) ? json_null()
                                    : c == 5 ? json_integer(atoll(PQgetvalue(res, i, c)))
                                    : json_string(PQgetvalue(res, i, c)));
            json_array_append_new(arr, o);
        }
        json_dumpf(one ? json_array_get(arr, 0) : arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(arr);
        return;
    }
    if (one) {
        for (int c = 0; c < ncols; c++)
            printf("%-14s %s\n", account_cols[c], PQgetisnull(res, 0, c) ? "-" : PQgetvalue(res, 0, c));
        return;
    }
    printf("%-28s %-9s %-6s %-7s %s\n", "login", "state", "otp", "devices", "BALs");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-28s %-9s %-6s %-7s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 3), PQgetvalue(res, i, 5),
               PQgetisnull(res, i, 4) ? "-" : PQgetvalue(res, i, 4));
}

static const char *account_sql =
    "SELECT a.login, a.state, a.contact_email, a.otp_method,"
    " (SELECT string_agg(x.bal || CASE x.role WHEN 'owner' THEN '' ELSE ' (delegate)' END, ', '"
    "  ORDER BY x.bal) FROM bal_access x WHERE x.account_id = a.id),"
    " (SELECT count(*) FROM device_password d WHERE d.account_id = a.id AND d.revoked_at IS NULL),"
    " to_char(a.created_at, 'YYYY-MM-DD HH24:MI'), to_char(a.last_login_at, 'YYYY-MM-DD HH24:MI')"
    " FROM account a";

static int account_show(char **a)
{
    const char *p[1] = {a[0]};
    char   *sql = xasprintf("%s WHERE a.login = lower($1)", account_sql);
    PGresult *res = pgu_must(conn, sql, 1, p);

    free(sql);
    if (PQntuples(res) != 1)
        refuse("%s: no such login", a[0]);
    print_accounts(res, 1);
    PQclear(res);
    return 0;
}

static int account_list(char **a)
{
    char   *sql = xasprintf("%s ORDER BY a.login", account_sql);
    PGresult *res = pgu_must(conn, sql, 0, NULL);

    (void) a;
    free(sql);
    print_accounts(res, 0);
    PQclear(res);
    return 0;
}

/* The verbs, Postfix-style: noun, verb, arguments, function. */
static const struct verb {
    const char *noun, *verb;
    int     nargs;
    int     (*fn)(char **args);
} verbs[] = {
    {"account", "add", 1, account_add},
    {"account", "show", 1, account_show},
    {"account", "list", 0, account_list},
    {"account", "passwd", 1, account_passwd},
    {"account", "disable", 1, account_disable},
    {"account", "enable", 1, account_enable},
    {"account", "delete", 1, account_delete},
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_LONGOPTS,
        {"contact", required_argument, 0, OPT_CONTACT},
        {"generate", no_argument, 0, OPT_GENERATE},
        {"json", no_argument, 0, OPT_JSON},
        {0, 0, 0, 0},
    };
    struct cmd_common c;
    char   *err = NULL;
    int     ch, n, ret;
    char  **a;

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        switch (ch) {
        case OPT_CONTACT: opt_contact = optarg; break;
        case OPT_GENERATE: opt_generate = 1; break;
        case OPT_JSON: opt_json = 1; break;
        default: usage(stderr); return 2;
        }
    }
    cmd_load(&c, usage);
    a = argv + optind;
    n = argc - optind;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (n < 2 || strcmp(a[0], verbs[i].noun) != 0 || strcmp(a[1], verbs[i].verb) != 0)
            continue;
        if (n - 2 != verbs[i].nargs)
            break;
        if ((conn = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL)
            msg_fatal("%s", err);
        ret = verbs[i].fn(a + 2);
        PQfinish(conn);
        return ret;
    }
    usage(stderr);
    return 2;
}
