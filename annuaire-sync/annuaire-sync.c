/*
 * annuaire-sync - keep the Annuaire Santé's MSSanté mailboxes in PostgreSQL.
 *
 *   annuaire-sync [options] --extraction FILE|URL
 *   annuaire-sync [options] [--since DATE] --fhir FILE|URL...
 *   annuaire-sync [options] --ldap URI --base DN [--filter F]
 *
 * One run = one source. The rows are streamed (memory does not grow with
 * the file) by COPY into a temporary table, then merged into annuaire_bal
 * in the same transaction: insert new, update changed (only those), delete
 * vanished rows of that source. Nothing is visible until COMMIT, so an
 * interrupted run leaves the previous data complete, and readers are never
 * blocked. Exit 0 only when the database reflects the source.
 *
 * Never: apply a full sync that deletes more than the configured share of
 * the source's rows without --force; run twice at once (advisory lock).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "addr.h"
#include "appsieve.h"
#include "cmd.h"
#include "extraction.h"
#include "fhir.h"
#include "https.h"
#include "ldapsrc.h"
#include "source.h"
#include "staging.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"

#define OPT_EXTRACTION 0x200
#define OPT_FORCE      0x201
#define OPT_DRY_RUN    0x202
#define OPT_FHIR       0x203
#define OPT_SINCE      0x204
#define OPT_LDAP       0x205
#define OPT_BASE       0x206
#define OPT_FILTER     0x207
#define FHIR_MAX_PAGES 100000
#define FHIR_MAX_PAGE  (32L * 1024 * 1024)

/* Arbitrary constant naming the advisory lock of annuaire-sync. */
#define SYNC_LOCK_KEY "7275538"
#define COPY_CHUNK (64 * 1024)

/* The staging columns as SQL lists (staging.h), made once by stage_sql(). */
enum stage_form { SF_NAMES, SF_TYPED, SF_EXCLUDED };
static char *stage_cols, *stage_typed, *stage_excluded;

/* stage_list - "a, b", "a text, b text" or "b = EXCLUDED.b" (all but the address) */
static char *stage_list(enum stage_form form)
{
#define STAGE_PART(name, col, type) col, type,
    static const char *const parts[2 * ST_NCOLS] = {STAGE_LIST(STAGE_PART)};
#undef STAGE_PART
    char   *out = xstrdup(""), *next;

    for (int i = form == SF_EXCLUDED ? 1 : 0; i < ST_NCOLS; i++) {
        const char *c = parts[2 * i];

        next = form == SF_NAMES ? xasprintf("%s%s%s", out, *out ? ", " : "", c)
            : form == SF_TYPED ? xasprintf("%s%s%s %s", out, *out ? ", " : "", c, parts[2 * i + 1])
            : xasprintf("%s%s%s = EXCLUDED.%s", out, *out ? ", " : "", c, c);
        free(out);
        out = next;
    }
    return out;
}

static void stage_sql(void)
{
    stage_cols = stage_list(SF_NAMES);
    stage_typed = stage_list(SF_TYPED);
    stage_excluded = stage_list(SF_EXCLUDED);
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: annuaire-sync [options] --extraction FILE|URL\n"
            "       annuaire-sync [options] [--since YYYY-MM-DD] --fhir FILE|URL [--fhir ...]\n"
            "       annuaire-sync [options] --ldap URI --base DN [--filter F]\n"
            "  --extraction FILE|URL  the national 31-column \"|\" file\n"
            "                      (Extraction_Correspondance_MSSante), or the ZIP holding it;\n"
            "                      an https:// URL is downloaded first (CAs: annuaire_https_ca)\n"
            "  --fhir FILE|URL     FHIR Bundles: saved files, or an https:// search URL whose\n"
            "                      \"next\" pages are followed (header ESANTE-API-KEY from the key\n"
            "                      annuaire_fhir_api_key, at most annuaire_fhir_rate requests/s)\n"
            "  --since DATE        a delta (_lastUpdated=geDATE): rows are added or changed,\n"
            "                      never deleted\n"
            "  --ldap URI          the operator's own directory (paged search, StartTLS, simple\n"
            "                      bind as annuaire_ldap_bind_dn); with --base DN and optionally\n"
            "                      --filter F (default " LDAP_DEFAULT_FILTER ")\n"
            "  --dry-run           count what would change, change nothing\n"
            "  --force             apply even if more than annuaire_max_delete_percent of the\n"
            "                      source's rows would be deleted\n"
            "%s"
            "Exit: 0 the database reflects the source; 1 refused or failed (database unchanged).\n",
            cmd_usage_common);
}

