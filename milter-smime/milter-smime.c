/*
 * milter-smime - S/MIME for the mail of an MSSanté operator.
 *
 * Outbound (our users' mail, told apart as milter-whitelist does): sign
 * with the sender's certificate (the mailbox's, else its domain's), then,
 * when the policy asks and every recipient has a usable certificate,
 * encrypt once for all of them. encrypt-required refuses at RCPT a
 * recipient that cannot be encrypted to.
 *
 * Inbound (everything else): decrypt with our key for a recipient
 * mailbox or domain, verify signatures against the trust anchors, and
 * say what was found in X-MSSante-SMIME (copies from outside removed).
 * Mail we cannot decrypt is delivered as it came, with the reason.
 *
 * Never: send in clear what the policy says to encrypt, or accept mail
 * because of an internal error (database, key file, OpenSSL: 451).
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "addr.h"
#include "inbound.h"
#include "mfi.h"
#include "milter_skel.h"
#include "milter_test.h"
#include "mime.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgpool.h"
#include "smime.h"
#include "strlist.h"

#define SMIME_HEADER "X-MSSante-SMIME"
#define BODY_CHUNK 65535                /* libmilter's largest body chunk */

/* ------------------------------------------------------------ policy */

enum policy { POL_NONE, POL_SIGN, POL_WHEN_POSSIBLE, POL_REQUIRED };

static const char *const policy_names[] = {
    "none", "sign", "sign+encrypt-when-possible", "encrypt-required",
};

struct policy_item {
    char   *domain;
    enum policy policy;
};

static enum policy default_policy;
static struct policy_item *sender_policies, *rcpt_policies;
static char **our_domains;
static char **outbound_daemons;
static char **exempt_senders;           /* address keys, whitelist_local_exempt_senders */

static int policy_parse(const char *s, enum policy *p)
{
    for (size_t i = 0; i < sizeof(policy_names) / sizeof(*policy_names); i++)
        if (strcasecmp(s, policy_names[i]) == 0) {
            *p = (enum policy) i;
            return 0;
        }
    return -1;
}

/* policy_list - "domain=policy, ..." of a key; NULL and *err on a bad item */
static struct policy_item *policy_list(const char *key, const char *value, char **err)
{
    char  **items = strlist_split(value, ",");
    struct policy_item *list = xcalloc(1, sizeof(*list));
    size_t  n = 0;

    for (size_t i = 0; items[i]; i++) {
        char   *eq = strchr(items[i], '='), *d = NULL, *end;
        const char *why = "missing \"=\"";
        enum policy p;

        if (eq) {
            for (*eq = 0, end = eq; end > items[i] && (end[-1] == ' ' || end[-1] == '\t');)
                *--end = 0;
            d = domain_canon(items[i], &why);
        }
        if (d == NULL) {
            *err = xasprintf("key \"%s\": item \"%s\": %s", key, items[i], why);
            goto fail;
        }
        if (policy_parse(eq + 1 + strspn(eq + 1, " \t"), &p) < 0) {
            *err = xasprintf("key \"%s\": domain %s: unknown policy \"%s\" (none, sign, "
                             "sign+encrypt-when-possible, encrypt-required)", key, d, eq + 1);
            free(d);
            goto fail;
        }
        list = xrealloc(list, (n + 2) * sizeof(*list));
        list[n].domain = d;
        list[n].policy = p;
        list[++n].domain = NULL;
    }
    strlist_free(items);
    return list;
fail:
    strlist_free(items);
    for (size_t i = 0; i < n; i++)
        free(list[i].domain);
    free(list);
    return NULL;
}

static const struct policy_item *policy_find(const struct policy_item *l, const char *domain)
{
    for (; domain && l->domain; l++)
        if (strcmp(l->domain, domain) == 0)
            return l;
    return NULL;
}

/*
 * policy_for - the recipient domain's entry, else the sender domain's,
 * else the default; encrypt-required from the sender side is never lowered.
 */
static enum policy policy_for(const char *sender_domain, const char *rcpt_domain)
{
    const struct policy_item *s = policy_find(sender_policies, sender_domain);
    const struct policy_item *r = policy_find(rcpt_policies, rcpt_domain);

    if (s && s->policy == POL_REQUIRED)
        return POL_REQUIRED;
    return r ? r->policy : s ? s->policy : default_policy;
}

/* ------------------------------------------------------------ trust store */

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *store_current;

static X509_STORE *store_get(void)
{
    X509_STORE *s;

    pthread_mutex_lock(&store_lock);
    s = store_current;
    X509_STORE_up_ref(s);
    pthread_mutex_unlock(&store_lock);
    return s;
}

static int store_load(char **err)
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

