/*
 * inbound - the analysis of incoming S/MIME, apart from the milter so that
 * it can be exercised on its own.
 */
#ifndef MSSANTE_INBOUND_H
#define MSSANTE_INBOUND_H
#include <openssl/x509.h>
#include "mime.h"
#include "smime.h"

struct finding {
    int is_signed, is_encrypted, decrypted;
    char *algorithm;
    struct smime_verdict v;
    char *reason; /* about decryption */
};

/* pkcs7_mime - whether a "type/subtype" (lower case) is application/(x-)pkcs7-mime */
int pkcs7_mime(const char *type);

/* enveloped_type - whether a Content-Type value says encrypted (to be decrypted) */
int enveloped_type(const char *ct);

/*
 * transfer_decode - an entity's body, base64 decoded when so encoded, to
 * out: 0, 1 when it is not the base64 it says (reason in *why), -1 when out fails.
 */
int transfer_decode(const struct mime_entity *e, struct spool *out, const char *what, char **why);

/* signed_type - the type if a Content-Type value says signed, else NULL */
char *signed_type(const char *ct);

/*
 * verify_entity - a signed entity (multipart/signed or signed-data); the
 * verdict goes into f, a spooling failure (ours, not the sender's) into *err.
 */
void verify_entity(const struct mime_entity *e, const char *ct, const char *type, X509_STORE *store,
                   struct finding *f, char **err);

/* verdict_text - the value of X-MSSante-SMIME */
char *verdict_text(const struct finding *f);

/* finding_free - what a finding holds */
void finding_free(struct finding *f);
#endif
