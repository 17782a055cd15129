/*
 * certstore - milter-smime's certificates: the trust store (anchors and
 * CRLs, swapped whole on reload), and the smime_cert table through the
 * connection pool: our signing certificates and keys, the recipients'
 * encryption certificates, our keys for decryption, and the harvest of
 * verified signers. Parsed certificates and keys are cached.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "certstore.h"
#include "mfi.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgpool.h"
#include "strlist.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *store_current;

/* store_get - a new reference to the trust store in force */
X509_STORE *store_get(void)
{
    X509_STORE *s;

    pthread_mutex_lock(&store_lock);
    s = store_current;
    X509_STORE_up_ref(s);
    pthread_mutex_unlock(&store_lock);
    return s;
}

/* store_load - read the trust anchors and CRLs; a bad file keeps the old ones */
int store_load(char **err)
{
    X509_STORE *s = smime_store(var_smime_trust_anchors, var_smime_crl_files, err), *old;

    if (s == NULL)
        return -1;
    pthread_mutex_lock(&store_lock);
    old = store_current;
    store_current = s;
    pthread_mutex_unlock(&store_lock);
    X509_STORE_free(old);
    return 0;
}

/* store_reload - SIGUSR1: trust anchors and CRLs again; a bad file keeps the old ones */
void store_reload(void)
{
    char *err = NULL;

    if (store_load(&err) < 0) {
        msg_error("reload refused: %s; keeping the trust anchors and CRLs in force", err);
        free(err);
        return;
    }
    msg_info("trust anchors %s and CRLs reloaded", var_smime_trust_anchors);
}

/* ------------------------------------------------------------ parse caches */

/*
 * Parsing PEM costs more than signing a 100 KB message (OpenSSL 3's
 * decoders): certificates are kept parsed by their PEM text, keys by
 * their file's identity (a changed or re-permissioned file is read again,
 * so an unreadable key is noticed at once).
 */
#define CACHE_SIZE 64

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pem_entry {
    char *pem;
    STACK_OF(X509) * certs;
} pem_cache[CACHE_SIZE];
static struct key_entry {
    char *path;
    struct stat st;
    EVP_PKEY *key;
} key_cache[CACHE_SIZE];
static size_t pem_next, key_next;

/* certs_copy - a new stack holding new references to the same certificates */
static STACK_OF(X509) * certs_copy(STACK_OF(X509) * sk)
{
    STACK_OF(X509) *d = sk_X509_dup(sk);

    for (int i = 0; i < sk_X509_num(d); i++)
        X509_up_ref(sk_X509_value(d, i));
    return d;
}

/* certs_of - the certificates of a PEM text, parsed once and then kept */
static STACK_OF(X509) * certs_of(const char *pem, size_t len)
{
    STACK_OF(X509) *sk = NULL;
    struct pem_entry *e;

    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_SIZE && sk == NULL; i++)
        if (pem_cache[i].pem && strcmp(pem_cache[i].pem, pem) == 0)
            sk = certs_copy(pem_cache[i].certs);
    pthread_mutex_unlock(&cache_lock);
    if (sk || (sk = smime_certs_pem(pem, len)) == NULL)
        return sk;
    pthread_mutex_lock(&cache_lock);
    e = &pem_cache[pem_next++ % CACHE_SIZE];
    free(e->pem);
    smime_certs_free(e->certs);
    e->pem = xstrdup(pem);
    e->certs = certs_copy(sk);
    pthread_mutex_unlock(&cache_lock);
    return sk;
}
/* key_of - the private key of a file, read again when the file changes */
static EVP_PKEY *key_of(const char *path, char **err)
{
    struct stat st;
    EVP_PKEY *k = NULL;
    struct key_entry *e;

    if (stat(path, &st) < 0) {
        *err = xasprintf("private key %s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_SIZE && k == NULL; i++)
        if (key_cache[i].path && strcmp(key_cache[i].path, path) == 0 &&
            mfi_same_file(&key_cache[i].st, &st)) {
            k = key_cache[i].key;
            EVP_PKEY_up_ref(k);
        }
    pthread_mutex_unlock(&cache_lock);
    if (k || (k = smime_key_file(path, err)) == NULL)
        return k;
    pthread_mutex_lock(&cache_lock);
    e = &key_cache[key_next++ % CACHE_SIZE];
    free(e->path);
    EVP_PKEY_free(e->key);
    e->path = xstrdup(path);
    e->st = st;
    e->key = k;
    EVP_PKEY_up_ref(k);
    pthread_mutex_unlock(&cache_lock);
    return k;
}

/* ------------------------------------------------------------ the smime_cert table */

#define CERT_WHERE                                                                                           \
    "revoked_at IS NULL AND ((scope = 'address' AND owner = $1) OR (scope = 'domain' AND owner = $2))"
#define CERT_ORDER " ORDER BY scope = 'address' DESC, not_after DESC"
#define CERT_VALID " AND now() BETWEEN not_before AND not_after"

/* signer_load - our certificate and key for a sender; 1, 0 none, -1 error (*err) */
int signer_load(const char *key, const char *domain, struct smime_signer *s, char **err)
{
    const char *p[2] = {key, domain};
    PGresult *res = pgpool_query(
        "SELECT cert_pem, key_file FROM smime_cert WHERE usage = 'own' AND " CERT_WHERE CERT_VALID CERT_ORDER
        " LIMIT 1",
        2, p, err);
    STACK_OF(X509) * certs;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        rc = 0;
    } else if ((certs = certs_of(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0))) == NULL) {
        *err = xasprintf("the stored certificate of %s is not PEM", key);
    } else if ((s->key = key_of(PQgetvalue(res, 0, 1), err)) == NULL) {
        smime_certs_free(certs);
    } else {
        s->cert = sk_X509_shift(certs);
        s->chain = certs;
        if (X509_check_private_key(s->cert, s->key) != 1) {
            *err =
                xasprintf("private key %s does not match the certificate of %s", PQgetvalue(res, 0, 1), key);
            ERR_clear_error();
        } else {
            rc = 1;
        }
    }
    PQclear(res);
    return rc;
}

