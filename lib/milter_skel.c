/*
 * milter_skel - options, configuration, socket and privileges for milters.
 *
 * Order matters for safety: the configuration and the milter's data are
 * loaded and checked first (a bad file stops the start, it never yields
 * a milter that accepts everything), the socket is opened while we may
 * still be root, and privileges are dropped before the first connection
 * is accepted. SIGHUP, SIGINT and SIGTERM belong to libmilter, which
 * stops on them; reload is SIGUSR1, handled by a thread of ours.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <fcntl.h>

#include "mfi.h"
#include "milter_skel.h"
#include "milter_test.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "privs.h"

/* usage - print the option summary of a milter */
static void usage(const struct milter_app *app, FILE *fp)
{
    fprintf(fp,
            "usage: %s [-f] [-c FILE] [-o key=value]... [-p SOCKET] [-u USER]\n"
            "       %s -n [-c FILE] [-o key=value]...\n"
            "       %s -t [-c FILE] %s\n"
            "  -c FILE        configuration file (default %s)\n"
            "  -f             stay in the foreground and log to stderr\n"
            "  -n             check the configuration, print the effective settings, exit\n"
            "  -o key=value   override one setting\n"
            "  -p SOCKET      listen on SOCKET (unix:/path or inet:port@host)\n"
            "  -u USER        run as USER once the socket is open\n"
            "  -t             test mode: run the callbacks on files, without an MTA\n"
            "  -V             print the version\n"
            "Signals: SIGUSR1 reloads the data, SIGTERM stops.\n",
            app->name, app->name, app->name, app->test_usage ? app->test_usage : "", MSSANTE_DEFAULT_CONF);
}

/* reload_thread - wait for SIGUSR1 and call the milter's reload hook */
static void *reload_thread(void *ctx)
{
    const struct milter_app *app = ctx;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        msg_info("reload requested");
        app->reload();
    }
    return NULL;
}

/* socket_path - the file of a unix socket spec, or NULL */
static const char *socket_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    if (spec[0] == '/')
        return spec;
    return NULL;
}

/* daemonize - detach from the terminal */
static void daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        msg_fatal("fork: %s", strerror(errno));
    if (pid > 0)
        _exit(0);
    setsid();
    if (chdir("/") < 0)
        msg_fatal("chdir /: %s", strerror(errno));
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
}

/* milter_main - the common life cycle of a milter */
int milter_main(int argc, char **argv, const struct milter_app *app)
{
    const char *conf = NULL, *opt_socket = NULL, *opt_user = NULL;
    char **overrides = xcalloc((size_t) argc, sizeof(char *));
    int noverrides = 0, foreground = 0, check = 0, test = 0, ch;
    char *err = NULL;
    const char *sockspec, *user, *path;
    pthread_t tid;
    sigset_t set;

    msg_open(argv[0], 1);
    while (!test && (ch = getopt(argc, argv, "+c:fhno:p:tu:V")) != -1) {
        switch (ch) {
        case 'c':
            conf = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'n':
            check = 1;
            break;
        case 'o':
            overrides[noverrides++] = optarg;
            break;
        case 'p':
            opt_socket = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'u':
            opt_user = optarg;
            break;
        case 'V':
            printf("%s %s\n", app->name, MSSANTE_VERSION);
            return 0;
        case 'h':
            usage(app, stdout);
            return 0;
        default:
            usage(app, stderr);
            return 2;
        }
    }
    /* Test mode takes -c/-o after -t too, then the milter's own arguments. */
    while (test && optind + 1 < argc && (!strcmp(argv[optind], "-c") || !strcmp(argv[optind], "-o"))) {
        if (argv[optind][1] == 'c')
            conf = argv[optind + 1];
        else
            overrides[noverrides++] = argv[optind + 1];
        optind += 2;
    }
    if (params_load(conf, overrides, noverrides, &err) < 0)
        msg_fatal("%s", err);
    free(overrides);
    if (check) {
        cfg_print(stdout, mssante_params, 0);
        if (app->init && app->init(&err) < 0)
            msg_fatal("%s", err);
        return 0;
    }
    if (test) {
        if (app->init && app->init(&err) < 0)
            msg_fatal("%s", err);
        mfi_test_mode = 1;
        return milter_test_run(app->desc, argc - optind, argv + optind);
    }
    if (optind < argc) {
        usage(app, stderr);
        return 2;
    }
    sockspec = opt_socket ? opt_socket : (app->socket ? *app->socket : NULL);
    user = opt_user ? opt_user : (app->user ? *app->user : NULL);
    if (sockspec == NULL || *sockspec == 0)
        msg_fatal("no socket configured (-p or the milter's socket key)");

    if (!foreground)
        msg_open(argv[0], 0);
    if (app->init && app->init(&err) < 0)
        msg_fatal("%s", err);

    /* Postfix connects as its own user: the socket is for owner and group. */
    umask(0117);
    if (smfi_setconn((char *) sockspec) == MI_FAILURE)
        msg_fatal("invalid socket \"%s\"", sockspec);
    if (smfi_register(*app->desc) == MI_FAILURE)
        msg_fatal("smfi_register failed");
    /* Also how long a session may stay silent (libmilter's worker pool). */
    if (smfi_settimeout((int) var_milter_idle_timeout) == MI_FAILURE)
        msg_fatal("smfi_settimeout failed");
    if (smfi_opensocket(1) == MI_FAILURE)
        msg_fatal("cannot open socket \"%s\"", sockspec);
    if (user && *user && geteuid() == 0) {
        struct passwd *pw = getpwnam(user);

        if (pw && (path = socket_path(sockspec)) != NULL && chown(path, pw->pw_uid, pw->pw_gid) < 0)
            msg_fatal("chown %s: %s", path, strerror(errno));
        if (privs_drop(user, &err) < 0)
            msg_fatal("%s", err);
    } else if (geteuid() == 0) {
        msg_warn("running as root: set the milter's user key or -u");
    }

    if (!foreground)
        daemonize();

    /*
     * Block SIGUSR1 everywhere, so that only the reload thread sees it, and
     * the signals libmilter waits for (SIGTERM, SIGINT, SIGHUP): its signal
     * thread takes them with sigwait(), which works only if no thread of ours
     * started before smfi_main() leaves them unblocked (such a thread would
     * take SIGTERM's default action and end the process on the spot).
     */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (app->reload && pthread_create(&tid, NULL, reload_thread, (void *) app) != 0)
        msg_fatal("cannot start the reload thread");
    /* Threads do not survive fork(): the milter starts its own only now. */
    if (app->start && app->start(&err) < 0)
        msg_fatal("%s", err);

    msg_info("starting %s, listening on %s", MSSANTE_VERSION, sockspec);
    if (smfi_main() == MI_FAILURE)
        msg_fatal("smfi_main failed");
    msg_info("stopped");
    return 0;
}
