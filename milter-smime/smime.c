/*
 * smime - sign, encrypt, decrypt and verify with OpenSSL's CMS.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "dn.h"
#include "mime.h"
#include "mymalloc.h"
#include "smime.h"
#include "strlist.h"

/* ossl_error - "what: reason (detail)" from OpenSSL's error queue, emptied */
static char *ossl_error(const char *what)
{
    unsigned long e;
    const char *data;
    int flags;
    char *msg = NULL;

    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        const char *r = ERR_reason_error_string(e);
        char code[32], *part, *more;

        if (ERR_SYSTEM_ERROR(e)) {
            r = strerror(ERR_GET_REASON(e));
        } else if (r == NULL) {
            snprintf(code, sizeof(code), "error %08lx", e);
            r = code;
        }
        if ((flags & ERR_TXT_STRING) && data && *data) {
            const char *d = strncmp(data, "Verify error:", 13) == 0 ? data + 13 : data;

            d += strspn(d, " ");

            part = xasprintf("%s (%s)", r, d);
        } else {
            part = xstrdup(r);
        }
        if (msg == NULL) {
            msg = part;
        } else {
            more = xasprintf("%s; %s", msg, part);
            free(msg);
            free(part);
            msg = more;
        }
    }
    {
        char *out = xasprintf("%s: %s", what, msg ? msg : "unknown OpenSSL error");

        free(msg);
        return out;
    }
}

/* mem_bio - a read-only BIO over a region (OpenSSL takes an int length) */
static BIO *mem_bio(const unsigned char *p, size_t len)
{
    return len > INT_MAX ? NULL : BIO_new_mem_buf(p, (int) len);
}

/* smime_certs_pem - the certificates of a PEM text, or NULL */
STACK_OF(X509) * smime_certs_pem(const char *pem, size_t len)
{
    BIO *b = mem_bio((const unsigned char *) pem, len);
    STACK_OF(X509) * sk;
    X509 *x;

    if (b == NULL)
        return NULL;
    sk = sk_X509_new_null();
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    ERR_clear_error();
    BIO_free(b);
    if (sk_X509_num(sk) == 0) {
        sk_X509_free(sk);
        return NULL;
    }
    return sk;
}

/* smime_certs_free - a stack of certificates and the stack */
void smime_certs_free(STACK_OF(X509) * certs)
{
    sk_X509_pop_free(certs, X509_free);
}

