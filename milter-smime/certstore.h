/*
 * certstore - the trust store and the smime_cert table of milter-smime.
 */
#ifndef MSSANTE_CERTSTORE_H
#define MSSANTE_CERTSTORE_H

#include <openssl/x509.h>

#include "inbound.h"
#include "smime.h"
#include "spool.h"

/* A mailbox and its domain, whose certificates are looked up. */
struct owner {
    const char *key;
    const char *domain;
};

/* store_load - read the trust anchors and CRLs; 0, or -1 and *err (the old ones stay) */
int store_load(char **err);

/* store_reload - store_load on SIGUSR1, logging the outcome */
void store_reload(void);

/* store_get - a reference to the trust store in force (X509_STORE_free it) */
X509_STORE *store_get(void);

/* signer_load - our certificate and key for a sender; 1, 0 none, -1 error (*err) */
int signer_load(const char *key, const char *domain, struct smime_signer *s, char **err);

/* signer_free - what signer_load gave */
void signer_free(struct smime_signer *s);

/* peer_cert - a usable certificate of a recipient; 1, 0 none (*why), -1 error (*err) */
int peer_cert(const char *key, const char *domain, X509_STORE *store, X509 **out, char **why, char **err);

/* harvest - keep a verified signer's certificate for later encryption */
void harvest(const char *qid, X509 *cert);

/*
 * decrypt - try our keys of every owner (mailbox, then domain).
 * 0 decrypted into out, 1 not decryptable (f->reason), -1 internal error (*err).
 */
int decrypt(const struct owner *owners, size_t n, const unsigned char *der, size_t len, struct spool *out,
            struct finding *f, char **err);

#endif
