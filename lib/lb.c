/*
 * lb - loading and verifying the signed liste blanche.
 *
 * Trust rules, in order: the file is well-formed UTF-8 XML without a DTD
 * (no entity tricks); the root is ListeBlancheMSSante in its namespace;
 * it carries exactly one enveloped signature, a direct child of the root,
 * whose single reference is URI="" (the whole document) with only the
 * transforms and algorithms of the published format; the signature
 * verifies with the key of the certificate in KeyInfo; that certificate
 * chains to a configured trust anchor (an anchor may be an intermediate,
 * so the leaf is never pinned) at the verification time. Only then is the
 * content read, from the same tree that was verified.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/errors.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/crypto.h>
#include <xmlsec/openssl/x509.h>

#include "addr.h"
#include "lb.h"
#include "msg.h"
#include "mymalloc.h"

#define DSIG_NS     "http://www.w3.org/2000/09/xmldsig#"
#define LB_MAX_SIZE (64 * 1024 * 1024)

static pthread_once_t lb_once = PTHREAD_ONCE_INIT;

/*
 * xmlsec_error - xmlsec's own diagnostics go to the debug log: the caller
 * reports the reason that matters (bad signature, untrusted signer...).
 */
static void xmlsec_error(const char *file, int line, const char *func, const char *obj, const char *subj,
                         int reason, const char *msg)
{
    (void) file;
    (void) line;
    (void) subj;
    msg_debug("xmlsec: %s: %s: reason %d: %s", func ? func : "?", obj ? obj : "?", reason, msg ? msg : "");
}

/* lb_init_once - libxml2 and xmlsec global set-up */
static void lb_init_once(void)
{
    xmlInitParser();
    if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(NULL) < 0 ||
        xmlSecCryptoInit() < 0)
        msg_fatal("cannot initialise the xmlsec library");
    xmlSecErrorsSetCallback(xmlsec_error);
}

/* lb_init - libxml2 and xmlsec set up once per process */
void lb_init(void)
{
    pthread_once(&lb_once, lb_init_once);
}

/* hash - FNV-1a of a domain name */
static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
    return h;
}

/* slot_of - the slot of a name: its own, or the empty one it would take */
static size_t slot_of(struct lb_domain **slots, size_t nslots, const char *name)
{
    size_t i = (size_t) hash(name) & (nslots - 1);

    while (slots[i] && strcmp(slots[i]->name, name) != 0)
        i = (i + 1) & (nslots - 1);
    return i;
}

/* lb_lookup - find a domain */
const struct lb_domain *lb_lookup(const struct lb *lb, const char *domain)
{
    return lb->slots[slot_of(lb->slots, lb->nslots, domain)];
}

/* lb_match_cn - a listed operator whose certificate CN is cn */
const struct lb_operator *lb_match_cn(const struct lb_domain *d, const char *cn)
{
    char *key;
    const struct lb_operator *hit = NULL;

    if (d == NULL || cn == NULL || *cn == 0)
        return NULL;
    key = dn_value_fold(cn);
    for (size_t i = 0; hit == NULL && i < d->n; i++)
        if (d->op[i].cn_key && strcmp(d->op[i].cn_key, key) == 0)
            hit = d->op + i;
    free(key);
    return hit;
}

/* lb_match_dn - a listed operator whose DN equals dn */
const struct lb_operator *lb_match_dn(const struct lb_domain *d, const struct dn *dn)
{
    for (size_t i = 0; d && i < d->n; i++)
        if (dn_equal(d->op[i].dn, dn))
            return d->op + i;
    return NULL;
}

/* bycn_cmp - qsort/bsearch order of operators by folded CN */
static int bycn_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct lb_operator *const *) a)->cn_key,
                  (*(const struct lb_operator *const *) b)->cn_key);
}

/* lb_find_cn - binary search of the CN index */
const struct lb_operator *lb_find_cn(const struct lb *lb, const char *cn)
{
    struct lb_operator key = {0};
    const struct lb_operator *kp = &key, **hit;

    if (cn == NULL || *cn == 0 || lb->nbycn == 0)
        return NULL;
    key.cn_key = dn_value_fold(cn);
    hit = bsearch(&kp, lb->bycn, lb->nbycn, sizeof(*lb->bycn), bycn_cmp);
    free(key.cn_key);
    return hit ? *hit : NULL;
}