/* smime_key_file - an unencrypted PEM private key from a file; NULL and *err */
EVP_PKEY *smime_key_file(const char *path, char **err)
{
    FILE *fp = fopen(path, "r");
    EVP_PKEY *k;

    if (fp == NULL) {
        *err = xasprintf("private key %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (k == NULL) {
        char *e = ossl_error("not a PEM private key without passphrase");

        *err = xasprintf("private key %s: %s", path, e);
        free(e);
    }
    return k;
}

/* ------------------------------------------------------------ outbound */

/* smime_sign - a detached signature over entity */
int smime_sign(const unsigned char *entity, size_t len, const struct smime_signer *s, struct spool *out,
               char **ctype, char **err)
{
    const int flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
    BIO *in = mem_bio(entity, len), *b64 = NULL;
    CMS_ContentInfo *cms = NULL;
    char *boundary = mime_boundary();
    int rc = -1;

    *ctype = NULL;
    if (in == NULL || boundary == NULL) {
        *err = xstrdup("message too large to sign");
        goto done;
    }
    if ((cms = CMS_sign(NULL, NULL, s->chain, NULL, flags)) == NULL ||
        CMS_add1_signer(cms, s->cert, s->key, EVP_sha256(), flags) == NULL ||
        CMS_final(cms, in, NULL, CMS_DETACHED | CMS_BINARY) != 1) {
        *err = ossl_error("signing failed");
        goto done;
    }
    spool_puts(out, "This is a cryptographically signed message in MIME format.\r\n\r\n--");
    spool_puts(out, boundary);
    spool_puts(out, "\r\n");
    spool_write(out, entity, len);
    spool_puts(out, "\r\n--");
    spool_puts(out, boundary);
    spool_puts(out, "\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n"
                    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
                    "Content-Description: S/MIME Cryptographic Signature\r\n\r\n");
    if ((b64 = spool_bio(out, 1)) == NULL || i2d_CMS_bio(b64, cms) != 1 || BIO_flush(b64) != 1) {
        *err = ossl_error("cannot write the signature");
        goto done;
    }
    spool_puts(out, "--");
    spool_puts(out, boundary);
    if (spool_puts(out, "--\r\n") < 0) {
        *err = xasprintf("cannot write the signed message: %s", strerror(out->err));
        goto done;
    }
    *ctype = xasprintf("multipart/signed; protocol=\"application/pkcs7-signature\"; "
                       "micalg=sha-256; boundary=\"%s\"",
                       boundary);
    rc = 0;
done:
    BIO_free(b64);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    free(boundary);
    return rc;
}

/* smime_encrypt - entity encrypted for the recipients */
int smime_encrypt(const unsigned char *entity, size_t len, STACK_OF(X509) * rcpts, struct spool *out,
                  char **err)
{
    const int flags = CMS_BINARY | CMS_STREAM;
    BIO *in = mem_bio(entity, len), *b64 = spool_bio(out, 1);
    CMS_ContentInfo *cms = NULL;
    int rc = -1;

    if (in == NULL || b64 == NULL) {
        *err = xstrdup("message too large to encrypt");
    } else if ((cms = CMS_encrypt(rcpts, in, EVP_aes_256_cbc(), flags)) == NULL ||
               i2d_CMS_bio_stream(b64, cms, in, flags) != 1 || BIO_flush(b64) != 1) {
        *err = ossl_error("encryption failed");
    } else if (out->failed) {
        *err = xasprintf("cannot write the encrypted message: %s", strerror(out->err));
    } else {
        rc = 0;
    }
    BIO_free(b64);
    BIO_free(in);
    CMS_ContentInfo_free(cms);
    return rc;
}

/* ------------------------------------------------------------ inbound */

/*
 * der_next - read one TLV header; the content starts at *p afterwards.
 * Returns -1 on error; *inf for an indefinite length.
 */
static int der_next(const unsigned char **p, const unsigned char *end, long *len, int *tag, int *cls,
                    int *inf)
{
    int r = ASN1_get_object(p, len, tag, cls, (long) (end - *p));

    if (r & 0x80)
        return -1;
    *inf = (r & 0x21) == 0x21;
    return 0;
}

/* der_skip - step over one TLV (indefinite lengths included) */
static int der_skip(const unsigned char **p, const unsigned char *end, int depth)
{
    long len;
    int tag, cls, inf;

    if (depth > 64 || der_next(p, end, &len, &tag, &cls, &inf) < 0)
        return -1;
    if (!inf) {
        *p += len;
        return 0;
    }
    while (*p + 2 <= end && !((*p)[0] == 0 && (*p)[1] == 0))
        if (der_skip(p, end, depth + 1) < 0)
            return -1;
    if (*p + 2 > end)
        return -1;
    *p += 2;
    return 0;
}

/* smime_cipher_name - the content cipher of an enveloped-data, for the verdict */
char *smime_cipher_name(const unsigned char *der, size_t len)
{
    const unsigned char *p = der, *end = der + len, *q;
    long l;
    int tag, cls, inf;
    ASN1_OBJECT *obj;
    char *name = NULL;

    /* ContentInfo { contentType, [0] EnvelopedData { version, [0] originatorInfo?,
     * recipientInfos, encryptedContentInfo { contentType, contentEncryptionAlgorithm } } } */
    if (der_next(&p, end, &l, &tag, &cls, &inf) < 0 || tag != V_ASN1_SEQUENCE || der_skip(&p, end, 0) < 0 ||
        der_next(&p, end, &l, &tag, &cls, &inf) < 0 || cls != V_ASN1_CONTEXT_SPECIFIC ||
        der_next(&p, end, &l, &tag, &cls, &inf) < 0 || tag != V_ASN1_SEQUENCE || der_skip(&p, end, 0) < 0)
        return NULL;
    q = p;
    if (der_next(&q, end, &l, &tag, &cls, &inf) < 0)
        return NULL;
    if (cls == V_ASN1_CONTEXT_SPECIFIC && der_skip(&p, end, 0) < 0)
        return NULL;
    if (der_skip(&p, end, 0) < 0 /* recipientInfos */
        || der_next(&p, end, &l, &tag, &cls, &inf) < 0 || tag != V_ASN1_SEQUENCE ||
        der_skip(&p, end, 0) < 0 /* contentType */
        || der_next(&p, end, &l, &tag, &cls, &inf) < 0 || tag != V_ASN1_SEQUENCE)
        return NULL;
    q = p;
    if ((obj = d2i_ASN1_OBJECT(NULL, &q, (long) (end - p))) == NULL)
        return NULL;
    if (OBJ_obj2nid(obj) != NID_undef) {
        name = xstrdup(OBJ_nid2sn(OBJ_obj2nid(obj)));
        for (char *c = name; *c; c++)
            *c = (char) tolower((unsigned char) *c);
    } else {
        char buf[128];

        OBJ_obj2txt(buf, sizeof(buf), obj, 1);
        name = xstrdup(buf);
    }
    ASN1_OBJECT_free(obj);
    return name;
}

/* for_cert - whether an enveloped-data has a recipient info for this certificate */
static int for_cert(CMS_ContentInfo *cms, X509 *cert)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);

    for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);

        if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS) {
            if (CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
                return 1;
        } else if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE) {
            STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);

            for (int k = 0; k < sk_CMS_RecipientEncryptedKey_num(reks); k++)
                if (CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(reks, k), cert) ==
                    0)
                    return 1;
        }
    }
    return 0;
}

