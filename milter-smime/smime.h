/*
 * smime - the cryptography of milter-smime, on OpenSSL's CMS API.
 *
 * Outbound: a detached SHA-256 signature in multipart/signed (RFC 8551),
 * then, when asked, one AES-256-CBC envelope with RSA key transport for
 * all recipients. Inbound: decryption with one of our keys, verification
 * of detached and opaque signatures against the configured trust anchors
 * (chain, validity, S/MIME key usage, CRLs when configured).
 */
#ifndef MSSANTE_SMIME_H
#define MSSANTE_SMIME_H

#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

#include "spool.h"

struct smime_signer {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) * chain; /* sent along with the signature */
};

struct smime_verdict {
    int verified;
    char *signer; /* subject DN (RFC 4514), when known */
    char *signer_email;
    char *reason; /* why not verified */
    X509 *cert;   /* the signer's certificate, when verified */
};

void smime_verdict_free(struct smime_verdict *v);

/* smime_certs_pem - the certificates of a PEM text, first one first; NULL if none */
STACK_OF(X509) * smime_certs_pem(const char *pem, size_t len);

/* smime_certs_free - a stack of certificates and the certificates */
void smime_certs_free(STACK_OF(X509) * certs);

/* smime_key_file - read a private key; NULL with *err (never the key) */
EVP_PKEY *smime_key_file(const char *path, char **err);

/*
 * smime_sign - multipart/signed around a canonical entity: the body goes
 * to out, the Content-Type value to *ctype. 0, or -1 with *err.
 */
int smime_sign(const unsigned char *entity, size_t len, const struct smime_signer *s, struct spool *out,
               char **ctype, char **err);

/* smime_encrypt - the base64 of one enveloped-data for all recipients */
int smime_encrypt(const unsigned char *entity, size_t len, STACK_OF(X509) * rcpts, struct spool *out,
                  char **err);

/* smime_cipher_name - the content cipher of an enveloped-data DER, or NULL */
char *smime_cipher_name(const unsigned char *der, size_t len);

/*
 * smime_decrypt - decrypt a CMS DER with one key; 0 done (out holds the
 * entity), 1 not encrypted for this key, -1 error (*err).
 */
int smime_decrypt(const unsigned char *der, size_t len, X509 *cert, EVP_PKEY *key, struct spool *out,
                  char **err);

/* smime_verify_detached - content is canonical (CRLF); sig is DER */
void smime_verify_detached(const unsigned char *content, size_t clen, const unsigned char *sig, size_t siglen,
                           X509_STORE *store, struct smime_verdict *v);

/* smime_verify_opaque - signed-data with its content inside */
void smime_verify_opaque(const unsigned char *der, size_t len, X509_STORE *store, struct smime_verdict *v);

/* smime_usable_for_encryption - chains to the anchors with S/MIME encryption usage */
int smime_usable_for_encryption(X509 *cert, STACK_OF(X509) * chain, X509_STORE *store, char **why);

/* smime_store - trust anchors and CRLs; NULL with *err */
X509_STORE *smime_store(const char *anchors, const char *crl_files, char **err);

struct smime_certinfo {
    char fingerprint[65];
    char *subject, *issuer, *serial, *not_before, *not_after;
    char **emails; /* rfc822Name SANs and emailAddress, lower case */
};

int smime_certinfo(X509 *cert, struct smime_certinfo *ci);
void smime_certinfo_free(struct smime_certinfo *ci);

/* smime_x509_pem - a certificate (and chain) as PEM text */
char *smime_x509_pem(X509 *cert, STACK_OF(X509) * chain);

#endif
