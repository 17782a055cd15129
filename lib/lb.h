/*
 * lb - the liste blanche: load, verify, look up.
 *
 * A list is usable only once its enveloped XML-DSig verified and its
 * signer's certificate chained to a configured trust anchor. A loaded list
 * is immutable; the milter shares it between threads and swaps it whole.
 */
#ifndef MSSANTE_LB_H
#define MSSANTE_LB_H

#include <stddef.h>
#include <time.h>

#include "dn.h"

#define LB_NAMESPACE "https://listeblanche.mssante.fr/schema"

struct lb_operator {
    char *text; /* the DN as written in the list */
    struct dn *dn;
    char *cn_key; /* folded CN, compared with Postfix's {cert_subject} */
};

struct lb_domain {
    char *name; /* canonical domain */
    struct lb_operator *op;
    size_t n, cap;
};

struct lb_signer {
    char *subject;
    char *issuer;
    char *not_after;
};

struct lb {
    char *path;
    char *generated; /* DateDeGeneration as written */
    size_t entries;  /* <Domaine> elements */
    size_t rejected; /* entries skipped (bad name or DN) */
    size_t ndomains;
    size_t noperators; /* distinct operator DNs */
    struct lb_signer signer;
    struct lb_domain **slots; /* open addressing hash, by name */
    size_t nslots;
    const struct lb_operator **bycn; /* every listed operator, sorted by cn_key */
    size_t nbycn;
    char **warnings; /* one line per rejected entry */
    size_t nwarnings, warnings_cap;
};

struct lb_options {
    const char *trust_anchors; /* PEM file of trusted CAs (partial chains allowed) */
    time_t verify_time;        /* 0 = now */
    size_t max_size;           /* bytes; 0 = default (64 MB) */
};

/* lb_load - read and verify a list; NULL with *err saying why */
struct lb *lb_load(const char *path, const struct lb_options *opt, char **err);
void lb_free(struct lb *lb);

/* lb_lookup - the entry of a canonical domain name, or NULL */
const struct lb_domain *lb_lookup(const struct lb *lb, const char *domain);

/* lb_match_cn - the listed operator of the domain whose CN matches, or NULL */
const struct lb_operator *lb_match_cn(const struct lb_domain *d, const char *cn);

/* lb_match_dn - the listed operator of the domain equal to a full DN, or NULL */
const struct lb_operator *lb_match_dn(const struct lb_domain *d, const struct dn *dn);

/* lb_find_cn - some listed operator (of any domain) with that CN, or NULL */
const struct lb_operator *lb_find_cn(const struct lb *lb, const char *cn);

/* lb_init - once per process, before any thread uses lb_load */
void lb_init(void);

#endif
