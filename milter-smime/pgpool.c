/*
 * pgpool - idle connections on a stack under a mutex.
 */
#include <pthread.h>
#include <stdlib.h>

#include "mymalloc.h"
#include "pgpool.h"
#include "pgutil.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static PGconn **idle;
static int nidle, max_idle;
static const char *conninfo;
static long timeout;

/* pgpool_init - the conninfo, connect timeout and idle connections to keep */
void pgpool_init(const char *ci, long tmo, int max)
{
    conninfo = ci;
    timeout = tmo;
    max_idle = max;
    idle = xcalloc((size_t) max, sizeof(*idle));
}

/* take - an idle connection, or a new one (always new when fresh is set) */
static PGconn *take(int fresh, char **err)
{
    PGconn *c = NULL;

    if (fresh)
        pgpool_close(); /* the others are likely broken too */
    pthread_mutex_lock(&lock);
    if (nidle > 0)
        c = idle[--nidle];
    pthread_mutex_unlock(&lock);
    return c ? c : pgu_connect(conninfo, timeout, err);
}

/* give - put a healthy idle connection back, close any other */
static void give(PGconn *c)
{
    pthread_mutex_lock(&lock);
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE && nidle < max_idle) {
        idle[nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&lock);
    if (c)
        PQfinish(c);
}

/* pgpool_query - one parameterised query on a pooled connection; NULL and *err on failure */
PGresult *pgpool_query(const char *sql, int n, const char *const *params, char **err)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = take(attempt, err);
        PGresult *res;
        ExecStatusType st;

        if (c == NULL)
            return NULL;
        res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
        st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            give(c);
            return res;
        }
        PQclear(res);
        if (PQstatus(c) == CONNECTION_OK || attempt == 1) {
            *err = pgu_error(c);
            give(c);
            return NULL;
        }
        PQfinish(c); /* broken: a fresh one, once */
    }
    return NULL;
}

/* pgpool_close - close the idle connections */
void pgpool_close(void)
{
    pthread_mutex_lock(&lock);
    while (nidle > 0)
        PQfinish(idle[--nidle]);
    pthread_mutex_unlock(&lock);
}
