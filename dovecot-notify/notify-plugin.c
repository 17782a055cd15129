/*
 * notify-plugin.c - tell a BAL's holder, outside MSSanté, that mail arrived.
 *
 * A Dovecot LMTP/LDA plugin. When a delivery stores a message in a BAL that
 * has a notification address (userdb field mssante_notify, from the BAL's
 * notify_email), a short fixed text goes to that address through the local
 * sendmail: how many messages arrived, the BAL and the link of the webmail
 * or portal. Never the sender, the subject, a word of the body, an
 * attachment's name or a patient's identity: the notice leaves MSSanté for
 * an ordinary mailbox.
 *
 *   - Only for mail whose X-MSSante-Trust verdict (milter-whitelist's own
 *     header, stripped when it comes from outside) says a listed operator
 *     relayed it; also for "local" mail when the BAL asks (userdb field
 *     mssante_notify_local = yes).
 *   - At most one notice per BAL per mssante_notify_min_interval (15 min):
 *     the next one counts the messages since the last (state in the BAL's
 *     home, ~/.mssante-notify, under a lock).
 *   - Only once the message is stored (after the transaction's commit), and
 *     never at the delivery's expense: sendmail runs in a process of its
 *     own that nobody waits for; a failure is logged, delivery goes on.
 */
#include "lib.h"
#include "ioloop.h"
#include "mail-storage-private.h"
#include "mail-user.h"
#include "mail-deliver.h"
#include "module-context.h"
#include "settings-parser.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notice.h"
#include "trust-header.h"

#define TRUST_HEADER     "X-MSSante-Trust"
#define LOG_PREFIX       "mssante-notify: "
#define STATE_FILE       ".mssante-notify"
#define DEFAULT_INTERVAL "15 min"
#define DEFAULT_SENDMAIL "/usr/sbin/sendmail"
#define EXPORT           __attribute__((visibility("default")))

EXPORT extern const char *mssante_notify_plugin_version;
EXPORT extern const char mssante_notify_plugin_binary_dependency[];
EXPORT void mssante_notify_plugin_init(struct module *module);
EXPORT void mssante_notify_plugin_deinit(void);

const char *mssante_notify_plugin_version = DOVECOT_ABI_VERSION;
const char mssante_notify_plugin_binary_dependency[] = "lmtp lda";

/* Defined by lib-lda (lmtp and dovecot-lda only): weak, see the patient-folder plugin. */
extern deliver_mail_func_t *mail_deliver_hook_set(deliver_mail_func_t *new_hook) __attribute__((weak));

#define NOTIFY_USER_CONTEXT(obj) MODULE_CONTEXT(obj, notify_user_module)
#define NOTIFY_BOX_CONTEXT(obj)  MODULE_CONTEXT(obj, notify_storage_module)

struct notify_user {
    union mail_user_module_context module_ctx;
    bool wanted; /* this message's verdict calls for a notice */
    bool stored; /* and it was stored */
};

struct notify_mailbox {
    union mailbox_module_context module_ctx;
};

