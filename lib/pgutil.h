/*
 * pgutil - PostgreSQL connections for the add-on's commands and daemons.
 */
#ifndef MSSANTE_PGUTIL_H
#define MSSANTE_PGUTIL_H

#include <libpq-fe.h>

#include "buf.h"

/*
 * pgu_connect - connect with a conninfo/URI and the configured timeout;
 * NULL with *err set (the server's message, never the password).
 */
PGconn *pgu_connect(const char *conninfo, long timeout, char **err);

/* pgu_exec - run a command expecting no rows; 0, or -1 with *err */
int pgu_exec(PGconn *conn, const char *sql, char **err);

/* pgu_must - a query with text parameters, for commands: exits on failure */
PGresult *pgu_must(PGconn *conn, const char *sql, int n, const char *const *params);

/* pgu_audit - an administration row of audit_event ("target: detail"); exits on failure */
void pgu_audit(PGconn *conn, const char *actor, const char *action, const char *target, const char *detail);

/* pgu_array_add - one element of a text array literal ("{...}": the caller closes it) */
void pgu_array_add(struct buf *b, const char *s);

/* pgu_error - the last error of a connection, on one line */
char *pgu_error(PGconn *conn);

#endif
