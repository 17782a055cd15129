/*
 * bal - mssante-admin's BAL verbs: add, set, show, list, disable, enable,
 * delete; who opens a BAL: its owner (for an ORG BAL, its responsible) and
 * its delegates; other addresses of a BAL (aliases).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "mymalloc.h"
#include "params.h"
#include "strlist.h"

/* The BAL's columns in form order, FF_TYPE to FF_NOTIFY_LOCAL. */
static const char *bal_cols = "bal_type, id_nat, structure_id, service, description,"
                              " liste_rouge, notify_email, quota_mb, cert_name, notify_local";
#define BAL_NCOLS (FF_NOTIFY_LOCAL - FF_BAL_FIRST + 1)

/* bal_params - $1 the address, then the BAL fields as checked */
static void bal_params(const char **p)
{
    p[0] = opt_form.val[FF_BAL];
    for (int i = 0; i < BAL_NCOLS; i++)
        p[i + 1] = opt_form.val[FF_BAL_FIRST + i];
}

/* bal_type - the type of an existing BAL (malloc'd), or refuse */
static char *bal_type(const char *address)
{
    const char *p[1] = {address};
    PGresult *res = sql("SELECT bal_type FROM bal WHERE address = lower($1)", 1, p);
    char *type;

    if (PQntuples(res) != 1)
        refuse("%s: no such BAL", address);
    type = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return type;
}

/* give - the access row of a login to a BAL (refuse when the login does not exist) */
static void give(const char *bal, const char *login, const char *role)
{
    const char *p[3] = {login, bal, role};

    if (sql_do("INSERT INTO bal_access (account_id, bal, role) SELECT id, lower($2), $3 FROM account"
               " WHERE login = lower($1) ON CONFLICT (account_id, bal) DO UPDATE SET role = $3",
               3, p) != 1)
        refuse("%s: no such login", login);
}

/* bal_add - bal add: a new BAL and its first holder, audited */
int bal_add(char **a)
{
    const char *p[BAL_NCOLS + 1], *owner;
    char *q;

    opt_form.in[FF_BAL] = a[0];
    check_options(1);
    owner = opt_form.val[FF_LOGIN];
    if (owner == NULL && strcmp(opt_form.val[FF_TYPE], "APP") != 0)
        refuse("%s %s BAL needs its owner (--owner LOGIN%s)",
               strcmp(opt_form.val[FF_TYPE], "ORG") == 0 ? "an" : "a", opt_form.val[FF_TYPE],
               strcmp(opt_form.val[FF_TYPE], "ORG") == 0 ? ": its responsible" : "");
    bal_params(p);
    sql_do("BEGIN", 0, NULL);
    if (sql_do("SELECT 1 FROM bal_alias WHERE alias = $1", 1, p) == 1)
        refuse("%s is an alias (alias remove it first)", p[0]);
    q = xasprintf("INSERT INTO bal (address, %s) VALUES ($1, $2, $3, $4, $5, $6,"
                  " coalesce($7::boolean, false), $8, $9::integer, $10, coalesce($11::boolean, false))"
                  " ON CONFLICT DO NOTHING",
                  bal_cols);
    if (sql_do(q, BAL_NCOLS + 1, p) != 1)
        refuse("%s exists already", p[0]);
    free(q);
    if (owner) {
        give(p[0], owner, "owner");
        if (opt_default) {
            const char *d[2] = {owner, p[0]};

            sql_do("UPDATE account SET default_bal = $2 WHERE login = lower($1)", 2, d);
        }
    }
    audit("bal-add", p[0], owner);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: BAL %s (%s) added\n", p[0], opt_form.val[FF_TYPE]);
    return 0;
}