struct counts {
    long    read, rejected, staged, distinct, inserted, updated, deleted, existing;
};

/* copybuf - rows in COPY text format, sent in chunks */
struct copybuf {
    PGconn *conn;
    char   *buf;
    size_t  len, cap;
};

static void cb_put(struct copybuf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap)
        b->buf = xrealloc(b->buf, b->cap = (b->len + n) * 2);
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

/* cb_field - one value, escaped; an empty value is NULL */
static void cb_field(struct copybuf *b, const char *v, int last)
{
    if (*v == 0) {
        cb_put(b, "\\N", 2);
    } else {
        for (const char *p = v; *p; p++) {
            switch (*p) {
            case '\\': cb_put(b, "\\\\", 2); break;
            case '\t': cb_put(b, "\\t", 2); break;
            case '\n': cb_put(b, "\\n", 2); break;
            case '\r': cb_put(b, "\\r", 2); break;
            default: cb_put(b, p, 1); break;
            }
        }
    }
    cb_put(b, last ? "\n" : "\t", 1);
}

static int cb_flush(struct copybuf *b, int force, char **err)
{
    if (b->len == 0 || (!force && b->len < COPY_CHUNK))
        return 0;
    if (PQputCopyData(b->conn, b->buf, (int) b->len) != 1) {
        *err = pgu_error(b->conn);
        return -1;
    }
    b->len = 0;
    return 0;
}

/*
 * progress - on a terminal, what the run is doing, at most once a second
 * (cron and pipes see nothing); progress(NULL, NULL) clears the line.
 */
static void progress(const struct counts *n, const char *doing)
{
    static int tty = -1, shown;
    static time_t last;

    if (tty < 0)
        tty = isatty(STDERR_FILENO);
    if (!tty)
        return;
    if (n == NULL) {
        if (shown)
            fputs("\r\033[K", stderr);
        shown = 0;
        return;
    }
    if (doing == NULL && time(NULL) == last)
        return;
    last = time(NULL);
    fprintf(stderr, "\r\033[Kannuaire-sync: %ld rows read, %ld rejected%s%s", n->read, n->rejected,
            doing ? "; " : "", doing ? doing : "");
    shown = 1;
}

