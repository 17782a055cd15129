/*
 * import - the operator's request form as a CSV file: one row per person
 * and BAL (the BAL's titulaire, or a delegate of it), columns named in a
 * header line (form.c), UTF-8, ';' or ',' between fields, RFC 4180 quotes.
 *
 * Every row is checked, and checked against the others and the database,
 * before anything is written: a dry run (the default) prints what would be
 * made; --apply makes it in one transaction, all rows or none. Every
 * problem is named by line and column, all of them in one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <csv.h>

#include "admin.h"
#include "mymalloc.h"
#include "pwhash.h"

#define MAX_ERRORS_SHOWN 50

struct row {
    int line;
    char *cell[FF_COUNT]; /* as read, NULL when absent */
    struct form f;
};

/* What the parser builds. */
struct import {
    const char *file;
    int col_field[64]; /* header column -> field, -1 none */
    int ncols, line, row_line;
    char **fields; /* the current record's fields */
    int nfields, fields_cap;
    struct row *rows;
    int nrows, rows_cap;
    int errors;
    int header_ok; /* the columns were understood */
};

/* A string -> row index map (open addressing), for the checks across rows. */
struct map {
    const char **key;
    int *val;
    size_t cap;
};

/* map_init - an empty open-addressing map sized for n keys */
static void map_init(struct map *m, size_t n)
{
    for (m->cap = 16; m->cap < 2 * n; m->cap *= 2)
        ;
    m->key = xcalloc(m->cap, sizeof(*m->key));
    m->val = xcalloc(m->cap, sizeof(*m->val));
}

/* map_slot - the slot of key: where it is, or where it would go */
static size_t map_slot(const struct map *m, const char *key)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *) key; *p; p++)
        h = (h ^ *p) * 16777619u;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
        if (m->key[i] == NULL || strcmp(m->key[i], key) == 0)
            return i;
}

/* map_get - the value of key, or -1 */
static int map_get(const struct map *m, const char *key)
{
    size_t i = map_slot(m, key);

    return m->key[i] ? m->val[i] : -1;
}

/* map_put - set the value of a key */
static void map_put(struct map *m, const char *key, int val)
{
    size_t i = map_slot(m, key);

    m->key[i] = key;
    m->val[i] = val;
}

/* map_free - free a map (not its keys) */
static void map_free(struct map *m)
{
    free(m->key);
    free(m->val);
}

