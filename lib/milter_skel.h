/*
 * milter_skel - the common main() of the add-on's milters.
 *
 * A milter's own main file declares its callbacks and hands them here
 * with its settings; the skeleton does the rest the same way for all:
 * options, configuration, socket, privilege drop, reload on SIGUSR1,
 * test mode, smfi_main.
 */
#ifndef MSSANTE_MILTER_SKEL_H
#define MSSANTE_MILTER_SKEL_H

#include <libmilter/mfapi.h>

struct milter_app {
    const char *name;         /* program and syslog name */
    struct smfiDesc *desc;    /* callbacks and flags */
    char **socket;            /* config variable: libmilter socket spec */
    char **user;              /* config variable: account to run as */
    int (*init)(char **err);  /* before the socket opens; <0 refuses to start */
    int (*start)(char **err); /* after fork and privilege drop: start threads */
    void (*reload)(void);     /* on SIGUSR1, from a thread of its own */
    const char *test_usage;   /* one line describing -t arguments */
};

/* milter_main - parse options, configure, open, drop privileges, serve */
int milter_main(int argc, char **argv, const struct milter_app *app);

#endif
