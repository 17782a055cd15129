/*
 * dn - X.500 distinguished names as written by people and by programs.
 *
 * The liste blanche holds operator certificate DNs typed by humans: spaces
 * after commas, quoted values with doubled inner spaces, "L=" or "S=" for
 * "ST=", accents, and an order that may be the reverse of what OpenSSL
 * prints. Two DNs are compared attribute by attribute (RFC 4514 syntax,
 * RFC 4518-like matching: case folded, Unicode-normalised, inner spaces
 * collapsed), never as raw strings.
 */
#ifndef MSSANTE_DN_H
#define MSSANTE_DN_H

#include <stddef.h>
#include <openssl/x509.h>

#define DN_MAX_AVA      64 /* values in one multi-valued RDN */
#define DN_MAX_AVA_TEXT "64"

struct dn_ava {
    char *type;  /* canonical: "CN", "OU", "ST", ... or an OID */
    char *value; /* unescaped UTF-8, as written */
    char *key;   /* folded form used for comparison */
};

struct dn_rdn {
    struct dn_ava *ava;
    size_t n; /* more than one for a multi-valued RDN */
};

struct dn {
    struct dn_rdn *rdn;
    size_t n;
};

/*
 * dn_parse - parse "CN=a,OU=b,..." (RFC 4514, with the leniencies above),
 * "C = FR, O = x" (OpenSSL's default) or "/C=FR/O=x" (OpenSSL oneline).
 * Returns NULL with *why (static text) on a malformed DN.
 */
struct dn *dn_parse(const char *text, const char **why);
void dn_free(struct dn *dn);

/* dn_equal - same attributes with matching values, in either RDN order */
int dn_equal(const struct dn *a, const struct dn *b);

/* dn_get - the first value of an attribute type ("CN", "st", ...), or NULL */
const char *dn_get(const struct dn *dn, const char *type);

/* dn_value_fold - the comparison form of an attribute value (free it) */
char *dn_value_fold(const char *value);

/* dn_value_match - whether two attribute values match */
int dn_value_match(const char *a, const char *b);

/* dn_format - RFC 4514 text with canonical attribute names (free it) */
char *dn_format(const struct dn *dn);

/* dn_x509_text - an OpenSSL name as one line of RFC 4514 text, UTF-8 kept */
char *dn_x509_text(const X509_NAME *name);

#endif
