/*
 * mssante-admin - accounts and BALs of the operator's users, without SQL.
 *
 *   mssante-admin account add|show|list|passwd|disable|enable|delete|default-bal ...
 *   mssante-admin bal add|set|show|list|disable|enable|delete ...
 *   mssante-admin owner|delegate add|remove|list BAL [LOGIN]
 *   mssante-admin alias add|remove|list [ALIAS [BAL]]
 *   mssante-admin import FILE.csv [--apply] [--passwords FILE]
 *
 * A password is read from the standard input (one line), or generated and
 * printed once with --generate: never on the command line, where ps and
 * shell histories would keep it. It is stored hashed (SHA512-CRYPT, which
 * Dovecot verifies). Every change is a row of audit_event, in the same
 * transaction. Exit: 0 done, 1 refused or failed (nothing changed), 2 usage.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "addr.h"
#include "admin.h"
#include "appsieve.h"
#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"
#include "pwhash.h"
#include "strlist.h"
#include "token.h"

#define OPT_GENERATE        0x200
#define OPT_JSON            0x201
#define OPT_DEFAULT         0x202
#define OPT_APPLY           0x203
#define OPT_PASSWORDS       0x204
#define OPT_DAYS            0x205
#define OPT_NOTIFY          0x206
#define OPT_DELETE          0x207
#define OPT_NOTIFIED_BEFORE 0x208
#define OPT_EXPORT          0x209
#define OPT_FOLDER          0x20a
#define OPT_FORMAT          0x20b
#define OPT_ACTIVATION      0x20c
#define OPT_FORM            0x300 /* + enum form_field */
#define PASSWORD_MIN        12

PGconn *db;
int opt_json, opt_generate, opt_default, opt_apply, opt_activation;
const char *opt_passwords;
struct form opt_form;
struct form_rules rules;

/* usage - the verbs and options */
static void usage(FILE *fp)
{
    fprintf(fp, "usage: mssante-admin [options] account add LOGIN [--generate | --activation] [PERSON]\n"
                "       mssante-admin [options] account activation LOGIN   (a new link)\n"
                "       mssante-admin [options] account show LOGIN | list\n"
                "       mssante-admin [options] account passwd LOGIN [--generate]\n"
                "       mssante-admin [options] account set LOGIN PERSON\n"
                "       mssante-admin [options] account disable|enable|delete LOGIN\n"
                "       mssante-admin [options] account default-bal LOGIN BAL\n"
                "       mssante-admin [options] bal add ADDRESS [--owner LOGIN] [--default] [BAL]\n"
                "       mssante-admin [options] bal set ADDRESS BAL\n"
                "       mssante-admin [options] bal show ADDRESS | list\n"
                "       mssante-admin [options] bal disable|enable|delete ADDRESS\n"
                "       mssante-admin [options] owner|delegate add|remove BAL LOGIN\n"
                "       mssante-admin [options] owner|delegate list BAL\n"
                "       mssante-admin [options] alias add ALIAS BAL | remove ALIAS | list\n"
                "       mssante-admin [options] quota default TYPE MB | list\n"
                "       mssante-admin [options] quota-warning PERCENT BAL   (run by Dovecot)\n"
                "       mssante-admin [options] import FILE.csv [--apply] [--passwords FILE | --activation]\n"
                "       mssante-admin [options] expire   (cron: the folders' retention)\n"
                "       mssante-admin [options] export BAL DIR [--folder NAME] [--format maildir|mbox]\n"
                "       mssante-admin [options] inactive [--days 365] [--notify]\n"
                "                     [--delete --notified-before DAYS [--export DIR]]\n"
                "       mssante-admin [options] app-senders   (sieve_app_senders_file; also after\n"
                "                     bal add|set|delete, import and inactive --delete)\n"
                "PERSON and BAL are these options (import: the same names as columns):\n");
    for (int i = 0; i < FF_COUNT; i++)
        if (form_defs[i].option)
            fprintf(fp, "  --%-14s %-14s %s\n", form_defs[i].option, form_defs[i].column, form_defs[i].help);
    fprintf(fp,
            "A password is read from the standard input (one line, %d characters at least)\n"
            "or, with --generate, made and printed once; with --activation the holder chooses it\n"
            "through a link mailed to the contact address (mssante-portal). --json: JSON listings.\n"
            "%s"
            "Exit: 0 done; 1 refused or failed (nothing changed); 2 usage.\n",
            PASSWORD_MIN, cmd_usage_common);
}

