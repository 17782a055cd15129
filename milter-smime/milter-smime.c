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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "addr.h"
#include "certstore.h"
#include "inbound.h"
#include "mfi.h"
#include "milter_skel.h"
#include "milter_test.h"
#include "mime.h"
#include "msg.h"
#include "mymalloc.h"
#include "outbound.h"
#include "params.h"
#include "pgpool.h"
#include "policy.h"
#include "smime.h"

#define SMIME_HEADER "X-MSSante-SMIME"
#define BODY_CHUNK   65535 /* libmilter's largest body chunk */

/* ------------------------------------------------------------ per connection */

struct field {
    char *name;
    char *value;
};

struct sm_conn {
    int local;             /* non-SMTP submission */
    unsigned long noreply; /* SMFIP_NR_* steps granted: answer SMFIS_NOREPLY */
    /* per message */
    int outbound;
    char *sender_key; /* NULL: null or unparsable sender */
    char *sender_domain;
    struct rcpt *rcpts;
    size_t nrcpt, rcpts_cap;
    int any_required, any_missing, any_local;
    char *refused;         /* non-SMTP: refusals, for the bounce */
    struct field *content; /* Content-* fields, in order */
    size_t ncontent, content_cap;
    int mime_version;
    int forged; /* X-MSSante-SMIME fields from outside */
    int eoh_done;
    struct spool entity; /* Content-* fields, blank line, body */
};

/* reset_message - forget one transaction, keep the connection */
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

/* conn_state - the connection's state, made by whichever step comes first */
static struct sm_conn *conn_state(SMFICTX *ctx)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    /* Its spool made at once: a probe that negotiates and hangs up gets
     * sm_close() without sm_connect(), and a zeroed spool names descriptor 0. */
    if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
        spool_init(&c->entity, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
        mfi_setpriv(ctx, c);
    }
    return c;
}

/*
 * sm_negotiate - only the steps we use (no HELO, DATA or unknown command),
 * and no reply awaited for each header, which cannot fail
 */
static sfsistat sm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    const unsigned long need = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY;
    struct sm_conn *c;

    (void) f2;
    (void) f3;
    if ((f0 & need) != need)
        return SMFIS_REJECT; /* this MTA cannot do what we need */
    if ((c = conn_state(ctx)) == NULL)
        return SMFIS_TEMPFAIL;
    *pf0 = need;
    *pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HDR);
    *pf2 = *pf3 = 0;
    c->noreply = *pf1 & SMFIP_NR_HDR;
    return SMFIS_CONTINUE;
}

/* sm_connect - connection state; whether this is a non-SMTP submission */
static sfsistat sm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    struct sm_conn *c = conn_state(ctx);

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    c->local = mfi_is_local(host, sa);
    return SMFIS_CONTINUE;
}

/* refuse_foreign - the permanent answer to policy_foreign_signer's case */
static sfsistat refuse_foreign(SMFICTX *ctx, const struct sm_conn *c, const char *when)
{
    msg_info("%s: reject: %s: sender %s is not in one of our domains: no signing certificate "
             "can exist",
             mfi_qid(ctx), when, c->sender_key);
    return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1",
                     "Expediteur hors de nos domaines : aucun certificat de signature possible",
                     "Sender not in our domains: no signing certificate can exist");
}

/* sm_envfrom - a new transaction: outbound or inbound, the sender, a sender refused for good */
static sfsistat sm_envfrom(SMFICTX *ctx, char **argv)
{
    struct sm_conn *c = mfi_getpriv(ctx);
    struct addr a;
    const char *why;

    if (c == NULL)
        return mfi_tempfail(ctx, "no connection state");
    reset_message(c);
    c->outbound = mfi_is_outbound(ctx, c->local, policy_outbound_daemons());
    if (argv[0] && addr_parse(argv[0], &a, &why) == 0) {
        c->sender_key = xstrdup(a.key);
        c->sender_domain = xstrdup(a.domain);
        addr_free(&a);
    }
    if (c->outbound && policy_foreign_signer(c->sender_domain, c->sender_key, c->local))
        return refuse_foreign(ctx, c, "MAIL FROM");
    return SMFIS_CONTINUE;
}