/* bal_set - bal set: change the given fields of a BAL */
int bal_set(char **a)
{
    const char *p[BAL_NCOLS + 1];
    char *q = xasprintf("SELECT %s FROM bal WHERE address = lower($1)", bal_cols);
    PGresult *res;

    if (opt_form.in[FF_LOGIN])
        refuse("--owner: the owner changes with \"owner add BAL LOGIN\"");
    sql_do("BEGIN", 0, NULL);
    p[0] = a[0];
    res = sql(q, 1, p);
    free(q);
    if (PQntuples(res) != 1)
        refuse("%s: no such BAL", a[0]);
    /* What is not given stays as it is; an empty value clears the field. */
    for (int i = 0; i < BAL_NCOLS; i++)
        if (opt_form.in[FF_BAL_FIRST + i] == NULL && !PQgetisnull(res, 0, i))
            opt_form.in[FF_BAL_FIRST + i] = PQgetvalue(res, 0, i);
    opt_form.in[FF_BAL] = a[0];
    check_options(1);
    bal_params(p);
    q = xasprintf("UPDATE bal SET (%s) = ($2, $3, $4, $5, $6, coalesce($7::boolean, false), $8,"
                  " $9::integer, $10, coalesce($11::boolean, false)) WHERE address = $1",
                  bal_cols);
    sql_do(q, BAL_NCOLS + 1, p);
    free(q);
    PQclear(res);
    audit("bal-set", p[0], NULL);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: BAL %s changed\n", p[0]);
    return 0;
}

/* The columns of show and list (list: the first six, as a table); JSON keys the same. */
static const char *bal_sql =
    "SELECT b.address, b.bal_type AS type, b.state,"
    " (SELECT a.login FROM bal_access x JOIN account a ON a.id = x.account_id"
    "  WHERE x.bal = b.address AND x.role = 'owner') AS owner,"
    " (SELECT count(*) FROM bal_access x WHERE x.bal = b.address AND x.role = 'delegate') AS delegates,"
    " b.liste_rouge,"
    " (SELECT string_agg(a.login, ', ' ORDER BY a.login) FROM bal_access x JOIN account a"
    "  ON a.id = x.account_id WHERE x.bal = b.address AND x.role = 'delegate') AS delegate_logins,"
    " b.id_nat AS rpps_adeli, b.structure_id AS finess, b.service, b.description,"
    " b.notify_email AS notification, b.notify_local AS notify_local_mail, b.quota_mb, b.cert_name AS certificate,"
    " to_char(b.created_at, 'YYYY-MM-DD HH24:MI') AS created,"
    " to_char(b.last_login_at, 'YYYY-MM-DD HH24:MI') AS last_login"
    " FROM bal b";

/*
 * usage - what Dovecot counts for a BAL (admin_doveadm quota get): used and
 * limit in KB, -1 when it cannot tell (said on stderr)
 */
static void usage(const char *bal, long long *used, long long *limit)
{
    const char *args[] = {"-f", "tab", "quota", "get", "-u", bal, NULL};
    char *what = xasprintf("usage of %s", bal), *out = doveadm(what, args), *line, *next;

    *used = *limit = -1;
    /* "Quota name  Type  Value  Limit  %" then a row per resource, in KB for STORAGE. */
    for (line = out; line && *line; line = next) {
        char **f;

        if ((next = strchr(line, '\n')) != NULL)
            *next++ = 0;
        else
            next = line + strlen(line);
        f = strlist_split(line, "\t");
        if (f[0] && f[1] && f[2] && f[3] && strcmp(f[1], "STORAGE") == 0) {
            *used = atoll(f[2]);
            *limit = strcmp(f[3], "-") ? atoll(f[3]) : -1;
        }
        strlist_free(f);
    }
    if (out && *used < 0)
        fprintf(stderr, "mssante-admin: %s: \"%s quota get\" said nothing\n", what, var_admin_doveadm);
    free(out);
    free(what);
}

/* bal_holder - the notification address of a BAL (its own, else its owner's contact) */
char *bal_holder(const char *bal, char **address)
{
    const char *p[1] = {bal};
    PGresult *res = sql("SELECT b.address, coalesce(b.notify_email, o.contact_email) FROM bal b"
                        " LEFT JOIN bal_access x ON x.bal = b.address AND x.role = 'owner'"
                        " LEFT JOIN account o ON o.id = x.account_id WHERE b.address = lower($1)",
                        1, p);
    char *rcpt;

    if (PQntuples(res) != 1)
        refuse("%s: no such BAL", bal);
    rcpt = PQgetisnull(res, 0, 1) ? NULL : xstrdup(PQgetvalue(res, 0, 1));
    if (address)
        *address = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return rcpt;
}

