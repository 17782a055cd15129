/*
 * stage - every source's rows, checked, into the temporary table
 * sync_stage by COPY (staging.h says the columns): the extraction file, FHIR
 * Bundles (saved or downloaded page by page) and the operator's LDAP.
 *
 * Each row is compared while it is read with what the database holds
 * (known.c): its hash is computed here, the way PostgreSQL would, and only
 * the rows that are new or differ are staged; what the run never read is
 * what a full sync deletes. A first load, into an empty annuaire_bal, goes
 * straight into the table (its indexes dropped: its primary key built again
 * as soon as the COPY ends, the others by merge()): only the rows of an
 * address read again are staged, kept in a temporary file until the COPY
 * ends, and applied over the first ones.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "addr.h"
#include "buf.h"
#include "extraction.h"
#include "fhir.h"
#include "ldapsrc.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"
#include "source.h"
#include "staging.h"
#include "sync.h"

#define FHIR_MAX_PAGES 100000
#define COPY_CHUNK     (64 * 1024)

/* The staging columns as SQL lists (staging.h), made by stage_create(). */
enum stage_form { SF_NAMES, SF_TYPED, SF_EXCLUDED };
char *stage_cols, *stage_excluded;

/* The staging columns' names; the search forms (staging.h): their columns and sources. */
#define STAGE_NAME(name, col, type) col,
static const char *const stage_names[] = {STAGE_LIST(STAGE_NAME)};
#undef STAGE_NAME
#define FOLD_COL(name, col) col,
static const char *const fold_cols[] = {FOLD_LIST(FOLD_COL)};
#undef FOLD_COL
#define FOLD_SRC(name, col) ST_##name,
static const int fold_src[] = {FOLD_LIST(FOLD_SRC)};
#undef FOLD_SRC
#define NFOLDS ((int) (sizeof(fold_src) / sizeof(fold_src[0])))

/* The run's comparison: the database's rows, the addresses read twice. */
static struct known *known;
static struct buf again; /* array literal of the repeated addresses */
static long nagain;
static struct buf refold;  /* ... of those the database folds (fold.c) */
static const char *direct; /* a first load: the source, written into annuaire_bal */

/* stage_list - "a, b", "a text, b text" or "b = EXCLUDED.b" (all but the address), folds last */
static char *stage_list(enum stage_form form)
{
#define STAGE_TYPE(name, col, type) type,
    static const char *const types[ST_NCOLS] = {STAGE_LIST(STAGE_TYPE)};
#undef STAGE_TYPE
    struct buf out = {0};

    for (int i = form == SF_EXCLUDED ? 1 : 0; i < ST_NCOLS + NFOLDS; i++) {
        const char *c = i < ST_NCOLS ? stage_names[i] : fold_cols[i - ST_NCOLS];

        buf_printf(&out,
                   form == SF_EXCLUDED ? "%s%s = EXCLUDED.%s"
                   : form == SF_TYPED  ? "%s%s %s"
                                       : "%s%s",
                   out.len ? ", " : "", c,
                   form == SF_EXCLUDED ? c
                   : i < ST_NCOLS      ? types[i]
                                       : "text");
    }
    return out.s;
}

/* stage_create - the staging table and the rows to compare the source with */
int stage_create(PGconn *conn, const char *source, struct counts *n, char **err)
{
    char *typed = stage_list(SF_TYPED), *sql;
    int ret;

    stage_cols = stage_list(SF_NAMES);
    stage_excluded = stage_list(SF_EXCLUDED);
    sql = xasprintf("CREATE TEMP TABLE sync_stage (line bigint, %s, row_hash text) ON COMMIT DROP", typed);
    ret = pgu_exec(conn, sql, err) < 0 || fold_load(conn, err) < 0 ? -1 : 0;
    free(sql);
    free(typed);
    if (ret == 0 && source && (known = known_load(conn, source, n, err)) == NULL)
        ret = -1;
    if (ret == 0 && known && n->total == 0) {
        direct = source;
        ret = first_load(conn, err);
    }
    return ret;
}

