/*
 * outbound - sign and encrypt our users' mail as the policy says.
 *
 * The whole MIME entity (the Content-* fields, a blank line, the body) is
 * made canonical and 7-bit, signed with the sender's certificate when the
 * policy asks for a signature, and enveloped for every recipient when all
 * of them have a usable certificate and the policy asks for encryption.
 * Mail the sender's software already signed is only made CRLF; mail it
 * already encrypted is left alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "certstore.h"
#include "inbound.h"
#include "mime.h"
#include "mymalloc.h"
#include "outbound.h"
#include "params.h"
#include "smime.h"

/* new_spool - a spool with the site's threshold and directory */
static void new_spool(struct spool *s)
{
    spool_init(s, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
}

/*
 * progress - tell the MTA we are still working, between the steps of a
 * message large enough for them to take seconds (a round trip each)
 */
static void progress(const struct outbound_msg *m, size_t len)
{
    if (m->progress && len >= 1048576)
        m->progress(m->progress_arg);
}

/* outcome - set the verdict and its text (the text is taken) */
static void outcome(struct outbound_result *r, enum outbound_verdict v, char *text)
{
    r->verdict = v;
    free(r->text);
    r->text = text;
}

/* entity_kind - 2 already encrypted, 1 already signed, 0 neither */
static int entity_kind(const unsigned char *ent, size_t len)
{
    struct mime_entity e;
    char *ct, *type, *smime_type;
    int kind = 0;

    mime_parse(ent, len, &e);
    ct = mime_get(&e, "Content-Type");
    type = mime_type(ct);
    smime_type = mime_param(ct, "smime-type");
    mime_entity_free(&e);
    if (pkcs7_mime(type)) {
        /* Only an envelope is encrypted; anything else is wrapped when encryption is asked. */
        kind = smime_type && (strcasecmp(smime_type, "enveloped-data") == 0 ||
                              strcasecmp(smime_type, "authEnveloped-data") == 0)
                   ? 2
                   : 1;
    } else if (type && strcmp(type, "multipart/signed") == 0) {
        kind = 1;
    }
    free(ct);
    free(type);
    free(smime_type);
    return kind;
}

/*
 * wrap_signed - the signed entity as one MIME entity (its Content-Type,
 * a blank line, the multipart body), in place of sig; 0 or -1 (*err)
 */
static int wrap_signed(struct spool *sig, const char *sctype, char **err)
{
    struct spool whole;
    const unsigned char *in;

    new_spool(&whole);
    spool_reserve(&whole, spool_size(sig) + strlen(sctype) + 64);
    spool_put_field(&whole, "Content-Type", sctype);
    spool_puts(&whole, "\r\n");
    if ((in = spool_data(sig)) == NULL || spool_write(&whole, in, spool_size(sig)) < 0 ||
        spool_data(&whole) == NULL) {
        *err = xasprintf("cannot spool the signed message: %s", strerror(errno));
        spool_free(&whole);
        return -1;
    }
    spool_free(sig);
    *sig = whole;
    return 0;
}

/* outbound_protect - decide, then sign and/or encrypt into r */
void outbound_protect(const struct outbound_msg *m, struct outbound_result *r)
{
    const unsigned char *ent = spool_data(m->entity);
    size_t entlen = spool_size(m->entity);
    char *err = NULL;
    int want_sign = 0, want_encrypt = 0, kind;
    struct smime_signer signer = {0};
    struct spool canon, sig;
    STACK_OF(X509) *rcpts = NULL;

    memset(r, 0, sizeof(*r));
    new_spool(&r->body);
    if (ent == NULL) {
        outcome(r, OUT_TEMPFAIL, xstrdup("cannot read the spooled message"));
        return;
    }
    if (m->local && policy_exempt(m->sender_key) && !m->any_required) {
        /* Our own notices to ordinary mailboxes: nothing to sign for. */
        outcome(r, OUT_UNCHANGED, xstrdup("sender exempt (local_exempt_senders): unchanged"));
        return;
    }
    for (size_t i = 0; i < m->nrcpt; i++) {
        want_sign |= m->rcpts[i].policy != POL_NONE;
        want_encrypt |= m->rcpts[i].policy >= POL_WHEN_POSSIBLE;
    }
    if (m->any_local || m->any_missing || m->nrcpt == 0)
        want_encrypt = 0;
    if (m->any_required && !want_encrypt) {
        outcome(r, OUT_TEMPFAIL, xstrdup("encryption required but not possible for every recipient"));
        return;
    }
    if (m->sender_key == NULL)
        want_sign = 0; /* null sender: no mailbox to sign for */
    if ((kind = entity_kind(ent, entlen)) == 2) {
        outcome(r, OUT_UNCHANGED, xstrdup("already encrypted by the sender's software: unchanged"));
        return;
    }
    if (kind == 1)
        want_sign = 0;
    if (!want_sign && !want_encrypt) {
        outcome(r, OUT_UNCHANGED,
                xstrdup(kind == 1 ? "signed by the sender's software: unchanged" : "policy none: unchanged"));
        return;
    }
    if (want_sign) {
        int found =
            (m->signer_load ? m->signer_load : signer_load)(m->sender_key, m->sender_domain, &signer, &err);

        if (found == 0 && !policy_ours(m->sender_domain)) {
            outcome(r, OUT_FOREIGN, NULL);
            return;
        }
        if (found <= 0) {
            outcome(r, OUT_TEMPFAIL,
                    found == 0 ? xasprintf("no signing certificate for %s or its "
                                           "domain",
                                           m->sender_key)
                               : err);
            return;
        }
    }
    new_spool(&canon);
    new_spool(&sig);
    /* Sizes known in advance spare the copies of growing (canonical form about the input). */
    spool_reserve(&canon, entlen + entlen / 16 + 1024);
    spool_reserve(&sig, entlen + entlen / 16 + 16384);

    /* The whole MIME entity, canonical and 7-bit (a signed one is only made CRLF). */
    if ((kind == 1 ? mime_canon_lines(ent, entlen, &canon) : mime_canon(ent, entlen, &canon)) < 0 ||
        (ent = spool_data(&canon)) == NULL) {
        err = xasprintf("cannot write the canonical form: %s", strerror(canon.err));
        goto fail;
    }
    entlen = spool_size(&canon);
    spool_reset(m->entity);
    progress(m, entlen);
    if (want_sign) {
        if (smime_sign(ent, entlen, &signer, &sig, &r->sctype, &err) < 0)
            goto fail;
        spool_reset(&canon);
        progress(m, entlen);
    }
    if (want_encrypt) {
        if (want_sign) {
            if (wrap_signed(&sig, r->sctype, &err) < 0)
                goto fail;
            ent = spool_data(&sig);
            entlen = spool_size(&sig);
        }
        rcpts = sk_X509_new_null();
        for (size_t i = 0; i < m->nrcpt; i++)
            sk_X509_push(rcpts, m->rcpts[i].cert);
        spool_reserve(&r->body, entlen / 57 * 78 + 4096 + 1024 * m->nrcpt); /* base64 lines of 76 */
        if (smime_encrypt(ent, entlen, rcpts, &r->body, &err) < 0)
            goto fail;
        spool_reset(&sig);
        spool_reset(&canon);
        if (spool_data(&r->body) == NULL) {
            err = xasprintf("cannot read the encrypted message: %s", strerror(r->body.err));
            goto fail;
        }
        static const char *const env[] = {
            "Content-Type",
            "application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"",
            "Content-Transfer-Encoding",
            "base64",
            "Content-Disposition",
            "attachment; filename=\"smime.p7m\"",
            "Content-Description",
            "S/MIME Encrypted Message",
            NULL,
        };
        memcpy(r->fields, env, sizeof(env));
        outcome(r, OUT_REPLACE,
                xasprintf("%s and encrypted (aes-256-cbc) for %zu recipient(s)",
                          want_sign ? "signed" : "not signed", m->nrcpt));
    } else {
        if (spool_data(&sig) == NULL) {
            err = xstrdup("cannot read the signed message");
            goto fail;
        }
        spool_free(&r->body);
        r->body = sig;
        new_spool(&sig);
        r->fields[0] = "Content-Type";
        r->fields[1] = r->sctype;
        outcome(r, OUT_REPLACE,
                xasprintf("signed (sha-256), not encrypted: %s", m->any_local ? "a recipient is local"
                                                                 : m->any_missing
                                                                     ? "a recipient has no usable certificate"
                                                                     : "policy sign"));
    }
    goto done;
fail:
    spool_reset(&r->body);
    r->fields[0] = NULL;
    outcome(r, OUT_TEMPFAIL, err);
done:
    sk_X509_free(rcpts);
    signer_free(&signer);
    spool_free(&canon);
    spool_free(&sig);
}

/* outbound_result_free - what a result holds */
void outbound_result_free(struct outbound_result *r)
{
    free(r->text);
    free(r->sctype);
    spool_free(&r->body);
    memset(r, 0, sizeof(*r));
}
