/*
 * trust-header.h - read the X-MSSante-Trust verdict written by milter-whitelist.
 *
 *   X-MSSante-Trust: mssante; domain=patient.mssante.fr; operator="CN=...,C=FR"
 *   X-MSSante-Trust: local
 *
 * No Dovecot dependency: the plugin and the unit test share it.
 */
#ifndef MSSANTE_TRUST_HEADER_H
#define MSSANTE_TRUST_HEADER_H

#include <stddef.h>

enum trust_kind {
    TRUST_INVALID = -1, /* not a verdict we can read */
    TRUST_NONE = 0,     /* "none": no verified origin */
    TRUST_LOCAL,        /* "local": one of our own users */
    TRUST_MSSANTE,      /* "mssante; domain=...": a listed operator */
};

/*
 * trust_header_parse - the kind of verdict in one header value (folded or
 * not). For TRUST_MSSANTE the domain parameter is copied into domain
 * (lower case, NUL-terminated); a verdict without exactly one non-empty
 * domain, or one that does not fit, is TRUST_INVALID.
 */
enum trust_kind trust_header_parse(const char *value, char *domain, size_t size);

#endif
