/*
 * cmd - common options of the add-on's commands.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"

const char cmd_usage_common[] =
    "  -c, --config FILE   configuration file (default " MSSANTE_DEFAULT_CONF ")\n"
    "      --db CONNINFO   PostgreSQL connection, overrides the key \"database\"\n"
    "  -o key=value        override one setting\n"
    "  -n                  check the configuration, print the effective settings, exit\n"
    "  -V, --version       print the version\n"
    "  -h, --help          this help\n";

/* cmd_init - prepare the common options */
void cmd_init(struct cmd_common *c, int argc, char **argv)
{
    msg_open(argv[0], 1);
    c->conf = NULL;
    c->db = NULL;
    c->overrides = xcalloc((size_t) argc, sizeof(char *));
    c->noverrides = 0;
    c->print_config = 0;
    c->help = 0;
}

/* cmd_option - take one of the common options */
int cmd_option(struct cmd_common *c, int ch, const char *arg)
{
    switch (ch) {
    case 'c':
        c->conf = arg;
        return 1;
    case 'o':
        c->overrides[c->noverrides++] = (char *) arg;
        return 1;
    case 'n':
        c->print_config = 1;
        return 1;
    case 'h':
        c->help = 1;
        return 1;
    case CMD_OPT_DB:
        c->db = arg;
        return 1;
    case 'V':
        printf("%s %s\n", msg_progname(), MSSANTE_VERSION);
        exit(0);
    default:
        return 0;
    }
}

/* cmd_load - establish the settings; -n prints them and exits */
void cmd_load(struct cmd_common *c, void (*usage)(FILE *))
{
    char *err;

    if (c->help) {
        usage(stdout);
        exit(0);
    }
    if (params_load(c->conf, c->overrides, c->noverrides, &err) < 0)
        msg_fatal("%s", err);
    free(c->overrides); /* applied: the settings hold copies */
    c->overrides = NULL;
    c->noverrides = 0;
    if (c->db) {
        free(var_database);
        var_database = xstrdup(c->db);
        struct cfg_param *p = cfg_lookup(mssante_params, "database");

        free((char *) p->origin);
        p->origin = xstrdup("--db");
    }
    if (c->print_config) {
        cfg_print(stdout, mssante_params, 0);
        exit(0);
    }
}

/* fsync_dir - make a rename in a directory durable */
int fsync_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY), ret = -1;

    free(copy);
    if (fd >= 0) {
        ret = fsync(fd);
        close(fd);
    }
    return ret;
}