/* index_cn - build the CN index of every operator that has a CN */
static void index_cn(struct lb *lb)
{
    size_t cap = 0;

    for (size_t i = 0; i < lb->nslots; i++) {
        const struct lb_domain *d = lb->slots[i];

        for (size_t j = 0; d && j < d->n; j++) {
            if (d->op[j].cn_key == NULL)
                continue;
            lb->bycn = xgrow(lb->bycn, &cap, lb->nbycn + 1, sizeof(*lb->bycn));
            lb->bycn[lb->nbycn++] = d->op + j;
        }
    }
    if (lb->nbycn > 0) /* no operator with a CN: no array at all */
        qsort(lb->bycn, lb->nbycn, sizeof(*lb->bycn), bycn_cmp);
}

/* lb_free - release a list */
void lb_free(struct lb *lb)
{
    if (lb == NULL)
        return;
    for (size_t i = 0; i < lb->nslots; i++) {
        struct lb_domain *d = lb->slots[i];

        if (d == NULL)
            continue;
        for (size_t j = 0; j < d->n; j++) {
            free(d->op[j].text);
            dn_free(d->op[j].dn);
            free(d->op[j].cn_key);
        }
        free(d->op);
        free(d->name);
        free(d);
    }
    for (size_t i = 0; i < lb->nwarnings; i++)
        free(lb->warnings[i]);
    free(lb->warnings);
    free(lb->bycn);
    free(lb->slots);
    free(lb->path);
    free(lb->generated);
    free(lb->signer.subject);
    free(lb->signer.issuer);
    free(lb->signer.not_after);
    free(lb);
}

/* read_all - a whole file, bounded in size */
static char *read_all(const char *path, size_t max, size_t *len, char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    size_t got = 0;

    if (fd < 0) {
        *err = xasprintf("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *err = xasprintf("%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((size_t) st.st_size > max) {
        *err = xasprintf("%s: file of %lld bytes is larger than the %zu allowed", path,
                         (long long) st.st_size, max);
        close(fd);
        return NULL;
    }
    buf = xmalloc((size_t) st.st_size + 1);
    while (got < (size_t) st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);

        if (n <= 0) {
            *err = xasprintf("%s: read error: %s", path, n < 0 ? strerror(errno) : "short read");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t) n;
    }
    close(fd);
    buf[got] = 0;
    *len = got;
    return buf;
}

/* asn1_time - text of an ASN.1 time */
static char *asn1_time(const ASN1_TIME *t)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    ASN1_TIME_print(b, t);
    n = BIO_get_mem_data(b, &data);
    out = xstrndup(data, (size_t) n);
    BIO_free(b);
    return out;
}

/*
 * verify_chain - the signer certificate must chain to a trust anchor.
 * PARTIAL_CHAIN lets the sysadmin anchor on the IGC-Santé issuing CA
 * without its root, as "openssl verify -partial_chain" does.
 */
static int verify_chain(X509 *signer, STACK_OF(X509) * untrusted, const struct lb_options *opt, char **err)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ret = -1;

    if (store == NULL || ctx == NULL)
        msg_fatal("out of memory in OpenSSL");
    if (opt->trust_anchors == NULL || *opt->trust_anchors == 0) {
        *err = xstrdup("no trust anchors configured (--trust-anchors or whitelist_trust_anchors)");
        goto out;
    }
    if (access(opt->trust_anchors, R_OK) != 0) {
        *err = xasprintf("cannot read the trust anchors %s: %s", opt->trust_anchors, strerror(errno));
        goto out;
    }
    if (X509_STORE_load_file(store, opt->trust_anchors) != 1) {
        *err = xasprintf("%s: cannot load trust anchors (PEM certificates expected)", opt->trust_anchors);
        goto out;
    }
    if (X509_STORE_CTX_init(ctx, store, signer, untrusted) != 1)
        msg_fatal("X509_STORE_CTX_init failed");
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
    if (opt->verify_time)
        X509_STORE_CTX_set_time(ctx, 0, opt->verify_time);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);

        *err = xasprintf("signer certificate not trusted: %s%s", X509_verify_cert_error_string(e),
                         e == X509_V_ERR_CERT_HAS_EXPIRED ? " (the signer's certificate has expired)" : "");
        goto out;
    }
    if ((X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE) == 0) {
        *err = xstrdup("signer certificate not trusted: its key usage does not allow signatures");
        goto out;
    }
    ret = 0;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return ret;
}

