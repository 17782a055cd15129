/*
 * mssante-sasl-proxy - Postfix's way to Dovecot's auth socket, where a
 * temporary failure stays temporary.
 *
 * Postfix 3.7's Dovecot SASL client answers "535 5.7.8 authentication
 * failed" to every FAIL line of Dovecot's auth protocol, whatever its
 * code: a database outage reads to mail clients and health software as a
 * wrong password, and some drop the stored credentials. Postfix answers
 * "454 4.7.0 Temporary authentication failure" only when it loses its
 * connection to the auth server. This proxy sits between Postfix's smtpd
 * processes and Dovecot's auth socket, passes every line through as it is,
 * and closes the client's connection instead of passing on a FAIL that
 * carries code=temp_fail; smtpd then answers 454 and connects afresh for
 * its next AUTH.
 *
 * It decides nothing: it never writes a line Dovecot did not write, so it
 * cannot turn a failure into a success. Dovecot unreachable: the client's
 * connection is closed, which Postfix answers with 454 too.
 *
 *   mssante-sasl-proxy [-f] [-c FILE] [-o key=value]... [-p SOCKET] [-u USER]
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "privs.h"

#define LINE_MAX_BYTES 65536 /* Dovecot's own limit is 16 KB */

static volatile sig_atomic_t stopping;
static int listen_fd = -1;

/* Two ends of one client's session. */
struct session {
    int client, dovecot;
    char buf[LINE_MAX_BYTES]; /* Dovecot's partial line */
    size_t len;
};

/* usage - the options */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mssante-sasl-proxy [-f] [-c FILE] [-o key=value]... [-p SOCKET] [-u USER]\n"
            "       mssante-sasl-proxy -n [-c FILE] [-o key=value]...\n"
            "  -c FILE        configuration file (default %s)\n"
            "  -f             stay in the foreground and log to stderr\n"
            "  -n             check the configuration, print the effective settings, exit\n"
            "  -o key=value   override one setting\n"
            "  -p SOCKET      listen on this unix socket (key sasl_proxy_socket)\n"
            "  -u USER        run as USER once the socket is open (key sasl_proxy_user)\n"
            "  -V             print the version\n"
            "Postfix: smtpd_sasl_type = dovecot, smtpd_sasl_path = the socket.\n",
            MSSANTE_DEFAULT_CONF);
}

/* write_all - the whole buffer, or -1 */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

/* is_tempfail - a FAIL line with the field code=temp_fail */
static int is_tempfail(const char *line, size_t len)
{
    const char *end = line + len, *f;

    if (len < 5 || memcmp(line, "FAIL\t", 5) != 0)
        return 0;
    for (f = line + 5; f < end;) {
        const char *tab = memchr(f, '\t', (size_t) (end - f));
        size_t flen = (size_t) ((tab ? tab : end) - f);

        if (flen == 14 && memcmp(f, "code=temp_fail", 14) == 0)
            return 1;
        f = tab ? tab + 1 : end;
    }
    return 0;
}

/*
 * from_dovecot - pass on the complete lines Dovecot wrote. Returns 0 to go
 * on, -1 when the session must end (a temporary failure, a line too long,
 * a peer gone).
 */
static int from_dovecot(struct session *s)
{
    ssize_t n = read(s->dovecot, s->buf + s->len, sizeof(s->buf) - s->len);
    char *nl, *start = s->buf;

    if (n < 0 && errno == EINTR)
        return 0;
    if (n <= 0)
        return -1;
    s->len += (size_t) n;
    while ((nl = memchr(start, '\n', s->len - (size_t) (start - s->buf))) != NULL) {
        size_t len = (size_t) (nl - start);

        if (is_tempfail(start, len)) {
            msg_warn("Dovecot auth answered a temporary failure: closing the client's"
                     " connection so that Postfix answers 454 4.7.0");
            return -1;
        }
        if (write_all(s->client, start, len + 1) < 0)
            return -1;
        start = nl + 1;
    }
    s->len -= (size_t) (start - s->buf);
    memmove(s->buf, start, s->len);
    if (s->len == sizeof(s->buf)) {
        msg_warn("a line of more than %d bytes from Dovecot auth: closing", LINE_MAX_BYTES);
        return -1;
    }
    return 0;
}