/*
 * row_md5 - the MD5 of the row as PostgreSQL prints ROW(columns)::text
 * (empty values are NULL: nothing between the commas; a value is quoted
 * when empty or holding a quote, backslash, parenthesis, comma or space,
 * quotes and backslashes doubled inside), so that it equals the
 * md5(ROW(...)::text) stored by earlier versions
 */
static void row_md5(const char *key, const char *const *v, unsigned char md5[16])
{
    static const unsigned char special[256] = {
        ['"'] = 1,  ['\\'] = 1, ['('] = 1,  [')'] = 1,  [','] = 1, [' '] = 1,
        ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1};
    static struct buf t;
    static EVP_MD_CTX *ctx; /* fetched once: a lookup per row costs as much as the digest */
    static EVP_MD *md;
    size_t need = 2 + ST_NCOLS;
    char *o;

    for (int i = 0; i < ST_NCOLS; i++)
        need += 2 * strlen(i == ST_ADDRESS ? key : v[i]) + 2;
    t.len = 0;
    buf_reserve(&t, need); /* the worst case: every character doubled */
    o = t.s;
    *o++ = '(';
    for (int i = 0; i < ST_NCOLS; i++) {
        char *start;
        int quote = 0;

        if (i)
            *o++ = ',';
        start = o++; /* the opening quote, if one is needed */
        for (const char *x = i == ST_ADDRESS ? key : v[i]; *x; x++) {
            if (special[(unsigned char) *x]) {
                quote = 1;
                if (*x == '"' || *x == '\\')
                    *o++ = *x;
            }
            *o++ = *x;
        }
        if (quote) {
            *start = '"';
            *o++ = '"';
        } else {
            memmove(start, start + 1, (size_t) (o - start - 1));
            o--;
        }
    }
    *o++ = ')';
    if (ctx == NULL && ((ctx = EVP_MD_CTX_new()) == NULL || (md = EVP_MD_fetch(NULL, "MD5", NULL)) == NULL))
        msg_fatal("OpenSSL: no MD5");
    if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, t.s, (size_t) (o - t.s)) ||
        !EVP_DigestFinal_ex(ctx, md5, NULL))
        msg_fatal("OpenSSL: MD5 failed");
}

/* copy_unescape - a field of COPY's text format, unescaped in place */
size_t copy_unescape(char *s, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 't'   ? '\t'
                : c == 'n' ? '\n'
                : c == 'r' ? '\r'
                : c == 'b' ? '\b'
                : c == 'f' ? '\f'
                : c == 'v' ? '\v'
                           : c;
        }
        s[o++] = c;
    }
    return o;
}

/* copybuf - rows in COPY text format, sent in chunks (or written to fp) */
struct copybuf {
    PGconn *conn;
    char *buf;
    size_t len, cap;
    FILE *fp;
};
static struct copybuf spill; /* a first load's rows of addresses read again */

/* cb_reserve - room for n more bytes in a COPY buffer */
static void cb_reserve(struct copybuf *b, size_t n)
{
    if (b->len + n > b->cap)
        b->buf = xrealloc(b->buf, b->cap = (b->len + n) * 2);
}

