/*
 * lb_bench - in-process cost of the liste blanche: load + verify a list
 * (median of runs), and one domain lookup (mixed hits and misses).
 *   lb_bench LIST TRUST-ANCHORS [RUNS]
 * Prints "load_ms N" and "lookup_ns N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb.h"

/* now - monotonic time in seconds */
static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* cmp - qsort order of two doubles */
static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

/* main - load+verify time of a list, then lookup time of its domains */
int main(int argc, char **argv)
{
    struct lb_options o = {0};
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    double *t = calloc((size_t) runs, sizeof(double)), t0;
    struct lb *lb = NULL;
    char *err = NULL;
    const char **names;
    size_t n = 0, hits = 0;
    long iters = 2000000;

    if (argc < 3) {
        fprintf(stderr, "usage: lb_bench LIST TRUST-ANCHORS [RUNS]\n");
        return 2;
    }
    o.trust_anchors = argv[2];
    for (int i = 0; i < runs; i++) {
        if (lb)
            lb_free(lb);
        t0 = now();
        if ((lb = lb_load(argv[1], &o, &err)) == NULL) {
            fprintf(stderr, "lb_bench: %s\n", err);
            return 1;
        }
        t[i] = now() - t0;
    }
    qsort(t, (size_t) runs, sizeof(double), cmp);
    printf("load_ms %.1f\n", t[runs / 2] * 1000);

    /* Half the probes are listed domains, half are not. */
    names = calloc(2 * lb->ndomains, sizeof(char *));
    for (size_t i = 0; i < lb->nslots; i++) {
        if (lb->slots[i]) {
            names[n++] = lb->slots[i]->name;
            char *miss = malloc(strlen(lb->slots[i]->name) + 8);

            sprintf(miss, "x%s.fr", lb->slots[i]->name);
            names[n++] = miss;
        }
    }
    t0 = now();
    for (long i = 0; i < iters; i++)
        hits += lb_lookup(lb, names[(size_t) i % n]) != NULL;
    t0 = now() - t0;
    printf("lookup_ns %.1f\n", t0 / (double) iters * 1e9);
    if (hits != (size_t) iters / 2)
        fprintf(stderr, "lb_bench: unexpected hit count %zu\n", hits);
    return 0;
}