/* bal_show - bal show: one BAL with its usage and quota */
int bal_show(char **a)
{
    static const char *const names[] = {"usage_kb", "quota_kb"};
    PGresult *res = fetch_one(bal_sql, "WHERE b.address = lower($1)", a[0], "no such BAL");
    long long v[2];

    usage(PQgetvalue(res, 0, 0), &v[0], &v[1]);
    print_rows_plus(res, 1, 0, 2, names, v);
    PQclear(res);
    return 0;
}

/* bal_list - bal list: every BAL */
int bal_list(char **a)
{
    (void) a;
    list_all(bal_sql, "ORDER BY b.address", 6);
    return 0;
}

/* set_state - disable or enable a BAL */
static int set_state(const char *address, const char *state)
{
    const char *p[2] = {address, state};
    int off = strcmp(state, "active") != 0;

    change_one("UPDATE bal SET state = $2 WHERE address = lower($1)", 2, p,
               off ? "bal-disable" : "bal-enable", "no such BAL");
    fprintf(stderr, "mssante-admin: BAL %s is %s\n", address,
            off ? "disabled: it receives nothing and nobody opens it" : "enabled");
    return 0;
}

/* bal_disable - bal disable: mail to the BAL refused, its data kept */
int bal_disable(char **a)
{
    return set_state(a[0], "disabled");
}
/* bal_enable - bal enable: a disabled BAL back in service */
int bal_enable(char **a)
{
    return set_state(a[0], "active");
}

/* bal_delete - bal delete: the BAL and its accesses, audited */
int bal_delete(char **a)
{
    const char *p[1] = {a[0]};

    change_one("DELETE FROM bal WHERE address = lower($1)", 1, p, "bal-delete", "no such BAL");
    fprintf(stderr,
            "mssante-admin: BAL %s deleted (its mail stays in its home directory:"
            " export or remove it)\n",
            a[0]);
    return 0;
}

/* owner_add - owner add: an account becomes the owner of a BAL */
int owner_add(char **a)
{
    const char *p[1] = {a[0]};
    PGresult *res;
    char *was;

    sql_do("BEGIN", 0, NULL);
    free(bal_type(a[0]));
    res = sql("DELETE FROM bal_access x USING account a WHERE x.bal = lower($1) AND x.role = 'owner'"
              " AND a.id = x.account_id RETURNING a.login",
              1, p);
    was = PQntuples(res) ? xstrdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    give(a[0], a[1], "owner");
    audit("owner-add", a[0], was ? was : a[1]);
    sql_do("COMMIT", 0, NULL);
    if (was)
        fprintf(stderr, "mssante-admin: owner of %s: %s, was %s (a delegate no more, if it was one)\n", a[0],
                a[1], was);
    else
        fprintf(stderr, "mssante-admin: owner of %s: %s\n", a[0], a[1]);
    free(was);
    return 0;
}

/* take_away - remove a login's role on a BAL, or refuse */
static void take_away(const char *bal, const char *login, const char *role)
{
    const char *p[3] = {bal, login, role};

    sql_do("BEGIN", 0, NULL);
    if (sql_do("DELETE FROM bal_access x USING account a WHERE x.bal = lower($1) AND a.login = lower($2)"
               " AND x.role = $3 AND a.id = x.account_id",
               3, p) != 1)
        refuse("%s is not the %s of %s", login, role, bal);
    audit(strcmp(role, "owner") == 0 ? "owner-remove" : "delegate-remove", bal, login);
    sql_do("COMMIT", 0, NULL);
}

