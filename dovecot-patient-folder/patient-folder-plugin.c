/*
 * patient-folder-plugin.c - file mail from patients into "Échanges Patients".
 *
 * A Dovecot LMTP/LDA plugin. At delivery it decides whether the message is
 * patient mail:
 *   - the envelope sender's domain is the patient domain
 *     (mssante_patient_domain, default patient.mssante.fr), and
 *   - exactly one X-MSSante-Trust header is present and says
 *     "mssante; domain=<patient domain>": milter-whitelist verified the
 *     relaying operator's certificate against the liste blanche DNs of
 *     that domain (and stripped any copy that came from outside).
 * If so, the folder (mssante_patient_folder, default "Échanges Patients",
 * under the INBOX namespace) is created and subscribed when missing, and it
 * becomes the message's default mailbox; then the next delivery hook
 * (Sieve) runs, so users' scripts still apply and their implicit keep lands
 * in the folder. A folder that cannot be created is a temporary failure
 * (LMTP 451): the message stays queued in Postfix, never falls back silently.
 *
 * Nothing else changes: headers (X-MSS-MES: FIN included) are kept.
 */
#include "lib.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-deliver.h"
#include "smtp-address.h"
#include "module-dir.h"

#include "trust-header.h"

#define DEFAULT_FOLDER "\303\211changes Patients" /* Échanges Patients, UTF-8 in octal */
#define DEFAULT_DOMAIN "patient.mssante.fr"
#define TRUST_HEADER   "X-MSSante-Trust"
#define LOG_PREFIX     "mssante-patient-folder: "

const char *mssante_patient_folder_plugin_version = DOVECOT_ABI_VERSION;
const char mssante_patient_folder_plugin_binary_dependency[] = "lmtp lda";

void mssante_patient_folder_plugin_init(struct module *module);
void mssante_patient_folder_plugin_deinit(void);

/*
 * Defined by lib-lda, which only lmtp and dovecot-lda carry: weak, so that
 * another binary can load us far enough to read the binary dependency
 * above and say clearly why it refuses.
 */
extern deliver_mail_func_t *mail_deliver_hook_set(deliver_mail_func_t *new_hook) __attribute__((weak));

static deliver_mail_func_t *next_deliver_mail;

/* setting - a plugin setting, or its default when unset or empty */
static const char *setting(struct mail_user *user, const char *name, const char *def)
{
    const char *value = mail_user_plugin_getenv(user, name);

    return value == NULL || *value == '\0' ? def : value;
}

/* setting_bool - yes/no setting with a default; anything else is "yes" */
static bool setting_bool(struct mail_user *user, const char *name, bool def)
{
    const char *value = mail_user_plugin_getenv(user, name);

    if (value == NULL || *value == '\0')
        return def;
    return !(strcasecmp(value, "no") == 0 || strcmp(value, "0") == 0 || strcasecmp(value, "false") == 0);
}

/*
 * trusted_patient - the verdict says a listed operator relayed it for
 * the patient domain. Returns 1 yes, 0 no (reason set), -1 cannot read.
 */
static int trusted_patient(struct mail_deliver_context *ctx, const char *patient_domain,
                           const char **reason_r)
{
    const char *const *values;
    char domain[256];
    int ret;

    ret = mail_get_headers(ctx->src_mail, TRUST_HEADER, &values);
    if (ret < 0)
        return -1;
    if (ret == 0 || values[0] == NULL) {
        *reason_r = "no " TRUST_HEADER " header (is milter-whitelist installed?)";
        return 0;
    }
    if (values[1] != NULL) {
        *reason_r = "more than one " TRUST_HEADER " header";
        return 0;
    }
    switch (trust_header_parse(values[0], domain, sizeof(domain))) {
    case TRUST_MSSANTE:
        if (strcasecmp(domain, patient_domain) == 0)
            return 1;
        *reason_r = "relayed by an operator listed for another domain";
        return 0;
    case TRUST_LOCAL:
        *reason_r = "submitted by a local user";
        return 0;
    case TRUST_NONE:
        *reason_r = "no verified operator";
        return 0;
    case TRUST_INVALID:
    default:
        *reason_r = "unreadable " TRUST_HEADER " header";
        return 0;
    }
}

/*
 * folder_ready - the folder exists (created and subscribed if needed).
 * Returns 0, or -1 with the internal error logged.
 */