/* sm_reload - SIGUSR1: trust anchors and CRLs again; a bad file keeps the old ones */
static void sm_reload(void)
{
    char   *err = NULL;

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
    char   *pem;
    STACK_OF(X509) *certs;
} pem_cache[CACHE_SIZE];
static struct key_entry {
    char   *path;
    struct stat st;
    EVP_PKEY *key;
} key_cache[CACHE_SIZE];
static size_t pem_next, key_next;

/* certs_copy - a new stack holding new references to the same certificates */
static STACK_OF(X509) *certs_copy(STACK_OF(X509) *sk)
{
    STACK_OF(X509) *d = sk_X509_dup(sk);

    for (int i = 0; i < sk_X509_num(d); i++)
        X509_up_ref(sk_X509_value(d, i));
    return d;
}

static STACK_OF(X509) *certs_of(const char *pem, size_t len)
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
        if (key_cache[i].path && strcmp(key_cache[i].path, path) == 0
            && mfi_same_file(&key_cache[i].st, &st)) {
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

/* ------------------------------------------------------------ certificate store */

#define CERT_WHERE \
    "revoked_at IS NULL AND ((scope = 'address' AND owner = $1) OR (scope = 'domain' AND owner = $2))"
#define CERT_ORDER " ORDER BY scope = 'address' DESC, not_after DESC"
#define CERT_VALID " AND now() BETWEEN not_before AND not_after"

/* signer_load - our certificate and key for a sender; 1, 0 none, -1 error (*err) */
static int signer_load(const char *key, const char *domain, struct smime_signer *s, char **err)
{
    const char *p[2] = {key, domain};
    PGresult *res = pgpool_query("SELECT cert_pem, key_file FROM smime_cert WHERE usage = 'own' AND "
                                 CERT_WHERE CERT_VALID CERT_ORDER " LIMIT 1", 2, p, err);
    STACK_OF(X509) *certs;
    int     rc = -1;

    memset(s, 0, sizeof(*s));
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        rc = 0;
    } else if ((certs = certs_of(PQgetvalue(res, 0, 0),
                                  (size_t) PQgetlength(res, 0, 0))) == NULL) {
        *err = xasprintf("the stored certificate of %s is not PEM", key);
    } else if ((s->key = key_of(PQgetvalue(res, 0, 1), err)) == NULL) {
        smime_certs_free(certs);
    } else {
        s->cert = sk_X509_shift(certs);
        s->chain = certs;
        if (X509_check_private_key(s->cert, s->key) != 1) {
            *err = xasprintf("private key %s does not match the certificate of %s",
                             PQgetvalue(res, 0, 1), key);
            ERR_clear_error();
        } else {
            rc = 1;
        }
    }
    PQclear(res);
    return rc;
}

static void signer_free(struct smime_signer *s)
{
    X509_free(s->cert);
    EVP_PKEY_free(s->key);
    smime_certs_free(s->chain);
    memset(s, 0, sizeof(*s));
}

/* peer_cert - a usable certificate of a recipient; 1, 0 none (*why), -1 error */
static int peer_cert(const char *key, const char *domain, X509_STORE *store, X509 **out,
                     char **why, char **err)
{
    const char *p[2] = {key, domain};
    PGresult *res = pgpool_query("SELECT cert_pem FROM smime_cert WHERE usage = 'peer' AND "
                                 CERT_WHERE CERT_VALID CERT_ORDER, 2, p, err);
    int     found = 0;

    *out = NULL;
    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res) && !found; i++) {
        STACK_OF(X509) *certs = certs_of(PQgetvalue(res, i, 0), (size_t) PQgetlength(res, i, 0));
        X509   *leaf = certs ? sk_X509_shift(certs) : NULL;

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

/* ------------------------------------------------------------ per connection */

struct rcpt {
    char   *key;
    char   *domain;
    int     local;
    enum policy policy;
    X509   *cert;
};

struct field {
    char   *name;
    char   *value;
};

struct sm_conn {
    int     local;              /* non-SMTP submission */
    /* per message */
    int     outbound;
    char   *sender_key;         /* NULL: null or unparsable sender */
    char   *sender_domain;
    struct rcpt *rcpts;
    size_t  nrcpt;
    int     any_required, any_missing, any_local;
    char   *refused;            /* non-SMTP: refusals, for the bounce */
    struct field *content;      /* Content-* fields, in order */
    size_t  ncontent;
    int     mime_version;
    int     forged;             /* X-MSSante-SMIME fields from outside */
    int     eoh_done;
    struct spool entity;        /* Content-* fields, blank line, body */
};

static void reset_message(struct sm_conn *c)
{
    free(c->sender_key);
    free(c->sender_domain);
    for (size_t i = 0; i < c->nrcpt; i++) {
        free(c->rcpts[i].key);
        free(c->rcpts[i].domain);
        X509_free(c->rcpts[i].cert);
    }
    free(c->rcpts);
    for (size_t i = 0; i < c->ncontent; i++) {
        free(c->content[i].name);
        free(c->content[i].value);
    }
    free(c->content);
    free(c->refused);
    spool_free(&c->entity);
    memset(&c->outbound, 0, sizeof(*c) - offsetof(struct sm_conn, outbound));
    spool_init(&c->entity, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
}

static sfsistat tempfail(SMFICTX *ctx, const char *why)
{
    msg_error("%s: temporary failure: %s", mfi_qid(ctx), why);
    return mfi_reply(ctx, SMFIS_TEMPFAIL, "451", "4.7.0",
                     "Erreur temporaire du filtre S/MIME MSSante, reessayez plus tard",
                     "Temporary MSSante S/MIME filter error, try again later");
}

static sfsistat sm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL)
            return SMFIS_TEMPFAIL;
        mfi_setpriv(ctx, c);
    }
    c->local = mfi_is_local(host, sa);
    spool_init(&c->entity, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    return SMFIS_CONTINUE;
}