/* owner_remove - owner remove: the BAL is left to its delegates */
int owner_remove(char **a)
{
    take_away(a[0], a[1], "owner");
    fprintf(stderr,
            "mssante-admin: %s has no owner now: only its delegates open it"
            " (owner add gives it one)\n",
            a[0]);
    return 0;
}

/* delegate_add - delegate add: an account may open a BAL it does not own */
int delegate_add(char **a)
{
    const char *p[2] = {a[0], a[1]};
    char *type;

    sql_do("BEGIN", 0, NULL);
    type = bal_type(a[0]);
    if (strcmp(type, "APP") == 0)
        refuse("%s is a software BAL: it opens with its certificate, no delegate", a[0]);
    free(type);
    if (sql_do("SELECT 1 FROM bal_access x JOIN account a ON a.id = x.account_id"
               " WHERE x.bal = lower($1) AND a.login = lower($2) AND x.role = 'owner'",
               2, p) == 1)
        refuse("%s owns %s already", a[1], a[0]);
    give(a[0], a[1], "delegate");
    audit("delegate-add", a[0], a[1]);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: %s is a delegate of %s (logs in as \"%s*%s\")\n", a[1], a[0], a[0], a[1]);
    return 0;
}

/* delegate_remove - delegate remove: the account no longer opens the BAL */
int delegate_remove(char **a)
{
    take_away(a[0], a[1], "delegate");
    fprintf(stderr, "mssante-admin: %s is no longer a delegate of %s\n", a[1], a[0]);
    return 0;
}

/* holders - the owner or the delegates of a BAL */
static int holders(const char *bal, const char *role)
{
    const char *p[2] = {bal, role};
    PGresult *res;

    free(bal_type(bal));
    res = sql("SELECT a.login, a.last_name, a.first_name, a.contact_email, a.state FROM bal_access x"
              " JOIN account a ON a.id = x.account_id WHERE x.bal = lower($1) AND x.role = $2"
              " ORDER BY a.login",
              2, p);
    print_rows(res, 0, 5);
    PQclear(res);
    return 0;
}

/* owner_list - owner list: the owners of a BAL */
int owner_list(char **a)
{
    return holders(a[0], "owner");
}
/* delegate_list - delegate list: the delegates of a BAL */
int delegate_list(char **a)
{
    return holders(a[0], "delegate");
}

/* alias_add - alias add: another address delivered to a BAL */
int alias_add(char **a)
{
    const char *p[2] = {NULL, a[1]};
    PGresult *res;

    opt_form.in[FF_BAL] = a[0];
    check_options(0);
    p[0] = opt_form.val[FF_BAL];
    sql_do("BEGIN", 0, NULL);
    free(bal_type(a[1]));
    if (sql_do("SELECT 1 FROM bal WHERE address = $1", 1, p) == 1)
        refuse("%s is a BAL: an alias is another address", p[0]);
    res = sql("INSERT INTO bal_alias (alias, bal) VALUES ($1, lower($2)) ON CONFLICT (alias) DO NOTHING"
              " RETURNING alias",
              2, p);
    if (PQntuples(res) != 1)
        refuse("%s is an alias already (alias list)", p[0]);
    PQclear(res);
    audit("alias-add", p[0], a[1]);
    sql_do("COMMIT", 0, NULL);
    fprintf(stderr, "mssante-admin: mail to %s goes to %s\n", p[0], a[1]);
    return 0;
}

/* alias_remove - alias remove: the alias no longer delivers */
int alias_remove(char **a)
{
    const char *p[1] = {a[0]};

    change_one("DELETE FROM bal_alias WHERE alias = lower($1)", 1, p, "alias-remove", "no such alias");
    fprintf(stderr, "mssante-admin: alias %s removed\n", a[0]);
    return 0;
}

/* alias_list - alias list: every alias and its BAL */
int alias_list(char **a)
{
    PGresult *res = sql("SELECT alias, bal, to_char(created_at, 'YYYY-MM-DD HH24:MI') AS created"
                        " FROM bal_alias ORDER BY bal, alias",
                        0, NULL);

    (void) a;
    print_rows(res, 0, 3);
    PQclear(res);
    return 0;
}
