/*
 * ldap_search_bench - latency of LDAP searches as a mail client makes them.
 *   ldap_search_bench URI BASE FILTERS.txt
 * One filter per line, searched anonymously under BASE (subtree, at most 50
 * entries, the attributes a client shows). Prints p50, p95, p99 in ms and
 * how many searches found something.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#include "latency.h"

/* main - client-style LDAP searches, latency percentiles */
int main(int argc, char **argv)
{
    static char *attrs[] = {"cn", "mail", "sn", "givenName", "o", "l", "title", NULL};
    LDAP *ld;
    FILE *fp;
    char *line = NULL;
    size_t cap = 0;
    struct latencies lat = {0};
    int version = LDAP_VERSION3, rc;

    if (argc != 4 || (fp = fopen(argv[3], "r")) == NULL) {
        fprintf(stderr, "usage: ldap_search_bench URI BASE FILTERS.txt\n");
        return 2;
    }
    if (ldap_initialize(&ld, argv[1]) != LDAP_SUCCESS)
        return 1;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    while (getline(&line, &cap, fp) > 0) {
        struct timespec a, b;
        LDAPMessage *res = NULL;

        line[strcspn(line, "\n")] = 0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        rc = ldap_search_ext_s(ld, argv[2], LDAP_SCOPE_SUBTREE, line, attrs, 0, NULL, NULL, NULL, 50, &res);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
            fprintf(stderr, "ldap_search_bench: %s: %s\n", line, ldap_err2string(rc));
            return 1;
        }
        lat_add(&lat, &a, &b, ldap_count_entries(ld, res) > 0);
        ldap_msgfree(res);
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
    return lat_print(&lat);
}
