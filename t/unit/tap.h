/*
 * tap.h - the few TAP primitives our C unit tests need (read by prove).
 */
#ifndef MSSANTE_TAP_H
#define MSSANTE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

/* ok - one test point */
static int __attribute__((format(printf, 2, 3), unused)) ok(int cond, const char *fmt, ...)
{
    va_list ap;

    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond)
        tap_failed++;
    fflush(stdout);
    return cond;
}

/* is_str - string equality, with both values shown on failure */
#define is_str(got, want, ...)                                                                               \
    do {                                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                                \
        if (!ok(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, __VA_ARGS__))                                     \
            printf("#   got:  \"%s\"\n#   want: \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");          \
    } while (0)

/* like - substring match */
#define like(got, part, ...)                                                                                 \
    do {                                                                                                     \
        const char *g_ = (got);                                                                              \
        if (!ok(g_ && strstr(g_, (part)) != NULL, __VA_ARGS__))                                              \
            printf("#   got:  \"%s\"\n#   expected to contain: \"%s\"\n", g_ ? g_ : "(null)", (part));       \
    } while (0)

/* done_testing - plan at the end; exit status tells failure */
static int __attribute__((unused)) done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed != 0;
}

#endif
