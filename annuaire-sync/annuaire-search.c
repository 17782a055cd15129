/*
 * annuaire-search - find MSSanté correspondents, as the webmails do.
 *
 *   annuaire-search [--nom N] [--prenom P] [--cp CP] [--ville V] [--departement D]
 *                   [--profession P] [--structure S] [--email E] [--rpps ID]
 *                   [--limit N] [--json]
 *
 * Every criterion is a prefix, case- and accent-insensitive. The search is
 * the SQL function annuaire_search(), so a webmail or an address-book front
 * gets the same answers. Mailboxes on the liste rouge never appear.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"

#define NCRIT     9
#define OPT_LIMIT (0x200 + NCRIT)
#define OPT_JSON  (0x201 + NCRIT)

static const char *const crit_names[NCRIT] = {
    "nom", "prenom", "cp", "ville", "departement", "profession", "structure", "email", "rpps",
};

/* Columns shown, in the order of annuaire_search()'s result. */
static const char *const col_titles[] = {
    "Nom", "Prénom", "Email MSSanté", "CP", "Département", "Ville", "Structure", "Profession", "RPPS/ADELI",
};
static const char *const col_json[] = {
    "nom", "prenom", "email", "cp", "departement", "ville", "structure", "profession", "rpps_adeli",
};
#define NCOLS 9

/* usage - the options and criteria */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: annuaire-search [criteria] [--limit N] [--json]\n"
            "  --nom, --prenom, --cp, --ville, --departement, --profession, --structure,\n"
            "  --email, --rpps   any combination; each is a prefix, case- and accent-insensitive\n"
            "  --limit N         at most N answers (default 50)\n"
            "  --json            one JSON array instead of a table\n"
            "%s",
            cmd_usage_common);
}

/* width - display width of a UTF-8 string (code points) */
static int width(const char *s)
{
    int w = 0;

    for (; *s; s++)
        w += ((unsigned char) *s & 0xC0) != 0x80;
    return w;
}

/* main - criteria from the options, one search, the rows printed */
int main(int argc, char **argv)
{
    struct option longopts[NCRIT + 7] = {CMD_LONGOPTS}; /* + terminator */
    const char *crit[NCRIT] = {0};
    const char *params[NCRIT + 1];
    char limit[16] = "50";
    struct cmd_common c;
    int ch, json = 0, nrows, w[NCOLS];
    char *err;
    PGconn *conn;
    PGresult *res;

    for (int i = 0; i < NCRIT; i++)
        longopts[4 + i] = (struct option){crit_names[i], required_argument, 0, 0x200 + i};
    longopts[4 + NCRIT] = (struct option){"limit", required_argument, 0, OPT_LIMIT};
    longopts[5 + NCRIT] = (struct option){"json", no_argument, 0, OPT_JSON};
    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        if (ch >= 0x200 && ch < 0x200 + NCRIT)
            crit[ch - 0x200] = *optarg ? optarg : NULL;
        else if (ch == OPT_LIMIT && atoi(optarg) > 0 && atoi(optarg) <= 10000)
            snprintf(limit, sizeof(limit), "%d", atoi(optarg));
        else if (ch == OPT_JSON)
            json = 1;
        else {
            usage(stderr);
            return 2;
        }
    }
    cmd_load(&c, usage);
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < NCRIT; i++)
        params[i] = crit[i];
    params[NCRIT] = limit;
    if ((conn = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL)
        msg_fatal("%s", err);
    res = PQexecParams(conn,
                       "SELECT last_name, first_name, address, postcode, department, city,"
                       " org_name, profession_label, national_id"
                       " FROM annuaire_search($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::int)",
                       NCRIT + 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        msg_fatal("search failed: %s", pgu_error(conn));
    nrows = PQntuples(res);
    if (json) {
        json_t *arr = json_array();

        for (int r = 0; r < nrows; r++) {
            json_t *o = json_object();

            for (int k = 0; k < NCOLS; k++)
                json_object_set_new(o, col_json[k],
                                    PQgetisnull(res, r, k) ? json_null()
                                                           : json_string(PQgetvalue(res, r, k)));
            json_array_append_new(arr, o);
        }
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(arr);
    } else {
        for (int k = 0; k < NCOLS; k++) {
            w[k] = width(col_titles[k]);
            for (int r = 0; r < nrows; r++)
                if (width(PQgetvalue(res, r, k)) > w[k])
                    w[k] = width(PQgetvalue(res, r, k));
        }
        for (int r = -1; r < nrows; r++) {
            for (int k = 0; k < NCOLS; k++) {
                const char *v = r < 0 ? col_titles[k] : PQgetvalue(res, r, k);

                printf("%s%s%*s", k ? "  " : "", v, k < NCOLS - 1 ? w[k] - width(v) : 0, "");
            }
            putchar('\n');
        }
        fprintf(stderr, "%d answer%s\n", nrows, nrows == 1 ? "" : "s");
    }
    PQclear(res);
    PQfinish(conn);
    return nrows > 0 ? 0 : 1;
}
