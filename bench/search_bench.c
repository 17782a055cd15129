/*
 * search_bench - latency of annuaire_search() over a list of queries.
 *   search_bench CONNINFO QUERIES.tsv
 * Each line: nom, prenom, cp, ville, departement, profession, structure,
 * email, rpps separated by tabs (empty = not used). Prints p50, p95, p99
 * in ms and the share of queries that found something.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "latency.h"

/* main - annuaire searches, latency percentiles */
int main(int argc, char **argv)
{
    PGconn *conn;
    FILE *fp;
    char *line = NULL;
    size_t cap = 0;
    struct latencies lat = {0};

    if (argc != 3 || (fp = fopen(argv[2], "r")) == NULL) {
        fprintf(stderr, "usage: search_bench CONNINFO QUERIES.tsv\n");
        return 2;
    }
    conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "search_bench: %s", PQerrorMessage(conn));
        return 1;
    }
    while (getline(&line, &cap, fp) > 0) {
        const char *p[9];
        char *s = line;
        struct timespec a, b;
        PGresult *res;

        line[strcspn(line, "\n")] = 0;
        for (int i = 0; i < 9; i++) {
            char *tab = strchr(s, '\t');

            if (tab)
                *tab = 0;
            p[i] = *s ? s : NULL;
            s = tab ? tab + 1 : s + strlen(s);
        }
        clock_gettime(CLOCK_MONOTONIC, &a);
        res = PQexecParams(conn, "SELECT * FROM annuaire_search($1, $2, $3, $4, $5, $6, $7, $8, $9, 50)", 9,
                           NULL, p, NULL, NULL, 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "search_bench: %s", PQerrorMessage(conn));
            return 1;
        }
        lat_add(&lat, &a, &b, PQntuples(res) > 0);
        PQclear(res);
    }
    PQfinish(conn);
    return lat_print(&lat);
}