static MODULE_CONTEXT_DEFINE_INIT(notify_user_module, &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(notify_storage_module, &mail_storage_module_register);
static deliver_mail_func_t *next_deliver_mail;

/* setting - a plugin setting (or userdb field), or def when unset or empty */
static const char *setting(struct mail_user *user, const char *name, const char *def)
{
    const char *value = mail_user_plugin_getenv(user, name);

    return value == NULL || *value == '\0' ? def : value;
}

/* verdict_wanted - whether the message's verdict calls for a notice */
static bool verdict_wanted(struct mail_deliver_context *ctx)
{
    const char *const *values;
    char domain[256];

    if (mail_get_headers(ctx->src_mail, TRUST_HEADER, &values) <= 0 || values[0] == NULL || values[1] != NULL)
        return FALSE;
    switch (trust_header_parse(values[0], domain, sizeof(domain))) {
    case TRUST_MSSANTE:
        return TRUE;
    case TRUST_LOCAL:
        return strcasecmp(setting(ctx->rcpt_user, "mssante_notify_local", "no"), "yes") == 0;
    default:
        return FALSE;
    }
}

/* notify_deliver_mail - delivery hook: whether this delivery may deserve a notice */
static int notify_deliver_mail(struct mail_deliver_context *ctx, struct mail_storage **storage_r)
{
    struct notify_user *nuser = NOTIFY_USER_CONTEXT(ctx->rcpt_user);

    if (nuser != NULL && setting(ctx->rcpt_user, "mssante_notify", NULL) != NULL)
        nuser->wanted = verdict_wanted(ctx);
    if (next_deliver_mail == NULL)
        return -1; /* no other hook: the default save */
    return next_deliver_mail(ctx, storage_r);
}

/* notify_transaction_commit - commit hook: remember that a message was stored */
static int notify_transaction_commit(struct mailbox_transaction_context *t,
                                     struct mail_transaction_commit_changes *changes_r)
{
    struct mailbox *box = t->box;
    struct notify_mailbox *nbox = NOTIFY_BOX_CONTEXT(box);
    struct notify_user *nuser = NOTIFY_USER_CONTEXT(box->storage->user);

    if (nbox->module_ctx.super.transaction_commit(t, changes_r) < 0)
        return -1;
    if (nuser != NULL && array_is_created(&changes_r->saved_uids) && array_count(&changes_r->saved_uids) > 0)
        nuser->stored = TRUE;
    return 0;
}

/*
 * due - count the message in the BAL's state; the number of messages to
 * announce when a notice is due now, 0 when one went out less than the
 * interval ago, -1 when the state cannot be kept (logged).
 */
static int due(struct mail_user *user, unsigned int interval)
{
    const char *home, *path;
    long last = 0;
    unsigned int pending = 0;
    char buf[64];
    ssize_t n;
    int fd, ret;

    if (mail_user_get_home(user, &home) <= 0) {
        e_error(user->event, LOG_PREFIX "no home directory: no notice");
        return -1;
    }
    path = t_strconcat(home, "/" STATE_FILE, NULL);
    /* The home exists once something needs it: now, maybe. */
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 && errno == ENOENT &&
        mail_user_home_mkdir(user) == 0)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        e_error(user->event, LOG_PREFIX "%s: %m: no notice", path);
        if (fd >= 0)
            i_close_fd(&fd);
        return -1;
    }
    if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
        buf[n] = '\0';
        if (sscanf(buf, "%ld %u", &last, &pending) != 2) {
            last = 0;
            pending = 0;
        }
    }
    pending++;
    ret = ioloop_time - last >= (long) interval ? (int) pending : 0;
    if (ret > 0) {
        last = ioloop_time;
        pending = 0;
    }
    n = i_snprintf(buf, sizeof(buf), "%ld %u\n", last, pending) < 0 ? -1 : (ssize_t) strlen(buf);
    if (n < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n) {
        e_error(user->event, LOG_PREFIX "%s: %m", path);
        ret = -1;
    }
    i_close_fd(&fd);
    return ret;
}

