/*
 * annuaire-sync - keep the Annuaire Santé's MSSanté mailboxes in PostgreSQL.
 *
 *   annuaire-sync [options] --extraction FILE|URL
 *   annuaire-sync [options] [--since DATE] --fhir FILE|URL...
 *   annuaire-sync [options] --ldap URI --base DN [--filter F]
 *
 * One run = one source. The rows are streamed (memory does not grow with
 * the file) by COPY into a temporary table, then merged into annuaire_bal
 * in the same transaction: insert new, update changed (only those), delete
 * vanished rows of that source. Nothing is visible until COMMIT, so an
 * interrupted run leaves the previous data complete, and readers are never
 * blocked. Exit 0 only when the database reflects the source.
 *
 * Never: apply a full sync that deletes more than the configured share of
 * the source's rows without --force; run twice at once (advisory lock).
 *
 * Here the options and the verbs (a sync from one source, the address book's
 * publication, its check, its LDIF); stage.c reads the sources into the
 * staging table (staging.h), known.c and fold.c compare and fold the rows,
 * merge.c writes annuaire_bal, publish.c the LDAP address book, download.c
 * fetches pages.
 */
#include <stdlib.h>
#include <string.h>

#include "appsieve.h"
#include "cmd.h"
#include "ldapsrc.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"
#include "sync.h"

#define OPT_EXTRACTION 0x200
#define OPT_FORCE      0x201
#define OPT_DRY_RUN    0x202
#define OPT_FHIR       0x203
#define OPT_SINCE      0x204
#define OPT_LDAP       0x205
#define OPT_BASE       0x206
#define OPT_FILTER     0x207
#define OPT_PUBLISH    0x208
#define OPT_CHECK_LDAP 0x209
#define OPT_LDIF       0x20a
#define OPT_FULL       0x20b

/* Arbitrary constant naming the advisory lock of annuaire-sync. */
#define SYNC_LOCK_KEY "7275538"

/* usage - the options and verbs */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: annuaire-sync [options] --extraction FILE|URL\n"
            "       annuaire-sync [options] [--since YYYY-MM-DD] --fhir FILE|URL [--fhir ...]\n"
            "       annuaire-sync [options] --ldap URI --base DN [--filter F]\n"
            "       annuaire-sync [options] --publish [--full] | --check-ldap | --ldif FILE\n"
            "  --extraction FILE|URL  the national 31-column \"|\" file\n"
            "                      (Extraction_Correspondance_MSSante), or the ZIP holding it;\n"
            "                      an https:// URL is downloaded first (CAs: annuaire_https_ca)\n"
            "  --fhir FILE|URL     FHIR Bundles: saved files, or an https:// search URL whose\n"
            "                      \"next\" pages are followed (header ESANTE-API-KEY from the key\n"
            "                      annuaire_fhir_api_key, at most annuaire_fhir_rate requests/s)\n"
            "  --since DATE        a delta (_lastUpdated=geDATE): rows are added or changed,\n"
            "                      never deleted\n"
            "  --ldap URI          the operator's own directory (paged search, StartTLS, simple\n"
            "                      bind as annuaire_ldap_bind_dn); with --base DN and optionally\n"
            "                      --filter F (default " LDAP_DEFAULT_FILTER ")\n"
            "  --dry-run           count what would change, change nothing\n"
            "  --publish           only write the LDAP address book (annuaire_publish_uri):\n"
            "                      what changed since its last publication; after a sync\n"
            "                      this is done anyway when annuaire_publish_uri is set\n"
            "  --full              with --publish: compare the whole directory with the\n"
            "                      record of what was published, not only the mailboxes\n"
            "                      written since (after annuaire_bal or annuaire_ldap were\n"
            "                      changed by hand)\n"
            "  --check-ldap        compare the address book with PostgreSQL: counts, then\n"
            "                      every entry's attributes; exit 1 when they differ\n"
            "  --ldif FILE         the whole address book as LDIF, for \"slapadd -q\" into an\n"
            "                      empty tree with slapd stopped (a first publication of the\n"
            "                      national directory in minutes); recorded as published\n"
            "  --force             apply even if more than annuaire_max_delete_percent of the\n"
            "                      source's rows would be deleted\n"
            "%s"
            "Exit: 0 the database (and the address book) reflect the source; 1 refused or\n"
            "failed (database unchanged), or the address book could not be written.\n",
            cmd_usage_common);
}

/*
 * publish_run - write the address book, say how it went, and record it in
 * the run's sync_run row (a run of its own with --publish); 0 or 1.
 */