/* is_elem - whether a node is an element of a namespace with a name */
static int is_elem(xmlNodePtr n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *) n->ns->href, ns) == 0 && strcmp((const char *) n->name, name) == 0;
}

/* verify_signature - the checks described at the top of this file */
static int verify_signature(struct lb *lb, xmlDocPtr doc, xmlNodePtr root, const struct lb_options *opt,
                            char **err)
{
    xmlNodePtr sig = NULL;
    int nsig = 0, ret = -1;
    xmlSecKeysMngrPtr mngr = NULL;
    xmlSecDSigCtxPtr ctx = NULL;
    xmlSecKeyDataPtr x509;
    X509 *signer;
    STACK_OF(X509) *chain = NULL;

    (void) doc;
    for (xmlNodePtr n = root->children; n; n = n->next)
        if (is_elem(n, DSIG_NS, "Signature")) {
            sig = n;
            nsig++;
        }
    if (nsig == 0) {
        *err = xstrdup("no signature: the list has no <Signature> element under its root");
        return -1;
    }
    if (nsig > 1) {
        *err = xstrdup("more than one <Signature> element under the root");
        return -1;
    }
    if ((mngr = xmlSecKeysMngrCreate()) == NULL || xmlSecCryptoAppDefaultKeysMngrInit(mngr) < 0)
        msg_fatal("cannot create an xmlsec keys manager");
    if ((ctx = xmlSecDSigCtxCreate(mngr)) == NULL)
        msg_fatal("cannot create an xmlsec signature context");

    /* We verify the chain ourselves (partial chains, our clock). */
    ctx->keyInfoReadCtx.flags |= XMLSEC_KEYINFO_FLAGS_X509DATA_DONT_VERIFY_CERTS;
    /* Only the signer's certificate may supply the key, never a bare KeyValue. */
    if (xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, (xmlSecPtr) (uintptr_t) xmlSecKeyDataX509Id) <
        0)
        msg_fatal("xmlsec: cannot restrict key data");
    /* The whole document, and only the algorithms of the published format. */
    ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
    if (xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha384Id) < 0 ||
        xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformExclC14NId) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha256Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha384Id) < 0 ||
        xmlSecDSigCtxEnableSignatureTransform(ctx, xmlSecTransformRsaSha512Id) < 0)
        msg_fatal("xmlsec: cannot restrict transforms");

    if (xmlSecDSigCtxVerify(ctx, sig) < 0) {
        *err = xstrdup("signature could not be processed (unsupported algorithm or "
                       "reference, no usable certificate in KeyInfo, or a malformed "
                       "<Signature>)");
        goto out;
    }
    if (ctx->status != xmlSecDSigStatusSucceeded) {
        *err = xstrdup("bad signature: the content was changed after signing, or the "
                       "signature was not made with the certificate it carries");
        goto out;
    }
    if (xmlSecPtrListGetSize(&ctx->signedInfoReferences) != 1) {
        *err = xstrdup("the signature must have exactly one reference, to the whole list");
        goto out;
    }
    if (ctx->signKey == NULL || (x509 = xmlSecKeyGetData(ctx->signKey, xmlSecOpenSSLKeyDataX509Id)) == NULL ||
        (signer = xmlSecOpenSSLKeyDataX509GetKeyCert(x509)) == NULL) {
        *err = xstrdup("the signature key does not come from a certificate");
        goto out;
    }
    chain = sk_X509_new_null();
    for (xmlSecSize i = 0; i < xmlSecOpenSSLKeyDataX509GetCertsSize(x509); i++)
        sk_X509_push(chain, xmlSecOpenSSLKeyDataX509GetCert(x509, i));
    if (verify_chain(signer, chain, opt, err) < 0)
        goto out;
    lb->signer.subject = dn_x509_text(X509_get_subject_name(signer));
    lb->signer.issuer = dn_x509_text(X509_get_issuer_name(signer));
    lb->signer.not_after = asn1_time(X509_get0_notAfter(signer));
    ret = 0;
