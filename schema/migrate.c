/*
 * migrate - apply schema/ to a PostgreSQL database.
 *
 * Applied versions are recorded in mssante_schema with the checksum of the
 * file as applied. Rules: migrations run in version order, each in one
 * transaction together with its bookkeeping row, so a failure leaves the
 * database at the previous version; a session advisory lock serialises
 * concurrent runs (several MX hosts upgraded at once); a database that
 * holds versions this package does not know is refused, never "fixed".
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "migrate.h"
#include "mymalloc.h"
#include "pgutil.h"

/* Arbitrary constant naming our advisory lock. */
#define MIG_LOCK_KEY "7275537"

/* read_file - whole content of a small text file */
static char *read_file(const char *path, char **err)
{
    FILE *fp = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (fp == NULL) {
        *err = xasprintf("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    do {
        if (cap - len < 4096)
            buf = xrealloc(buf, cap = cap * 2 + 8192);
        n = fread(buf + len, 1, cap - len - 1, fp);
        len += n;
    } while (n > 0);
    if (ferror(fp)) {
        *err = xasprintf("%s: read error", path);
        fclose(fp);
        free(buf);
        return NULL;
    }
    fclose(fp);
    buf[len] = 0;
    if (strlen(buf) != len) {
        *err = xasprintf("%s: NUL byte in file", path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* sha256_hex - checksum of a string */
static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < len && i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    out[64] = 0;
}

/* mig_cmp - qsort order of migrations by version */
static int mig_cmp(const void *a, const void *b)
{
    return ((const struct migration *) a)->version - ((const struct migration *) b)->version;
}

/* mig_list - the migrations of a directory, in version order */
int mig_list(const char *dir, struct migration **out, size_t *count, char **err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct migration *m = NULL;
    size_t n = 0, cap = 0;

    if (d == NULL) {
        *err = xasprintf("%s: cannot open schema directory: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char *path;

        if (len < 5 || strcmp(de->d_name + len - 4, ".sql") != 0)
            continue;
        if (!isdigit((unsigned char) de->d_name[0]) || strspn(de->d_name, "0123456789") != 3 ||
            de->d_name[3] != '_') {
            *err = xasprintf("%s/%s: a migration is named NNN_name.sql", dir, de->d_name);
            goto fail;
        }
        m = xgrow(m, &cap, n + 1, sizeof(*m));
        m[n].version = atoi(de->d_name);
        m[n].name = xstrndup(de->d_name, len - 4);
        path = xasprintf("%s/%s", dir, de->d_name);
        m[n].sql = read_file(path, err);
        free(path);
        if (m[n].sql == NULL) {
            free(m[n].name);
            goto fail;
        }
        sha256_hex(m[n].sql, m[n].checksum);
        n++;
    }
    closedir(d);
    d = NULL;
    if (n == 0) {
        *err = xasprintf("%s: no migrations found", dir);
        goto fail;
    }
    qsort(m, n, sizeof(*m), mig_cmp);
    for (size_t i = 1; i < n; i++) {
        if (m[i].version == m[i - 1].version) {
            *err = xasprintf("%s: two migrations numbered %03d", dir, m[i].version);
            goto fail;
        }
    }
    *out = m;
    *count = n;
    return 0;

fail:
    if (d)
        closedir(d);
    mig_free(m, n);
    return -1;
}

/* mig_free - release a list of migrations */
void mig_free(struct migration *m, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(m[i].name);
        free(m[i].sql);
    }
    free(m);
}

/* applied - versions and checksums recorded in the database */
struct applied {
    int version;
    char *name;
    char *checksum;
};

/* load_applied - read mssante_schema (empty when absent); -1 and *err */
static int load_applied(PGconn *conn, struct applied **out, int *count, char **err)
{
    PGresult *res;
    int n;

    res = PQexec(conn, "SELECT to_regclass('mssante_schema') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        return -1;
    }
    n = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    *out = NULL;
    *count = 0;
    if (!n)
        return 0;
    res = PQexec(conn, "SELECT version, name, checksum FROM mssante_schema ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    *out = xcalloc((size_t) n, sizeof(**out));
    for (int i = 0; i < n; i++) {
        (*out)[i].version = atoi(PQgetvalue(res, i, 0));
        (*out)[i].name = xstrdup(PQgetvalue(res, i, 1));
        (*out)[i].checksum = xstrdup(PQgetvalue(res, i, 2));
    }
    *count = n;
    PQclear(res);
    return 0;
}

/* free_applied - free the applied migrations read from the database */
static void free_applied(struct applied *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].checksum);
    }
    free(a);
}

/* find - the file migration of a version, or NULL */
static const struct migration *find(const struct migration *m, size_t count, int version)
{
    for (size_t i = 0; i < count; i++)
        if (m[i].version == version)
            return m + i;
    return NULL;
}

/*
 * check_applied - refuse a database that is newer than, or foreign to,
 * this schema directory; warn about migrations edited after shipping.
 */
static int check_applied(const struct applied *a, int na, const struct migration *m, size_t count, FILE *fp,
                         char **err)
{
    for (int i = 0; i < na; i++) {
        const struct migration *f = find(m, count, a[i].version);

        if (f == NULL) {
            *err = xasprintf("the database has schema version %03d (%s), unknown to this "
                             "package (it knows up to %03d): upgrade the package, do not "
                             "downgrade the database",
                             a[i].version, a[i].name, m[count - 1].version);
            return -1;
        }
        if (strcmp(f->checksum, a[i].checksum) != 0)
            fprintf(fp, "warning: %s.sql differs from the version applied to this database\n", f->name);
    }
    return 0;
}

/* sql_error - one-line error of a failed migration, with its line */
static char *sql_error(PGresult *res, const struct migration *m)
{
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    int line = 0;

    if (pos) {
        long off = atol(pos);

        line = 1;
        /* The position counts characters; our files are UTF-8. */
        for (const unsigned char *s = (const unsigned char *) m->sql; *s && off > 1; s++) {
            if ((*s & 0xC0) != 0x80)
                off--;
            if (*s == '\n')
                line++;
        }
    }
    if (line)
        return xasprintf("%s.sql:%d: %s", m->name, line, msg ? msg : "error");
    return xasprintf("%s.sql: %s", m->name, msg ? msg : "error");
}

/* apply_one - one migration and its bookkeeping row, in one transaction */
static int apply_one(PGconn *conn, const struct migration *m, char **err)
{
    PGresult *res;
    char version[16];
    const char *params[3];

    if (pgu_exec(conn, "BEGIN", err) < 0)
        return -1;
    if (pgu_exec(conn,
                 "CREATE TABLE IF NOT EXISTS mssante_schema ("
                 " version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 err) < 0)
        goto rollback;
    res = PQexec(conn, m->sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = sql_error(res, m);
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    snprintf(version, sizeof(version), "%d", m->version);
    params[0] = version;
    params[1] = m->name;
    params[2] = m->checksum;
    res = PQexecParams(conn,
                       "INSERT INTO mssante_schema (version, name, checksum)"
                       " VALUES ($1, $2, $3)",
                       3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    return pgu_exec(conn, "COMMIT", err);

rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}

/* quiet - drop server notices (e.g. "relation already exists, skipping") */
static void quiet(void *ctx, const char *message)
{
    (void) ctx;
    (void) message;
}

/* mig_migrate - bring the database to the newest version */
int mig_migrate(PGconn *conn, const struct migration *m, size_t count, FILE *fp, char **err)
{
    struct applied *a = NULL;
    int na = 0, done = 0, ret = -1;

    PQsetNoticeProcessor(conn, quiet, NULL);
    if (pgu_exec(conn, "SELECT pg_advisory_lock(" MIG_LOCK_KEY ")", err) < 0)
        return -1;
    if (load_applied(conn, &a, &na, err) < 0 || check_applied(a, na, m, count, fp, err) < 0)
        goto out;
    for (size_t i = 0; i < count; i++) {
        int have = 0;

        for (int j = 0; j < na; j++)
            have |= a[j].version == m[i].version;
        if (have)
            continue;
        if (apply_one(conn, m + i, err) < 0)
            goto out;
        fprintf(fp, "applied %s\n", m[i].name);
        done++;
    }
    if (done == 0)
        fprintf(fp, "schema is up to date (version %03d)\n", m[count - 1].version);
    ret = done;
out:
    free_applied(a, na);
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIG_LOCK_KEY ")"));
    return ret;
}

/* mig_status - list each migration as applied or pending */
int mig_status(PGconn *conn, const struct migration *m, size_t count, FILE *fp, char **err)
{
    struct applied *a = NULL;
    int na = 0, pending = 0;

    if (load_applied(conn, &a, &na, err) < 0)
        return -1;
    if (check_applied(a, na, m, count, fp, err) < 0) {
        free_applied(a, na);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        int have = 0;

        for (int j = 0; j < na; j++)
            have |= a[j].version == m[i].version;
        fprintf(fp, "%-8s %s\n", have ? "applied" : "pending", m[i].name);
        pending += !have;
    }
    free_applied(a, na);
    return pending;
}