/* reject - count a row left out, and say why for the first 20 */
static void __attribute__((format(printf, 2, 3))) reject(struct counts *n, const char *fmt, ...)
{
    va_list ap;

    if (n->rejected++ >= 20)
        return;
    fputs("annuaire-sync: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/*
 * stage_row - validate one mailbox (values indexed by staging.h's ST_*) and queue
 * it for COPY; a bad row is counted and its reason shown (the first 20).
 */
static int stage_row(struct copybuf *b, const char *where, long line, const char *const *v,
                     struct counts *n, char **err)
{
    struct addr a;
    const char *why, *type = v[ST_BAL_TYPE];
    char    num[32];

    if ((++n->read & 1023) == 0)
        progress(n, NULL);
    if (strcmp(type, "PER") && strcmp(type, "ORG") && strcmp(type, "APP") && strcmp(type, "CAB")) {
        reject(n, "%s: rejected line %ld: unknown BAL type \"%.20s\"", where, line, type);
        return 0;
    }
    if (addr_parse(v[ST_ADDRESS], &a, &why) < 0) {
        reject(n, "%s: rejected line %ld: invalid address \"%.80s\": %s", where, line, v[ST_ADDRESS], why);
        return 0;
    }
    snprintf(num, sizeof(num), "%ld\t", line);
    cb_put(b, num, strlen(num));
    cb_field(b, a.key, 0);
    for (int i = ST_ADDRESS + 1; i < ST_NCOLS; i++)
        cb_field(b, v[i], i == ST_NCOLS - 1);
    addr_free(&a);
    n->staged++;
    return cb_flush(b, 0, err);
}

/* copy_begin - start COPY into the staging table */
static int copy_begin(PGconn *conn, char **err)
{
    char   *sql = xasprintf("COPY sync_stage (line, %s) FROM STDIN", stage_cols);
    PGresult *res = PQexec(conn, sql);
    int     ok = PQresultStatus(res) == PGRES_COPY_IN;

    free(sql);
    if (!ok)
        *err = pgu_error(conn);
    PQclear(res);
    return ok ? 0 : -1;
}

/*
 * copy_end - send what is buffered and finish the COPY (ok), or abort it;
 * either way drain the results so that the connection can go on.
 */
static int copy_end(struct copybuf *b, int ok, char **err)
{
    PGresult *res;
    int     ret = -1;

    if (!ok) {
        PQputCopyEnd(b->conn, "source refused");
    } else if (cb_flush(b, 1, err) < 0 || PQputCopyEnd(b->conn, NULL) != 1) {
        if (*err == NULL)
            *err = pgu_error(b->conn);
    } else if (PQresultStatus(res = PQgetResult(b->conn)) != PGRES_COMMAND_OK) {
        *err = pgu_error(b->conn);
        PQclear(res);
    } else {
        PQclear(res);
        ret = 0;
    }
    while ((res = PQgetResult(b->conn)) != NULL)
        PQclear(res);
    free(b->buf);
    b->buf = NULL;
    return ret;
}

/* query_long - one number from a query with one text parameter */
static int query_long(PGconn *conn, const char *sql, const char *param, long *out, char **err)
{
    PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        *err = pgu_error(conn);
        PQclear(res);
        return -1;
    }
    *out = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* exec_source - a statement with the source as $1; rows affected, or -1 */
static long exec_source(PGconn *conn, const char *sql, const char *source, char **err)
{
    PGresult *res = PQexecParams(conn, sql, 1, NULL, &source, NULL, NULL, 0);
    long    n = -1;

    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        n = atol(PQcmdTuples(res));
    else
        *err = pgu_error(conn);
    PQclear(res);
    return n;
}

/*
 * load_extraction - stream the file into the staging table (inside the
 * caller's transaction); rejected lines are counted and the first ones shown.
 */
static int load_extraction(PGconn *conn, const char *path, struct counts *n, char **err)
{
    FILE   *fp = source_open(path, var_annuaire_https_ca, err);
    struct ex_reader r;
    struct copybuf b = {conn, NULL, 0, 0};
    char   *why = NULL;
    int     st, ok = 0;

    if (fp == NULL)
        return -1;
    if (ex_open(&r, fp, path, err) < 0) {
        ex_close(&r);
        fclose(fp);
        return -1;
    }
    if (copy_begin(conn, err) < 0) {
        ex_close(&r);
        fclose(fp);
        return -1;
    }
    while ((st = ex_next(&r, &why)) != 0) {
        const char *v[ST_NCOLS];

        if (st < 0) {
            *err = why;
            goto out;
        }
        if (st == 2) {
            n->read++;
            reject(n, "%s: rejected %s", path, why);
            free(why);
            why = NULL;
            continue;
        }
        /* The file's columns are the staging ones with the first two swapped. */
        _Static_assert((int) EX_ID_TYPE == (int) ST_ID_TYPE && (int) EX_COUNTRY == (int) ST_COUNTRY
                       && EX_COLUMNS == (int) ST_CITY,
                       "the extraction file's columns 3 to 31 are staging.h's, in order");
        for (int i = EX_ID_TYPE; i < EX_COLUMNS; i++)
            v[i] = r.fields[i];
        v[ST_ADDRESS] = r.fields[EX_ADDRESS];
        v[ST_BAL_TYPE] = r.fields[EX_TYPE_BAL];
        v[ST_CITY] = ex_city(r.fields[EX_L6]);
        v[ST_LISTE_ROUGE] = "f";                        /* the public file has no liste rouge */
        if (stage_row(&b, path, r.lineno, v, n, err) < 0)
            goto out;
    }
    if (n->rejected > 20)
        fprintf(stderr, "annuaire-sync: %s: %ld more lines rejected\n", path, n->rejected - 20);
    ok = 1;
out:
    ok = copy_end(&b, ok, err) == 0;
    ex_close(&r);
    fclose(fp);
    return ok ? 0 : -1;
}

/* sink - where the rows of a source go (FHIR Bundles, LDAP entries) */
struct sink {
    struct copybuf *b;
    const char *where;
    struct counts *n;
    char  **err;
};

static int fhir_stage(void *ctx, long entry, const char *const *v)
{
    struct sink *k = ctx;

    return stage_row(k->b, k->where, entry, v, k->n, k->err);
}

struct membuf {
    char   *data;
    size_t  len;
};

static size_t mem_write(char *p, size_t size, size_t nm, void *ctx)
{
    struct membuf *m = ctx;

    if (m->len + size * nm > (size_t) FHIR_MAX_PAGE)
        return 0;
    m->data = xrealloc(m->data, m->len + size * nm + 1);
    memcpy(m->data + m->len, p, size * nm);
    m->len += size * nm;
    m->data[m->len] = 0;
    return size * nm;
}

/* http_get - one page of the API, at most annuaire_fhir_rate per second */
static char *http_get(const char *url, size_t *len, char **err)
{
    static struct timespec last;
    struct timespec now;
    struct membuf m = {NULL, 0};
    struct curl_slist *hdr = NULL;
    char    cerr[CURL_ERROR_SIZE] = "", *key;
    CURL   *c;
    CURLcode rc;
    double  gap = 1.0 / (double) var_annuaire_fhir_rate, since;

    clock_gettime(CLOCK_MONOTONIC, &now);
    since = (double) (now.tv_sec - last.tv_sec) + (double) (now.tv_nsec - last.tv_nsec) / 1e9;
    if (last.tv_sec && since < gap) {
        struct timespec w = {0, (long) ((gap - since) * 1e9)};

        nanosleep(&w, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &last);
    key = xasprintf("ESANTE-API-KEY: %s", var_annuaire_fhir_api_key);
    hdr = curl_slist_append(hdr, key);
    hdr = curl_slist_append(hdr, "Accept: application/fhir+json");
    if ((c = https_handle(url, var_annuaire_fhir_ca, cerr)) == NULL) {
        *err = xasprintf("%s: cannot start libcurl", url);
        curl_slist_free_all(hdr);
        free(key);
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    rc = curl_easy_perform(c);
    curl_slist_free_all(hdr);
    free(key);                              /* the API key is never logged */
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        *err = xasprintf("%s: %s", url, *cerr ? cerr : curl_easy_strerror(rc));
        free(m.data);
        return NULL;
    }
    *len = m.len;
    return m.data ? m.data : xstrdup("");
}

/* read_source - a saved Bundle file, whole */
static char *read_source(const char *path, size_t *len, char **err)
{
    FILE   *fp = fopen(path, "r");
    struct membuf m = {NULL, 0};
    char    buf[65536];
    size_t  got;

    if (fp == NULL) {
        *err = xasprintf("%s: cannot open: %m", path);
        return NULL;
    }
    while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
        if (mem_write(buf, 1, got, &m) != got) {
            *err = xasprintf("%s: larger than %ld bytes", path, FHIR_MAX_PAGE);
            fclose(fp);
            free(m.data);
            return NULL;
        }
    fclose(fp);
    *len = m.len;
    return m.data ? m.data : xstrdup("");
}

/* with_since - a search URL restricted to resources updated since a date */
static char *with_since(const char *url, const char *since)
{
    return since ? xasprintf("%s%c_lastUpdated=ge%s", url, strchr(url, '?') ? '&' : '?', since)
        : xstrdup(url);
}

/*
 * load_fhir - every Bundle of every source into the staging table: saved
 * files as they are, https:// search URLs page after page.
 */
static int load_fhir(PGconn *conn, char **srcs, int nsrc, const char *since,
                     struct counts *n, char **err)
{
    struct copybuf b = {conn, NULL, 0, 0};

    if (copy_begin(conn, err) < 0)
        return -1;
    for (int s = 0; s < nsrc; s++) {
        int     remote = strstr(srcs[s], "://") != NULL;
        char   *url = remote ? with_since(srcs[s], since) : NULL;
        long    pages = 0;

        do {
            char   *next = NULL, *where = xstrdup(remote ? url : srcs[s]), *text;
            size_t  len = 0;
            struct sink k = {&b, where, n, err};
            int     r;

            text = remote ? http_get(url, &len, err) : read_source(srcs[s], &len, err);
            r = text ? fhir_bundle(text, len, where, fhir_stage, &k, &next, err) : -1;
            free(text);
            free(where);
            free(url);
            url = remote ? next : NULL;
            if (!remote)
                free(next);
            if (r == 0 && ++pages > FHIR_MAX_PAGES) {
                *err = xasprintf("%s: more than %d pages", srcs[s], FHIR_MAX_PAGES);
                r = -1;
            }
            if (r < 0) {
                free(url);
                copy_end(&b, 0, err);
                return -1;
            }
        } while (url);
    }
    return copy_end(&b, 1, err);
}

/* ldap_stage - an entry's mailbox into COPY, or an unusable entry counted */
static int ldap_stage(void *ctx, const char *dn, long entry, const char *const *v, const char *why)
{
    struct sink *k = ctx;

    if (why == NULL)
        return stage_row(k->b, dn, entry, v, k->n, k->err);
    k->n->read++;
    reject(k->n, "%s: rejected entry %s: %s", k->where, dn, why);
    return 0;
}

/* load_ldap - a paged search of the operator's directory */
static int load_ldap(PGconn *conn, const char *uri, const char *base, const char *filter,
                     struct counts *n, char **err)
{
    struct copybuf b = {conn, NULL, 0, 0};
    struct sink k = {&b, uri, n, err};
    long    entries;

    if (copy_begin(conn, err) < 0)
        return -1;
    if (ldap_load(uri, base, filter, ldap_stage, &k, &entries, err) < 0) {
        copy_end(&b, 0, err);
        return -1;
    }
    return copy_end(&b, 1, err);
}

/*
 * prepare - one row per address (the last one of the file), then, by hash
 * joins, the rows that are new or changed and the addresses that are gone:
 * the merge then touches only those.
 */
static int prepare(PGconn *conn, const char *source, int full, struct counts *n, char **err)
{
    char   *incoming = xasprintf("CREATE TEMP TABLE sync_incoming ON COMMIT DROP AS SELECT DISTINCT "
                                  "ON (address) s.*, md5(ROW(%s)::text) AS row_hash FROM sync_stage s "
                                  "ORDER BY address, line DESC", stage_cols);
    int     bad = pgu_exec(conn, "SET LOCAL work_mem = '256MB'", err) < 0
        || pgu_exec(conn, incoming, err) < 0;

    free(incoming);
    if (bad
        || query_long(conn, "SELECT count(*) FROM sync_incoming", NULL, &n->distinct, err) < 0
        || query_long(conn, "SELECT count(*) FROM annuaire_bal WHERE source = $1", source,
                      &n->existing, err) < 0)
        return -1;
    if (exec_source(conn, "CREATE TEMP TABLE sync_changed ON COMMIT DROP AS "
                    "SELECT i.*, b.address IS NULL AS is_new FROM sync_incoming i "
                    "LEFT JOIN annuaire_bal b USING (address) "
                    "WHERE b.address IS NULL OR b.row_hash <> i.row_hash OR b.source <> $1",
                    source, err) < 0)
        return -1;
    if (!full)                              /* a delta never deletes */
        return pgu_exec(conn, "CREATE TEMP TABLE sync_gone (address text) ON COMMIT DROP", err) < 0
            || query_long(conn, "SELECT count(*) FILTER (WHERE is_new) FROM sync_changed", NULL,
                          &n->inserted, err) < 0
            || query_long(conn, "SELECT count(*) FILTER (WHERE NOT is_new) FROM sync_changed", NULL,
                          &n->updated, err) < 0 ? -1 : 0;
    if ((n->deleted = exec_source(conn, "CREATE TEMP TABLE sync_gone ON COMMIT DROP AS "
                                  "SELECT b.address FROM annuaire_bal b LEFT JOIN sync_incoming i "
                                  "USING (address) WHERE b.source = $1 AND i.address IS NULL",
                                  source, err)) < 0)
        return -1;
    return query_long(conn, "SELECT count(*) FILTER (WHERE is_new) FROM sync_changed", NULL,
                      &n->inserted, err) < 0
        || query_long(conn, "SELECT count(*) FILTER (WHERE NOT is_new) FROM sync_changed", NULL,
                      &n->updated, err) < 0 ? -1 : 0;
}

/*
 * drop_indexes - before the first load into an empty table: building the
 * secondary indexes once after the insert is much cheaper than maintaining
 * them row by row. Their definitions are read back from the catalog, so
 * schema/ stays their only definition. Returns the CREATE statements.
 */
static char **drop_indexes(PGconn *conn, char **err)
{
    PGresult *res = PQexec(conn, "SELECT indexname, indexdef FROM pg_indexes "
                           "WHERE schemaname = current_schema() AND tablename = 'annuaire_bal' "
                           "AND indexname <> 'annuaire_bal_pkey'");
    char  **defs;
    int     n;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        return NULL;
    }
    n = PQntuples(res);
    defs = xcalloc((size_t) n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        char   *drop = xasprintf("DROP INDEX \"%s\"", PQgetvalue(res, i, 0));
        int     r = pgu_exec(conn, drop, err);

        free(drop);
        defs[i] = xstrdup(PQgetvalue(res, i, 1));
        if (r < 0) {
            PQclear(res);
            return defs;            /* the caller rolls back */
        }
    }
    PQclear(res);
    return defs;
}

/* merge - the prepared rows into annuaire_bal: only changed rows written */
static int merge(PGconn *conn, const char *source, struct counts *n, char **err)
{
    PGresult *res;
    const char *p[1] = {source};
    char  **defs = NULL, *upsert;
    long    total = 0;
    int     ret = -1;

    if (query_long(conn, "SELECT count(*) FROM (SELECT 1 FROM annuaire_bal LIMIT 1) t", NULL,
                   &total, err) < 0)
        return -1;
    if (total == 0 && n->inserted > 1000) {
        if ((defs = drop_indexes(conn, err)) == NULL || *err)
            goto out;
        pgu_exec(conn, "SET LOCAL maintenance_work_mem = '256MB'", err);
    }
    upsert = xasprintf("WITH up AS (INSERT INTO annuaire_bal (%s, source, row_hash)"
        " SELECT %s, $1, row_hash FROM sync_changed ON CONFLICT (address) DO UPDATE SET %s,"
        " source = EXCLUDED.source, row_hash = EXCLUDED.row_hash, last_changed = now()"
        " WHERE annuaire_bal.row_hash <> EXCLUDED.row_hash OR annuaire_bal.source <> EXCLUDED.source"
        " RETURNING (xmax = 0) AS ins)"
        " SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM up",
        stage_cols, stage_cols, stage_excluded);
    res = PQexecParams(conn, upsert,
        1, NULL, p, NULL, NULL, 0);
    free(upsert);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        goto out;
    }
    n->inserted = atol(PQgetvalue(res, 0, 0));
    n->updated = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    if ((n->deleted = exec_source(conn, "DELETE FROM annuaire_bal b USING sync_gone g "
                                  "WHERE b.address = g.address AND b.source = $1", source, err)) < 0)
        goto out;
    for (char **d = defs; d && *d; d++)
        if (pgu_exec(conn, *d, err) < 0)
            goto out;
    ret = 0;
out:
    for (char **d = defs; d && *d; d++)
        free(*d);
    free(defs);
    return ret;
}

/* record - write the outcome of a run into sync_run (its own statement) */
static void record(PGconn *conn, const char *run_id, const struct counts *n,
                   const char *status, const char *error)
{
    char    v[6][32];
    const char *p[9];
    PGresult *res;

    snprintf(v[0], 32, "%ld", n->read);
    snprintf(v[1], 32, "%ld", n->inserted);
    snprintf(v[2], 32, "%ld", n->updated);
    snprintf(v[3], 32, "%ld", n->deleted);
    snprintf(v[4], 32, "%ld", n->rejected);
    p[0] = run_id;
    p[1] = v[0];
    p[2] = v[1];
    p[3] = v[2];
    p[4] = v[3];
    p[5] = v[4];
    p[6] = status;
    p[7] = error;
    res = PQexecParams(conn, "UPDATE sync_run SET finished_at = now(), rows_read = $2,"
                       " rows_inserted = $3, rows_updated = $4, rows_deleted = $5,"
                       " rows_rejected = $6, status = $7, error = $8 WHERE id = $1",
                       8, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char   *why = pgu_error(conn);

        msg_warn("cannot record the run in sync_run: %s", why);
        free(why);
    }
    PQclear(res);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_LONGOPTS,
        {"extraction", required_argument, 0, OPT_EXTRACTION},
        {"force", no_argument, 0, OPT_FORCE},
        {"dry-run", no_argument, 0, OPT_DRY_RUN},
        {"fhir", required_argument, 0, OPT_FHIR},
        {"since", required_argument, 0, OPT_SINCE},
        {"ldap", required_argument, 0, OPT_LDAP},
        {"base", required_argument, 0, OPT_BASE},
        {"filter", required_argument, 0, OPT_FILTER},
        {0, 0, 0, 0},
    };
    struct cmd_common c;
    struct counts n = {0};
    const char *extraction = NULL, *source = "extraction", *status = "failed", *since = NULL;
    const char *ldap = NULL, *base = NULL, *filter = LDAP_DEFAULT_FILTER;
    const char *p[3];
    char   *fhir[argc];            /* --fhir sources: at most one per argument */
    int     nfhir = 0, full;
    int     ch, force = 0, dry = 0, ret = 1;
    char   *err = NULL, *stage_table, run_id[32] = "";
    PGconn *conn;
    PGresult *res;
    long    got_lock = 0;

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        switch (ch) {
        case OPT_EXTRACTION: extraction = optarg; break;
        case OPT_FORCE: force = 1; break;
        case OPT_DRY_RUN: dry = 1; break;
        case OPT_FHIR: fhir[nfhir++] = optarg; break;
        case OPT_SINCE: since = optarg; break;
        case OPT_LDAP: ldap = optarg; break;
        case OPT_BASE: base = optarg; break;
        case OPT_FILTER: filter = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    cmd_load(&c, usage);
    if ((extraction != NULL) + (nfhir != 0) + (ldap != NULL) != 1 || optind != argc
        || (since && !nfhir) || (ldap != NULL) != (base != NULL)) {
        usage(stderr);
        return 2;
    }
    if (since && (strlen(since) != 10 || since[4] != '-' || since[7] != '-'
                  || strspn(since, "0123456789-") != 10)) {
        fprintf(stderr, "annuaire-sync: --since \"%s\": expected YYYY-MM-DD\n", since);
        return 2;
    }
    if (nfhir)
        source = "fhir";
    if (ldap)
        source = "ldap";
    full = since == NULL;
    if ((conn = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL)
        msg_fatal("%s; database unchanged", err);

    stage_sql();
    stage_table = xasprintf("CREATE TEMP TABLE sync_stage (line bigint, %s) ON COMMIT DROP",
                            stage_typed);
    /* One run at a time; a run left "running" by a killed process is closed. */
    if (query_long(conn, "SELECT pg_try_advisory_lock(" SYNC_LOCK_KEY ")::int", NULL, &got_lock, &err) < 0)
        msg_fatal("%s", err);
    if (!got_lock)
        msg_fatal("another annuaire-sync is running; database unchanged");
    p[0] = source;
    p[1] = extraction ? extraction : ldap ? ldap : fhir[0];
    p[2] = full ? "full" : "delta";
    res = PQexecParams(conn, "UPDATE sync_run SET status = 'failed', finished_at = now(),"
                       " error = 'interrupted' WHERE status = 'running' AND source = $1",
                       1, NULL, p, NULL, NULL, 0);
    PQclear(res);
    res = PQexecParams(conn, "INSERT INTO sync_run (source, source_ref, mode) VALUES ($1, $2, $3)"
                       " RETURNING id", 3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        msg_fatal("cannot start a run (schema not migrated? run mssante-db migrate): %s",
                  pgu_error(conn));
    snprintf(run_id, sizeof(run_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    if (pgu_exec(conn, "BEGIN", &err) < 0
        || pgu_exec(conn, stage_table, &err) < 0
        || (extraction ? load_extraction(conn, extraction, &n, &err)
            : ldap ? load_ldap(conn, ldap, base, filter, &n, &err)
            : load_fhir(conn, fhir, nfhir, since, &n, &err)) < 0
        || (progress(&n, "comparing with the database"), prepare(conn, source, full, &n, &err)) < 0)
        goto failed;
    if (n.staged == 0) {
        err = xasprintf("%s: no valid row (%ld read, %ld rejected)", p[1], n.read, n.rejected);
        goto failed;
    }
    if (full && !force && n.existing > 0 && n.deleted * 100 > n.existing * var_annuaire_max_delete_percent) {
        err = xasprintf("refused: this run would delete %ld of %ld rows (%ld%%, more than "
                        "annuaire_max_delete_percent = %ld); check the file, then use --force",
                        n.deleted, n.existing, n.deleted * 100 / n.existing,
                        var_annuaire_max_delete_percent);
        status = "refused";
        goto failed;
    }
    if (dry) {
        progress(NULL, NULL);
        pgu_exec(conn, "ROLLBACK", &err);
        record(conn, run_id, &n, "dry-run", NULL);
        printf("dry run, nothing changed: %s: %ld lines read, %ld rejected, %ld duplicates collapsed;"
               " would insert %ld, update %ld, delete %ld\n", p[1], n.read, n.rejected,
               n.staged - n.distinct, n.inserted, n.updated, n.deleted);
        PQfinish(conn);
        return 0;
    }
    progress(&n, "writing the changes");
    if (merge(conn, source, &n, &err) < 0 || pgu_exec(conn, "COMMIT", &err) < 0)
        goto failed;
    progress(NULL, NULL);
    record(conn, run_id, &n, "ok", NULL);
    /* Fresh statistics, or the planner misjudges the search indexes. */
    if (n.inserted + n.updated + n.deleted > 0 && pgu_exec(conn, "ANALYZE annuaire_bal", &err) < 0)
        msg_warn("ANALYZE annuaire_bal: %s", err);
    printf("%s: %ld lines read, %ld rejected, %ld duplicates collapsed; inserted %ld, updated %ld,"
           " deleted %ld (run %s)\n", p[1], n.read, n.rejected, n.staged - n.distinct,
           n.inserted, n.updated, n.deleted, run_id);
    ret = 0;
    if (*var_sieve_app_senders_file
        && app_senders_write(conn, var_sieve_app_senders_file, &(long) {0}, &err) < 0) {
        fprintf(stderr, "annuaire-sync: database updated, but %s\n", err);
        free(err);
        ret = 1;
    }
    PQfinish(conn);
    return ret;

failed:
    progress(NULL, NULL);
    PQclear(PQexec(conn, "ROLLBACK"));
    n.inserted = n.updated = n.deleted = 0;
    record(conn, run_id, &n, status, err);
    fprintf(stderr, "annuaire-sync: %s; database unchanged\n", err);
    free(err);
    PQfinish(conn);
    return 1;
}