/* refuse - 550 for one recipient, or remembered for end of message (non-SMTP) */
static sfsistat refuse(SMFICTX *ctx, struct sm_conn *c, const char *rcpt, const char *fr, const char *en)
{
    char *shown = mfi_reply_text(rcpt), *f, *e;
    sfsistat st;

    msg_info("%s: reject: RCPT %s: %s", mfi_qid(ctx), shown, en);
    if (c->local) {
        char *more =
            c->refused ? xasprintf("%s, %s (%s)", c->refused, shown, en) : xasprintf("%s (%s)", shown, en);

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

/* sm_envrcpt - the recipient's policy and certificate; refused at once when encryption is required and impossible */
static sfsistat sm_envrcpt(SMFICTX *ctx, char **argv)
{
    struct sm_conn *c = mfi_getpriv(ctx);
    struct rcpt r = {0};
    struct addr a;
    const char *why;
    char *nocert = NULL, *err = NULL;
    X509_STORE *store;
    int found;

    if (c == NULL)
        return mfi_tempfail(ctx, "RCPT without a transaction");
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
        r.local = policy_ours(r.domain);
        r.policy = policy_for(c->sender_domain, r.domain);
        if (!r.local) {
            store = store_get();
            found = peer_cert(r.key, r.domain, store, &r.cert, &nocert, &err);
            X509_STORE_free(store);
            if (found < 0) {
                sfsistat st = mfi_tempfail(ctx, err);

                free(err);
                free(r.key);
                free(r.domain);
                return st;
            }
        }
        if ((r.policy == POL_REQUIRED || c->any_required) && (r.local || r.cert == NULL)) {
            sfsistat st;
            char *en, *fr;

            if (r.local) {
                fr = xstrdup("chiffrement S/MIME exige pour ce message; une boite locale ne "
                             "peut le recevoir chiffre: envoyez-le separement");
                en = xstrdup("S/MIME encryption is required for this message; a local mailbox "
                             "cannot receive it encrypted: send it separately");
            } else {
                fr = xasprintf("chiffrement S/MIME exige mais pas de certificat utilisable "
                               "pour ce destinataire (%s)",
                               nocert);
                en = xasprintf("S/MIME encryption required but no usable certificate for "
                               "this recipient (%s)",
                               nocert);
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
    c->rcpts = xgrow(c->rcpts, &c->rcpts_cap, c->nrcpt + 1, sizeof(*c->rcpts));
    c->rcpts[c->nrcpt++] = r;
    return SMFIS_CONTINUE;
}

/* sm_header - keep the Content-* fields, note MIME-Version and forged verdicts */
static sfsistat sm_header(SMFICTX *ctx, char *name, char *value)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c == NULL)
        return SMFIS_CONTINUE;
    if (strncasecmp(name, "Content-", 8) == 0) {
        c->content = xgrow(c->content, &c->content_cap, c->ncontent + 1, sizeof(*c->content));
        c->content[c->ncontent].name = xstrdup(name);
        c->content[c->ncontent].value = xstrdup(value);
        c->ncontent++;
    } else if (strcasecmp(name, "MIME-Version") == 0) {
        c->mime_version = 1;
    } else if (strcasecmp(name, SMIME_HEADER) == 0) {
        c->forged++;
    }
    return c->noreply & SMFIP_NR_HDR ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* sm_eoh - the entity starts with the Content-* fields */
static sfsistat sm_eoh(SMFICTX *ctx)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c == NULL)
        return mfi_tempfail(ctx, "end of headers without a transaction");
    for (size_t i = 0; i < c->ncontent; i++)
        spool_put_field(&c->entity, c->content[i].name, c->content[i].value);
    spool_puts(&c->entity, "\r\n");
    c->eoh_done = 1;
    return SMFIS_CONTINUE;
}

/* sm_body - spool the body after the Content-* fields */
static sfsistat sm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    struct sm_conn *c = mfi_getpriv(ctx);

    if (c == NULL || !c->eoh_done)
        return mfi_tempfail(ctx, "body without headers");
    if (spool_write(&c->entity, chunk, len) < 0) {
        char *why = xasprintf("cannot spool the message in %s: %s", var_smime_spool_directory,
                              strerror(c->entity.err));
        sfsistat st = mfi_tempfail(ctx, why);

        free(why);
        return st;
    }
    return SMFIS_CONTINUE;
}