static int publish_run(PGconn *conn, const char *run_id, int full)
{
    struct publication pub;
    char *err = NULL, v[2][32], id[32];
    const char *p[5];
    int ret = publish_ldap(conn, full, &pub, &err) < 0 ? 1 : 0;
    PGresult *res;

    if (run_id == NULL) {
        res = PQexec(conn, "INSERT INTO sync_run (source, source_ref) VALUES ('ldap-publish', NULL)"
                           " RETURNING id");
        snprintf(id, sizeof(id), "%s", PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "0");
        PQclear(res);
        run_id = id;
    }
    if (ret)
        fprintf(stderr,
                "annuaire-sync: the LDAP address book is behind (it catches up at the next "
                "run): %s; written %ld, deleted %ld\n",
                err, pub.written, pub.deleted);
    else
        printf("LDAP address book %s: written %ld, deleted %ld\n", var_annuaire_publish_uri, pub.written,
               pub.deleted);
    snprintf(v[0], 32, "%ld", pub.written);
    snprintf(v[1], 32, "%ld", pub.deleted);
    p[0] = run_id;
    p[1] = ret ? "failed" : "ok";
    p[2] = v[0];
    p[3] = v[1];
    p[4] = err;
    run_update(conn,
               "UPDATE sync_run SET ldap_status = $2, ldap_written = $3, ldap_deleted = $4,"
               " ldap_error = $5, finished_at = coalesce(finished_at, now()),"
               " status = CASE WHEN source = 'ldap-publish' THEN $2 ELSE status END WHERE id = $1",
               5, p, "the publication");
    free(err);
    return ret;
}

/* connect_locked - the database, and the lock of annuaire-sync (one run at a time) */
static PGconn *connect_locked(const char *unchanged)
{
    char *err = NULL;
    long got_lock = 0;
    PGconn *conn = pgu_connect(var_database, var_db_connect_timeout, &err);

    if (conn == NULL)
        msg_fatal("%s%s", err, unchanged);
    if (query_long(conn, "SELECT pg_try_advisory_lock(" SYNC_LOCK_KEY ")::int", NULL, &got_lock, &err) < 0)
        msg_fatal("%s", err);
    if (!got_lock)
        msg_fatal("another annuaire-sync is running%s", unchanged);
    /* Each statement of a run reads the whole directory once: compiling it
     * (JIT) took longer than running it (the publication's diff: 1.8 s, 1.0 s
     * without). Its hash joins hold the whole directory: in 4 MB they spilled
     * to temporary files in 32 batches (a next-day publication 4.6-6.3 s;
     * 4.2-4.4 s with 64 MB, of which a parallel join takes up to 3 times). */
    if (pgu_exec(conn, "SET jit = off; SET work_mem = '64MB'", &err) < 0)
        msg_fatal("%s", err);
    return conn;
}

/* The options of a run. */
struct opts {
    const char *extraction, *since, *ldap, *base, *filter, *ldif;
    char **fhir; /* --fhir sources: at most one per argument */
    int nfhir, force, dry, full;
};

/* run_check - --check-ldap */
static int run_check(const struct opts *o)
{
    PGconn *conn = connect_locked("; try again when it is done");
    char *err = NULL;
    int ret = check_ldap(conn, &err);

    (void) o;
    if (ret < 0)
        fprintf(stderr, "annuaire-sync: %s\n", err);
    free(err);
    PQfinish(conn);
    return ret < 0 ? 1 : ret;
}

/* run_ldif - --ldif FILE */
static int run_ldif(const struct opts *o)
{
    PGconn *conn = connect_locked("; try again when it is done");
    char *err = NULL;
    long entries;
    int ret = publish_ldif(conn, o->ldif, &entries, &err) < 0;

    if (ret)
        fprintf(stderr, "annuaire-sync: %s; nothing written\n", err);
    else
        printf("%s: %ld entries under %s, recorded as published: load them with slapd stopped "
               "(slapadd -q -b %s -l %s), then check with annuaire-sync --check-ldap\n",
               o->ldif, entries, var_annuaire_publish_base, var_annuaire_publish_base, o->ldif);
    free(err);
    PQfinish(conn);
    return ret;
}

/* run_publish - --publish */
static int run_publish(const struct opts *o)
{
    PGconn *conn = connect_locked("; try again when it is done");
    int ret = publish_run(conn, NULL, o->full);

    PQfinish(conn);
    return ret;
}

