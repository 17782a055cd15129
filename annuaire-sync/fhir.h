/*
 * fhir - MSSanté mailboxes in FHIR Bundles of the Annuaire Santé API.
 */
#ifndef MSSANTE_FHIR_H
#define MSSANTE_FHIR_H

#include <stddef.h>

/* fhir_row_fn - one mailbox; values indexed by staging.h's ST_*; <0 stops */
typedef int (*fhir_row_fn)(void *ctx, long entry, const char *const *values);

/*
 * fhir_bundle - read one Bundle (JSON text): every telecom of Practitioner,
 * PractitionerRole and Organization entries that carries the MSSANTE e-mail
 * type becomes a row. *next is the "next" link (or NULL). Returns 0, or -1
 * with *err for JSON that is not a Bundle (an OperationOutcome says why).
 */
int fhir_bundle(const char *text, size_t len, const char *where, fhir_row_fn fn, void *ctx, char **next,
                char **err);

#endif