/* ------------------------------------------------------------ edits */

/* replace_content - outer Content-* fields out, the new ones in, then the body */
static int replace_content(SMFICTX *ctx, struct sm_conn *c, const char *const *fields,
                           const unsigned char *body, size_t len)
{
    /* Delete each name's occurrences, last first (indexes count per name). */
    for (size_t i = c->ncontent; i-- > 0;) {
        int idx = 0;

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
        size_t k = len - off < BODY_CHUNK ? len - off : BODY_CHUNK;

        if (mfi_replacebody(ctx, body + off, k) == MI_FAILURE)
            return -1;
    }
    if (len == 0 && mfi_replacebody(ctx, (const unsigned char *) "", 0) == MI_FAILURE)
        return -1;
    return 0;
}

/* ------------------------------------------------------------ outbound */

/* progress - outbound_protect's callback between long steps */
static void progress(void *ctx)
{
    mfi_progress(ctx);
}

/* outbound_eom - refusals remembered for a local submission, else outbound_protect applied */
static sfsistat outbound_eom(SMFICTX *ctx, struct sm_conn *c)
{
    struct outbound_msg m = {
        .qid = mfi_qid(ctx),
        .sender_key = c->sender_key,
        .sender_domain = c->sender_domain,
        .local = c->local,
        .rcpts = c->rcpts,
        .nrcpt = c->nrcpt,
        .any_required = c->any_required,
        .any_local = c->any_local,
        .any_missing = c->any_missing,
        .entity = &c->entity,
        .progress = progress,
        .progress_arg = ctx,
    };
    struct outbound_result r;
    const unsigned char *body;
    sfsistat st = SMFIS_CONTINUE;

    if (c->local && c->refused)
        return mfi_refuse_gathered(ctx, "S/MIME: recipients refused / destinataires refuses", c->refused);
    outbound_protect(&m, &r);
    switch (r.verdict) {
    case OUT_UNCHANGED:
        msg_info("%s: outbound: %s", mfi_qid(ctx), r.text);
        break;
    case OUT_FOREIGN:
        st = refuse_foreign(ctx, c, "end of message");
        break;
    case OUT_TEMPFAIL:
        st = mfi_tempfail(ctx, r.text);
        break;
    case OUT_REPLACE:
        if ((body = spool_data(&r.body)) == NULL)
            st = mfi_tempfail(ctx, "cannot read the new message body");
        else if (replace_content(ctx, c, r.fields, body, spool_size(&r.body)) < 0)
            st = mfi_tempfail(ctx, "the MTA refused an edit");
        else
            msg_info("%s: outbound: %s", mfi_qid(ctx), r.text);
        break;
    }
    outbound_result_free(&r);
    return st;
}

/* ------------------------------------------------------------ inbound */

