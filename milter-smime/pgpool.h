/*
 * pgpool - a few PostgreSQL connections shared by the milter's threads.
 *
 * A query takes an idle connection (or opens one), runs, and gives it
 * back. A connection found broken (the server restarted) is replaced and
 * the query tried once more; a second failure is the caller's temporary
 * failure.
 */
#ifndef MSSANTE_PGPOOL_H
#define MSSANTE_PGPOOL_H

#include <libpq-fe.h>

void pgpool_init(const char *conninfo, long timeout, int max_idle);

/* pgpool_query - rows (or command status), or NULL with *err */
PGresult *pgpool_query(const char *sql, int n, const char *const *params, char **err);

void pgpool_close(void);

#endif