/*
 * foreign_signer - whether our user's mail from this sender needs a
 * signature no certificate can ever give: the sender's domain is not one
 * of ours (nor an exempt sender), and the policy signs it whatever the
 * recipients (no recipient entry lowers it to none).
 */
static int foreign_signer(const struct sm_conn *c)
{
    if (c->sender_domain == NULL || strlist_has(our_domains, c->sender_domain)
        || (c->local && strlist_has(exempt_senders, c->sender_key))
        || policy_for(c->sender_domain, NULL) == POL_NONE)
        return 0;
    for (const struct policy_item *r = rcpt_policies; r->domain; r++)
        if (r->policy == POL_NONE)
            return 0;
    return 1;
}

/* refuse_foreign - the permanent answer to foreign_signer's case */
static sfsistat refuse_foreign(SMFICTX *ctx, const struct sm_conn *c, const char *when)
{
    msg_info("%s: reject: %s: sender %s is not in one of our domains: no signing certificate "
             "can exist", mfi_qid(ctx), when, c->sender_key);
    return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1",
                     "Expediteur hors de nos domaines : aucun certificat de signature possible",
                     "Sender not in our domains: no signing certificate can exist");
}

static sfsistat sm_envfrom(SMFICTX *ctx, char **argv)
{
    struct sm_conn *c = mfi_getpriv(ctx);
    struct addr a;
    const char *why;

    if (c == NULL)
        return tempfail(ctx, "no connection state");
    reset_message(c);
    c->outbound = mfi_is_outbound(ctx, c->local, outbound_daemons);
    if (argv[0] && addr_parse(argv[0], &a, &why) == 0) {
        c->sender_key = xstrdup(a.key);
        c->sender_domain = xstrdup(a.domain);
        addr_free(&a);
    }
    if (c->outbound && foreign_signer(c))
        return refuse_foreign(ctx, c, "MAIL FROM");
    return SMFIS_CONTINUE;
}

/* refuse - 550 for one recipient, or remembered for end of message (non-SMTP) */
static sfsistat refuse(SMFICTX *ctx, struct sm_conn *c, const char *rcpt, const char *fr,
                       const char *en)
{
    char   *shown = mfi_reply_text(rcpt), *f, *e;
    sfsistat st;

    msg_info("%s: reject: RCPT %s: %s", mfi_qid(ctx), shown, en);
    if (c->local) {
        char   *more = c->refused ? xasprintf("%s, %s (%s)", c->refused, shown, en)
            : xasprintf("%s (%s)", shown, en);

        free(c->refused);
        c->refused = more;
        free(shown);
        return SMFIS_CONTINUE;
    }
    f = xasprintf("%s: %s", shown, fr);
    e = xasprintf("%s: %s", shown, en);
    st = mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1", f, e);
    free(f);
    free(e);
    free(shown);
    return st;
}

