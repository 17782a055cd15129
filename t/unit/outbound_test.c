/*
 * outbound_test - outbound_protect without a milter or a database: the
 * policy's verdicts, and what it signs and encrypts checked with OpenSSL's
 * own S/MIME reader (SMIME_read_CMS, CMS_verify, CMS_decrypt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cfg.h"
#include "outbound.h"
#include "params.h"
#include "policy.h"
#include "tap.h"

static EVP_PKEY *sender_key, *rcpt_key;
static X509 *sender_cert, *rcpt_cert;

/* make_cert - a self-signed certificate for an e-mail address */
static X509 *make_cert(EVP_PKEY *key, const char *email)
{
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    char san[256];

    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *) email,
                               -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    snprintf(san, sizeof(san), "email:%s", email);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x, key, EVP_sha256());
    return x;
}

/* test_signer - the sender's certificate, as the store would give it */
static int test_signer(const char *key, const char *domain, struct smime_signer *s, char **err)
{
    (void) key, (void) domain, (void) err;
    X509_up_ref(sender_cert);
    EVP_PKEY_up_ref(sender_key);
    s->cert = sender_cert;
    s->key = sender_key;
    s->chain = sk_X509_new_null();
    return 1;
}

/* no_signer - a sender without a certificate */
static int no_signer(const char *key, const char *domain, struct smime_signer *s, char **err)
{
    (void) key, (void) domain, (void) s, (void) err;
    return 0;
}

static const char entity[] = "Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour, docteur.\r\n";

/* protect - one message from sender to recipients of the given policies */
static void protect(const char *sender, struct rcpt *r, size_t n, const char *ent,
                    int (*signer)(const char *, const char *, struct smime_signer *, char **),
                    struct outbound_result *res)
{
    struct spool sp;
    struct outbound_msg m = {
        .qid = "TEST",
        .sender_key = sender,
        .sender_domain = strchr(sender, '@') + 1,
        .rcpts = r,
        .nrcpt = n,
        .entity = &sp,
        .signer_load = signer,
    };

    for (size_t i = 0; i < n; i++) {
        m.any_local |= r[i].local;
        m.any_missing |= !r[i].local && r[i].cert == NULL;
        m.any_required |= r[i].policy == POL_REQUIRED;
    }
    spool_init(&sp, 1 << 20, "/tmp");
    spool_puts(&sp, ent);
    outbound_protect(&m, res);
    spool_free(&sp);
}

/* as_message - the result's fields and body as one MIME message, in a memory BIO */
static BIO *as_message(const struct outbound_result *r)
{
    BIO *b = BIO_new(BIO_s_mem());

    BIO_set_mem_eof_return(b, 0); /* the end is the end, not "try again" */
    for (size_t i = 0; r->fields[i]; i += 2)
        BIO_printf(b, "%s: %s\r\n", r->fields[i], r->fields[i + 1]);
    BIO_puts(b, "\r\n");
    const unsigned char *body = spool_data((struct spool *) &r->body);

    BIO_write(b, body, (int) spool_size(&r->body));
    return b;
}

/* bio_text - what a memory BIO holds, as a string */
static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t) n + 1);

    memcpy(s, p, (size_t) n);
    s[n] = 0;
    return s;
}