/* signer_free - what signer_load gave */
void signer_free(struct smime_signer *s)
{
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    smime_certs_free(s->chain);
    memset(s, 0, sizeof(*s));
}

/* peer_cert - a usable certificate of a recipient; 1, 0 none (*why), -1 error */
int peer_cert(const char *key, const char *domain, X509_STORE *store, X509 **out, char **why, char **err)
{
    const char *p[2] = {key, domain};
    PGresult *res = pgpool_query(
        "SELECT cert_pem FROM smime_cert WHERE usage = 'peer' AND " CERT_WHERE CERT_VALID CERT_ORDER, 2, p,
        err);
    int found = 0;

    *out = NULL;
    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res) && !found; i++) {
        STACK_OF(X509) *certs = certs_of(PQgetvalue(res, i, 0), (size_t) PQgetlength(res, i, 0));
        X509 *leaf = certs ? sk_X509_shift(certs) : NULL;

        free(*why);
        *why = NULL;
        if (leaf && smime_usable_for_encryption(leaf, certs, store, why)) {
            *out = leaf;
            found = 1;
        } else {
            X509_free(leaf);
        }
        smime_certs_free(certs);
    }
    if (!found && *why == NULL)
        *why = xstrdup("no certificate known");
    PQclear(res);
    return found;
}

/* harvest - keep a verified signer's certificate for later encryption */
void harvest(const char *qid, X509 *cert)
{
    struct smime_certinfo ci;
    char *pem, *err = NULL;

    if (!var_smime_harvest || cert == NULL || smime_certinfo(cert, &ci) < 0)
        return;
    pem = smime_x509_pem(cert, NULL);
    for (size_t i = 0; ci.emails[i]; i++) {
        const char *p[8] = {ci.emails[i], ci.fingerprint, ci.subject,   ci.issuer,
                            ci.serial,    ci.not_before,  ci.not_after, pem};
        PGresult *res = pgpool_query(
            "INSERT INTO smime_cert (usage, scope, owner, fingerprint, subject, issuer, serial, "
            "not_before, not_after, cert_pem, source) VALUES ('peer', 'address', $1, $2, $3, $4, "
            "$5, $6, $7, $8, 'harvested') ON CONFLICT (usage, owner, fingerprint) DO NOTHING",
            8, p, &err);

        if (res == NULL) {
            msg_warn("%s: cannot keep the certificate of %s: %s", qid, ci.emails[i], err);
            free(err);
            err = NULL;
        } else {
            if (strcmp(PQcmdTuples(res), "1") == 0)
                msg_info("%s: certificate of %s kept for encryption (%s)", qid, ci.emails[i], ci.fingerprint);
            PQclear(res);
        }
    }
    free(pem);
    smime_certinfo_free(&ci);
}

/*
 * decrypt - try our keys of every recipient (mailbox, then domain).
 * 0 decrypted into out, 1 not decryptable (f->reason), -1 internal error (*err).
 */
int decrypt(const struct owner *owners, size_t n, const unsigned char *der, size_t len, struct spool *out,
            struct finding *f, char **err)
{
    char **seen = xcalloc(1, sizeof(char *));
    size_t nseen = 0, seen_cap = 1;
    int rc = 1, tried = 0;

    for (size_t i = 0; i < n && rc == 1; i++) {
        const char *p[2] = {owners[i].key, owners[i].domain};
        PGresult *res = pgpool_query("SELECT cert_pem, key_file FROM smime_cert WHERE usage = 'own' "
                                     "AND " CERT_WHERE CERT_ORDER,
                                     2, p, err);

        if (res == NULL) {
            rc = -1;
            break;
        }
        for (int k = 0; k < PQntuples(res) && rc == 1; k++) {
            const char *pem = PQgetvalue(res, k, 0);
            STACK_OF(X509) * certs;
            EVP_PKEY *key;
            char *why = NULL;
            int r;

            if (strlist_has(seen, pem))
                continue;
            seen = strlist_push(seen, &nseen, &seen_cap, xstrdup(pem));
            if ((certs = certs_of(pem, strlen(pem))) == NULL)
                continue;
            if ((key = key_of(PQgetvalue(res, k, 1), err)) == NULL) {
                rc = -1; /* a key we should have: retry later */
            } else {
                tried++;
                r = smime_decrypt(der, len, sk_X509_value(certs, 0), key, out, &why);
                if (r == 0) {
                    rc = 0;
                } else if (r < 0 && out->failed) {
                    *err = why; /* our disk, not their message: retry */
                    why = NULL;
                    rc = -1;
                } else if (r < 0) {
                    f->reason = why;
                    why = NULL;
                    rc = 2;
                }
                free(why);
                EVP_PKEY_free(key);
            }
            smime_certs_free(certs);
        }
        PQclear(res);
    }
    strlist_free(seen);
    if (rc == 1)
        f->reason = xstrdup(tried ? "not encrypted for any of our keys of its recipients"
                                  : "no key of ours for its recipients");
    return rc == 2 ? 1 : rc;
}