static sfsistat sm_envrcpt(SMFICTX *ctx, char **argv)
{
    struct sm_conn *c = mfi_getpriv(ctx);
    struct rcpt r = {0};
    struct addr a;
    const char *why;
    char   *nocert = NULL, *err = NULL;
    X509_STORE *store;
    int     found;

    if (c == NULL)
        return tempfail(ctx, "RCPT without a transaction");
    if (addr_parse(argv[0], &a, &why) < 0) {
        /* Postfix decides; outbound, nothing can be encrypted to this one. */
        if (c->outbound && c->any_required)
            return refuse(ctx, c, argv[0], "chiffrement S/MIME exige mais adresse illisible",
                          "S/MIME encryption required but the address cannot be read");
        c->any_missing |= c->outbound;
        return SMFIS_CONTINUE;
    }
    r.key = xstrdup(a.key);
    r.domain = xstrdup(a.domain);
    addr_free(&a);
    if (c->outbound) {
        r.local = strlist_has(our_domains, r.domain);
        r.policy = policy_for(c->sender_domain, r.domain);
        if (!r.local) {
            store = store_get();
            found = peer_cert(r.key, r.domain, store, &r.cert, &nocert, &err);
            X509_STORE_free(store);
            if (found < 0) {
                sfsistat st = tempfail(ctx, err);

                free(err);
                free(r.key);
                free(r.domain);
                return st;
            }
        }
        if ((r.policy == POL_REQUIRED || c->any_required) && (r.local || r.cert == NULL)) {
            sfsistat st;
            char   *en, *fr;

            if (r.local) {
                fr = xstrdup("chiffrement S/MIME exige pour ce message; une boite locale ne "
                             "peut le recevoir chiffre: envoyez-le separement");
                en = xstrdup("S/MIME encryption is required for this message; a local mailbox "
                             "cannot receive it encrypted: send it separately");
            } else {
                fr = xasprintf("chiffrement S/MIME exige mais pas de certificat utilisable "
                               "pour ce destinataire (%s)", nocert);
                en = xasprintf("S/MIME encryption required but no usable certificate for "
                               "this recipient (%s)", nocert);
            }
            st = refuse(ctx, c, argv[0], fr, en);
            free(fr);
            free(en);
            free(nocert);
            free(r.key);
            free(r.domain);
            return st;
        }
        if (r.policy == POL_REQUIRED && (c->any_missing || c->any_local)) {
            free(nocert);
            free(r.key);
            free(r.domain);
            X509_free(r.cert);
            return refuse(ctx, c, argv[0],
                          "chiffrement S/MIME exige pour ce destinataire mais impossible pour "
                          "d'autres destinataires du message: envoyez-le separement",
                          "S/MIME encryption required for this recipient but impossible for "
                          "other recipients of the message: send it separately");
        }
        free(nocert);
        c->any_required |= r.policy == POL_REQUIRED;
        c->any_local |= r.local;
        c->any_missing |= !r.local && r.cert == NULL;
    }
    c->rcpts = xrealloc(c->rcpts, (c->nrcpt + 1) * sizeof(*c->rcpts));
    c->rcpts[c->nrcpt++] = r;
    return SMFIS_CONTINUE;
}

static sfsistat sm_header(SMFICTX *ctx, char *name, char *value)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c == NULL)
        return SMFIS_CONTINUE;
    if (strncasecmp(name, "Content-", 8) == 0) {
        c->content = xrealloc(c->content, (c->ncontent + 1) * sizeof(*c->content));
        c->content[c->ncontent].name = xstrdup(name);
        c->content[c->ncontent].value = xstrdup(value);
        c->ncontent++;
    } else if (strcasecmp(name, "MIME-Version") == 0) {
        c->mime_version = 1;
    } else if (strcasecmp(name, SMIME_HEADER) == 0) {
        c->forged++;
    }
    return SMFIS_CONTINUE;
}

/* write_field - "Name: value" with any folding written CRLF */
static void write_field(struct spool *s, const char *name, const char *value)
{
    spool_puts(s, name);
    spool_puts(s, ": ");
    for (const char *p = value; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            spool_write(s, "\r", 1);
        spool_write(s, p, 1);
    }
    spool_puts(s, "\r\n");
}

/* sm_eoh - the entity starts with the Content-* fields */
static sfsistat sm_eoh(SMFICTX *ctx)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c == NULL)
        return tempfail(ctx, "end of headers without a transaction");
    for (size_t i = 0; i < c->ncontent; i++)
        write_field(&c->entity, c->content[i].name, c->content[i].value);
    spool_puts(&c->entity, "\r\n");
    c->eoh_done = 1;
    return SMFIS_CONTINUE;
}

static sfsistat sm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c == NULL || !c->eoh_done)
        return tempfail(ctx, "body without headers");
    if (spool_write(&c->entity, chunk, len) < 0) {
        char   *why = xasprintf("cannot spool the message in %s: %s", var_smime_spool_directory,
                                strerror(c->entity.err));
        sfsistat st = tempfail(ctx, why);

        free(why);
        return st;
    }
    return SMFIS_CONTINUE;
}

/* ------------------------------------------------------------ edits */