/* relay - one client's session, until either end goes */
static void *relay(void *ctx)
{
    struct session *s = ctx;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct pollfd pfd[2];
    char buf[8192];

    strncpy(sun.sun_path, var_sasl_proxy_dovecot, sizeof(sun.sun_path) - 1);
    if ((s->dovecot = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(s->dovecot, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
        msg_warn("cannot connect to Dovecot auth at %s: %s: closing the client's connection"
                 " (Postfix answers 454 4.7.0)",
                 var_sasl_proxy_dovecot, strerror(errno));
        goto done;
    }
    pfd[0] = (struct pollfd){.fd = s->client, .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = s->dovecot, .events = POLLIN};
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents && from_dovecot(s) < 0)
            break;
        if (pfd[0].revents) {
            ssize_t n = read(s->client, buf, sizeof(buf));

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || write_all(s->dovecot, buf, (size_t) n) < 0)
                break;
        }
    }
done:
    if (s->dovecot >= 0)
        close(s->dovecot);
    close(s->client);
    free(s);
    return NULL;
}

/* on_signal - stop accepting (async-signal-safe: a flag and a shutdown) */
static void on_signal(int sig)
{
    (void) sig;
    stopping = 1;
    if (listen_fd >= 0)
        shutdown(listen_fd, SHUT_RDWR);
}

/* open_socket - the listening socket, for its owner and group only */
static int open_socket(const char *path, const char *user)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct passwd *pw = user && *user ? getpwnam(user) : NULL;
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path))
        msg_fatal("socket path too long: %s", path);
    strcpy(sun.sun_path, path);
    if (user && *user && pw == NULL)
        msg_fatal("unknown user \"%s\"", user);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        msg_fatal("socket: %s", strerror(errno));
    (void) unlink(path);
    umask(0117);
    if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0)
        msg_fatal("bind %s: %s", path, strerror(errno));
    if (pw && geteuid() == 0 && chown(path, pw->pw_uid, pw->pw_gid) < 0)
        msg_fatal("chown %s: %s", path, strerror(errno));
    if (listen(fd, 128) < 0)
        msg_fatal("listen %s: %s", path, strerror(errno));
    return fd;
}

/* main - options, privileges dropped, then serve */
int main(int argc, char **argv)
{
    static const struct option longopts[] = {CMD_LONGOPTS, {0, 0, 0, 0}};
    const char *opt_socket = NULL, *opt_user = NULL, *sock, *user;
    int foreground = 0, ch;
    char *err = NULL;
    struct cmd_common c;
    pthread_attr_t attr;
    struct sigaction sa = {.sa_handler = on_signal};

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS "fp:u:", longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        switch (ch) {
        case 'f':
            foreground = 1;
            break;
        case 'p':
            opt_socket = optarg;
            break;
        case 'u':
            opt_user = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    cmd_load(&c, usage); /* -h, -n and the configuration */
    sock = opt_socket ? opt_socket : var_sasl_proxy_socket;
    if (strncmp(sock, "unix:", 5) == 0) /* as the milters' socket keys read */
        sock += 5;
    user = opt_user ? opt_user : var_sasl_proxy_user;
    if (!foreground)
        msg_open(argv[0], 0);
    listen_fd = open_socket(sock, user);
    if (user && *user && geteuid() == 0) {
        if (privs_drop(user, &err) < 0)
            msg_fatal("%s", err);
    } else if (geteuid() == 0) {
        msg_warn("running as root: set sasl_proxy_user or -u");
    }
    if (!foreground && daemon(0, 0) < 0)
        msg_fatal("daemon: %s", strerror(errno));
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    msg_info("starting %s, listening on %s for Dovecot auth at %s", MSSANTE_VERSION, sock,
             var_sasl_proxy_dovecot);
    while (!stopping) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        struct session *s;
        pthread_t tid;

        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED && !stopping) {
                msg_warn("accept: %s", strerror(errno));
                sleep(1); /* out of descriptors: let sessions end */
            }
            continue;
        }
        s = xcalloc(1, sizeof(*s));
        s->client = fd;
        s->dovecot = -1;
        if (pthread_create(&tid, &attr, relay, s) != 0) {
            msg_warn("cannot start a thread: closing a client's connection");
            close(fd);
            free(s);
        }
    }
    (void) unlink(sock);
    msg_info("stopped");
    return 0;
}
