/*
 * mime - a message as milter-smime sees it.
 *
 * Inbound: the type tells encrypted or signed; an envelope is decoded,
 * its cipher named and decryption tried with a key of ours; a signature
 * is verified against the anchors; the verdict header is written.
 * Outbound: the canonical form has CRLF line ends only, and what we sign
 * from it verifies, by the code that verifies incoming mail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"
#include "../../milter-smime/inbound.h"
#include "../../milter-smime/mime.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"

static X509_STORE *store;
static struct smime_signer signer;

/* init - a trust store, signer and recipient */
static void init(void)
{
    X509 *ca;
    const char *anchors;
    char *err = NULL;

    if (cfg_defaults(mssante_params, &err) < 0)
        msg_fatal("%s", err);
    fuzz_pki(&ca, &signer.cert, &signer.key, &anchors);
    if ((store = smime_store(anchors, "", &err)) == NULL)
        msg_fatal("%s", err);
}

/* fresh - an empty spool */
static struct spool fresh(void)
{
    struct spool s;

    spool_init(&s, (size_t) var_smime_spool_threshold, var_smime_spool_directory);
    return s;
}

/* inbound - an incoming message parsed for its S/MIME parts */
static void inbound(const uint8_t *data, size_t size)
{
    struct mime_entity e;
    struct finding f = {0};
    struct spool raw = fresh(), plain = fresh();
    char *ct, *type, *err = NULL;
    const unsigned char *der;

    mime_parse(data, size, &e);
    ct = mime_get(&e, "Content-Type");
    if (enveloped_type(ct)) {
        f.is_encrypted = 1;
        if (transfer_decode(&e, &raw, "the encrypted data", &f.reason) == 0 &&
            (der = spool_data(&raw)) != NULL) {
            f.algorithm = smime_cipher_name(der, spool_size(&raw));
            if (smime_decrypt(der, spool_size(&raw), signer.cert, signer.key, &plain, &f.reason) == 0)
                f.decrypted = 1;
        }
    } else if ((type = signed_type(ct)) != NULL) {
        verify_entity(&e, ct, type, store, &f, &err);
        fuzz_check(err == NULL); /* the sender's faults are verdicts, not errors */
        free(type);
    }
    free(verdict_text(&f));
    finding_free(&f);
    free(ct);
    mime_entity_free(&e);
    spool_free(&raw);
    spool_free(&plain);
}

/* outbound - an outgoing message canonicalised, signed and encrypted */
static void outbound(const uint8_t *data, size_t size)
{
    struct spool canon = fresh(), sig = fresh(), msg = fresh();
    const unsigned char *p;
    char *ctype = NULL, *err = NULL, *type;
    struct mime_entity e;
    struct finding f = {0};

    fuzz_check(mime_canon(data, size, &canon) == 0 && (p = spool_data(&canon)) != NULL);
    for (size_t i = 0; i < spool_size(&canon); i++)
        fuzz_check(p[i] != '\n' || (i > 0 && p[i - 1] == '\r'));
    fuzz_check(smime_sign(p, spool_size(&canon), &signer, &sig, &ctype, &err) == 0);
    spool_puts(&msg, "Content-Type: ");
    spool_puts(&msg, ctype);
    spool_puts(&msg, "\r\n\r\n");
    spool_write(&msg, spool_data(&sig), spool_size(&sig));
    mime_parse(spool_data(&msg), spool_size(&msg), &e);
    type = signed_type(ctype);
    fuzz_check(type != NULL);
    verify_entity(&e, ctype, type, store, &f, &err);
    if (!f.v.verified)
        fprintf(stderr, "not verified: %s\n", f.v.reason ? f.v.reason : "?");
    fuzz_check(f.v.verified);
    finding_free(&f);
    mime_entity_free(&e);
    free(type);
    free(ctype);
    spool_free(&canon);
    spool_free(&sig);
    spool_free(&msg);
}

/* LLVMFuzzerTestOneInput - half the inputs inbound, half outbound */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (store == NULL)
        init();
    inbound(data, size);
    outbound(data, size);
    return 0;
}