/* replace_content - outer Content-* fields out, the new ones in, then the body */
static int replace_content(SMFICTX *ctx, struct sm_conn *c, char **fields,
                           const unsigned char *body, size_t len)
{
    /* Delete each name's occurrences, last first (indexes count per name). */
    for (size_t i = c->ncontent; i-- > 0;) {
        int     idx = 0;

        for (size_t j = 0; j <= i; j++)
            if (strcasecmp(c->content[j].name, c->content[i].name) == 0)
                idx++;
        if (mfi_chgheader(ctx, c->content[i].name, idx, NULL) == MI_FAILURE)
            return -1;
    }
    if (!c->mime_version && mfi_addheader(ctx, "MIME-Version", "1.0") == MI_FAILURE)
        return -1;
    for (size_t i = 0; fields[i]; i += 2)
        if (mfi_addheader(ctx, fields[i], fields[i + 1]) == MI_FAILURE)
            return -1;
    /* Back to back: Postfix takes nothing else, progress included, between chunks. */
    for (size_t off = 0; off < len; off += BODY_CHUNK) {
        size_t  k = len - off < BODY_CHUNK ? len - off : BODY_CHUNK;

        if (mfi_replacebody(ctx, body + off, k) == MI_FAILURE)
            return -1;
    }
    if (len == 0 && mfi_replacebody(ctx, (const unsigned char *) "", 0) == MI_FAILURE)
        return -1;
    return 0;
}

/* ------------------------------------------------------------ outbound */