out:
    sk_X509_free(chain);
    xmlSecDSigCtxDestroy(ctx);
    xmlSecKeysMngrDestroy(mngr);
    ERR_clear_error();
    return ret;
}

/* child_text - the text of the first child element with a name, or NULL */
static char *child_text(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr n = parent->children; n; n = n->next) {
        if (is_elem(n, LB_NAMESPACE, name)) {
            xmlChar *c = xmlNodeGetContent(n);
            char *s, *b, *e;

            if (c == NULL)
                return NULL;
            for (b = (char *) c; *b == ' ' || *b == '\t' || *b == '\n' || *b == '\r'; b++)
                /* void */;
            e = b + strlen(b);
            while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
                e--;
            s = xstrndup(b, (size_t) (e - b));
            xmlFree(c);
            return s;
        }
    }
    return NULL;
}

/* warn - keep a line about a skipped entry */
static void warn(struct lb *lb, xmlNodePtr n, const char *fmt, const char *a, const char *b)
{
    char *what = xasprintf(fmt, a, b);

    lb->warnings = xgrow(lb->warnings, &lb->warnings_cap, lb->nwarnings + 1, sizeof(char *));
    lb->warnings[lb->nwarnings++] = xasprintf("%s:%ld: %s", lb->path, xmlGetLineNo(n), what);
    free(what);
    lb->rejected++;
}

/* add_entry - one (domain, operator DN) pair */
static void add_entry(struct lb *lb, xmlNodePtr node, const char *name, const char *dntext)
{
    const char *why;
    char *canon = domain_canon(name, &why);
    struct dn *dn;
    struct lb_domain *d;
    size_t slot;

    if (canon == NULL) {
        warn(lb, node, "entry skipped: domain \"%s\": %s", name, why);
        return;
    }
    if ((dn = dn_parse(dntext, &why)) == NULL) {
        warn(lb, node, "entry skipped: operator DN \"%s\": %s", dntext, why);
        free(canon);
        return;
    }
    slot = slot_of(lb->slots, lb->nslots, canon);
    if ((d = lb->slots[slot]) == NULL) {
        /* Keep the table at most half full, so probes stay short. */
        if (2 * (lb->ndomains + 1) > lb->nslots) {
            struct lb_domain **old = lb->slots;
            size_t oldn = lb->nslots;

            lb->nslots *= 2;
            lb->slots = xcalloc(lb->nslots, sizeof(*lb->slots));
            for (size_t i = 0; i < oldn; i++)
                if (old[i])
                    lb->slots[slot_of(lb->slots, lb->nslots, old[i]->name)] = old[i];
            free(old);
            slot = slot_of(lb->slots, lb->nslots, canon);
        }
        d = lb->slots[slot] = xcalloc(1, sizeof(*d));
        d->name = canon;
        canon = NULL;
        lb->ndomains++;
    }
    free(canon);
    for (size_t i = 0; i < d->n; i++) {
        if (dn_equal(d->op[i].dn, dn)) { /* listed twice: once is enough */
            dn_free(dn);
            return;
        }
    }
    d->op = xgrow(d->op, &d->cap, d->n + 1, sizeof(*d->op));
    d->op[d->n].text = xstrdup(dntext);
    d->op[d->n].dn = dn;
    d->op[d->n].cn_key = dn_get(dn, "CN") ? dn_value_fold(dn_get(dn, "CN")) : NULL;
    d->n++;
}

