/*
 * inbound - what milter-smime finds in a message that comes in: whether it
 * is signed (and by whom, verified or not), whether it is encrypted, and
 * the X-MSSante-SMIME value that says so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inbound.h"
#include "mfi.h"
#include "mime.h"
#include "mymalloc.h"
#include "params.h"

/* crlf_only - every line end is CRLF */
static int crlf_only(const unsigned char *p, size_t len)
{
    for (const unsigned char *nl = p; (nl = memchr(nl, '\n', len - (size_t) (nl - p))) != NULL; nl++)
        if (nl == p || nl[-1] != '\r')
            return 0;
    return 1;
}

/* transfer_decode - see inbound.h */
int transfer_decode(const struct mime_entity *e, struct spool *out, const char *what, char **why)
{
    char *cte = mime_get(e, "Content-Transfer-Encoding");
    int ret = cte && strcasecmp(cte, "base64") == 0 ? mime_b64_decode(e->body, e->bodylen, out)
                                                    : spool_write(out, e->body, e->bodylen);

    free(cte);
    if (ret > 0)
        *why = xasprintf("%s is not valid base64", what);
    return ret;
}

/* verify_entity - see inbound.h */
void verify_entity(const struct mime_entity *e, const char *ct, const char *type, X509_STORE *store,
                   struct finding *f, char **err)
{
    struct spool a, b;
    int r = 0;

    spool_init(&a, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    spool_init(&b, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    f->is_signed = 1;
    if (strcmp(type, "multipart/signed") == 0) {
        char *boundary = mime_param(ct, "boundary");
        struct mime_part *parts = NULL;
        int closed;
        size_t n = boundary ? mime_parts(e->body, e->bodylen, boundary, &parts, &closed) : 0;
        const unsigned char *content, *der;

        if (n < 2) {
            f->v.reason = xstrdup("multipart/signed without its two parts");
        } else {
            struct mime_entity s;
            size_t clen = parts[0].len;

            mime_parse(parts[1].p, parts[1].len, &s);

            /* The signature covers the CRLF form: copy only if some line ends in LF alone. */
            content = parts[0].p;
            if (!crlf_only(content, clen)) {
                if (mime_canon_lines(parts[0].p, parts[0].len, &a) < 0 || (content = spool_data(&a)) == NULL)
                    content = NULL;
                clen = spool_size(&a);
            }
            if (content == NULL || (r = transfer_decode(&s, &b, "the signature", &f->v.reason)) < 0 ||
                (der = spool_data(&b)) == NULL)
                *err = xasprintf("cannot spool the signed parts: %s", strerror(errno));
            else if (r == 0)
                smime_verify_detached(content, clen, der, spool_size(&b), store, &f->v);
            mime_entity_free(&s);
        }
        free(parts);
        free(boundary);
    } else {
        const unsigned char *der;

        if ((r = transfer_decode(e, &b, "the signed data", &f->v.reason)) < 0 ||
            (der = spool_data(&b)) == NULL)
            *err = xasprintf("cannot spool the signed data: %s", strerror(errno));
        else if (r == 0)
            smime_verify_opaque(der, spool_size(&b), store, &f->v);
    }
    spool_free(&a);
    spool_free(&b);
}

/* pkcs7_mime - see inbound.h */
int pkcs7_mime(const char *type)
{
    return type &&
           (strcmp(type, "application/pkcs7-mime") == 0 || strcmp(type, "application/x-pkcs7-mime") == 0);
}

/* signed_type - the type if the entity is signed, else NULL */
char *signed_type(const char *ct)
{
    char *type = mime_type(ct), *st = mime_param(ct, "smime-type");
    int yes = type && (strcmp(type, "multipart/signed") == 0 ||
                       (pkcs7_mime(type) && st && strcasecmp(st, "signed-data") == 0));

    free(st);
    if (!yes) {
        free(type);
        return NULL;
    }
    return type;
}

/* enveloped_type - see inbound.h */
int enveloped_type(const char *ct)
{
    char *type = mime_type(ct), *st = mime_param(ct, "smime-type");
    int yes = pkcs7_mime(type) && !(st && strcasecmp(st, "signed-data") == 0);

    free(type);
    free(st);
    return yes;
}

/* verdict_text - the value of X-MSSante-SMIME */
char *verdict_text(const struct finding *f)
{
    char *out = xasprintf("signed=%s", f->is_signed ? "yes" : "no"), *more, *q;

#define APPEND(fmt, ...) (more = xasprintf("%s; " fmt, out, __VA_ARGS__), free(out), out = more)
    if (f->is_signed) {
        APPEND("verified=%s", f->v.verified ? "yes" : "no");
        if (f->v.signer) {
            q = mfi_quoted(f->v.signer);
            APPEND("signer=%s", q);
            free(q);
        }
        if (f->v.signer_email)
            APPEND("signer-email=%s", f->v.signer_email);
    }
    APPEND("encrypted=%s", f->is_encrypted ? "yes" : "no");
    if (f->is_encrypted) {
        APPEND("decrypted=%s", f->decrypted ? "yes" : "no");
        if (f->algorithm)
            APPEND("algorithm=%s", f->algorithm);
    }
    if (f->reason || f->v.reason) {
        q = mfi_quoted(f->reason ? f->reason : f->v.reason);
        APPEND("reason=%s", q);
        free(q);
    }
#undef APPEND
    return out;
}

/* finding_free - what a finding holds */
void finding_free(struct finding *f)
{
    smime_verdict_free(&f->v);
    free(f->algorithm);
    free(f->reason);
}