static sfsistat outbound_eom(SMFICTX *ctx, struct sm_conn *c)
{
    const unsigned char *ent = spool_data(&c->entity);
    size_t  entlen = spool_size(&c->entity);
    struct mime_entity e;
    char   *ct, *type, *sctype = NULL, *err = NULL, *smime_type = NULL;
    int     want_sign = 0, want_encrypt = 0, signed_already = 0, encrypted_already = 0;
    struct smime_signer signer = {0};
    struct spool canon, sig, enc;
    STACK_OF(X509) *rcpts = NULL;
    sfsistat st = SMFIS_CONTINUE;

    if (ent == NULL)
        return tempfail(ctx, "cannot read the spooled message");
    if (c->local && c->refused) {
        char   *both = xasprintf("S/MIME: recipients refused / destinataires refuses: %s",
                                 c->refused), *text = mfi_reply_text(both);

        st = mfi_setreply(ctx, "550", "5.7.1", text, NULL) == MI_FAILURE ? SMFIS_TEMPFAIL
            : SMFIS_REJECT;
        free(both);
        free(text);
        return st;
    }
    if (c->local && c->sender_key && strlist_has(exempt_senders, c->sender_key) && !c->any_required) {
        /* Our own notices to ordinary mailboxes: nothing to sign for. */
        msg_info("%s: outbound: sender exempt (whitelist_local_exempt_senders): unchanged",
                 mfi_qid(ctx));
        return SMFIS_CONTINUE;
    }
    for (size_t i = 0; i < c->nrcpt; i++) {
        want_sign |= c->rcpts[i].policy != POL_NONE;
        want_encrypt |= c->rcpts[i].policy >= POL_WHEN_POSSIBLE;
    }
    if (c->any_local || c->any_missing || c->nrcpt == 0)
        want_encrypt = 0;
    if (c->any_required && !want_encrypt)
        return tempfail(ctx, "encryption required but not possible for every recipient");
    if (c->sender_key == NULL)
        want_sign = 0;                          /* null sender: no mailbox to sign for */

    mime_parse(ent, entlen, &e);
    ct = mime_get(&e, "Content-Type");
    type = mime_type(ct);
    smime_type = mime_param(ct, "smime-type");
    mime_entity_free(&e);
    if (pkcs7_mime(type)) {
        /* Only an envelope is encrypted; anything else is wrapped when encryption is asked. */
        if (smime_type && (strcasecmp(smime_type, "enveloped-data") == 0
                           || strcasecmp(smime_type, "authEnveloped-data") == 0))
            encrypted_already = 1;
        else
            signed_already = 1;
    } else if (type && strcmp(type, "multipart/signed") == 0) {
        signed_already = 1;
    }
    free(ct);
    free(type);
    free(smime_type);
    if (encrypted_already) {
        msg_info("%s: outbound: already encrypted by the sender's software: unchanged",
                 mfi_qid(ctx));
        return SMFIS_CONTINUE;
    }
    if (signed_already)
        want_sign = 0;
    if (!want_sign && !want_encrypt) {
        msg_info("%s: outbound: %s", mfi_qid(ctx), signed_already
                 ? "signed by the sender's software: unchanged" : "policy none: unchanged");
        return SMFIS_CONTINUE;
    }
    if (want_sign) {
        int     r = signer_load(c->sender_key, c->sender_domain, &signer, &err);

        if (r == 0 && !strlist_has(our_domains, c->sender_domain))
            return refuse_foreign(ctx, c, "end of message");
        if (r <= 0) {
            if (r == 0)
                err = xasprintf("no signing certificate for %s or its domain", c->sender_key);
            st = tempfail(ctx, err);
            free(err);
            return st;
        }
    }
    spool_init(&canon, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    spool_init(&sig, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    spool_init(&enc, (size_t) var_smime_spool_threshold, var_smime_spool_directory);

    /* The whole MIME entity, canonical and 7-bit (a signed one is only made CRLF). */
    if ((signed_already ? mime_canon_lines(ent, entlen, &canon) : mime_canon(ent, entlen, &canon)) < 0
        || (ent = spool_data(&canon)) == NULL) {
        err = xasprintf("cannot write the canonical form: %s", strerror(canon.err));
        goto fail;
    }
    entlen = spool_size(&canon);
    spool_reset(&c->entity);
    mfi_progress(ctx);
    if (want_sign) {
        if (smime_sign(ent, entlen, &signer, &sig, &sctype, &err) < 0)
            goto fail;
        spool_reset(&canon);
        mfi_progress(ctx);
    }
    if (want_encrypt) {
        const unsigned char *in = ent;
        size_t  inlen = entlen;

        if (want_sign) {
            /* The signed entity: its Content-Type first, then the multipart body. */
            struct spool whole;

            spool_init(&whole, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
            write_field(&whole, "Content-Type", sctype);
            spool_puts(&whole, "\r\n");
            if ((in = spool_data(&sig)) == NULL
                || spool_write(&whole, in, spool_size(&sig)) < 0
                || (in = spool_data(&whole)) == NULL) {
                err = xasprintf("cannot spool the signed message: %s", strerror(errno));
                spool_free(&whole);
                goto fail;
            }
            spool_free(&sig);
            sig = whole;
            inlen = spool_size(&sig);
        }
        rcpts = sk_X509_new_null();
        for (size_t i = 0; i < c->nrcpt; i++)
            sk_X509_push(rcpts, c->rcpts[i].cert);
        if (smime_encrypt(in, inlen, rcpts, &enc, &err) < 0)
            goto fail;
        spool_reset(&sig);
        spool_reset(&canon);
        if ((in = spool_data(&enc)) == NULL) {
            err = xasprintf("cannot read the encrypted message: %s", strerror(enc.err));
            goto fail;
        }
        char   *fields[] = {
            "Content-Type", "application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"",
            "Content-Transfer-Encoding", "base64",
            "Content-Disposition", "attachment; filename=\"smime.p7m\"",
            "Content-Description", "S/MIME Encrypted Message", NULL,
        };

        if (replace_content(ctx, c, fields, in, spool_size(&enc)) < 0) {
            err = xstrdup("the MTA refused an edit");
            goto fail;
        }
        msg_info("%s: outbound: %s and encrypted (aes-256-cbc) for %zu recipient(s)",
                 mfi_qid(ctx), want_sign ? "signed" : "not signed", c->nrcpt);
    } else {
        const unsigned char *b = spool_data(&sig);
        char   *fields[] = {"Content-Type", sctype, NULL};

        if (b == NULL || replace_content(ctx, c, fields, b, spool_size(&sig)) < 0) {
            err = xstrdup(b ? "the MTA refused an edit" : "cannot read the signed message");
            goto fail;
        }
        msg_info("%s: outbound: signed (sha-256), not encrypted: %s", mfi_qid(ctx),
                 c->any_local ? "a recipient is local" : c->any_missing
                 ? "a recipient has no usable certificate" : "policy sign");
    }
    goto done;
fail:
    st = tempfail(ctx, err);
    free(err);
done:
    sk_X509_free(rcpts);
    signer_free(&signer);
    free(sctype);
    spool_free(&canon);
    spool_free(&sig);
    spool_free(&enc);
    return st;
}

/* ------------------------------------------------------------ inbound */

/* harvest - keep a verified signer's certificate for later encryption */
static void harvest(SMFICTX *ctx, X509 *cert)
{
    struct smime_certinfo ci;
    char   *pem, *err = NULL;

    if (!var_smime_harvest || cert == NULL || smime_certinfo(cert, &ci) < 0)
        return;
    pem = smime_x509_pem(cert, NULL);
    for (size_t i = 0; ci.emails[i]; i++) {
        const char *p[8] = {ci.emails[i], ci.fingerprint, ci.subject, ci.issuer, ci.serial,
                            ci.not_before, ci.not_after, pem};
        PGresult *res = pgpool_query(
            "INSERT INTO smime_cert (usage, scope, owner, fingerprint, subject, issuer, serial, "
            "not_before, not_after, cert_pem, source) VALUES ('peer', 'address', $1, $2, $3, $4, "
            "$5, $6, $7, $8, 'harvested') ON CONFLICT (usage, owner, fingerprint) DO NOTHING",
            8, p, &err);

        if (res == NULL) {
            msg_warn("%s: cannot keep the certificate of %s: %s", mfi_qid(ctx), ci.emails[i], err);
            free(err);
            err = NULL;
        } else {
            if (strcmp(PQcmdTuples(res), "1") == 0)
                msg_info("%s: certificate of %s kept for encryption (%s)", mfi_qid(ctx),
                         ci.emails[i], ci.fingerprint);
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
static int decrypt(struct sm_conn *c, const unsigned char *der, size_t len, struct spool *out,
                   struct finding *f, char **err)
{
    char  **seen = xcalloc(1, sizeof(char *));
    size_t  nseen = 0;
    int     rc = 1, tried = 0;

    for (size_t i = 0; i < c->nrcpt && rc == 1; i++) {
        const char *p[2] = {c->rcpts[i].key, c->rcpts[i].domain};
        PGresult *res = pgpool_query("SELECT cert_pem, key_file FROM smime_cert WHERE usage = 'own' "
                                     "AND " CERT_WHERE CERT_ORDER, 2, p, err);

        if (res == NULL) {
            rc = -1;
            break;
        }
        for (int k = 0; k < PQntuples(res) && rc == 1; k++) {
            const char *pem = PQgetvalue(res, k, 0);
            STACK_OF(X509) *certs;
            EVP_PKEY *key;
            char   *why = NULL;
            int     r;

            if (strlist_has(seen, pem))
                continue;
            seen = xrealloc(seen, (nseen + 2) * sizeof(char *));
            seen[nseen++] = xstrdup(pem);
            seen[nseen] = NULL;
            if ((certs = certs_of(pem, strlen(pem))) == NULL)
                continue;
            if ((key = key_of(PQgetvalue(res, k, 1), err)) == NULL) {
                rc = -1;                        /* a key we should have: retry later */
            } else {
                tried++;
                r = smime_decrypt(der, len, sk_X509_value(certs, 0), key, out, &why);
                if (r == 0) {
                    rc = 0;
                } else if (r < 0 && out->failed) {
                    *err = why;                 /* our disk, not their message: retry */
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


static sfsistat inbound_eom(SMFICTX *ctx, struct sm_conn *c)
{
    const unsigned char *ent = spool_data(&c->entity), *der;
    struct mime_entity e, d = {0};
    struct finding f = {0};
    struct spool raw, plain;
    char   *ct, *err = NULL, *value;
    X509_STORE *store = store_get();
    sfsistat st = SMFIS_CONTINUE;
    int     replaced = 0;

    if (ent == NULL) {
        X509_STORE_free(store);
        return tempfail(ctx, "cannot read the spooled message");
    }
    spool_init(&raw, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    spool_init(&plain, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    mime_parse(ent, spool_size(&c->entity), &e);
    ct = mime_get(&e, "Content-Type");

    if (enveloped_type(ct)) {
        int     r;

        f.is_encrypted = 1;
        if ((r = transfer_decode(&e, &raw, "the encrypted data", &f.reason)) < 0
            || (der = spool_data(&raw)) == NULL) {
            err = xasprintf("cannot spool the encrypted data: %s", strerror(errno));
        } else if (r == 0) {
            /* Memory: keep one copy at a time of a large message. */
            spool_reset(&c->entity);
            f.algorithm = smime_cipher_name(der, spool_size(&raw));
            r = decrypt(c, der, spool_size(&raw), &plain, &f, &err);
            spool_reset(&raw);
            if (r == 0 && (der = spool_data(&plain)) != NULL) {
                char   *ict, *itype;

                f.decrypted = 1;
                mime_parse(der, spool_size(&plain), &d);
                ict = mime_get(&d, "Content-Type");
                if ((itype = signed_type(ict)) != NULL)
                    verify_entity(&d, ict, itype, store, &f, &err);
                free(ict);
                free(itype);
                replaced = 1;
            } else if (r == 0) {
                err = xasprintf("cannot read the decrypted message: %s", strerror(plain.err));
            }
        }
    } else {
        char   *t = signed_type(ct);

        if (t)
            verify_entity(&e, ct, t, store, &f, &err);
        free(t);
    }
    if (err) {
        st = tempfail(ctx, err);
        free(err);
        goto done;
    }
    mfi_progress(ctx);
    if (f.v.verified)
        harvest(ctx, f.v.cert);

    /* Edits: forged copies out, the verdict in, then the decrypted content. */
    for (int i = c->forged; i > 0; i--)
        if (mfi_chgheader(ctx, SMIME_HEADER, i, NULL) == MI_FAILURE) {
            st = tempfail(ctx, "cannot remove a forged " SMIME_HEADER);
            goto done;
        }
    if (c->forged)
        msg_warn("%s: removed %d " SMIME_HEADER " header(s) that came with the message",
                 mfi_qid(ctx), c->forged);
    value = verdict_text(&f);
    if (mfi_insheader(ctx, 0, SMIME_HEADER, value) == MI_FAILURE) {
        free(value);
        st = tempfail(ctx, "cannot add " SMIME_HEADER);
        goto done;
    }
    msg_info("%s: inbound: %s", mfi_qid(ctx), value);
    free(value);
    if (replaced) {
        char  **fields = xcalloc(2 * d.nfields + 1, sizeof(char *));
        size_t  n = 0;

        for (size_t i = 0; i < d.nfields; i++) {
            if (d.fields[i].namelen < 8 || strncasecmp((const char *) d.fields[i].raw, "Content-", 8))
                continue;
            fields[n++] = xstrndup((const char *) d.fields[i].raw, d.fields[i].namelen);
            fields[n] = mime_get(&d, fields[n - 1]);
            n++;
        }
        if (replace_content(ctx, c, fields, d.body, d.bodylen) < 0)
            st = tempfail(ctx, "the MTA refused an edit");
        for (size_t i = 0; i < n; i++)
            free(fields[i]);
        free(fields);
    }
done:
    finding_free(&f);
    free(ct);
    mime_entity_free(&e);
    mime_entity_free(&d);
    spool_free(&raw);
    spool_free(&plain);
    X509_STORE_free(store);
    return st;
}

static sfsistat sm_eom(SMFICTX *ctx)
{
    struct sm_conn *c = mfi_getpriv(ctx);
    sfsistat st;

    if (c == NULL || !c->eoh_done)
        return tempfail(ctx, "end of message without a transaction");
    st = c->outbound ? outbound_eom(ctx, c) : inbound_eom(ctx, c);
    reset_message(c);
    return st;
}

static sfsistat sm_abort(SMFICTX *ctx)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c)
        reset_message(c);
    return SMFIS_CONTINUE;
}

/* sm_close - may come without a connect (a probe): state may be absent */
static sfsistat sm_close(SMFICTX *ctx)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c) {
        reset_message(c);
        spool_free(&c->entity);
        free(c);
        mfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

static struct smfiDesc sm_desc = {
    .xxfi_name = "milter-smime",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY,
    .xxfi_connect = sm_connect,
    .xxfi_envfrom = sm_envfrom,
    .xxfi_envrcpt = sm_envrcpt,
    .xxfi_header = sm_header,
    .xxfi_eoh = sm_eoh,
    .xxfi_body = sm_body,
    .xxfi_eom = sm_eom,
    .xxfi_abort = sm_abort,
    .xxfi_close = sm_close,
};

/* ------------------------------------------------------------ start */

static int sm_init(char **err)
{
    if (policy_parse(var_smime_default_policy, &default_policy) < 0) {
        *err = xasprintf("key \"smime_default_policy\": unknown policy \"%s\" (none, sign, "
                         "sign+encrypt-when-possible, encrypt-required)", var_smime_default_policy);
        return -1;
    }
    if ((sender_policies = policy_list("smime_sender_policies", var_smime_sender_policies, err)) == NULL
        || (rcpt_policies = policy_list("smime_recipient_policies", var_smime_recipient_policies,
                                        err)) == NULL)
        return -1;
    if ((our_domains = domain_list(var_whitelist_our_domains, "whitelist_our_domains", err)) == NULL)
        return -1;
    outbound_daemons = strlist_split(var_whitelist_outbound_daemons, " ,\t");
    if ((exempt_senders = address_list(var_whitelist_local_exempt_senders,
                                       "whitelist_local_exempt_senders", err)) == NULL)
        return -1;
    if (*var_database == 0) {
        *err = xstrdup("key \"database\": milter-smime needs the certificate store");
        return -1;
    }
    if (store_load(err) < 0)
        return -1;
    pgpool_init(var_database, var_db_connect_timeout, (int) var_smime_db_connections);
    return 0;
}

static int sm_test(int argc, char **argv)
{
    mfi_test_mode = 1;
    return milter_test_run(&sm_desc, argc, argv);
}

int main(int argc, char **argv)
{
    static const struct milter_app app = {
        .name = "milter-smime",
        .desc = &sm_desc,
        .socket = &var_smime_socket,
        .user = &var_smime_user,
        .init = sm_init,
        .reload = sm_reload,
        .test = sm_test,
        .test_usage = "--from ADDR --rcpt ADDR... [--auth USER] [--local] < message",
    };

    return milter_main(argc, argv, &app);
}