/* count_operators - distinct DNs over the whole list */
static size_t count_operators(const struct lb *lb)
{
    const struct dn **seen = NULL;
    size_t n = 0, cap = 0;

    for (size_t i = 0; i < lb->nslots; i++) {
        const struct lb_domain *d = lb->slots[i];

        for (size_t j = 0; d && j < d->n; j++) {
            size_t k;

            /* Few hundred distinct DNs: a linear scan is fast enough here. */
            for (k = 0; k < n && !dn_equal(seen[k], d->op[j].dn); k++)
                /* void */;
            if (k == n) {
                seen = xgrow(seen, &cap, n + 1, sizeof(*seen));
                seen[n++] = d->op[j].dn;
            }
        }
    }
    free(seen);
    return n;
}

/* lb_load - read, verify, then index a list */
struct lb *lb_load(const char *path, const struct lb_options *opt, char **err)
{
    struct lb *lb = NULL;
    size_t len;
    char *buf;
    xmlParserCtxtPtr pctx;
    xmlDocPtr doc = NULL;
    xmlNodePtr root, domains = NULL;

    lb_init();
    if ((buf = read_all(path, opt->max_size ? opt->max_size : LB_MAX_SIZE, &len, err)) == NULL)
        return NULL;
    if (len == 0) {
        *err = xasprintf("%s: empty file", path);
        free(buf);
        return NULL;
    }
    if ((pctx = xmlNewParserCtxt()) == NULL)
        msg_fatal("out of memory creating an XML parser");
    doc = xmlCtxtReadMemory(pctx, buf, (int) len, path, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(buf);
    if (doc == NULL || !pctx->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(pctx);

        *err = xasprintf("%s:%d: not a well-formed XML file (truncated or not UTF-8?): %s", path,
                         e ? e->line : 0, e && e->message ? e->message : "parse error");
        for (char *p = *err + strlen(*err); p > *err && (p[-1] == '\n'); p--)
            p[-1] = 0;
        goto fail;
    }
    if (doc->intSubset != NULL || doc->extSubset != NULL) {
        *err = xasprintf("%s: a DTD is not allowed in the liste blanche", path);
        goto fail;
    }
    root = xmlDocGetRootElement(doc);
    if (root == NULL || !is_elem(root, LB_NAMESPACE, "ListeBlancheMSSante")) {
        *err =
            xasprintf("%s: the root element is not ListeBlancheMSSante in namespace %s", path, LB_NAMESPACE);
        goto fail;
    }
    lb = xcalloc(1, sizeof(*lb));
    lb->path = xstrdup(path);
    lb->nslots = 8192;
    lb->slots = xcalloc(lb->nslots, sizeof(*lb->slots));
    if (verify_signature(lb, doc, root, opt, err) < 0) {
        char *e = xasprintf("%s: %s", path, *err);

        free(*err);
        *err = e;
        goto fail;
    }

    /* The tree is the one that verified: now its content can be read. */
    lb->generated = child_text(root, "DateDeGeneration");
    for (xmlNodePtr n = root->children; n; n = n->next)
        if (is_elem(n, LB_NAMESPACE, "ListeDomaines"))
            domains = n;
    for (xmlNodePtr n = domains ? domains->children : NULL; n; n = n->next) {
        char *name, *dntext;

        if (!is_elem(n, LB_NAMESPACE, "Domaine"))
            continue;
        lb->entries++;
        name = child_text(n, "Nom");
        dntext = child_text(n, "DNCertificatOperateur");
        if (name == NULL || *name == 0)
            warn(lb, n, "entry skipped: %s%s", "no <Nom>", "");
        else if (dntext == NULL || *dntext == 0)
            warn(lb, n, "entry skipped: domain \"%s\"%s has no <DNCertificatOperateur>", name, "");
        else
            add_entry(lb, n, name, dntext);
        free(name);
        free(dntext);
    }
    if (lb->ndomains == 0) {
        *err = xasprintf("%s: the list holds no usable domain (%zu entries)", path, lb->entries);
        goto fail;
    }
    lb->noperators = count_operators(lb);
    index_cn(lb);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(pctx);
    return lb;

fail:
    lb_free(lb);
    if (doc)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(pctx);
    return NULL;
}