/* main - the outbound decision and protection, checked by OpenSSL */
int main(void)
{
    char *err = NULL, *text;
    struct outbound_result r;
    BIO *in, *cont = NULL, *out;
    CMS_ContentInfo *cms;
    const char *set[] = {"our_domains=a.test", "smime_default_policy=sign",
                         "smime_recipient_policies=b.test=sign+encrypt-when-possible, "
                         "n.test=none, r.test=encrypt-required",
                         NULL};

    if (cfg_defaults(mssante_params, &err) < 0)
        return 1;
    for (size_t i = 0; set[i]; i++)
        ok(cfg_set(mssante_params, set[i], &err) == 0, "setting %s", set[i]);
    ok(policy_init(&err) == 0, "policies read");
    sender_key = EVP_RSA_gen(2048);
    rcpt_key = EVP_RSA_gen(2048);
    sender_cert = make_cert(sender_key, "dr.martin@a.test");
    rcpt_cert = make_cert(rcpt_key, "dr.durand@b.test");

    /* Policy none for the recipient's domain: the message goes as it is. */
    struct rcpt none = {.key = "x@n.test", .domain = "n.test", .policy = policy_for("a.test", "n.test")};
    protect("dr.martin@a.test", &none, 1, entity, test_signer, &r);
    ok(r.verdict == OUT_UNCHANGED, "policy none: unchanged");
    like(r.text, "policy none", "and the log says why");
    outbound_result_free(&r);

    /* Sign only: multipart/signed that OpenSSL verifies over our canonical entity. */
    struct rcpt sign = {.key = "x@c.test", .domain = "c.test", .policy = policy_for("a.test", "c.test")};
    protect("dr.martin@a.test", &sign, 1, entity, test_signer, &r);
    ok(r.verdict == OUT_REPLACE, "policy sign: the content is replaced");
    like(r.fields[1], "multipart/signed", "by a multipart/signed entity");
    in = as_message(&r);
    cms = SMIME_read_CMS(in, &cont);
    out = BIO_new(BIO_s_mem());
    ok(cms && cont && CMS_verify(cms, NULL, NULL, cont, out, CMS_NO_SIGNER_CERT_VERIFY) == 1,
       "OpenSSL verifies the signature");
    text = bio_text(out);
    is_str(text, entity, "over exactly the entity that was sent");
    free(text);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(cont);
    BIO_free(out);
    outbound_result_free(&r);

    /* Sign and encrypt: an envelope the recipient's key opens, holding the signed entity. */
    struct rcpt enc = {.key = "dr.durand@b.test",
                       .domain = "b.test",
                       .cert = rcpt_cert,
                       .policy = policy_for("a.test", "b.test")};
    protect("dr.martin@a.test", &enc, 1, entity, test_signer, &r);
    ok(r.verdict == OUT_REPLACE, "a recipient with a certificate: replaced");
    like(r.fields[1], "smime-type=enveloped-data", "by an enveloped-data entity");
    like(r.text, "signed and encrypted", "the log says signed and encrypted");
    in = as_message(&r);
    cms = SMIME_read_CMS(in, NULL);
    out = BIO_new(BIO_s_mem());
    ok(cms && CMS_decrypt(cms, rcpt_key, rcpt_cert, NULL, out, 0) == 1,
       "OpenSSL decrypts it with the recipient's key");
    text = bio_text(out);
    like(text, "Content-Type: multipart/signed", "inside: the signed entity");
    like(text, "Bonjour, docteur.", "and the text");
    free(text);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(out);
    outbound_result_free(&r);

    /* Already encrypted by the sender's software: left alone. */
    protect("dr.martin@a.test", &enc, 1,
            "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIAGCSqG\r\n",
            test_signer, &r);
    ok(r.verdict == OUT_UNCHANGED, "already encrypted: unchanged");
    outbound_result_free(&r);

    /* No certificate: a sender outside our domains is refused for good, ours retried. */
    protect("someone@evil.test", &sign, 1, entity, no_signer, &r);
    ok(r.verdict == OUT_FOREIGN, "a foreign sender without a certificate: refused for good");
    outbound_result_free(&r);
    protect("dr.martin@a.test", &sign, 1, entity, no_signer, &r);
    ok(r.verdict == OUT_TEMPFAIL, "our sender without a certificate: a temporary failure");
    like(r.text, "no signing certificate for dr.martin@a.test", "naming the sender");
    outbound_result_free(&r);

    /* encrypt-required with a recipient that has no certificate: never sent in clear. */
    struct rcpt req = {.key = "x@r.test", .domain = "r.test", .policy = policy_for("a.test", "r.test")};
    protect("dr.martin@a.test", &req, 1, entity, test_signer, &r);
    ok(r.verdict == OUT_TEMPFAIL, "encryption required but impossible: not sent");
    outbound_result_free(&r);

    X509_free(sender_cert);
    X509_free(rcpt_cert);
    EVP_PKEY_free(sender_key);
    EVP_PKEY_free(rcpt_key);
    return done_testing();
}