/* sync_start - the run's sync_run row (a run left "running" by a killed process is closed) */
static void sync_start(PGconn *conn, const char *const p[3], char run_id[32])
{
    PGresult *res = PQexecParams(conn,
                                 "UPDATE sync_run SET status = 'failed', finished_at = now(),"
                                 " error = 'interrupted' WHERE status = 'running' AND source = $1",
                                 1, NULL, p, NULL, NULL, 0);

    PQclear(res);
    res = PQexecParams(conn,
                       "INSERT INTO sync_run (source, source_ref, mode) VALUES ($1, $2, $3)"
                       " RETURNING id",
                       3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        msg_fatal("cannot start a run (schema not migrated? run mssante-db migrate): %s", pgu_error(conn));
    snprintf(run_id, 32, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
}

/* sync_load - the source into sync_stage, compared with the database; 0, or -1 and *err */
static int sync_load(PGconn *conn, const struct opts *o, const char *source, struct counts *n, char **err)
{
    if (pgu_exec(conn, "BEGIN", err) < 0 || stage_create(conn, source, n, err) < 0 ||
        (o->extraction ? load_extraction(conn, o->extraction, n, err)
         : o->ldap     ? load_ldap(conn,
                                   &(struct ldap_login){o->ldap, var_annuaire_ldap_bind_dn,
                                                        var_annuaire_ldap_bind_password},
                                   o->base, o->filter, n, err)
                       : load_fhir(conn, o->fhir, o->nfhir, o->since, n, err)) < 0)
        return -1;
    progress(n, "comparing with the database");
    return stage_finish(conn, source, o->since == NULL, n, err);
}

/* sync_after - what follows a committed sync: statistics, app senders, the address book; 0 or 1 */
static int sync_after(PGconn *conn, const struct counts *n, const char *run_id)
{
    char *err = NULL;
    int ret = 0;

    /*
     * Fresh statistics after a load that changed the table's make-up, or
     * the planner misjudges the search indexes: those of the columns the
     * search and the sync filter on, now (the rest, and a usual day's
     * changes, are left to autovacuum; ANALYZE reads a sample of the whole
     * table, and each column's values of it).
     */
    if ((n->inserted + n->updated + n->deleted) * 10 > n->total &&
        pgu_exec(conn,
                 "ANALYZE annuaire_bal (address, source, liste_rouge, last_name_f, first_name_f, city_f,"
                 " org_name_f, profession_f, postcode, department, id_pp, national_id)",
                 &err) < 0) {
        msg_warn("ANALYZE annuaire_bal: %s", err);
        free(err);
        err = NULL;
    }
    if (*var_sieve_app_senders_file &&
        app_senders_write(conn, var_sieve_app_senders_file, &(long){0}, &err) < 0) {
        fprintf(stderr, "annuaire-sync: database updated, but %s\n", err);
        free(err);
        ret = 1;
    }
    if (*var_annuaire_publish_uri && publish_run(conn, run_id, 0) != 0)
        ret = 1;
    return ret;
}

/* run_sync - one source into annuaire_bal (--extraction, --fhir, --ldap) */
static int run_sync(const struct opts *o)
{
    struct counts n = {0};
    const char *source = o->nfhir ? "fhir" : o->ldap ? "ldap" : "extraction", *status = "failed";
    const char *ref = o->extraction ? o->extraction : o->ldap ? o->ldap : o->fhir[0];
    char *err = NULL, run_id[32];
    int ret;
    PGconn *conn = connect_locked("; database unchanged"); /* one run at a time */

    sync_start(conn, (const char *[3]){source, ref, o->since ? "delta" : "full"}, run_id);
    if (sync_load(conn, o, source, &n, &err) < 0)
        goto failed;
    if (n.staged == 0) {
        err = xasprintf("%s: no valid row (%ld read, %ld rejected)", ref, n.read, n.rejected);
        goto failed;
    }
    if (!o->since && !o->force && n.existing > 0 &&
        n.deleted * 100 > n.existing * var_annuaire_max_delete_percent) {
        err = xasprintf("refused: this run would delete %ld of %ld rows (%ld%%, more than "
                        "annuaire_max_delete_percent = %ld); check the file, then use --force",
                        n.deleted, n.existing, n.deleted * 100 / n.existing, var_annuaire_max_delete_percent);
        status = "refused";
        goto failed;
    }
    if (o->dry) {
        progress(NULL, NULL);
        pgu_exec(conn, "ROLLBACK", &err);
        record(conn, run_id, &n, "dry-run", NULL);
        printf("dry run, nothing changed: %s: %ld lines read, %ld rejected, %ld duplicates collapsed;"
               " would insert %ld, update %ld, delete %ld\n",
               ref, n.read, n.rejected, n.staged - n.distinct, n.inserted, n.updated, n.deleted);
        PQfinish(conn);
        return 0;
    }
    progress(&n, "writing the changes");
    if (merge(conn, source, &n, &err) < 0 || pgu_exec(conn, "COMMIT", &err) < 0)
        goto failed;
    progress(NULL, NULL);
    record(conn, run_id, &n, "ok", NULL);
    printf("%s: %ld lines read, %ld rejected, %ld duplicates collapsed; inserted %ld, updated %ld,"
           " deleted %ld (run %s)\n",
           ref, n.read, n.rejected, n.staged - n.distinct, n.inserted, n.updated, n.deleted, run_id);
    ret = sync_after(conn, &n, run_id);
    PQfinish(conn);
    return ret;

failed:
    progress(NULL, NULL);
    PQclear(PQexec(conn, "ROLLBACK"));
    n.inserted = n.updated = n.deleted = 0;
    record(conn, run_id, &n, status, err);
    fprintf(stderr, "annuaire-sync: %s; database unchanged\n", err);
    free(err);
    PQfinish(conn);
    return 1;
}

/* The verbs: exactly one option of a run chooses one. */
enum { V_SYNC, V_PUBLISH, V_CHECK, V_LDIF, V_NONE };
static int (*const verbs[])(const struct opts *) = {
    [V_SYNC] = run_sync,
    [V_PUBLISH] = run_publish,
    [V_CHECK] = run_check,
    [V_LDIF] = run_ldif,
};

/* main - options, settings, then the verb asked */
int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_LONGOPTS,
        {"extraction", required_argument, 0, OPT_EXTRACTION},
        {"force", no_argument, 0, OPT_FORCE},
        {"dry-run", no_argument, 0, OPT_DRY_RUN},
        {"fhir", required_argument, 0, OPT_FHIR},
        {"since", required_argument, 0, OPT_SINCE},
        {"ldap", required_argument, 0, OPT_LDAP},
        {"base", required_argument, 0, OPT_BASE},
        {"filter", required_argument, 0, OPT_FILTER},
        {"publish", no_argument, 0, OPT_PUBLISH},
        {"check-ldap", no_argument, 0, OPT_CHECK_LDAP},
        {"ldif", required_argument, 0, OPT_LDIF},
        {"full", no_argument, 0, OPT_FULL},
        {0, 0, 0, 0},
    };
    struct cmd_common c;
    char *fhir[argc];
    struct opts o = {.filter = LDAP_DEFAULT_FILTER, .fhir = fhir};
    int ch, verb = V_NONE, nverbs = 0;

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        switch (ch) {
        case OPT_EXTRACTION:
            o.extraction = optarg;
            verb = V_SYNC;
            nverbs++;
            break;
        case OPT_FHIR:
            nverbs += o.nfhir == 0;
            o.fhir[o.nfhir++] = optarg;
            verb = V_SYNC;
            break;
        case OPT_LDAP:
            o.ldap = optarg;
            verb = V_SYNC;
            nverbs++;
            break;
        case OPT_PUBLISH:
            verb = V_PUBLISH;
            nverbs++;
            break;
        case OPT_CHECK_LDAP:
            verb = V_CHECK;
            nverbs++;
            break;
        case OPT_LDIF:
            o.ldif = optarg;
            verb = V_LDIF;
            nverbs++;
            break;
        case OPT_FORCE:
            o.force = 1;
            break;
        case OPT_DRY_RUN:
            o.dry = 1;
            break;
        case OPT_FULL:
            o.full = 1;
            break;
        case OPT_SINCE:
            o.since = optarg;
            break;
        case OPT_BASE:
            o.base = optarg;
            break;
        case OPT_FILTER:
            o.filter = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    cmd_load(&c, usage);
    if (nverbs != 1 || optind != argc || (o.since && !o.nfhir) || (o.ldap != NULL) != (o.base != NULL) ||
        (o.full && verb != V_PUBLISH)) {
        usage(stderr);
        return 2;
    }
    if (o.since && (strlen(o.since) != 10 || o.since[4] != '-' || o.since[7] != '-' ||
                    strspn(o.since, "0123456789-") != 10)) {
        fprintf(stderr, "annuaire-sync: --since \"%s\": expected YYYY-MM-DD\n", o.since);
        return 2;
    }
    return verbs[verb](&o);
}
