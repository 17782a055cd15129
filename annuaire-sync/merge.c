/*
 * merge - the staged rows (new or changed, one per address) into
 * annuaire_bal, in the run's transaction, and the vanished ones of the
 * source deleted; and the run's outcome in sync_run.
 */
#include <stdlib.h>

#include "msg.h"
#include "mymalloc.h"
#include "pgutil.h"
#include "sync.h"

/* query_long - one number from a query with one text parameter */
int query_long(PGconn *conn, const char *sql, const char *param, long *out, char **err)
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

/* exec_param - a statement with one text parameter: rows affected */
long exec_param(PGconn *conn, const char *sql, const char *param, char **err)
{
    PGresult *res = PQexecParams(conn, sql, 1, NULL, &param, NULL, NULL, 0);
    long n = -1;

    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        n = atol(PQcmdTuples(res));
    else
        *err = pgu_error(conn);
    PQclear(res);
    return n;
}

/*
 * The indexes of annuaire_bal, dropped before a first load: building each
 * once after the COPY is much cheaper than maintaining it row by row. Their
 * definitions are read back from the catalog, so schema/ stays their only
 * definition: key_defs the constraints' (the primary key, built again by
 * first_load_keys() as soon as the COPY ends), index_defs the others' (built
 * again by merge()).
 */
static char **key_defs, **index_defs;

/* defs_build - the statements of a list run in turn, and the list freed */
static int defs_build(PGconn *conn, char ***defs, char **err)
{
    int ret = 0;

    for (char **d = *defs; d && *d; d++) {
        if (ret == 0 && pgu_exec(conn, *d, err) < 0)
            ret = -1;
        free(*d);
    }
    free(*defs);
    *defs = NULL;
    return ret;
}

/*
 * first_load - before a first load into the empty annuaire_bal: the table
 * truncated, so that the COPY may write its rows frozen (no later pass
 * rewrites each page to mark them visible), and its indexes dropped,
 * the primary key's included (stage.c writes each address once). The table
 * is locked and found empty again first: a row written since known_load()
 * read it must not be truncated.
 */
int first_load(PGconn *conn, char **err)
{
    PGresult *res;
    long rows;
    int n, nkeys = 0, nindexes = 0;

    if (pgu_exec(conn, "LOCK TABLE annuaire_bal IN ACCESS EXCLUSIVE MODE", err) < 0 ||
        query_long(conn, "SELECT count(*) FROM (SELECT FROM annuaire_bal LIMIT 1) x", NULL, &rows, err) < 0)
        return -1;
    if (rows > 0) {
        *err = xstrdup("annuaire_bal was written to during the run; run again");
        return -1;
    }
    if (pgu_exec(conn, "TRUNCATE annuaire_bal", err) < 0)
        return -1;
    res = PQexec(conn, "SELECT CASE WHEN k.oid IS NULL THEN format('DROP INDEX %I', c.relname)"
                       " ELSE format('ALTER TABLE annuaire_bal DROP CONSTRAINT %I', k.conname) END,"
                       " CASE WHEN k.oid IS NULL THEN pg_get_indexdef(i.indexrelid)"
                       " ELSE format('ALTER TABLE annuaire_bal ADD CONSTRAINT %I %s', k.conname,"
                       " pg_get_constraintdef(k.oid)) END, k.oid IS NOT NULL"
                       " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                       " LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid"
                       " WHERE i.indrelid = 'annuaire_bal'::regclass");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        return -1;
    }
    n = PQntuples(res);
    key_defs = xcalloc((size_t) n + 1, sizeof(char *));
    index_defs = xcalloc((size_t) n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        if (*PQgetvalue(res, i, 2) == 't')
            key_defs[nkeys++] = xstrdup(PQgetvalue(res, i, 1));
        else
            index_defs[nindexes++] = xstrdup(PQgetvalue(res, i, 1));
        if (pgu_exec(conn, PQgetvalue(res, i, 0), err) < 0) {
            PQclear(res);
            return -1; /* the caller rolls back */
        }
    }
    PQclear(res);
    /* Its rows are not noted one by one for the LDAP publication: over a
     * published tree, the next one compares everything (018_ldap_pending). */
    return pgu_exec(conn,
                    "SET LOCAL maintenance_work_mem = '256MB';"
                    " ALTER TABLE annuaire_bal DISABLE TRIGGER annuaire_bal_ldap_pending;"
                    " INSERT INTO annuaire_ldap_pending SELECT '*' WHERE EXISTS (SELECT FROM annuaire_ldap)"
                    " ON CONFLICT DO NOTHING",
                    err) < 0
               ? -1
               : 0;
}

/* first_load_keys - after a first load's COPY: what first_load() dropped or disabled */
int first_load_keys(PGconn *conn, char **err)
{
    if (pgu_exec(conn, "ALTER TABLE annuaire_bal ENABLE TRIGGER annuaire_bal_ldap_pending", err) < 0)
        return -1;
    return defs_build(conn, &key_defs, err);
}

/*
 * merge - the staged rows into annuaire_bal: only changed rows written (a
 * first load is there already, stage.c wrote it straight into the table)
 */
int merge(PGconn *conn, const char *source, struct counts *n, char **err)
{
    PGresult *res;
    const char *p[1] = {source};
    char *upsert;

    if (n->total > 0) {
        upsert = xasprintf(
            "WITH up AS (INSERT INTO annuaire_bal (%s, source, row_hash)"
            " SELECT %s, $1, row_hash FROM sync_stage ON CONFLICT (address) DO UPDATE SET %s,"
            " source = EXCLUDED.source, row_hash = EXCLUDED.row_hash, last_changed = now()"
            " WHERE annuaire_bal.row_hash <> EXCLUDED.row_hash OR annuaire_bal.source <> EXCLUDED.source"
            " RETURNING (xmax = 0) AS ins)"
            " SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM up",
            stage_cols, stage_cols, stage_excluded);
        res = PQexecParams(conn, upsert, 1, NULL, p, NULL, NULL, 0);
        free(upsert);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            *err = pgu_error(conn);
            PQclear(res);
            return -1;
        }
        n->inserted = atol(PQgetvalue(res, 0, 0));
        n->updated = atol(PQgetvalue(res, 0, 1));
        PQclear(res);
    }
    if ((n->deleted = exec_param(conn,
                                 "DELETE FROM annuaire_bal b USING sync_gone g "
                                 "WHERE b.address = g.address AND b.source = $1",
                                 source, err)) < 0)
        return -1;
    return defs_build(conn, &index_defs, err);
}

/* run_update - one statement on a sync_run row; a failure is only a warning */
void run_update(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *what)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char *why = pgu_error(conn);

        msg_warn("cannot record %s in sync_run: %s", what, why);
        free(why);
    }
    PQclear(res);
}

/* record - write the outcome of a run into sync_run (its own statement) */
void record(PGconn *conn, const char *run_id, const struct counts *n, const char *status, const char *error)
{
    char v[6][32];
    const char *p[9];

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
    run_update(conn,
               "UPDATE sync_run SET finished_at = now(), rows_read = $2,"
               " rows_inserted = $3, rows_updated = $4, rows_deleted = $5,"
               " rows_rejected = $6, status = $7, error = $8 WHERE id = $1",
               8, p, "the run");
}
