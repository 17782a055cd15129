/*
 * latency.h - the latencies of a benchmark's queries, kept and summarised
 * the same way by every *_bench program (header only).
 */
#ifndef MSSANTE_BENCH_LATENCY_H
#define MSSANTE_BENCH_LATENCY_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct latencies {
    double *t; /* ms */
    size_t n, cap, found;
};

/* lat_add - one query's time, from a to b, and whether it found something */
static inline void lat_add(struct latencies *l, const struct timespec *a, const struct timespec *b, int found)
{
    if (l->n == l->cap)
        l->t = realloc(l->t, (l->cap = l->cap ? 2 * l->cap : 1024) * sizeof(*l->t));
    l->t[l->n++] = (double) (b->tv_sec - a->tv_sec) * 1e3 + (double) (b->tv_nsec - a->tv_nsec) / 1e6;
    l->found += found != 0;
}

/* lat_cmp - qsort order of two doubles */
static inline int lat_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

/* lat_print - "queries N found F p50 p95 p99"; 1 when there was none */
static inline int lat_print(struct latencies *l)
{
    if (l->n == 0)
        return 1;
    qsort(l->t, l->n, sizeof(*l->t), lat_cmp);
    printf("queries %zu found %zu p50 %.2f p95 %.2f p99 %.2f\n", l->n, l->found, l->t[l->n / 2],
           l->t[l->n * 95 / 100], l->t[l->n * 99 / 100]);
    free(l->t);
    return 0;
}

#endif
