/*
 * lb - the liste blanche as liste-blanche and milter-whitelist load it.
 *
 * The first byte picks the path: even, the input is the file (the XML
 * parser and the signature checks, which refuse it unless it was signed
 * by a trusted key); odd, the rest is first signed with the test key so
 * that the loader goes on to read the entries. Every domain loaded must
 * then be found again, and each of its operators by its name.
 */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <openssl/pem.h>
#include <xmlsec/crypto.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>

#include "fuzz.h"
#include "lb.h"
#include "msg.h"

static xmlSecKeyPtr sign_key;
static struct lb_options opt;

/* init - a signing certificate and anchors */
static void init(void)
{
    X509 *ca, *cert;
    EVP_PKEY *key;
    BIO *k = BIO_new(BIO_s_mem()), *c = BIO_new(BIO_s_mem());
    char *kp, *cp;
    long kn, cn;

    lb_init();
    fuzz_pki(&ca, &cert, &key, &opt.trust_anchors);
    if (!PEM_write_bio_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(c, cert))
        msg_fatal("cannot write the test key");
    kn = BIO_get_mem_data(k, &kp);
    cn = BIO_get_mem_data(c, &cp);
    sign_key = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *) kp, (xmlSecSize) kn, xmlSecKeyDataFormatPem,
                                            NULL, NULL, NULL);
    if (sign_key == NULL || xmlSecCryptoAppKeyCertLoadMemory(sign_key, (const xmlSecByte *) cp,
                                                             (xmlSecSize) cn, xmlSecKeyDataFormatPem) < 0)
        msg_fatal("xmlsec: cannot load the test key");
    BIO_free(k);
    BIO_free(c);
}

/* sign - the document with an enveloped signature, as text; NULL if xmlsec cannot */
static xmlChar *sign(const uint8_t *data, size_t size, int *len)
{
    xmlDocPtr doc = xmlReadMemory((const char *) data, (int) size, "fuzz", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, sig, ref, ki;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlChar *out = NULL;

    if (root == NULL || size > 1 << 20)
        goto done;
    sig = xmlSecTmplSignatureCreate(doc, xmlSecTransformExclC14NId, xmlSecTransformRsaSha256Id, NULL);
    xmlAddChild(root, sig);
    ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL, BAD_CAST "", NULL);
    if (ref == NULL || xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == NULL ||
        xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == NULL ||
        (ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL)) == NULL ||
        xmlSecTmplKeyInfoAddX509Data(ki) == NULL || (ctx = xmlSecDSigCtxCreate(NULL)) == NULL ||
        (ctx->signKey = xmlSecKeyDuplicate(sign_key)) == NULL || xmlSecDSigCtxSign(ctx, sig) < 0)
        goto done;
    xmlDocDumpMemory(doc, &out, len);
done:
    if (ctx)
        xmlSecDSigCtxDestroy(ctx);
    xmlFreeDoc(doc);
    return out;
}

/* check - the properties of a loaded list */
static void check(const struct lb *lb)
{
    fuzz_check(lb->ndomains > 0);
    for (size_t i = 0; i < lb->nslots; i++) {
        const struct lb_domain *d = lb->slots[i];

        if (d == NULL)
            continue;
        fuzz_check(lb_lookup(lb, d->name) == d);
        for (size_t k = 0; k < d->n; k++) {
            fuzz_check(lb_match_dn(d, d->op[k].dn) != NULL);
            if (d->op[k].cn_key && *d->op[k].cn_key) {
                fuzz_check(lb_match_cn(d, d->op[k].cn_key) != NULL);
                fuzz_check(lb_find_cn(lb, d->op[k].cn_key) != NULL);
            }
        }
    }
}

/* LLVMFuzzerTestOneInput - signed lists: load, verify, lookups */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lb *lb;
    char *err = NULL;
    xmlChar *signed_doc = NULL;
    int len;

    if (sign_key == NULL)
        init();
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        if ((signed_doc = sign(data + 1, size - 1, &len)) == NULL)
            return 0;
        lb = lb_load(fuzz_file(signed_doc, (size_t) len), &opt, &err);
        xmlFree(signed_doc);
    } else {
        lb = lb_load(fuzz_file(data + 1, size - 1), &opt, &err);
    }
    if (lb != NULL) {
        check(lb);
        lb_free(lb);
    } else {
        fuzz_check(err != NULL);
    }
    free(err);
    return 0;
}