static int folder_ready(struct mail_deliver_context *ctx, const char *vname, bool subscribe)
{
    struct mailbox *box = mailbox_alloc_for_user(ctx->rcpt_user, vname, MAILBOX_FLAG_POST_SESSION);
    enum mail_error error;
    const char *errstr;
    int ret = 0;

    if (mailbox_open(box) < 0) {
        errstr = mailbox_get_last_internal_error(box, &error);
        if (error != MAIL_ERROR_NOTFOUND) {
            e_error(ctx->event, LOG_PREFIX "cannot open folder %s: %s", vname, errstr);
            ret = -1;
        } else if (mailbox_create(box, NULL, FALSE) < 0 &&
                   mailbox_get_last_mail_error(box) != MAIL_ERROR_EXISTS) {
            e_error(ctx->event, LOG_PREFIX "cannot create folder %s: %s", vname,
                    mailbox_get_last_internal_error(box, NULL));
            ret = -1;
        } else {
            e_info(ctx->event, LOG_PREFIX "created folder %s", vname);
            if (subscribe && mailbox_set_subscribed(box, TRUE) < 0)
                e_warning(ctx->event, LOG_PREFIX "cannot subscribe to folder %s: %s", vname,
                          mailbox_get_last_internal_error(box, NULL));
        }
    }
    mailbox_free(&box);
    return ret;
}

/*
 * patient_deliver_mail - the delivery hook: choose the default mailbox,
 * then hand over to the next hook (Sieve) or to the default save.
 */
static int patient_deliver_mail(struct mail_deliver_context *ctx, struct mail_storage **storage_r)
{
    struct mail_user *user = ctx->rcpt_user;
    const char *patient_domain = setting(user, "mssante_patient_domain", DEFAULT_DOMAIN);
    const char *reason = NULL;
    int trusted = 1;

    if (ctx->mail_from == NULL || ctx->mail_from->domain == NULL ||
        strcasecmp(ctx->mail_from->domain, patient_domain) != 0)
        goto next;
    if (setting_bool(user, "mssante_patient_require_trust", TRUE))
        trusted = trusted_patient(ctx, patient_domain, &reason);
    if (trusted < 0) {
        e_error(ctx->event, LOG_PREFIX "cannot read the " TRUST_HEADER " header: %s",
                mailbox_get_last_internal_error(ctx->src_mail->box, NULL));
        ctx->tempfail_error = "Temporary error reading the message";
        return -1;
    }
    if (trusted == 0) {
        e_info(ctx->event, LOG_PREFIX "sender in %s but not patient mail: %s; default folder kept",
               patient_domain, reason);
        goto next;
    }
    if (strcasecmp(ctx->rcpt_default_mailbox, "INBOX") != 0) {
        e_info(ctx->event, LOG_PREFIX "patient mail addressed to folder %s: left there",
               ctx->rcpt_default_mailbox);
        goto next;
    }

    struct mail_namespace *ns = mail_namespace_find_inbox(user->namespaces);
    const char *vname =
        p_strconcat(ctx->pool, ns->prefix, setting(user, "mssante_patient_folder", DEFAULT_FOLDER), NULL);

    if (folder_ready(ctx, vname, setting_bool(user, "mssante_patient_folder_subscribe", TRUE)) < 0) {
        ctx->tempfail_error = "Cannot open the patient folder, try again later";
        return -1;
    }
    ctx->rcpt_default_mailbox = vname;
    /* Dovecot's own "saved mail to" line says where it went. */
    e_debug(ctx->event, LOG_PREFIX "patient mail relayed by the operator of %s: default folder %s",
            patient_domain, vname);
next:
    if (next_deliver_mail == NULL)
        return -1; /* no other hook: the default save */
    return next_deliver_mail(ctx, storage_r);
}

/* mssante_patient_folder_plugin_init - delivery hook installed (LMTP and LDA only) */
void mssante_patient_folder_plugin_init(struct module *module ATTR_UNUSED)
{
    if (mail_deliver_hook_set == NULL)
        i_fatal(LOG_PREFIX "this plugin works only in lmtp and dovecot-lda");
    next_deliver_mail = mail_deliver_hook_set(patient_deliver_mail);
}

/* mssante_patient_folder_plugin_deinit - delivery hook removed */
void mssante_patient_folder_plugin_deinit(void)
{
    mail_deliver_hook_set(next_deliver_mail);
}
