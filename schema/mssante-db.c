/*
 * mssante-db - create and upgrade the add-on's PostgreSQL schema.
 *
 * "migrate" is safe to run at every package upgrade and from several hosts
 * at once: it applies only what is missing, one transaction per file, and
 * refuses a database newer than the package.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "migrate.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"

#define OPT_SCHEMA_DIR 0x200

/* usage - the options and verbs */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mssante-db [options] migrate|status\n"
            "  migrate             apply the migrations the database lacks\n"
            "  status              list migrations as applied or pending\n"
            "                      (exit 0 when none is pending, 1 otherwise)\n"
            "      --schema-dir DIR  migrations directory (key \"schema_directory\")\n"
            "%s",
            cmd_usage_common);
}

/* main - options, then migrate or status */
int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_LONGOPTS,
        {"schema-dir", required_argument, 0, OPT_SCHEMA_DIR},
        {0, 0, 0, 0},
    };
    struct cmd_common c;
    struct migration *m;
    size_t count;
    const char *schema_dir = NULL, *verb;
    char *err;
    PGconn *conn;
    int ch, ret;

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        if (ch == OPT_SCHEMA_DIR)
            schema_dir = optarg;
        else {
            usage(stderr);
            return 2;
        }
    }
    cmd_load(&c, usage);
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    verb = argv[optind];
    if (strcmp(verb, "migrate") != 0 && strcmp(verb, "status") != 0) {
        msg_error("unknown command \"%s\"", verb);
        usage(stderr);
        return 2;
    }
    if (mig_list(schema_dir ? schema_dir : var_schema_directory, &m, &count, &err) < 0)
        msg_fatal("%s", err);
    if ((conn = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL)
        msg_fatal("%s", err);
    if (strcmp(verb, "migrate") == 0) {
        if ((ret = mig_migrate(conn, m, count, stdout, &err)) < 0)
            msg_fatal("migration failed, database left at its previous version: %s", err);
        ret = 0;
    } else {
        if ((ret = mig_status(conn, m, count, stdout, &err)) < 0)
            msg_fatal("%s", err);
        ret = ret > 0;
    }
    PQfinish(conn);
    mig_free(m, count);
    return ret;
}