/* cb_put - append bytes to a COPY buffer */
static void cb_put(struct copybuf *b, const char *s, size_t n)
{
    cb_reserve(b, n);
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

/* cb_text - a value, escaped for COPY (room reserved once: at worst each byte doubled) */
static void cb_text(struct copybuf *b, const char *v, size_t n)
{
    char *o;

    cb_reserve(b, 2 * n);
    o = b->buf + b->len;
    for (const char *p = v, *end = v + n; p < end; p++) {
        switch (*p) {
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        default:
            *o++ = *p;
            break;
        }
    }
    b->len = (size_t) (o - b->buf);
}

/* cb_field - one value and its separator; an empty value is NULL */
static void cb_field(struct copybuf *b, const char *v, int last)
{
    if (*v == 0)
        cb_put(b, "\\N", 2);
    else
        cb_text(b, v, strlen(v));
    cb_put(b, last ? "\n" : "\t", 1);
}

/*
 * cb_folds - the search forms of the row (staging.h's FOLD_LIST), each
 * followed by its tab; 0, or -1 when they are left to the database (NULL)
 */
static int cb_folds(struct copybuf *b, const char *const *v)
{
    static struct buf f;
    size_t start = b->len;

    for (int i = 0; i < NFOLDS; i++) {
        const char *x = v[fold_src[i]];

        f.len = 0;
        if (*x && fold(&f, x) < 0) {
            b->len = start;
            for (int j = 0; j < NFOLDS; j++)
                cb_put(b, "\\N\t", 3);
            return -1;
        }
        if (*x)
            cb_text(b, f.len ? f.s : "", f.len);
        else
            cb_put(b, "\\N", 2);
        cb_put(b, "\t", 1);
    }
    return 0;
}

/* cb_flush - send a COPY buffer when full (or when forced) */
static int cb_flush(struct copybuf *b, int force, char **err)
{
    if (b->len == 0 || (!force && b->len < COPY_CHUNK))
        return 0;
    if (b->fp && fwrite(b->buf, 1, b->len, b->fp) != b->len) {
        *err = xasprintf("cannot write a temporary file: %m");
        return -1;
    }
    if (b->fp == NULL && PQputCopyData(b->conn, b->buf, (int) b->len) != 1) {
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
void progress(const struct counts *n, const char *doing)
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
 * it for COPY when it is new or differs from the database (with its hash); a
 * bad row is counted and its reason shown (the first 20).
 */
static int stage_row(struct copybuf *b, const char *where, long line, const char *const *v, struct counts *n,
                     char **err)
{
    struct addr a;
    struct copybuf *to = b; /* the spill file for a first load's address read again */
    int into_bal;
    const char *why, *type = v[ST_BAL_TYPE];
    char num[32], hex[33];
    unsigned char md5[16];

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
    n->staged++;
    row_md5(a.key, v, md5);
    switch (known ? known_see(known, a.key, md5) : KNOWN_NEW) {
    case KNOWN_SAME:
        addr_free(&a);
        return 0;
    case KNOWN_AGAIN:
        nagain++;
        pgu_array_add(&again, a.key);
        if (direct && spill.fp == NULL && (spill.fp = tmpfile()) == NULL) {
            *err = xasprintf("cannot create a temporary file: %m");
            addr_free(&a);
            return -1;
        }
        to = direct ? &spill : b;
        break;
    default:
        break;
    }
    into_bal = direct && to == b;
    if (!into_bal) { /* sync_stage: the order read, across pages */
        snprintf(num, sizeof(num), "%ld\t", n->read);
        cb_put(to, num, strlen(num));
    }
    cb_field(to, a.key, 0);
    for (int i = ST_ADDRESS + 1; i < ST_NCOLS; i++)
        cb_field(to, v[i], 0);
    if (cb_folds(to, v) < 0)
        pgu_array_add(&refold, a.key);
    if (into_bal)
        cb_field(to, direct, 0);
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = "0123456789abcdef"[md5[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md5[i] & 15];
    }
    hex[32] = 0;
    cb_field(to, hex, 1);
    addr_free(&a);
    return cb_flush(to, 0, err);
}

/* copy_begin - start a COPY FROM STDIN */
static int copy_begin(PGconn *conn, const char *sql, char **err)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COPY_IN;

    if (!ok)
        *err = pgu_error(conn);
    PQclear(res);
    return ok ? 0 : -1;
}

/* stage_begin - start COPY into the staging table (or into annuaire_bal: a first load) */
static int stage_begin(PGconn *conn, int into_bal, char **err)
{
    char *sql = into_bal
                    ? xasprintf("COPY annuaire_bal (%s, source, row_hash) FROM STDIN (FREEZE)", stage_cols)
                    : xasprintf("COPY sync_stage (line, %s, row_hash) FROM STDIN", stage_cols);
    int ret = copy_begin(conn, sql, err);

    free(sql);
    return ret;
}

/*
 * copy_end - send what is buffered and finish the COPY (ok), or abort it;
 * either way drain the results so that the connection can go on.
 */
static int copy_end(struct copybuf *b, int ok, char **err)
{
    PGresult *res;
    int ret = -1;

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

/* gone_row - a vanished address into COPY sync_gone */
static int gone_row(void *ctx, const char *address)
{
    struct copybuf *b = ctx;

    cb_text(b, address, strlen(address));
    cb_put(b, "\n", 1);
    return 0;
}

/* stage_gone - the table of the addresses a full run deletes */
static int stage_gone(PGconn *conn, int full, struct counts *n, char **err)
{
    struct copybuf b = {conn, NULL, 0, 0, NULL};

    if (pgu_exec(conn, "CREATE TEMP TABLE sync_gone (address text) ON COMMIT DROP", err) < 0)
        return -1;
    if (!full) /* a delta never deletes */
        return 0;
    if (copy_begin(conn, "COPY sync_gone FROM STDIN", err) < 0)
        return -1;
    n->deleted = known_unseen(known, gone_row, &b);
    return copy_end(&b, 1, err);
}

/*
 * spill_load - a first load's rows of the addresses read again, from their
 * file into sync_stage, then the last of each over the row in annuaire_bal
 */
static int spill_load(PGconn *conn, char **err)
{
    struct copybuf b = {conn, xmalloc(COPY_CHUNK), 0, COPY_CHUNK, NULL};
    char *sql;
    int ok = 1;

    if (cb_flush(&spill, 1, err) < 0 || fflush(spill.fp) == EOF || fseek(spill.fp, 0, SEEK_SET) < 0) {
        if (*err == NULL)
            *err = xasprintf("cannot write a temporary file: %m");
        free(b.buf);
        return -1;
    }
    if (stage_begin(conn, 0, err) < 0) {
        free(b.buf);
        return -1;
    }
    while (ok && (b.len = fread(b.buf, 1, b.cap, spill.fp)) > 0)
        ok = cb_flush(&b, 1, err) == 0;
    if (ok && ferror(spill.fp)) {
        *err = xasprintf("cannot read a temporary file: %m");
        ok = 0;
    }
    fclose(spill.fp);
    free(spill.buf);
    spill.fp = NULL;
    if (copy_end(&b, ok, err) < 0)
        return -1;
    /* "excluded" names the row read last, so that stage_excluded applies */
    sql = xasprintf(
        "UPDATE annuaire_bal b SET %s, row_hash = excluded.row_hash"
        " FROM (SELECT DISTINCT ON (address) * FROM sync_stage ORDER BY address, line DESC) excluded"
        " WHERE b.address = excluded.address",
        stage_excluded);
    ok = pgu_exec(conn, sql, err) == 0;
    free(sql);
    return ok ? 0 : -1;
}

/* stage_finish - after the COPY: vanished addresses and the counts the merge will write */
int stage_finish(PGconn *conn, const char *source, int full, struct counts *n, char **err)
{
    PGresult *res;

    n->distinct = n->staged - nagain;
    if (direct && first_load_keys(conn, err) < 0)
        return -1;
    if (spill.fp && spill_load(conn, err) < 0)
        return -1;
    if (nagain && n->total > 0) { /* the last row read of an address wins */
        buf_add(&again, "}", 1);
        if (exec_param(conn,
                       "DELETE FROM sync_stage s USING sync_stage t"
                       " WHERE s.address = ANY($1) AND t.address = ANY($1)"
                       " AND s.address = t.address AND s.line < t.line",
                       again.s, err) < 0)
            return -1;
    }
    if (refold.len) { /* what fold() left to the database */
        struct buf sql = {0};
        long r;

        buf_printf(&sql, "UPDATE %s SET ", direct ? "annuaire_bal" : "sync_stage");
        for (int i = 0; i < NFOLDS; i++)
            buf_printf(&sql, "%s%s = mssante_fold(%s)", i ? ", " : "", fold_cols[i],
                       stage_names[fold_src[i]]);
        buf_puts(&sql, " WHERE address = ANY($1)");
        buf_add(&refold, "}", 1);
        r = exec_param(conn, sql.s, refold.s, err);
        buf_free(&sql);
        if (r < 0)
            return -1;
    }
    if (stage_gone(conn, full, n, err) < 0)
        return -1;
    if (n->total == 0) { /* a first load: every address is new */
        n->inserted = n->distinct;
        n->updated = 0;
        return 0;
    }
    res = PQexecParams(conn,
                       "SELECT count(*) FILTER (WHERE b.address IS NULL),"
                       " count(*) FILTER (WHERE b.row_hash <> s.row_hash OR b.source <> $1)"
                       " FROM sync_stage s LEFT JOIN annuaire_bal b USING (address)",
                       1, NULL, &source, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        return -1;
    }
    n->inserted = atol(PQgetvalue(res, 0, 0));
    n->updated = atol(PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

/*
 * load_extraction - stream the file into the staging table (inside the
 * caller's transaction); rejected lines are counted and the first ones shown.
 */
int load_extraction(PGconn *conn, const char *path, struct counts *n, char **err)
{
    FILE *fp = source_open(path, var_annuaire_https_ca, err);
    struct ex_reader r;
    struct copybuf b = {conn, NULL, 0, 0, NULL};
    char *why = NULL;
    int st, ok = 0;

    if (fp == NULL)
        return -1;
    if (ex_open(&r, fp, path, err) < 0) {
        ex_close(&r);
        fclose(fp);
        return -1;
    }
    if (stage_begin(conn, direct != NULL, err) < 0) {
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
        _Static_assert((int) EX_ID_TYPE == (int) ST_ID_TYPE && (int) EX_COUNTRY == (int) ST_COUNTRY &&
                           EX_COLUMNS == (int) ST_CITY,
                       "the extraction file's columns 3 to 31 are staging.h's, in order");
        for (int i = EX_ID_TYPE; i < EX_COLUMNS; i++)
            v[i] = r.fields[i];
        v[ST_ADDRESS] = r.fields[EX_ADDRESS];
        v[ST_BAL_TYPE] = r.fields[EX_TYPE_BAL];
        v[ST_CITY] = ex_city(r.fields[EX_L6]);
        v[ST_LISTE_ROUGE] = "f"; /* the public file has no liste rouge */
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
    char **err;
};

/* fhir_stage - one FHIR row into the staging COPY */
static int fhir_stage(void *ctx, long entry, const char *const *v)
{
    struct sink *k = ctx;

    return stage_row(k->b, k->where, entry, v, k->n, k->err);
}

/*
 * load_fhir - every Bundle of every source into the staging table: saved
 * files as they are, https:// search URLs page after page.
 */
int load_fhir(PGconn *conn, char **srcs, int nsrc, const char *since, struct counts *n, char **err)
{
    struct copybuf b = {conn, NULL, 0, 0, NULL};

    if (stage_begin(conn, direct != NULL, err) < 0)
        return -1;
    for (int s = 0; s < nsrc; s++) {
        int remote = strstr(srcs[s], "://") != NULL;
        char *url = remote ? with_since(srcs[s], since) : NULL;
        long pages = 0;

        do {
            char *next = NULL, *where = xstrdup(remote ? url : srcs[s]), *text;
            size_t len = 0;
            struct sink k = {&b, where, n, err};
            int r;

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
int load_ldap(PGconn *conn, const struct ldap_login *login, const char *base, const char *filter,
              struct counts *n, char **err)
{
    struct copybuf b = {conn, NULL, 0, 0, NULL};
    struct sink k = {&b, login->uri, n, err};
    long entries;

    if (stage_begin(conn, direct != NULL, err) < 0)
        return -1;
    if (ldap_load(login, base, filter, ldap_stage, &k, &entries, err) < 0) {
        copy_end(&b, 0, err);
        return -1;
    }
    return copy_end(&b, 1, err);
}