/* send_notice - the notice, from a process of its own nobody waits for (its failure logged there) */
static void send_notice(struct mail_user *user, const char *rcpt, unsigned int count)
{
    const char *sender = setting(user, "mssante_notify_sender", NULL);
    const char *url = setting(user, "mssante_notify_url", NULL);
    const char *sendmail = setting(user, "mssante_notify_sendmail", DEFAULT_SENDMAIL);
    const char *subject, *body, *fr, *en;
    pid_t pid;

    if (sender == NULL) {
        e_error(user->event, LOG_PREFIX "mssante_notify_sender is not set: no notice");
        return;
    }
    fr = count == 1 ? "1 nouveau message" : t_strdup_printf("%u nouveaux messages", count);
    en = count == 1 ? "1 new message" : t_strdup_printf("%u new messages", count);
    subject = "Nouveau message MSSant\xc3\xa9 / New MSSant\xc3\xa9 message";
    body = t_strdup_printf(
        "Votre bo\xc3\xaete aux lettres MSSant\xc3\xa9 %s a re\xc3\xa7u %s.\n"
        "Lisez-les dans votre messagerie s\xc3\xa9"
        "curis\xc3\xa9"
        "e%s%s.\n\n"
        "Your MSSant\xc3\xa9 mailbox %s has received %s.\nRead them in your secure mail%s%s.\n\n"
        "Message automatique, ne pas r\xc3\xa9pondre. / Automatic message, do not reply.\n",
        user->username, fr, url ? " : " : "", url ? url : "", user->username, en, url ? ": " : "",
        url ? url : "");
    if ((pid = fork()) < 0) {
        e_error(user->event, LOG_PREFIX "fork: %m: no notice");
        return;
    }
    if (pid == 0) {
        /* The child leaves at once; its own child sends, adopted by init. */
        if (fork() == 0) {
            char *err = NULL;

            /* Dovecot's handlers are of no use here: its own child is waited for. */
            signal(SIGCHLD, SIG_DFL);

            if (notice_send(sendmail, sender, rcpt, subject, body, &err) < 0)
                i_error(LOG_PREFIX "%s: the notice to %s was not sent: %s", user->username, rcpt, err);
            _exit(0);
        }
        _exit(0);
    }
    (void) waitpid(pid, NULL, 0);
    e_info(user->event, LOG_PREFIX "notice of %u new message%s sent to %s", count, count == 1 ? "" : "s",
           rcpt);
}

/* notify_user_deinit - end of the user's session: the notice, if one is due */
static void notify_user_deinit(struct mail_user *user)
{
    struct notify_user *nuser = NOTIFY_USER_CONTEXT(user);
    const char *rcpt = setting(user, "mssante_notify", NULL), *error;
    unsigned int interval;
    int count;

    if (nuser->wanted && nuser->stored && rcpt != NULL)
        T_BEGIN
        {
            if (settings_get_time(setting(user, "mssante_notify_min_interval", DEFAULT_INTERVAL), &interval,
                                  &error) < 0)
                e_error(user->event, LOG_PREFIX "mssante_notify_min_interval: %s: no notice", error);
            else if ((count = due(user, interval)) > 0)
                send_notice(user, rcpt, (unsigned int) count);
        }
    T_END;
    nuser->module_ctx.super.deinit(user);
}

/* notify_mail_user_created - per-user context and deinit hook */
static void notify_mail_user_created(struct mail_user *user)
{
    struct mail_user_vfuncs *v = user->vlast;
    struct notify_user *nuser = p_new(user->pool, struct notify_user, 1);

    nuser->module_ctx.super = *v;
    user->vlast = &nuser->module_ctx.super;
    v->deinit = notify_user_deinit;
    MODULE_CONTEXT_SET(user, notify_user_module, nuser);
}

/* notify_mailbox_allocated - per-mailbox commit hook */
static void notify_mailbox_allocated(struct mailbox *box)
{
    struct mailbox_vfuncs *v = box->vlast;
    struct notify_mailbox *nbox = p_new(box->pool, struct notify_mailbox, 1);

    nbox->module_ctx.super = *v;
    box->vlast = &nbox->module_ctx.super;
    v->transaction_commit = notify_transaction_commit;
    MODULE_CONTEXT_SET(box, notify_storage_module, nbox);
}

static struct mail_storage_hooks notify_hooks = {
    .mail_user_created = notify_mail_user_created,
    .mailbox_allocated = notify_mailbox_allocated,
};

/* mssante_notify_plugin_init - hooks installed (LMTP and LDA only) */
void mssante_notify_plugin_init(struct module *module)
{
    if (mail_deliver_hook_set == NULL)
        i_fatal(LOG_PREFIX "this plugin works only in lmtp and dovecot-lda");
    mail_storage_hooks_add(module, &notify_hooks);
    next_deliver_mail = mail_deliver_hook_set(notify_deliver_mail);
}

/* mssante_notify_plugin_deinit - hooks removed */
void mssante_notify_plugin_deinit(void)
{
    mail_deliver_hook_set(next_deliver_mail);
    mail_storage_hooks_remove(&notify_hooks);
}
