/*
 * msg - diagnostics to syslog or stderr.
 *
 * One line per call, never longer than a syslog record can carry. The
 * lock keeps lines of concurrent milter threads from interleaving on
 * stderr. msg_fatal exits with status 1 (a usage or configuration
 * error); msg_panic aborts (a broken invariant in our own code).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "msg.h"

int msg_verbose;

static const char *progname = "mssante";
static int use_stderr = 1;
static int facility = LOG_MAIL;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* msg_open - choose the destination of all later messages */
void msg_open(const char *name, int to_stderr)
{
    const char *slash = strrchr(name, '/');

    progname = slash ? slash + 1 : name;
    use_stderr = to_stderr;
    if (!use_stderr)
        openlog(progname, LOG_PID | LOG_NDELAY, facility);
}

/* msg_set_facility - select a syslog facility by its usual name */
int msg_set_facility(const char *name)
{
    static const struct {
        const char *name;
        int value;
    } tab[] = {
        {"mail", LOG_MAIL},         {"daemon", LOG_DAEMON}, {"user", LOG_USER},     {"local0", LOG_LOCAL0},
        {"local1", LOG_LOCAL1},     {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
        {"local5", LOG_LOCAL5},     {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {"auth", LOG_AUTH},
        {"authpriv", LOG_AUTHPRIV},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strcasecmp(tab[i].name, name) == 0) {
            facility = tab[i].value;
            if (!use_stderr) {
                closelog();
                openlog(progname, LOG_PID | LOG_NDELAY, facility);
            }
            return 0;
        }
    }
    return -1;
}

/* msg_progname - the name messages are tagged with */
const char *msg_progname(void)
{
    return progname;
}

/* msg_vprintf - emit one message at the given level */
static void msg_vprintf(int level, const char *tag, const char *fmt, va_list ap)
{
    char buf[2048];
    int saved = errno;

    vsnprintf(buf, sizeof(buf), fmt, ap);
    /* Peers and files can put control characters into what we log. */
    for (char *p = buf; *p; p++)
        if ((unsigned char) *p < 0x20 && *p != '\t')
            *p = '?';
    pthread_mutex_lock(&lock);
    if (use_stderr)
        fprintf(stderr, "%s: %s%s\n", progname, tag, buf);
    else
        syslog(level, "%s%s", tag, buf);
    pthread_mutex_unlock(&lock);
    errno = saved;
}

#define MSG_BODY(level, tag)                                                                                 \
    do {                                                                                                     \
        va_list ap;                                                                                          \
        va_start(ap, fmt);                                                                                   \
        msg_vprintf(level, tag, fmt, ap);                                                                    \
        va_end(ap);                                                                                          \
    } while (0)

/* msg_debug - log at debug level when debug_level is set */
void msg_debug(const char *fmt, ...)
{
    if (msg_verbose)
        MSG_BODY(LOG_DEBUG, "debug: ");
}

/* msg_info - log an informational line */
void msg_info(const char *fmt, ...)
{
    MSG_BODY(LOG_INFO, "");
}

/* msg_warn - log a warning */
void msg_warn(const char *fmt, ...)
{
    MSG_BODY(LOG_WARNING, "warning: ");
}

/* msg_error - log an error */
void msg_error(const char *fmt, ...)
{
    MSG_BODY(LOG_ERR, "error: ");
}

/* msg_fatal - log and exit 1 */
void msg_fatal(const char *fmt, ...)
{
    MSG_BODY(LOG_CRIT, "fatal: ");
    exit(1);
}

/* msg_panic - log and abort (a bug) */
void msg_panic(const char *fmt, ...)
{
    MSG_BODY(LOG_CRIT, "panic: ");
    abort();
}