/* inbound_eom - end of an inbound message: verdicts, decryption, headers */
static sfsistat inbound_eom(SMFICTX *ctx, struct sm_conn *c)
{
    const unsigned char *ent = spool_data(&c->entity), *der;
    struct mime_entity e, d = {0};
    struct finding f = {0};
    struct spool raw, plain;
    char *ct, *err = NULL, *value;
    X509_STORE *store = store_get();
    sfsistat st = SMFIS_CONTINUE;
    int replaced = 0;

    if (ent == NULL) {
        X509_STORE_free(store);
        return mfi_tempfail(ctx, "cannot read the spooled message");
    }
    spool_init(&raw, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    spool_init(&plain, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    mime_parse(ent, spool_size(&c->entity), &e);
    ct = mime_get(&e, "Content-Type");

    if (enveloped_type(ct)) {
        int r;

        f.is_encrypted = 1;
        if ((r = transfer_decode(&e, &raw, "the encrypted data", &f.reason)) < 0 ||
            (der = spool_data(&raw)) == NULL) {
            err = xasprintf("cannot spool the encrypted data: %s", strerror(errno));
        } else if (r == 0) {
            /* Memory: keep one copy at a time of a large message. */
            spool_reset(&c->entity);
            f.algorithm = smime_cipher_name(der, spool_size(&raw));
            struct owner *owners = xcalloc(c->nrcpt + 1, sizeof(*owners));

            for (size_t i = 0; i < c->nrcpt; i++)
                owners[i] = (struct owner){c->rcpts[i].key, c->rcpts[i].domain};
            r = decrypt(owners, c->nrcpt, der, spool_size(&raw), &plain, &f, &err);
            free(owners);
            spool_reset(&raw);
            if (r == 0 && (der = spool_data(&plain)) != NULL) {
                char *ict, *itype;

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
        char *t = signed_type(ct);

        if (t)
            verify_entity(&e, ct, t, store, &f, &err);
        free(t);
    }
    if (err) {
        st = mfi_tempfail(ctx, err);
        free(err);
        goto done;
    }
    mfi_progress(ctx);
    if (f.v.verified)
        harvest(mfi_qid(ctx), f.v.cert);

    /* Edits: forged copies out, the verdict in, then the decrypted content. */
    if (mfi_strip(ctx, SMIME_HEADER, c->forged) < 0) {
        st = mfi_tempfail(ctx, "cannot remove a forged " SMIME_HEADER);
        goto done;
    }
    value = verdict_text(&f);
    if (mfi_insheader(ctx, 0, SMIME_HEADER, value) == MI_FAILURE) {
        free(value);
        st = mfi_tempfail(ctx, "cannot add " SMIME_HEADER);
        goto done;
    }
    msg_info("%s: inbound: %s", mfi_qid(ctx), value);
    free(value);
    if (replaced) {
        char **fields = xcalloc(2 * d.nfields + 1, sizeof(char *));
        size_t n = 0;

        for (size_t i = 0; i < d.nfields; i++) {
            if (d.fields[i].namelen < 8 || strncasecmp((const char *) d.fields[i].raw, "Content-", 8))
                continue;
            fields[n++] = xstrndup((const char *) d.fields[i].raw, d.fields[i].namelen);
            fields[n] = mime_get(&d, fields[n - 1]);
            n++;
        }
        if (replace_content(ctx, c, (const char *const *) fields, d.body, d.bodylen) < 0)
            st = mfi_tempfail(ctx, "the MTA refused an edit");
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

/* sm_eom - the outbound or inbound work, then the transaction is over */
static sfsistat sm_eom(SMFICTX *ctx)
{
    struct sm_conn *c = mfi_getpriv(ctx);
    sfsistat st;

    if (c == NULL || !c->eoh_done)
        return mfi_tempfail(ctx, "end of message without a transaction");
    st = c->outbound ? outbound_eom(ctx, c) : inbound_eom(ctx, c);
    reset_message(c);
    return st;
}

/* sm_abort - the transaction ends without a message */
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
    .xxfi_negotiate = sm_negotiate,
};

/* ------------------------------------------------------------ start */

/* sm_init - policies, site lists and trust store before the socket opens */
static int sm_init(char **err)
{
    if (policy_init(err) < 0)
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

/* main - the milter skeleton with milter-smime's callbacks */
int main(int argc, char **argv)
{
    static const struct milter_app app = {
        .name = "milter-smime",
        .desc = &sm_desc,
        .socket = &var_smime_socket,
        .user = &var_smime_user,
        .init = sm_init,
        .reload = store_reload,
        .test_usage = "--from ADDR --rcpt ADDR... [--auth USER] [--local] < message",
    };

    return milter_main(argc, argv, &app);
}