/* refuse - say why, change nothing, exit 1 */
void refuse(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "mssante-admin: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (db)
        PQfinish(db);
    exit(1);
}

/* sql - a statement that must succeed (exit 1 with the server's message otherwise) */
PGresult *sql(const char *q, int n, const char *const *params)
{
    return pgu_must(db, q, n, params);
}

/* sql_do - a statement whose result is not needed; the rows it touched */
long sql_do(const char *q, int n, const char *const *params)
{
    PGresult *res = sql(q, n, params);
    long rows = atol(PQcmdTuples(res));

    PQclear(res);
    return rows;
}

/* audit - an audit_event row for mssante-admin */
void audit(const char *action, const char *target, const char *detail)
{
    pgu_audit(db, "mssante-admin", action, target, detail);
}

/* json_of - one value of a result, typed by its column */
static json_t *json_of(PGresult *res, int row, int col)
{
    const char *v = PQgetvalue(res, row, col);

    if (PQgetisnull(res, row, col))
        return json_null();
    switch (PQftype(res, col)) {
    case 16: /* bool */
        return json_boolean(*v == 't');
    case 20:
    case 21:
    case 23: /* int8, int2, int4 */
        return json_integer(atoll(v));
    default:
        return json_string(v);
    }
}

/* print_rows - print a result as a table, or one row as "name: value" lines */
void print_rows(PGresult *res, int one, int ntable)
{
    print_rows_plus(res, one, ntable, 0, NULL, NULL);
}

