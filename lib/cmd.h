/*
 * cmd - options shared by every command (not daemon) of the add-on.
 *
 * Each command lists CMD_SHORTOPTS and CMD_LONGOPTS in its getopt_long
 * call and passes every option to cmd_option() first, so that -c, -o,
 * --db, -n, -V and -h mean the same thing everywhere.
 */
#ifndef MSSANTE_CMD_H
#define MSSANTE_CMD_H

#include <getopt.h>
#include <stdio.h>

#define CMD_SHORTOPTS "c:o:nVh"
#define CMD_OPT_DB    0x100
#define CMD_LONGOPTS                                                                                         \
    {"config", required_argument, 0, 'c'}, {"db", required_argument, 0, CMD_OPT_DB},                         \
        {"help", no_argument, 0, 'h'},                                                                       \
    {                                                                                                        \
        "version", no_argument, 0, 'V'                                                                       \
    }

struct cmd_common {
    const char *conf; /* -c */
    const char *db;   /* --db, overrides key "database" */
    char **overrides; /* -o key=value */
    int noverrides;
    int print_config; /* -n */
    int help;         /* -h */
};

/* cmd_init - start a command: logging to stderr, empty options */
void cmd_init(struct cmd_common *c, int argc, char **argv);

/* cmd_option - handle a common option; 1 if it was one, 0 if not */
int cmd_option(struct cmd_common *c, int ch, const char *arg);

/*
 * cmd_load - -h prints usage and exits 0; then load settings (or msg_fatal
 * naming file, line and key); -n prints them and exits.
 */
void cmd_load(struct cmd_common *c, void (*usage)(FILE *));

/* fsync_dir - make a rename in the directory of path durable */
int fsync_dir(const char *path);

/* cmd_usage_common - the lines describing the common options */
extern const char cmd_usage_common[];

#endif
