/*
 * pgutil - thin helpers over libpq.
 *
 * Error texts of libpq span lines and carry "ERROR:" prefixes; we fold
 * them to one line so they read well in syslog and in cron mail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "mymalloc.h"
#include "pgutil.h"

/* one_line - copy a libpq message on one line: each run of white space one space */
static char *one_line(const char *text)
{
    char *s = xstrdup(text ? text : "unknown error"), *o = s;

    for (const char *p = s; *p; p++) {
        int blank = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';

        if (!blank)
            *o++ = *p;
        else if (o > s && o[-1] != ' ')
            *o++ = ' ';
    }
    while (o > s && o[-1] == ' ')
        o--;
    *o = 0;
    return s;
}

/* pgu_error - the last error of a connection, on one line */
char *pgu_error(PGconn *conn)
{
    return one_line(PQerrorMessage(conn));
}

/* pgu_connect - connect, bounded in time, in UTF-8 */
PGconn *pgu_connect(const char *conninfo, long timeout, char **err)
{
    const char *keys[] = {"dbname", "connect_timeout", "client_encoding", "application_name", NULL};
    char tmo[32];
    const char *vals[5];
    PGconn *conn;

    if (conninfo == NULL || *conninfo == 0) {
        *err = xstrdup("no database configured (key \"database\" or --db)");
        return NULL;
    }
    snprintf(tmo, sizeof(tmo), "%ld", timeout);
    /* expand_dbname lets "dbname" carry a full conninfo or URI. */
    vals[0] = conninfo;
    vals[1] = tmo;
    vals[2] = "UTF8";
    vals[3] = msg_progname();
    vals[4] = NULL;
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL) {
        *err = xstrdup("out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char *why = pgu_error(conn);

        *err = xasprintf("cannot connect to PostgreSQL: %s", why);
        free(why);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* pgu_exec - run SQL expecting no result rows */
int pgu_exec(PGconn *conn, const char *sql, char **err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int ret = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        *err = one_line(PQresultErrorMessage(res));
        ret = -1;
    }
    PQclear(res);
    return ret;
}

/* pgu_must - a query that must succeed (tools): the result, or a fatal error with the server's message */
PGresult *pgu_must(PGconn *conn, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        msg_fatal("%s", pgu_error(conn));
    return res;
}

/* pgu_audit - an audit_event row */
void pgu_audit(PGconn *conn, const char *actor, const char *action, const char *target, const char *detail)
{
    const char *p[4] = {actor, action, target, detail};

    PQclear(pgu_must(conn,
                     "INSERT INTO audit_event (actor, action, service, request, result)"
                     " VALUES ($1, $2, 'admin', $3 || coalesce(': ' || $4, ''), 'ok')",
                     4, p));
}

/* pgu_array_add - one element of a PostgreSQL array literal, quoted */
void pgu_array_add(struct buf *b, const char *s)
{
    buf_puts(b, b->len ? ",\"" : "{\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_add(b, "\\", 1);
        buf_add(b, s, 1);
    }
    buf_add(b, "\"", 1);
}