/* print_rows_plus - print_rows with extra integer fields for a single row */
void print_rows_plus(PGresult *res, int one, int ntable, int nx, const char *const *xname,
                     const long long *xval)
{
    int rows = PQntuples(res), cols = PQnfields(res);

    if (opt_json) {
        json_t *arr = json_array();

        for (int i = 0; i < rows; i++) {
            json_t *o = json_object();

            for (int c = 0; c < cols; c++)
                json_object_set_new(o, PQfname(res, c), json_of(res, i, c));
            for (int x = 0; one && x < nx; x++)
                json_object_set_new(o, xname[x], xval[x] < 0 ? json_null() : json_integer(xval[x]));
            json_array_append_new(arr, o);
        }
        json_dumpf(one ? json_array_get(arr, 0) : arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(arr);
    } else if (one) {
        for (int c = 0; c < cols; c++)
            printf("%-14s %s\n", PQfname(res, c), PQgetisnull(res, 0, c) ? "-" : PQgetvalue(res, 0, c));
        for (int x = 0; x < nx; x++)
            if (xval[x] < 0)
                printf("%-14s -\n", xname[x]);
            else
                printf("%-14s %lld\n", xname[x], xval[x]);
    } else {
        int *w = xcalloc((size_t) ntable, sizeof(*w));

        for (int c = 0; c < ntable; c++) {
            w[c] = (int) strlen(PQfname(res, c));
            for (int i = 0; i < rows; i++)
                if (PQgetlength(res, i, c) > w[c])
                    w[c] = PQgetlength(res, i, c);
        }
        for (int i = -1; i < rows; i++)
            for (int c = 0; c < ntable; c++) {
                const char *v = i < 0                    ? PQfname(res, c)
                                : PQgetisnull(res, i, c) ? "-"
                                                         : PQgetvalue(res, i, c);

                if (c + 1 < ntable)
                    printf("%-*s  ", w[c], v);
                else
                    printf("%s\n", v);
            }
        free(w);
    }
}

/* change_one - a statement that must touch one row, audited, in a transaction */
void change_one(const char *q, int n, const char *const *params, const char *action, const char *none)
{
    sql_do("BEGIN", 0, NULL);
    if (sql_do(q, n, params) != 1)
        refuse("%s: %s", params[0], none);
    audit(action, params[0], NULL);
    sql_do("COMMIT", 0, NULL);
}

/* fetch_one - the one row of select where $1 = key, or refuse with none */
PGresult *fetch_one(const char *select, const char *where, const char *key, const char *none)
{
    const char *p[1] = {key};
    char *q = xasprintf("%s %s", select, where);
    PGresult *res = sql(q, 1, p);

    free(q);
    if (PQntuples(res) != 1)
        refuse("%s: %s", key, none);
    return res;
}

/* show_one - print the one row of select where $1 = key */
void show_one(const char *select, const char *where, const char *key, const char *none)
{
    PGresult *res = fetch_one(select, where, key, none);

    print_rows(res, 1, 0);
    PQclear(res);
}

/* list_all - print every row of select in order */
void list_all(const char *select, const char *order, int ntable)
{
    char *q = xasprintf("%s %s", select, order);
    PGresult *res = sql(q, 0, NULL);

    free(q);
    print_rows(res, 0, ntable);
    PQclear(res);
}

/* check_options - the --options of the form checked (refuse on a bad one) */
void check_options(int bal_rules)
{
    enum form_field field;
    char *why;

    if (form_check(&opt_form, &rules, bal_rules, &field, &why) < 0)
        refuse("--%s: %s", form_defs[field].option ? form_defs[field].option : form_defs[field].column, why);
}

/* new_password - from stdin, or generated; malloc'd, *shown when it must be printed */
static char *new_password(int *shown)
{
    char *line = NULL;
    size_t cap = 0;
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
static void store_password(const char *q, const char *login, const char *none)
{
    int shown;
    char *pw = new_password(&shown), *err = NULL, *hash = pwhash_hash(pw, &err);
    const char *p[2] = {login, hash};

    if (hash == NULL)
        refuse("%s", err);
    if (sql_do(q, 2, p) != 1)
        refuse("%s: %s", login, none);
    free(hash);
    if (shown)
        printf("%s\n", pw);
    pwhash_forget(pw);
}

/* set_person - the person's fields given as options, onto the account */
static void set_person(const char *login)
{
    const char *p[6] = {login,
                        opt_form.val[FF_CIVILITY],
                        opt_form.val[FF_LAST_NAME],
                        opt_form.val[FF_FIRST_NAME],
                        opt_form.val[FF_CONTACT],
                        opt_form.val[FF_PHONE]};

    if (sql_do("UPDATE account SET civility = coalesce($2, civility), last_name = coalesce($3, last_name),"
               " first_name = coalesce($4, first_name), contact_email = coalesce($5, contact_email),"
               " phone = coalesce($6, phone) WHERE login = lower($1)",
               6, p) != 1)
        refuse("%s: no such login", login);
}

/*
 * send_activation - a new activation link of a pending account to its
 * contact address, inside the caller's transaction: a link that could not
 * be sent leaves nothing behind.
 */
void send_activation(const char *login)
{
    const char *p[1] = {login};
    PGresult *res =
        sql("SELECT id, contact_email FROM account WHERE login = lower($1) AND state = 'pending'", 1, p);
    char *token, *err = NULL;

    if (PQntuples(res) != 1)
        refuse("%s: no account waiting for activation", login);
    if (PQgetisnull(res, 0, 1) || *PQgetvalue(res, 0, 1) == '\0')
        refuse("%s: no contact address to send the activation link to (--contact)", login);
    if (strncmp(var_portal_url, "https://", 8) != 0)
        refuse("portal_url: the portal's https:// address is needed for the link");
    if ((token = token_new(db, PQgetvalue(res, 0, 0), "activation", var_portal_activation_validity, &err)) ==
        NULL)
        refuse("%s", err);
    if (token_mail("activation", var_portal_url, token, var_portal_activation_validity, PQgetvalue(res, 0, 1),
                   &err) < 0)
        refuse("%s: the activation link was not sent: %s", login, err);
    audit("account-activation-link", login, PQgetvalue(res, 0, 1));
    fprintf(stderr, "mssante-admin: activation link of %s sent to %s\n", login, PQgetvalue(res, 0, 1));
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    PQclear(res);
}

/* account_add - account add: a new account, its password or activation link */
static int account_add(char **a)
{
    opt_form.in[FF_LOGIN] = a[0];
    check_options(0);
    if (opt_activation && opt_generate)
        refuse("--activation and --generate: the holder chooses the password, or you do");
    sql_do("BEGIN", 0, NULL);
    if (opt_activation) {
        const char *p[1] = {opt_form.val[FF_LOGIN]};

        /* "!" is no password: every login is refused until the holder chooses one. */
        if (sql_do("INSERT INTO account (login, password, state) VALUES ($1, '!', 'pending')"
                   " ON CONFLICT (login) DO NOTHING",
                   1, p) != 1)
            refuse("%s: this login exists already", opt_form.val[FF_LOGIN]);
    } else {
        store_password("INSERT INTO account (login, password) VALUES ($1, $2) ON CONFLICT (login) DO NOTHING",
                       opt_form.val[FF_LOGIN], "this login exists already");
    }
    set_person(opt_form.val[FF_LOGIN]);
    audit("account-add", opt_form.val[FF_LOGIN], opt_form.val[FF_CONTACT]);
    if (opt_activation)
        send_activation(opt_form.val[FF_LOGIN]);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: account %s added\n", opt_form.val[FF_LOGIN]);
    return 0;
}

/* account_activation - account activation: a new activation link mailed */
static int account_activation(char **a)
{
    sql_do("BEGIN", 0, NULL);
    send_activation(a[0]);
    sql_do("COMMIT", 0, NULL);
    return 0;
}

/* account_set - account set: change the given fields of an account */
static int account_set(char **a)
{
    check_options(0);
    sql_do("BEGIN", 0, NULL);
    set_person(a[0]);
    audit("account-set", a[0], NULL);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: account %s changed\n", a[0]);
    return 0;
}

/* account_passwd - account passwd: a new password, hashed */
static int account_passwd(char **a)
{
    sql_do("BEGIN", 0, NULL);
    store_password("UPDATE account SET password = $2 WHERE login = lower($1)", a[0], "no such login");
    audit("account-passwd", a[0], NULL);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: password of %s changed\n", a[0]);
    return 0;
}

/* set_state - disable or enable */
static int set_state(const char *login, const char *state)
{
    const char *p[2] = {login, state};
    int off = strcmp(state, "active") != 0;

    change_one("UPDATE account SET state = $2 WHERE login = lower($1)", 2, p,
               off ? "account-disable" : "account-enable", "no such login");
    fprintf(stderr, "mssante-admin: %s is %s\n", login, off ? "disabled" : "enabled");
    return 0;
}

/* account_disable - account disable: logins refused, the account kept */
static int account_disable(char **a)
{
    return set_state(a[0], "disabled");
}
/* account_enable - account enable: a disabled account back in service */
static int account_enable(char **a)
{
    return set_state(a[0], "active");
}

/* account_delete - account delete: the account, refused while it owns a BAL alone */
static int account_delete(char **a)
{
    const char *p[1] = {a[0]};
    PGresult *res;

    sql_do("BEGIN", 0, NULL);
    /* A BAL left without an owner (an ORG BAL without its responsible) would be nobody's. */
    res = sql("SELECT string_agg(x.bal, ', ' ORDER BY x.bal) FROM bal_access x"
              " JOIN account a ON a.id = x.account_id WHERE a.login = lower($1) AND x.role = 'owner'",
              1, p);
    if (!PQgetisnull(res, 0, 0))
        refuse("%s owns %s (the responsible of an ORG BAL is its owner): give each BAL another"
               " owner (owner add) or delete it first",
               a[0], PQgetvalue(res, 0, 0));
    PQclear(res);
    if (sql_do("DELETE FROM account WHERE login = lower($1)", 1, p) != 1)
        refuse("%s: no such login", a[0]);
    audit("account-delete", a[0], NULL);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: account %s deleted\n", a[0]);
    return 0;
}

/* account_default_bal - account default-bal: the BAL a login opens first */
static int account_default_bal(char **a)
{
    const char *p[2] = {a[0], a[1]};

    sql_do("BEGIN", 0, NULL);
    if (sql_do("UPDATE account a SET default_bal = x.bal FROM bal_access x"
               " WHERE a.login = lower($1) AND x.account_id = a.id AND x.bal = lower($2)",
               2, p) != 1)
        refuse("%s may not open %s (or no such login or BAL)", a[0], a[1]);
    audit("account-default-bal", a[0], a[1]);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: %s opens %s by default\n", a[0], a[1]);
    return 0;
}

/* The columns of show and list (list: the first five, as a table); JSON keys the same. */
static const char *account_sql =
    "SELECT a.login, a.state, a.otp_method AS otp,"
    " (SELECT count(*) FROM device_password d WHERE d.account_id = a.id AND d.revoked_at IS NULL) AS devices,"
    " (SELECT string_agg(x.bal || CASE x.role WHEN 'owner' THEN '' ELSE ' (delegate)' END, ', '"
    "  ORDER BY x.bal) FROM bal_access x WHERE x.account_id = a.id) AS bals,"
    " a.default_bal, a.civility, a.last_name, a.first_name, a.contact_email, a.phone,"
    " to_char(a.created_at, 'YYYY-MM-DD HH24:MI') AS created,"
    " to_char(a.last_login_at, 'YYYY-MM-DD HH24:MI') AS last_login, a.password <> '!' AS password_set"
    " FROM account a";

/* account_show - account show: one account */
static int account_show(char **a)
{
    show_one(account_sql, "WHERE a.login = lower($1)", a[0], "no such login");
    return 0;
}

/* account_list - account list: every account */
static int account_list(char **a)
{
    (void) a;
    list_all(account_sql, "ORDER BY a.login", 5);
    return 0;
}

/* app_senders - rewrite sieve_app_senders_file from the database */
static int app_senders(char **args)
{
    char *err = NULL;
    long n;

    (void) args;
    if (*var_sieve_app_senders_file == 0) {
        fprintf(stderr, "mssante-admin: key \"sieve_app_senders_file\" is not set\n");
        return 1;
    }
    if (app_senders_write(db, var_sieve_app_senders_file, &n, &err) < 0) {
        fprintf(stderr, "mssante-admin: %s\n", err);
        free(err);
        return 1;
    }
    printf("%s: %ld APP sender(s)\n", var_sieve_app_senders_file, n);
    return 0;
}

/*
 * The verbs, Postfix-style: noun, verb, arguments, function; "app": may
 * change which BALs are APP BALs (the Sieve list is rewritten after it).
 */
static const struct verb {
    const char *noun, *verb;
    int nargs;
    int (*fn)(char **args);
    int app;
} verbs[] = {
    {"account", "add", 1, account_add, 0},
    {"account", "activation", 1, account_activation, 0},
    {"account", "set", 1, account_set, 0},
    {"account", "show", 1, account_show, 0},
    {"account", "list", 0, account_list, 0},
    {"account", "passwd", 1, account_passwd, 0},
    {"account", "disable", 1, account_disable, 0},
    {"account", "enable", 1, account_enable, 0},
    {"account", "delete", 1, account_delete, 0},
    {"account", "default-bal", 2, account_default_bal, 0},
    {"bal", "add", 1, bal_add, 1},
    {"bal", "set", 1, bal_set, 1},
    {"bal", "show", 1, bal_show, 0},
    {"bal", "list", 0, bal_list, 0},
    {"bal", "disable", 1, bal_disable, 0},
    {"bal", "enable", 1, bal_enable, 0},
    {"bal", "delete", 1, bal_delete, 1},
    {"owner", "add", 2, owner_add, 0},
    {"owner", "remove", 2, owner_remove, 0},
    {"owner", "list", 1, owner_list, 0},
    {"delegate", "add", 2, delegate_add, 0},
    {"delegate", "remove", 2, delegate_remove, 0},
    {"delegate", "list", 1, delegate_list, 0},
    {"alias", "add", 2, alias_add, 0},
    {"alias", "remove", 1, alias_remove, 0},
    {"alias", "list", 0, alias_list, 0},
    {"quota", "default", 2, quota_default, 0},
    {"quota", "list", 0, quota_list, 0},
    {"quota-warning", NULL, 2, quota_warning, 0},
    {"import", NULL, 1, import_csv, 1},
    {"expire", NULL, 0, expire, 0},
    {"export", NULL, 2, export, 0},
    {"inactive", NULL, 0, inactive, 1},
    {"app-senders", NULL, 0, app_senders, 0},
};

/* main - options, the verb table, one database session */
int main(int argc, char **argv)
{
    static const struct option fixed[] = {
        CMD_LONGOPTS,
        {"generate", no_argument, 0, OPT_GENERATE},
        {"activation", no_argument, 0, OPT_ACTIVATION},
        {"json", no_argument, 0, OPT_JSON},
        {"default", no_argument, 0, OPT_DEFAULT},
        {"apply", no_argument, 0, OPT_APPLY},
        {"passwords", required_argument, 0, OPT_PASSWORDS},
        {"days", required_argument, 0, OPT_DAYS},
        {"notify", no_argument, 0, OPT_NOTIFY},
        {"delete", no_argument, 0, OPT_DELETE},
        {"notified-before", required_argument, 0, OPT_NOTIFIED_BEFORE},
        {"export", required_argument, 0, OPT_EXPORT},
        {"folder", required_argument, 0, OPT_FOLDER},
        {"format", required_argument, 0, OPT_FORMAT},
        {"owner", required_argument, 0, OPT_FORM + FF_LOGIN},
    };
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), n = nfixed;
    struct option longopts[sizeof(fixed) / sizeof(fixed[0]) + FF_COUNT + 1];
    struct cmd_common c;
    char *err = NULL;
    int ch, nargs, ret;
    char **a;

    memcpy(longopts, fixed, sizeof(fixed));
    for (int i = 0; i < FF_COUNT; i++)
        if (form_defs[i].option)
            longopts[n++] = (struct option){form_defs[i].option, required_argument, 0, OPT_FORM + i};
    longopts[n] = (struct option){0, 0, 0, 0};
    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        switch (ch) {
        case OPT_GENERATE:
            opt_generate = 1;
            break;
        case OPT_ACTIVATION:
            opt_activation = 1;
            break;
        case OPT_JSON:
            opt_json = 1;
            break;
        case OPT_DEFAULT:
            opt_default = 1;
            break;
        case OPT_APPLY:
            opt_apply = 1;
            break;
        case OPT_PASSWORDS:
            opt_passwords = optarg;
            break;
        case OPT_DAYS:
            opt_days = optarg;
            break;
        case OPT_NOTIFY:
            opt_notify = 1;
            break;
        case OPT_DELETE:
            opt_delete = 1;
            break;
        case OPT_NOTIFIED_BEFORE:
            opt_notified_before = optarg;
            break;
        case OPT_EXPORT:
            opt_export = optarg;
            break;
        case OPT_FOLDER:
            opt_folder = optarg;
            break;
        case OPT_FORMAT:
            opt_format = optarg;
            break;
        default:
            if (ch >= OPT_FORM && ch < OPT_FORM + FF_COUNT) {
                opt_form.in[ch - OPT_FORM] = optarg;
                break;
            }
            usage(stderr);
            return 2;
        }
    }
    cmd_load(&c, usage);
    if ((rules.our_domains = domain_list(var_our_domains, "our_domains", &err)) == NULL)
        msg_fatal("%s", err);
    a = argv + optind;
    nargs = argc - optind;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        int words = verbs[i].verb ? 2 : 1;

        if (nargs < words || strcmp(a[0], verbs[i].noun) != 0 ||
            (verbs[i].verb && strcmp(a[1], verbs[i].verb) != 0))
            continue;
        if (nargs - words != verbs[i].nargs)
            break;
        if ((db = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL)
            msg_fatal("%s", err);
        ret = verbs[i].fn(a + words);
        if (ret == 0 && verbs[i].app && *var_sieve_app_senders_file &&
            app_senders_write(db, var_sieve_app_senders_file, &(long){0}, &err) < 0) {
            fprintf(stderr, "mssante-admin: done, but %s; run \"mssante-admin app-senders\"\n", err);
            ret = 1;
        }
        PQfinish(db);
        form_free(&opt_form);
        strlist_free(rules.our_domains);
        return ret;
    }
    usage(stderr);
    return 2;
}
