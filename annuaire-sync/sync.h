/*
 * sync - the parts of annuaire-sync: stage.c (sources into sync_stage),
 * merge.c (sync_stage into annuaire_bal), download.c (FHIR pages).
 */
#ifndef MSSANTE_SYNC_H
#define MSSANTE_SYNC_H

#include <stddef.h>

#include <libpq-fe.h>

struct counts {
    long read, rejected, staged, distinct, inserted, updated, deleted;
    long existing; /* rows of the source before the run */
    long total;    /* rows of every source before the run */
};

/* known.c: the addresses of annuaire_bal and their row hashes, as the run sees them */
struct known;
enum known_verdict {
    KNOWN_NEW,
    KNOWN_CHANGED,
    KNOWN_SAME, /* first time the run reads the address */
    KNOWN_AGAIN /* already read once by this run */
};
/* known_load - every address of annuaire_bal (n->existing, n->total); NULL and *err */
struct known *known_load(PGconn *conn, const char *source, struct counts *n, char **err);
/* known_see - a row the run reads: new, changed (or of another source), same, again */
enum known_verdict known_see(struct known *k, const char *address, const unsigned char md5[16]);
/* known_unseen - fn for each address of the source the run has not read: how many, or -1 if fn said so */
long known_unseen(const struct known *k, int (*fn)(void *, const char *), void *ctx);
void known_free(struct known *k);

/* fold.c: the search forms of names, as mssante_fold() makes them */
/* fold_load - the database's fold of each character of the Latin ranges; 0, or -1 and *err */
int fold_load(PGconn *conn, char **err);
/* fold - append the search form of v to b; -1 (b partly written) when the table cannot fold it */
struct buf;
int fold(struct buf *b, const char *v);

/* stage.c: the staging columns as SQL lists, set by stage_create */
/* copy_unescape - a field of COPY's text format, unescaped in place: its length */
size_t copy_unescape(char *s, size_t n);
extern char *stage_cols, *stage_excluded;

/*
 * stage_create - the temporary table sync_stage of the run's transaction,
 * and the database's rows to compare the source with (n->existing,
 * n->total); with source NULL, every row read is staged
 */
int stage_create(PGconn *conn, const char *source, struct counts *n, char **err);

/*
 * stage_finish - after a load: one staged row per address (the last read;
 * a first load, written straight into the empty annuaire_bal, gets its
 * repeated addresses' last rows there), the vanished addresses into
 * sync_gone (full runs only), and the counts of what the merge will write
 */
int stage_finish(PGconn *conn, const char *source, int full, struct counts *n, char **err);

/* progress - a line on a terminal; progress(NULL, NULL) clears it */
void progress(const struct counts *n, const char *doing);

/* load_* - stream one source into sync_stage; 0, or -1 and *err */
int load_extraction(PGconn *conn, const char *path, struct counts *n, char **err);
int load_fhir(PGconn *conn, char **srcs, int nsrc, const char *since, struct counts *n, char **err);
struct ldap_login;
int load_ldap(PGconn *conn, const struct ldap_login *login, const char *base, const char *filter,
              struct counts *n, char **err);

/* merge.c */
int query_long(PGconn *conn, const char *sql, const char *param, long *out, char **err);
/* exec_param - a statement with one text parameter $1: rows affected, or -1 and *err */
long exec_param(PGconn *conn, const char *sql, const char *param, char **err);
/* first_load - annuaire_bal truncated and its indexes dropped: first_load_keys() builds its
 * constraints again after the COPY, merge() the other indexes */
int first_load(PGconn *conn, char **err);
int first_load_keys(PGconn *conn, char **err);
int merge(PGconn *conn, const char *source, struct counts *n, char **err);
void run_update(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *what);
void record(PGconn *conn, const char *run_id, const struct counts *n, const char *status, const char *error);

/* publish.c: the LDAP address book (annuaire_publish_*) */
struct publication {
    long written, deleted, refused;
};
/*
 * publish_ldap - write what changed since the last publication: among the
 * addresses noted in annuaire_ldap_pending, or (full) in the whole
 * directory; 0, or -1 and *err
 */
int publish_ldap(PGconn *conn, int full, struct publication *out, char **err);
/*
 * publish_ldif - the whole address book as LDIF for slapadd into an empty
 * tree (base entry first), recorded as published; 0, or -1 and *err
 */
int publish_ldif(PGconn *conn, const char *path, long *entries, char **err);
/* check_ldap - compare the tree with PostgreSQL, print the counts: 0 same, 1 differs, -1 *err */
int check_ldap(PGconn *conn, char **err);

/* download.c: a page's text, from an https:// URL or a file (*len); NULL and *err */
char *http_get(const char *url, size_t *len, char **err);
char *read_source(const char *path, size_t *len, char **err);
char *with_since(const char *url, const char *since);

#endif