/* problem - one bad row: file, line, column and why */
static void __attribute__((format(printf, 4, 5)))
problem(struct import *im, int line, int field, const char *fmt, ...)
{
    va_list ap;
    int col = -1;

    if (++im->errors > MAX_ERRORS_SHOWN)
        return;
    for (int c = 0; field >= 0 && c < im->ncols; c++)
        if (im->col_field[c] == field)
            col = c + 1;
    if (field < 0)
        fprintf(stderr, "%s, line %d: ", im->file, line);
    else if (col < 0)
        fprintf(stderr, "%s, line %d, column %s (absent): ", im->file, line, form_defs[field].column);
    else
        fprintf(stderr, "%s, line %d, column %d (%s): ", im->file, line, col, form_defs[field].column);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* on_field - libcsv: one field of the current record */
static void on_field(void *s, size_t len, void *data)
{
    struct import *im = data;

    if (im->nfields == im->fields_cap) {
        im->fields_cap = im->fields_cap ? 2 * im->fields_cap : 32;
        im->fields = xrealloc(im->fields, (size_t) im->fields_cap * sizeof(*im->fields));
    }
    im->fields[im->nfields++] = xstrndup(s ? s : "", len);
}

/* header - the columns' fields, from the first record */
static void header(struct import *im)
{
    im->ncols = im->nfields;
    if (im->ncols > (int) (sizeof(im->col_field) / sizeof(im->col_field[0]))) {
        problem(im, 1, -1, "%d columns: more than there are fields", im->ncols);
        im->ncols = 0;
        return;
    }
    for (int c = 0; c < im->ncols; c++) {
        int f = form_field_by_column(im->fields[c]);

        im->col_field[c] = f;
        if (f < 0)
            problem(im, 1, -1, "column %d: unknown column \"%s\"", c + 1, im->fields[c]);
        for (int d = 0; f >= 0 && d < c; d++)
            if (im->col_field[d] == f)
                problem(im, 1, -1, "column %d: \"%s\" twice (column %d)", c + 1, im->fields[c], d + 1);
    }
    for (int f = 0; f < FF_COUNT; f++) {
        int seen = 0;

        for (int c = 0; c < im->ncols; c++)
            seen |= im->col_field[c] == f;
        if (!seen && (f == FF_LOGIN || f == FF_BAL))
            problem(im, 1, -1, "no column \"%s\"", form_defs[f].column);
    }
    im->header_ok = im->errors == 0;
}

/* on_record - libcsv: the end of a record: the header, or a row */
static void on_record(int c, void *data)
{
    struct import *im = data;
    int line = im->row_line, blank = 1;

    (void) c;
    im->row_line = im->line + 1;
    if (line == 1)
        header(im);
    else {
        for (int i = 0; i < im->nfields; i++)
            blank &= im->fields[i][strspn(im->fields[i], " \t")] == 0;
        if (im->nfields > im->ncols && !blank)
            problem(im, line, -1, "%d fields, the header has %d", im->nfields, im->ncols);
        else if (!blank) {
            struct row *r;

            if (im->nrows == im->rows_cap) {
                im->rows_cap = im->rows_cap ? 2 * im->rows_cap : 256;
                im->rows = xrealloc(im->rows, (size_t) im->rows_cap * sizeof(*im->rows));
            }
            r = memset(&im->rows[im->nrows++], 0, sizeof(*r));
            r->line = line;
            for (int i = 0; i < im->nfields; i++)
                if (im->col_field[i] >= 0) {
                    r->cell[im->col_field[i]] = im->fields[i];
                    im->fields[i] = NULL;
                }
        }
    }
    for (int i = 0; i < im->nfields; i++)
        free(im->fields[i]);
    im->nfields = 0;
}

/* parse - read the file into rows; refuse when it cannot be read at all */
static void parse(struct import *im)
{
    FILE *fp = fopen(im->file, "r");
    struct csv_parser p;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;

    if (fp == NULL)
        refuse("%s: %s", im->file, strerror(errno));
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        refuse("out of memory");
    im->row_line = 1;
    while ((n = getline(&buf, &cap, fp)) > 0) {
        char *s = buf;

        im->line++;
        if (im->line == 1) {
            if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) { /* a spreadsheet's BOM */
                s += 3;
                n -= 3;
            }
            csv_set_delim(&p, strchr(s, ';') ? ';' : ',');
        }
        if (csv_parse(&p, s, (size_t) n, on_field, on_record, im) != (size_t) n) {
            problem(im, im->line, -1, "%s", csv_strerror(csv_error(&p)));
            break;
        }
    }
    if (ferror(fp))
        refuse("%s: %s", im->file, strerror(errno));
    if (csv_fini(&p, on_field, on_record, im) != 0)
        problem(im, im->line, -1, "%s", csv_strerror(csv_error(&p)));
    csv_free(&p);
    free(buf);
    fclose(fp);
    if (im->line == 0)
        refuse("%s: empty file (a header line, then one row per person and BAL)", im->file);
}

/* person_given - whether a row fills any of the person's columns */
static int person_given(const struct row *r)
{
    for (int f = FF_PERSON_FIRST; f <= FF_PERSON_LAST; f++)
        if (r->f.val[f])
            return 1;
    return 0;
}

