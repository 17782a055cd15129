/*
 * msg - diagnostics for every program of the add-on.
 *
 * Messages go to syslog (facility mail by default) or, in the foreground
 * and in tests, to stderr prefixed with the program name. Callers must
 * never pass secrets, one-time codes or message content: these functions
 * write what they are given.
 */
#ifndef MSSANTE_MSG_H
#define MSSANTE_MSG_H

#include <stdarg.h>

#define MSG_PRINTF(f, a) __attribute__((format(printf, f, a)))

extern int msg_verbose;

/* msg_open - set the program name; to_stderr selects stderr over syslog */
void msg_open(const char *progname, int to_stderr);

/* msg_set_facility - choose the syslog facility by name; -1 when unknown */
int msg_set_facility(const char *name);

const char *msg_progname(void);

void msg_debug(const char *fmt, ...) MSG_PRINTF(1, 2);
void msg_info(const char *fmt, ...) MSG_PRINTF(1, 2);
void msg_warn(const char *fmt, ...) MSG_PRINTF(1, 2);
void msg_error(const char *fmt, ...) MSG_PRINTF(1, 2);
void msg_fatal(const char *fmt, ...) MSG_PRINTF(1, 2) __attribute__((noreturn));
void msg_panic(const char *fmt, ...) MSG_PRINTF(1, 2) __attribute__((noreturn));

#endif