/* smime_decrypt - decrypt an enveloped message */
int smime_decrypt(const unsigned char *der, size_t len, X509 *cert, EVP_PKEY *key, struct spool *out,
                  char **err)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) len);
    BIO *o;
    int rc;

    if (cms == NULL) {
        *err = ossl_error("not a CMS structure");
        return -1;
    }
    if (!for_cert(cms, cert)) {
        CMS_ContentInfo_free(cms);
        return 1;
    }
    o = spool_bio(out, 0);
    ERR_clear_error();
    if (o && CMS_decrypt(cms, key, cert, NULL, o, CMS_BINARY) == 1 && !out->failed) {
        rc = 0;
    } else {
        *err = out->failed ? xasprintf("cannot write the decrypted message: %s", strerror(out->err))
                           : ossl_error("decryption failed");
        rc = -1;
    }
    BIO_free(o);
    CMS_ContentInfo_free(cms);
    return rc;
}

/* first_email - the first e-mail address of a certificate, or NULL */
static char *first_email(X509 *x)
{
    STACK_OF(OPENSSL_STRING) *e = X509_get1_email(x);
    char *out = sk_OPENSSL_STRING_num(e) > 0 ? xstrdup(sk_OPENSSL_STRING_value(e, 0)) : NULL;

    X509_email_free(e);
    return out;
}

/* signer_of - the certificate of the first signer, from those in the message */
static X509 *signer_of(CMS_ContentInfo *cms)
{
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    STACK_OF(X509) * certs;
    X509 *found = NULL;

    if (sis == NULL || sk_CMS_SignerInfo_num(sis) == 0 || (certs = CMS_get1_certs(cms)) == NULL)
        return NULL;
    for (int i = 0; i < sk_X509_num(certs) && !found; i++)
        if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, 0), sk_X509_value(certs, i)) == 0) {
            found = sk_X509_value(certs, i);
            X509_up_ref(found);
        }
    smime_certs_free(certs);
    return found;
}

/* verify - check a signature against the trust store into a verdict */
static void verify(CMS_ContentInfo *cms, BIO *content, X509_STORE *store, struct smime_verdict *v)
{
    X509 *signer = signer_of(cms);
    int ok;

    ERR_clear_error();
    ok = CMS_verify(cms, NULL, store, content, NULL, CMS_BINARY) == 1;
    if (signer) {
        v->signer = dn_x509_text(X509_get_subject_name(signer));
        v->signer_email = first_email(signer);
    }
    if (ok) {
        v->verified = 1;
        v->cert = signer;
        ERR_clear_error();
        return;
    }
    v->reason = ossl_error("not verified");
    X509_free(signer);
}

/* smime_verify_detached - the verdict of a detached signature */
void smime_verify_detached(const unsigned char *content, size_t clen, const unsigned char *sig, size_t siglen,
                           X509_STORE *store, struct smime_verdict *v)
{
    const unsigned char *p = sig;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) siglen);
    BIO *data = mem_bio(content, clen);

    if (cms == NULL || data == NULL || CMS_get0_SignerInfos(cms) == NULL) {
        ERR_clear_error();
        v->reason = xstrdup("the signature part is not a CMS signed-data");
    } else {
        verify(cms, data, store, v);
    }
    BIO_free(data);
    CMS_ContentInfo_free(cms);
}

/* smime_verify_opaque - the verdict of an opaque signature */
void smime_verify_opaque(const unsigned char *der, size_t len, X509_STORE *store, struct smime_verdict *v)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) len);

    if (cms == NULL || CMS_get0_SignerInfos(cms) == NULL) {
        ERR_clear_error();
        v->reason = xstrdup("not a CMS signed-data");
    } else {
        verify(cms, NULL, store, v);
    }
    CMS_ContentInfo_free(cms);
}