/* pg_array - a text[] literal of the given strings */
static char *pg_array(const char **s, int n)
{
    size_t len = 3;
    char *out, *o;

    for (int i = 0; i < n; i++)
        len += 2 * strlen(s[i]) + 3;
    o = out = xmalloc(len);
    *o++ = '{';
    for (int i = 0; i < n; i++) {
        *o++ = i ? ',' : '"';
        if (i)
            *o++ = '"';
        for (const char *p = s[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *o++ = '\\';
            *o++ = *p;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = 0;
    return out;
}

/* existing - which of the keys are in the database: a map key -> row of res (the caller keeps res) */
static PGresult *existing(const char *q, struct map *keys, struct map *found)
{
    const char **list = xcalloc(keys->cap, sizeof(*list));
    int n = 0;
    char *arr;
    const char *p[1];
    PGresult *res;

    for (size_t i = 0; i < keys->cap; i++)
        if (keys->key[i])
            list[n++] = keys->key[i];
    p[0] = arr = pg_array(list, n);
    res = sql(q, 1, p);
    map_init(found, (size_t) PQntuples(res));
    for (int i = 0; i < PQntuples(res); i++)
        map_put(found, PQgetvalue(res, i, 0), i);
    free(arr);
    free(list);
    return res;
}

/* Counts of what the file makes. */
struct made {
    int accounts, referred, bals, delegates;
    int by_type[4];
};

static const char *const types[4] = {"PER", "ORG", "APP", "CAB"};

/*
 * check - every row, then the rows together and against the database.
 * first_of_login, owner_of_bal: the map of the first row of each login and
 * the titulaire row of each BAL.
 */
static void check(struct import *im, struct map *first_of_login, struct map *owner_of_bal, struct made *made)
{
    struct map pairs, db_logins, db_bals, db_rights;
    PGresult *logins, *bals, *rights;

    for (int i = 0; i < im->nrows; i++) {
        struct row *r = &im->rows[i];
        enum form_field field;
        char *why;
        int owner;

        for (int f = 0; f < FF_COUNT; f++)
            r->f.in[f] = r->cell[f];
        /* The role first: a delegate's row carries no BAL metadata. */
        if (form_check(&r->f, &rules, 0, &field, &why) < 0) {
            problem(im, r->line, (int) field, "%s", why);
            free(why);
            r->line = -r->line; /* not looked at again */
            continue;
        }
        owner = form_role_owner(&r->f);
        for (int f = FF_BAL_FIRST; !owner && f < FF_COUNT; f++)
            if (r->f.val[f]) {
                problem(im, r->line, f,
                        "a delegate's row names the BAL only: its details go on"
                        " the titulaire's row");
                r->line = -r->line;
                break;
            }
        if (owner && form_check(&r->f, &rules, 1, &field, &why) < 0) {
            problem(im, r->line, (int) field, "%s", why);
            free(why);
            r->line = -r->line;
        }
    }
    map_init(first_of_login, (size_t) im->nrows);
    map_init(owner_of_bal, (size_t) im->nrows);
    map_init(&pairs, (size_t) im->nrows);
    for (int i = 0; i < im->nrows; i++) {
        struct row *r = &im->rows[i];
        const char *login, *bal;
        char *pair;
        int j;

        login = r->f.val[FF_LOGIN];
        bal = r->f.val[FF_BAL];
        if (r->line < 0) {
            /* A bad row still says its login and BAL exist: no echo of its problem elsewhere. */
            if (login && map_get(first_of_login, login) < 0)
                map_put(first_of_login, login, i);
            if (bal && form_role_owner(&r->f) && map_get(owner_of_bal, bal) < 0)
                map_put(owner_of_bal, bal, i);
            continue;
        }
        if ((j = map_get(first_of_login, login)) < 0)
            map_put(first_of_login, login, i);
        else if (im->rows[j].line > 0)
            for (int f = FF_PERSON_FIRST; f <= FF_PERSON_LAST; f++)
                if (r->f.val[f] &&
                    (im->rows[j].f.val[f] == NULL || strcmp(r->f.val[f], im->rows[j].f.val[f]) != 0))
                    problem(im, r->line, f, "%s: not what line %d says of this login", login,
                            im->rows[j].line);
        if (form_role_owner(&r->f)) {
            if ((j = map_get(owner_of_bal, bal)) >= 0)
                problem(im, r->line, FF_BAL, "%s has its titulaire on line %d already", bal,
                        im->rows[j].line);
            else
                map_put(owner_of_bal, bal, i);
        }
        pair = xasprintf("%s %s", login, bal);
        if ((j = map_get(&pairs, pair)) >= 0) {
            problem(im, r->line, FF_BAL, "%s and %s are on line %d already", login, bal, im->rows[j].line);
            free(pair);
        } else
            map_put(&pairs, pair, i);
    }
    /* Against the database: the logins, BALs and rights that exist. */
    logins = existing("SELECT login FROM account WHERE login = ANY($1::text[])", first_of_login, &db_logins);
    {
        struct map all_bals;

        map_init(&all_bals, (size_t) im->nrows);
        for (int i = 0; i < im->nrows; i++)
            if (im->rows[i].line > 0)
                map_put(&all_bals, im->rows[i].f.val[FF_BAL], i);
        bals = existing("SELECT address, bal_type FROM bal WHERE address = ANY($1::text[])"
                        " UNION ALL SELECT alias, 'alias' FROM bal_alias WHERE alias = ANY($1::text[])",
                        &all_bals, &db_bals);
        map_free(&all_bals);
    }
    for (int i = 0; i < im->nrows; i++) {
        struct row *r = &im->rows[i];
        const char *login = r->f.val[FF_LOGIN], *bal = r->f.val[FF_BAL], *type = NULL;
        int j;

        if (r->line < 0)
            continue;
        if (map_get(&db_logins, login) >= 0) {
            if (person_given(r))
                problem(im, r->line, FF_LOGIN,
                        "login %s exists already (leave the person's columns"
                        " empty to give this existing account the BAL)",
                        login);
            else if (map_get(first_of_login, login) == i)
                made->referred++;
        } else if (map_get(first_of_login, login) == i) {
            static const enum form_field needed[] = {FF_LAST_NAME, FF_FIRST_NAME, FF_CONTACT};

            for (size_t k = 0; k < sizeof(needed) / sizeof(needed[0]); k++)
                if (r->f.val[needed[k]] == NULL)
                    problem(im, r->line, needed[k], "a new account needs its %s",
                            form_defs[needed[k]].column);
            made->accounts++;
        }
        if (form_role_owner(&r->f)) {
            if (map_get(&db_bals, bal) >= 0)
                problem(im, r->line, FF_BAL, "%s exists already%s", bal,
                        strcmp(PQgetvalue(bals, map_get(&db_bals, bal), 1), "alias") ? "" : " (an alias)");
            made->bals++;
            for (int t = 0; t < 4; t++)
                made->by_type[t] += strcmp(r->f.val[FF_TYPE], types[t]) == 0;
            continue;
        }
        made->delegates++;
        if ((j = map_get(owner_of_bal, bal)) >= 0 && im->rows[j].line < 0)
            continue; /* its titulaire's row is bad: said there */
        if (j >= 0)
            type = im->rows[j].f.val[FF_TYPE];
        else if ((j = map_get(&db_bals, bal)) >= 0)
            type = PQgetvalue(bals, j, 1);
        if (type == NULL)
            problem(im, r->line, FF_BAL,
                    "no such BAL (no titulaire's row in the file,"
                    " not in the database)");
        else if (strcmp(type, "alias") == 0)
            problem(im, r->line, FF_BAL, "%s is an alias of a BAL, not a BAL", bal);
        else if (strcmp(type, "APP") == 0)
            problem(im, r->line, FF_BAL, "%s is a software BAL: no delegate", bal);
    }
    rights = existing("SELECT a.login || ' ' || x.bal FROM bal_access x JOIN account a ON a.id = x.account_id"
                      " WHERE a.login || ' ' || x.bal = ANY($1::text[])",
                      &pairs, &db_rights);
    for (int i = 0; i < PQntuples(rights); i++) {
        const char *pair = PQgetvalue(rights, i, 0);
        const struct row *r = &im->rows[map_get(&pairs, pair)];

        problem(im, r->line, FF_BAL, "%s may open %s already", r->f.val[FF_LOGIN], r->f.val[FF_BAL]);
    }
    for (size_t i = 0; i < pairs.cap; i++)
        free((char *) pairs.key[i]);
    map_free(&pairs);
    map_free(&db_rights);
    map_free(&db_logins);
    map_free(&db_bals);
    PQclear(logins);
    PQclear(bals);
    PQclear(rights);
}

/* copy_field - a value in COPY text format (NULL as \N) */
static void copy_field(char **buf, size_t *len, size_t *cap, const char *v, int last)
{
    size_t need = (v ? 2 * strlen(v) : 2) + 2;

    if (*len + need > *cap) {
        *cap = 2 * (*cap + need);
        *buf = xrealloc(*buf, *cap);
    }
    if (v == NULL) {
        memcpy(*buf + *len, "\\N", 2);
        *len += 2;
    } else
        for (; *v; v++) {
            char c = *v == '\t' ? 't' : *v == '\n' ? 'n' : *v == '\r' ? 'r' : *v;

            if (c != *v || c == '\\')
                (*buf)[(*len)++] = '\\';
            (*buf)[(*len)++] = c;
        }
    (*buf)[(*len)++] = last ? '\n' : '\t';
}

/* copy_in - COPY rows into a table: nrows rows of ncols values from get() */
static void copy_in(const char *table, int ncols, int nrows,
                    const char *(*get)(struct import *, int, int, void *), struct import *im, void *data)
{
    char *q = xasprintf("COPY %s FROM STDIN", table), *buf = NULL, *err;
    size_t len = 0, cap = 0;
    PGresult *res = PQexec(db, q);

    if (PQresultStatus(res) != PGRES_COPY_IN)
        refuse("%s: %s", table, PQerrorMessage(db));
    PQclear(res);
    free(q);
    for (int i = 0; i < nrows; i++) {
        for (int c = 0; c < ncols; c++)
            copy_field(&buf, &len, &cap, get(im, i, c, data), c == ncols - 1);
        if (len > 65536 || i == nrows - 1) {
            if (PQputCopyData(db, buf, (int) len) != 1)
                refuse("%s: %s", table, PQerrorMessage(db));
            len = 0;
        }
    }
    if (PQputCopyEnd(db, NULL) != 1)
        refuse("%s: %s", table, PQerrorMessage(db));
    res = PQgetResult(db);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        err = xstrdup(PQresultErrorMessage(res));
        refuse("%s: %s", table, err);
    }
    PQclear(res);
    while ((res = PQgetResult(db)) != NULL)
        PQclear(res);
    free(buf);
}

/* The rows of each temporary table, one callback per table: row i, column c. */
struct pw {
    char **hash; /* per row: the hash of a new account's password */
};

/* get_account - the COPY fields of an account row */
static const char *get_account(struct import *im, int i, int c, void *data)
{
    struct row *r = &im->rows[i];
    struct pw *pw = data;
    static const enum form_field cols[] = {FF_LOGIN,      FF_CIVILITY, FF_LAST_NAME,
                                           FF_FIRST_NAME, FF_CONTACT,  FF_PHONE};

    if (c < 6)
        return r->f.val[cols[c]];
    return pw->hash[i] ? pw->hash[i] : "!"; /* "!": no password yet */
}

/* get_bal - the COPY fields of a BAL row */
static const char *get_bal(struct import *im, int i, int c, void *data)
{
    (void) data;
    return c == 0 ? im->rows[i].f.val[FF_BAL] : im->rows[i].f.val[FF_BAL_FIRST + c - 1];
}

/* get_access - the COPY fields of an access row (login, BAL, role) */
static const char *get_access(struct import *im, int i, int c, void *data)
{
    static char line[16];

    (void) data;
    snprintf(line, sizeof(line), "%d", im->rows[i].line);
    return c == 0                            ? im->rows[i].f.val[FF_LOGIN]
           : c == 1                          ? im->rows[i].f.val[FF_BAL]
           : c == 3                          ? line
           : form_role_owner(&im->rows[i].f) ? "owner"
                                             : "delegate";
}

/* compact - keep the rows selected by keep() (in order); their number */
static int compact(struct import *im, struct row *out, int (*keep)(struct import *, int, void *), void *data)
{
    int n = 0;

    for (int i = 0; i < im->nrows; i++)
        if (keep(im, i, data))
            out[n++] = im->rows[i];
    return n;
}

/* is_new_account - whether a row brings a login not seen on an earlier row */
static int is_new_account(struct import *im, int i, void *data)
{
    struct map *first_of_login = data;

    return person_given(&im->rows[i]) && map_get(first_of_login, im->rows[i].f.val[FF_LOGIN]) == i;
}

/* is_owner - whether a row gives its BAL's owner */
static int is_owner(struct import *im, int i, void *data)
{
    (void) data;
    return form_role_owner(&im->rows[i].f);
}

/* passwords - generated for the new accounts, written 0600 to FILE.new; the hashes by row */
static char *passwords(struct row *acc, int n, struct pw *pw)
{
    char *tmp = xasprintf("%s.new", opt_passwords);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *fp;

    if (fd < 0 || (fp = fdopen(fd, "w")) == NULL)
        refuse("%s: %s", tmp, strerror(errno));
    for (int i = 0; i < n; i++) {
        char *plain = pwhash_random(), *err = NULL;

        if ((pw->hash[i] = pwhash_hash(plain, &err)) == NULL) {
            unlink(tmp);
            refuse("%s", err);
        }
        fprintf(fp, "%s;%s\n", acc[i].f.val[FF_LOGIN], plain);
        pwhash_forget(plain);
    }
    if (fflush(fp) != 0 || fsync(fd) != 0 || fclose(fp) != 0) {
        unlink(tmp);
        refuse("%s: %s", tmp, strerror(errno));
    }
    return tmp;
}

/* apply - make it all, in one transaction */
static void apply(struct import *im, struct map *first_of_login)
{
    struct row *all = im->rows, *sel = xcalloc((size_t) im->nrows, sizeof(*sel));
    struct pw pw = {NULL};
    const char *p[1] = {im->file};
    char *tmp = NULL;
    int nacc, nbal;

    sql_do("BEGIN", 0, NULL);
    sql_do("CREATE TEMP TABLE imp_account (login text, civility text, last_name text, first_name text,"
           " contact_email text, phone text, password text) ON COMMIT DROP",
           0, NULL);
    sql_do("CREATE TEMP TABLE imp_bal (address text, bal_type text, id_nat text, structure_id text,"
           " service text, description text, liste_rouge boolean, notify_email text, quota_mb integer,"
           " cert_name text, notify_local boolean) ON COMMIT DROP",
           0, NULL);
    sql_do("CREATE TEMP TABLE imp_access (login text, bal text, role text, line integer) ON COMMIT DROP", 0,
           NULL);

    nacc = compact(im, sel, is_new_account, first_of_login);
    pw.hash = xcalloc((size_t) nacc + 1, sizeof(*pw.hash));
    if (opt_passwords)
        tmp = passwords(sel, nacc, &pw);
    im->rows = sel;
    copy_in("imp_account", 7, nacc, get_account, im, &pw);
    im->rows = all;
    nbal = compact(im, sel, is_owner, NULL);
    im->rows = sel;
    copy_in("imp_bal", 11, nbal, get_bal, im, NULL);
    im->rows = all;
    copy_in("imp_access", 4, im->nrows, get_access, im, NULL);

    sql_do(
        "INSERT INTO account (login, password, civility, last_name, first_name, contact_email, phone, state)"
        " SELECT login, password, civility, last_name, first_name, contact_email, phone,"
        " CASE WHEN $1 THEN 'pending' ELSE 'active' END FROM imp_account",
        1, (const char *[]){opt_activation ? "t" : "f"});
    sql_do("INSERT INTO bal (address, bal_type, id_nat, structure_id, service, description, liste_rouge,"
           " notify_email, quota_mb, cert_name, notify_local) SELECT address, bal_type, id_nat, structure_id,"
           " service, description, coalesce(liste_rouge, false), notify_email, quota_mb, cert_name,"
           " coalesce(notify_local, false) FROM imp_bal",
           0, NULL);
    sql_do("INSERT INTO bal_access (account_id, bal, role) SELECT a.id, i.bal, i.role FROM imp_access i"
           " JOIN account a ON a.login = i.login",
           0, NULL);
    /* A new account opens the first BAL its rows give it as titulaire. */
    sql_do("UPDATE account a SET default_bal = f.bal FROM (SELECT DISTINCT ON (i.login) i.login, i.bal"
           " FROM imp_access i JOIN imp_account n ON n.login = i.login WHERE i.role = 'owner'"
           " ORDER BY i.login, i.line) f WHERE a.login = f.login",
           0, NULL);
    /* Each link leaves before the commit: one that cannot be sent leaves nothing imported. */
    if (opt_activation) {
        PGresult *res = sql("SELECT login FROM imp_account ORDER BY login", 0, NULL);

        for (int i = 0; i < PQntuples(res); i++)
            send_activation(PQgetvalue(res, i, 0));
        PQclear(res);
    }
    sql_do(
        "INSERT INTO audit_event (actor, action, service, request, result)"
        " SELECT 'mssante-admin', 'account-add', 'admin', login || ': import ' || $1, 'ok' FROM imp_account"
        " UNION ALL SELECT 'mssante-admin', 'bal-add', 'admin', address || ': import ' || $1, 'ok' FROM imp_bal"
        " UNION ALL SELECT 'mssante-admin', 'delegate-add', 'admin', bal || ': ' || login || ' (import '"
        " || $1 || ')', 'ok' FROM imp_access WHERE role = 'delegate'",
        1, p);
    sql_do("COMMIT", 0, NULL);
    /* Statistics of the grown tables now: until autovacuum comes, the planner could
     * answer Postfix's and Dovecot's lookups by scanning a whole domain. */
    sql_do("ANALYZE account, bal, bal_access", 0, NULL);
    if (tmp && rename(tmp, opt_passwords) != 0)
        fprintf(stderr, "mssante-admin: %s: %s: the passwords are in %s\n", opt_passwords, strerror(errno),
                tmp);
    free(tmp);
    for (int i = 0; i < nacc; i++)
        free(pw.hash[i]);
    free(pw.hash);
    free(sel);
}

/* import_csv - import: every row of a CSV checked, then written in one transaction */
int import_csv(char **a)
{
    struct import im = {.file = a[0]};
    struct map first_of_login = {0}, owner_of_bal = {0};
    struct made made = {0};

    if (opt_activation && opt_passwords)
        refuse("--activation and --passwords: the holders choose their passwords, or you give them");
    parse(&im);
    if (im.header_ok)
        check(&im, &first_of_login, &owner_of_bal, &made);
    if (im.errors > 0) {
        if (im.errors > MAX_ERRORS_SHOWN)
            fprintf(stderr, "%s: ... and %d more\n", im.file, im.errors - MAX_ERRORS_SHOWN);
        refuse("%s: %d problem%s, nothing imported", im.file, im.errors, im.errors > 1 ? "s" : "");
    }
    if (opt_apply)
        apply(&im, &first_of_login);
    printf("%s: %d rows: %s %d accounts (%d existing given BALs), %d BALs"
           " (PER %d, ORG %d, APP %d, CAB %d), %d delegates\n",
           im.file, im.nrows, opt_apply ? "made" : "would make", made.accounts, made.referred, made.bals,
           made.by_type[0], made.by_type[1], made.by_type[2], made.by_type[3], made.delegates);
    if (!opt_apply)
        printf("%s: dry run, nothing changed (--apply makes them)\n", im.file);
    else if (opt_passwords)
        printf("%s: the new accounts' passwords are in %s (mode 0600): hand them over, then delete it\n",
               im.file, opt_passwords);
    else if (opt_activation)
        printf("%s: each new account's activation link was sent to its contact address\n", im.file);
    else if (made.accounts)
        printf("%s: the new accounts have no password yet (mssante-admin account passwd)\n", im.file);
    map_free(&first_of_login);
    map_free(&owner_of_bal);
    for (int i = 0; i < im.nrows; i++) {
        for (int f = 0; f < FF_COUNT; f++)
            free(im.rows[i].cell[f]);
        form_free(&im.rows[i].f);
    }
    free(im.rows);
    free(im.fields);
    return 0;
}
