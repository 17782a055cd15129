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
    char **defs;
    int n;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        return NULL;
    }
    n = PQntuples(res);
    defs = xcalloc((size_t) n + 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        char *drop = xasprintf("DROP INDEX \"%s\"", PQgetvalue(res, i, 0));
        int r = pgu_exec(conn, drop, err);

        free(drop);
        defs[i] = xstrdup(PQgetvalue(res, i, 1));
        if (r < 0) {
            PQclear(res);
            return defs; /* the caller rolls back */
        }
    }
    PQclear(res);
    return defs;
}

/* merge - the prepared rows into annuaire_bal: only changed rows written */
int merge(PGconn *conn, const char *source, struct counts *n, char **err)
{
    PGresult *res;
    const char *p[1] = {source};
    char **defs = NULL, *upsert;
    int ret = -1;

    if (n->total == 0 && n->inserted > 1000) {
        if ((defs = drop_indexes(conn, err)) == NULL || *err)
            goto out;
        pgu_exec(conn, "SET LOCAL maintenance_work_mem = '256MB'", err);
    }
    if (n->total == 0) {
        /*
         * A first load: in address order, so that the mailboxes an e-mail
         * prefix finds lie side by side on disk (and the key grows at its
         * end); of an address read twice, the last row.
         */
        char *sql = xasprintf("INSERT INTO annuaire_bal (%s, source, row_hash)"
                              " SELECT DISTINCT ON (address) %s, $1, row_hash FROM sync_stage"
                              " ORDER BY address, line DESC",
                              stage_cols, stage_cols);

        n->inserted = exec_param(conn, sql, source, err);
        n->updated = 0;
        free(sql);
        if (n->inserted < 0)
            goto out;
    } else {
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
            goto out;
        }
        n->inserted = atol(PQgetvalue(res, 0, 0));
        n->updated = atol(PQgetvalue(res, 0, 1));
        PQclear(res);
    }
    if ((n->deleted = exec_param(conn,
                                 "DELETE FROM annuaire_bal b USING sync_gone g "
                                 "WHERE b.address = g.address AND b.source = $1",
                                 source, err)) < 0)
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