/* smime_verdict_free - what a verdict holds */
void smime_verdict_free(struct smime_verdict *v)
{
    free(v->signer);
    free(v->signer_email);
    free(v->reason);
    X509_free(v->cert);
    memset(v, 0, sizeof(*v));
}

/* smime_usable_for_encryption - whether a certificate chains to the anchors with S/MIME encryption usage */
int smime_usable_for_encryption(X509 *cert, STACK_OF(X509) * chain, X509_STORE *store, char **why)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = 0;

    if (ctx && X509_STORE_CTX_init(ctx, store, cert, chain) == 1 &&
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_ENCRYPT) == 1) {
        ok = X509_verify_cert(ctx) == 1;
        if (!ok)
            *why = xstrdup(X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    } else {
        *why = ossl_error("cannot check the certificate");
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* smime_store - a trust store of anchors and CRLs, CRL checks on */
X509_STORE *smime_store(const char *anchors, const char *crl_files, char **err)
{
    X509_STORE *st = X509_STORE_new();
    char **crls = strlist_split(crl_files, " ,\t");

    if (X509_STORE_load_file(st, anchors) != 1) {
        char *e = ossl_error("cannot load");

        *err = xasprintf("key \"smime_trust_anchors\": %s: %s", anchors, e);
        free(e);
        goto fail;
    }
    for (size_t i = 0; crls[i]; i++) {
        BIO *b = BIO_new_file(crls[i], "r");
        X509_CRL *crl;
        int n = 0;

        while (b && (crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
            X509_STORE_add_crl(st, crl);
            X509_CRL_free(crl);
            n++;
        }
        BIO_free(b);
        ERR_clear_error();
        if (n == 0) {
            *err = xasprintf("key \"smime_crl_files\": %s: no PEM CRL could be read", crls[i]);
            goto fail;
        }
    }
    if (crls[0])
        X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
    strlist_free(crls);
    return st;
fail:
    strlist_free(crls);
    X509_STORE_free(st);
    return NULL;
}

/* ------------------------------------------------------------ certificate facts */

/* time_text - an ASN1 time as text */
static char *time_text(const ASN1_TIME *t)
{
    struct tm tm;
    char buf[40];

    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return xstrdup("1970-01-01 00:00:00+00");
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S+00", &tm);
    return xstrdup(buf);
}

/* smime_certinfo - the fields of a certificate the store records */
int smime_certinfo(X509 *cert, struct smime_certinfo *ci)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n;
    BIGNUM *bn;
    char *hex;
    STACK_OF(OPENSSL_STRING) * e;
    int k = 0;

    memset(ci, 0, sizeof(*ci));
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
        return -1;
    for (unsigned i = 0; i < n; i++)
        snprintf(ci->fingerprint + 2 * i, 3, "%02x", md[i]);
    ci->subject = dn_x509_text(X509_get_subject_name(cert));
    ci->issuer = dn_x509_text(X509_get_issuer_name(cert));
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    hex = bn ? BN_bn2hex(bn) : NULL;
    ci->serial = xstrdup(hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
    ci->not_before = time_text(X509_get0_notBefore(cert));
    ci->not_after = time_text(X509_get0_notAfter(cert));
    e = X509_get1_email(cert);
    ci->emails = xcalloc((size_t) sk_OPENSSL_STRING_num(e) + 1, sizeof(char *));
    for (int i = 0; i < sk_OPENSSL_STRING_num(e); i++) {
        char *a = xstrdup(sk_OPENSSL_STRING_value(e, i));

        for (char *c = a; *c; c++)
            *c = (char) tolower((unsigned char) *c);
        ci->emails[k++] = a;
    }
    X509_email_free(e);
    return 0;
}

/* smime_certinfo_free - what smime_certinfo gave */
void smime_certinfo_free(struct smime_certinfo *ci)
{
    free(ci->subject);
    free(ci->issuer);
    free(ci->serial);
    free(ci->not_before);
    free(ci->not_after);
    if (ci->emails)
        strlist_free(ci->emails);
    memset(ci, 0, sizeof(*ci));
}

/* smime_x509_pem - a certificate and its chain as PEM text */
char *smime_x509_pem(X509 *cert, STACK_OF(X509) * chain)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p, *out;
    long len;

    PEM_write_bio_X509(b, cert);
    for (int i = 0; i < sk_X509_num(chain); i++)
        PEM_write_bio_X509(b, sk_X509_value(chain, i));
    len = BIO_get_mem_data(b, &p);
    out = xstrndup(p, (size_t) len);
    BIO_free(b);
    return out;
}
