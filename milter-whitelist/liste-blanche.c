/*
 * liste-blanche - the sysadmin's tool for the MSSanté liste blanche.
 *
 *   liste-blanche check [FILE]             verify, print a summary
 *   liste-blanche show [FILE] DOMAIN       operator DNs listed for a domain
 *   liste-blanche match [FILE] DOMAIN DN-or-CN
 *                                          may that certificate send for DOMAIN?
 *   liste-blanche fetch [URL]              download, verify, install (cron)
 *
 * FILE defaults to the installed list (whitelist_file). Exit status: 0 yes
 * or valid, 1 no or invalid, 2 usage or other error.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "cmd.h"
#include "dn.h"
#include "lb.h"
#include "lb_fetch.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"

#define OPT_TRUST 0x200
#define OPT_AT    0x201
#define OPT_FORCE 0x202

/* usage - the command's synopsis */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: liste-blanche [options] check [FILE]\n"
            "       liste-blanche [options] show [FILE] DOMAIN\n"
            "       liste-blanche [options] match [FILE] DOMAIN DN-or-CN\n"
            "       liste-blanche [options] fetch [--force] [URL]\n"
            "  check   verify the signature and the signer's chain, print a summary\n"
            "  show    the operator certificate DNs listed for DOMAIN\n"
            "  match   whether a certificate (full DN, compared attribute by attribute,\n"
            "          or a CN as the milter sees it) may send for DOMAIN\n"
            "  fetch   download the list (key \"whitelist_url\") if it changed, verify it,\n"
            "          install it atomically as \"whitelist_file\"; a list that fails\n"
            "          verification is never installed (exit 1)\n"
            "      --force               download even if unchanged\n"
            "  FILE defaults to the installed list (key \"whitelist_file\").\n"
            "      --trust-anchors FILE  PEM CAs the signer must chain to\n"
            "                            (key \"whitelist_trust_anchors\")\n"
            "      --at DATE             verify as of DATE (YYYY-MM-DD[THH:MM:SSZ]), e.g. to\n"
            "                            check an archived list whose signer has expired\n"
            "%s"
            "Exit: 0 valid/yes, 1 invalid/no, 2 error.\n",
            cmd_usage_common);
}

/* parse_date - UTC date or date-time to time_t; -1 when malformed */
static time_t parse_date(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL) {
        memset(&tm, 0, sizeof(tm));
        if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
            return -1;
    }
    if (*end == 'Z')
        end++;
    if (*end)
        return -1;
    return timegm(&tm);
}

/* load - the list, or exit 1 with the reason */
static struct lb *load(const char *path, const struct lb_options *o)
{
    char *err;
    struct lb *lb = lb_load(path, o, &err);

    if (lb == NULL) {
        fprintf(stderr, "liste-blanche: INVALID: %s\n", err);
        exit(1);
    }
    return lb;
}

/* canon - a domain given on the command line, or exit 2 */
static char *canon(const char *domain)
{
    const char *why;
    char *d = domain_canon(domain, &why);

    if (d == NULL) {
        fprintf(stderr, "liste-blanche: \"%s\": %s\n", domain, why);
        exit(2);
    }
    return d;
}

/* main - options, then check, fetch or show */
int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_LONGOPTS,
        {"trust-anchors", required_argument, 0, OPT_TRUST},
        {"at", required_argument, 0, OPT_AT},
        {"force", no_argument, 0, OPT_FORCE},
        {0, 0, 0, 0},
    };
    struct cmd_common c;
    struct lb_options o = {0};
    const char *trust = NULL, *verb, *file;
    struct lb *lb;
    int ch, nargs, want, force = 0;

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        if (ch == OPT_FORCE) {
            force = 1;
        } else if (ch == OPT_TRUST) {
            trust = optarg;
        } else if (ch == OPT_AT) {
            if ((o.verify_time = parse_date(optarg)) == (time_t) -1) {
                fprintf(stderr,
                        "liste-blanche: --at \"%s\": expected YYYY-MM-DD or "
                        "YYYY-MM-DDTHH:MM:SSZ\n",
                        optarg);
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    cmd_load(&c, usage);
    o.trust_anchors = trust ? trust : var_whitelist_trust_anchors;
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    verb = argv[optind++];
    nargs = argc - optind;
    if (strcmp(verb, "fetch") == 0) {
        if (nargs > 1) {
            usage(stderr);
            return 2;
        }
        return lb_fetch(nargs ? argv[optind] : var_whitelist_url, var_whitelist_file,
                        var_whitelist_https_ca && *var_whitelist_https_ca ? var_whitelist_https_ca
                                                                          : o.trust_anchors,
                        &o, force);
    }
    want = !strcmp(verb, "check") ? 0 : !strcmp(verb, "show") ? 1 : !strcmp(verb, "match") ? 2 : -1;
    if (want < 0 || nargs < want || nargs > want + 1) {
        usage(stderr);
        return 2;
    }
    file = nargs > want ? argv[optind++] : var_whitelist_file;
    lb = load(file, &o);

    if (want == 0) {
        printf("file:               %s\n", file);
        printf("status:             valid (signature and signer chain verified)\n");
        printf("generated:          %s\n", lb->generated ? lb->generated : "(no DateDeGeneration)");
        printf("entries:            %zu\n", lb->entries);
        printf("distinct domains:   %zu\n", lb->ndomains);
        printf("distinct operators: %zu\n", lb->noperators);
        printf("entries skipped:    %zu\n", lb->rejected);
        printf("signer:             %s\n", lb->signer.subject);
        printf("signer issuer:      %s\n", lb->signer.issuer);
        printf("signer valid until: %s\n", lb->signer.not_after);
        for (size_t i = 0; i < lb->nwarnings; i++)
            printf("warning: %s\n", lb->warnings[i]);
        lb_free(lb);
        return 0;
    } else {
        char *domain = canon(argv[optind]);
        const struct lb_domain *d = lb_lookup(lb, domain);
        int ret = 1;

        if (d == NULL) {
            printf("%s: not in the liste blanche\n", domain);
        } else if (want == 1) {
            for (size_t i = 0; i < d->n; i++)
                printf("%s\n", d->op[i].text);
            ret = 0;
        } else {
            const char *who = argv[optind + 1], *why;
            const struct lb_operator *op;

            if (strchr(who, '=')) {
                struct dn *dn = dn_parse(who, &why);

                if (dn == NULL) {
                    fprintf(stderr, "liste-blanche: DN \"%s\": %s\n", who, why);
                    free(domain);
                    lb_free(lb);
                    return 2;
                }
                op = lb_match_dn(d, dn);
                dn_free(dn);
            } else {
                op = lb_match_cn(d, who);
            }
            if (op) {
                printf("yes: %s is listed for %s as \"%s\"\n", who, domain, op->text);
                ret = 0;
            } else {
                printf("no: %s is not listed for %s; listed:\n", who, domain);
                for (size_t i = 0; i < d->n; i++)
                    printf("  %s\n", d->op[i].text);
            }
        }
        free(domain);
        lb_free(lb);
        return ret;
    }
}
