/*
 * marks-plugin.c - what our milters found, as IMAP keywords a client shows.
 *
 * A Dovecot LMTP/LDA plugin. At delivery it reads the milters' own headers
 * (each removed by the milter that writes it when it comes from outside):
 *   X-MSSante-Trust: mssante; ...        -> $MSSante (an MSSanté operator relayed it)
 *   X-MSSante-SMIME: signed=yes; verified=yes; ... -> $SMIME-Signed
 *   X-MSSante-SMIME: ...; encrypted=yes; ...       -> $SMIME-Encrypted
 * and stores the message with those keywords, wherever it goes (INBOX, the
 * patient folder, a Sieve fileinto). A header given twice sets nothing: a
 * verdict is one header or none. A webmail draws the seeds' icons from them
 * ("Messages de type MSSanté", "de type SMIME"; none: not secured).
 */
#include "lib.h"
#include "str.h"
#include "mail-storage-private.h"
#include "mail-user.h"
#include "mail-deliver.h"
#include "module-context.h"

#include "trust-header.h"

#define LOG_PREFIX "mssante-marks: "
#define EXPORT     __attribute__((visibility("default")))
#define MAX_MARKS  3

EXPORT extern const char *mssante_marks_plugin_version;
EXPORT extern const char mssante_marks_plugin_binary_dependency[];
EXPORT void mssante_marks_plugin_init(struct module *module);
EXPORT void mssante_marks_plugin_deinit(void);

const char *mssante_marks_plugin_version = DOVECOT_ABI_VERSION;
const char mssante_marks_plugin_binary_dependency[] = "lmtp lda";

/* Defined by lib-lda (lmtp and dovecot-lda only): weak, see the patient-folder plugin. */
extern deliver_mail_func_t *mail_deliver_hook_set(deliver_mail_func_t *new_hook) __attribute__((weak));

#define MARKS_USER_CONTEXT(obj) MODULE_CONTEXT(obj, marks_user_module)
#define MARKS_BOX_CONTEXT(obj)  MODULE_CONTEXT(obj, marks_storage_module)

struct marks_user {
    union mail_user_module_context module_ctx;
    const char *marks[MAX_MARKS + 1]; /* this message's keywords, NULL-terminated */
};

struct marks_mailbox {
    union mailbox_module_context module_ctx;
};

static MODULE_CONTEXT_DEFINE_INIT(marks_user_module, &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(marks_storage_module, &mail_storage_module_register);
static deliver_mail_func_t *next_deliver_mail;

/* one_header - the value of a header present exactly once, else NULL */
static const char *one_header(struct mail *mail, const char *name)
{
    const char *const *values;

    if (mail_get_headers(mail, name, &values) <= 0 || values[0] == NULL || values[1] != NULL)
        return NULL;
    return values[0];
}

/* has_yes - whether "key=yes" is one of the ';'-separated parameters */
static bool has_yes(const char *value, const char *key)
{
    const char *const *params = t_strsplit(value, ";");

    for (; *params != NULL; params++)
        if (strcasecmp(t_str_trim(*params, " \t\r\n"), t_strconcat(key, "=yes", NULL)) == 0)
            return TRUE;
    return FALSE;
}

/* marks_deliver_mail - delivery hook: the keywords this message deserves */
static int marks_deliver_mail(struct mail_deliver_context *ctx, struct mail_storage **storage_r)
{
    struct marks_user *muser = MARKS_USER_CONTEXT(ctx->rcpt_user);
    const char *trust = one_header(ctx->src_mail, "X-MSSante-Trust");
    const char *smime = one_header(ctx->src_mail, "X-MSSante-SMIME");
    char domain[256];
    int n = 0;

    if (muser != NULL) {
        if (trust != NULL && trust_header_parse(trust, domain, sizeof(domain)) == TRUST_MSSANTE)
            muser->marks[n++] = "$MSSante";
        if (smime != NULL && has_yes(smime, "signed") && has_yes(smime, "verified"))
            muser->marks[n++] = "$SMIME-Signed";
        if (smime != NULL && has_yes(smime, "encrypted"))
            muser->marks[n++] = "$SMIME-Encrypted";
        muser->marks[n] = NULL;
    }
    if (next_deliver_mail == NULL)
        return -1; /* no other hook: the default save */
    return next_deliver_mail(ctx, storage_r);
}

/* marks_save_begin - save hook: the keywords set on the saved message */
static int marks_save_begin(struct mail_save_context *ctx, struct istream *input)
{
    struct mailbox *box = ctx->transaction->box;
    struct marks_mailbox *mbox = MARKS_BOX_CONTEXT(box);
    struct marks_user *muser = MARKS_USER_CONTEXT(box->storage->user);

    if (muser != NULL && muser->marks[0] != NULL) {
        struct mail_keywords *kw = mailbox_keywords_create_valid(box, muser->marks);

        if (ctx->data.keywords != NULL) {
            struct mail_keywords *both = mailbox_keywords_merge(ctx->data.keywords, kw);

            mailbox_keywords_unref(&ctx->data.keywords);
            mailbox_keywords_unref(&kw);
            kw = both;
        }
        ctx->data.keywords = kw;
    }
    return mbox->module_ctx.super.save_begin(ctx, input);
}

/* marks_mail_user_created - per-user context */
static void marks_mail_user_created(struct mail_user *user)
{
    struct marks_user *muser = p_new(user->pool, struct marks_user, 1);

    MODULE_CONTEXT_SET(user, marks_user_module, muser);
}

/* marks_mailbox_allocated - per-mailbox save hook */
static void marks_mailbox_allocated(struct mailbox *box)
{
    struct mailbox_vfuncs *v = box->vlast;
    struct marks_mailbox *mbox = p_new(box->pool, struct marks_mailbox, 1);

    mbox->module_ctx.super = *v;
    box->vlast = &mbox->module_ctx.super;
    v->save_begin = marks_save_begin;
    MODULE_CONTEXT_SET(box, marks_storage_module, mbox);
}

static struct mail_storage_hooks marks_hooks = {
    .mail_user_created = marks_mail_user_created,
    .mailbox_allocated = marks_mailbox_allocated,
};

/* mssante_marks_plugin_init - hooks installed (LMTP and LDA only) */
void mssante_marks_plugin_init(struct module *module)
{
    if (mail_deliver_hook_set == NULL)
        i_fatal(LOG_PREFIX "this plugin works only in lmtp and dovecot-lda");
    mail_storage_hooks_add(module, &marks_hooks);
    next_deliver_mail = mail_deliver_hook_set(marks_deliver_mail);
}

/* mssante_marks_plugin_deinit - hooks removed */
void mssante_marks_plugin_deinit(void)
{
    mail_deliver_hook_set(next_deliver_mail);
    mail_storage_hooks_remove(&marks_hooks);
}
