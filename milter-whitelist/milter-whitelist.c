/*
 * milter-whitelist - enforce the MSSanté trust space from the liste blanche.
 *
 * Outbound (our users: SMTP AUTH, a daemon named in outbound_daemons,
 * or local submission): a recipient outside our domains and the list is
 * refused at RCPT; on the non-SMTP path, where Postfix cannot refuse one
 * recipient, the whole message is refused at end of message and the
 * sender gets a bounce naming the refused recipients.
 *
 * Inbound (everything else): the client must have presented a certificate
 * Postfix verified, issued by an IGC-Santé CA, whose CN is the CN of an
 * operator DN listed for the envelope sender's domain, and the From:
 * domain must be listed for that same operator.
 *
 * Never: accept mail because of an error (every internal failure is a
 * temporary failure), accept mail without a verified list, or let an
 * X-MSSante-Trust header from outside reach a mailbox.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "addr.h"
#include "lb.h"
#include "mfi.h"
#include "milter_skel.h"
#include "milter_test.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "strlist.h"

#define TRUST_HEADER "X-MSSante-Trust"

/* ------------------------------------------------------------ the list */

/*
 * A loaded list with a reference count. "current" holds one reference;
 * each connection holds one for its lifetime, so a reload never pulls a
 * list from under a transaction and the old list is freed by whoever
 * drops the last reference.
 */
struct lbref {
    struct lb *lb;
    int refs;
};

static pthread_mutex_t lb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lb_wake = PTHREAD_COND_INITIALIZER;
static struct lbref *lb_current;
static int lb_reload_asked;

/* lbref_get - a reference to the list in force */
static struct lbref *lbref_get(void)
{
    struct lbref *r;

    pthread_mutex_lock(&lb_lock);
    if ((r = lb_current) != NULL)
        r->refs++;
    pthread_mutex_unlock(&lb_lock);
    return r;
}

/* lbref_put - drop a reference; the last one frees a replaced list */
static void lbref_put(struct lbref *r)
{
    int last;

    if (r == NULL)
        return;
    pthread_mutex_lock(&lb_lock);
    last = --r->refs == 0;
    pthread_mutex_unlock(&lb_lock);
    if (last) {
        lb_free(r->lb);
        free(r);
    }
}

/* lb_install - make a freshly verified list the current one */
static void lb_install(struct lb *lb)
{
    struct lbref *r = xcalloc(1, sizeof(*r)), *old;

    r->lb = lb;
    r->refs = 1;
    pthread_mutex_lock(&lb_lock);
    old = lb_current;
    lb_current = r;
    pthread_mutex_unlock(&lb_lock);
    lbref_put(old);
}

/* Identity of the file last examined, to notice a new one. */
static struct stat lb_seen;
static int lb_seen_valid;

/*
 * lb_check - load the list file if it is new. A file that fails is
 * remembered so that it is not retried until it changes; the list in
 * force stays in force.
 */
static void lb_check(int force)
{
    struct lb_options o = {.trust_anchors = var_whitelist_trust_anchors};
    struct stat st;
    struct lb *lb;
    struct lbref *cur;
    char *err = NULL;

    if (stat(var_whitelist_file, &st) < 0) {
        if (!lb_seen_valid || force)
            msg_warn("liste blanche %s: %s; %s", var_whitelist_file, strerror(errno),
                     lb_current ? "keeping the list already loaded"
                                : "no valid list: all mail gets 451 4.7.0");
        lb_seen_valid = 1;
        memset(&lb_seen, 0, sizeof(lb_seen));
        return;
    }
    if (!force && lb_seen_valid && mfi_same_file(&st, &lb_seen))
        return;
    lb_seen = st;
    lb_seen_valid = 1;
    if ((lb = lb_load(var_whitelist_file, &o, &err)) == NULL) {
        cur = lbref_get();
        if (cur)
            msg_error("new liste blanche refused: %s; keeping the list generated %s", err,
                      cur->lb->generated ? cur->lb->generated : "(unknown)");
        else
            msg_error("liste blanche refused: %s; no valid list: all mail gets 451 4.7.0", err);
        lbref_put(cur);
        free(err);
        return;
    }
    msg_info("liste blanche loaded: %s generated %s, %zu entries, %zu domains, %zu operators, "
             "signed by %s",
             var_whitelist_file, lb->generated ? lb->generated : "(unknown)", lb->entries, lb->ndomains,
             lb->noperators, lb->signer.subject);
    for (size_t i = 0; i < lb->nwarnings; i++)
        msg_warn("%s", lb->warnings[i]);
    lb_install(lb);
}

/* watcher - look for a new list every whitelist_check_interval, or when asked */
static void *watcher(void *unused)
{
    (void) unused;
    for (;;) {
        struct timespec until;
        int force;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += var_whitelist_check_interval;
        pthread_mutex_lock(&lb_lock);
        while (!lb_reload_asked && pthread_cond_timedwait(&lb_wake, &lb_lock, &until) != ETIMEDOUT)
            /* void */;
        force = lb_reload_asked;
        lb_reload_asked = 0;
        pthread_mutex_unlock(&lb_lock);
        lb_check(force);
    }
    return NULL;
}

/* wl_reload - SIGUSR1: look at the file now, even if it seems unchanged */
static void wl_reload(void)
{
    pthread_mutex_lock(&lb_lock);
    lb_reload_asked = 1;
    pthread_cond_signal(&lb_wake);
    pthread_mutex_unlock(&lb_lock);
}

/* ------------------------------------------------------------ settings */

static char **our_domains; /* canonical */
static char **issuer_cns;
static char **outbound_daemons;
static char **exempt_senders; /* folded address keys */

/* wl_init - check the settings and load the list before serving */
static int wl_init(char **err)
{
    if ((our_domains = domain_list(var_our_domains, "our_domains", err)) == NULL)
        return -1;
    issuer_cns = strlist_split(var_whitelist_issuer_cns, ",");
    if (issuer_cns[0] == NULL) {
        *err = xstrdup("key \"whitelist_issuer_cns\": no issuing CA configured");
        return -1;
    }
    outbound_daemons = strlist_split(var_outbound_daemons, " ,\t");
    exempt_senders = address_list(var_local_exempt_senders, "local_exempt_senders", err);
    if (exempt_senders == NULL)
        return -1;
    lb_check(1);
    return 0;
}

/* is_issuer - whether a CA CN is one of the configured IGC-Santé CAs */
static int is_issuer(const char *cn)
{
    for (size_t i = 0; issuer_cns[i]; i++)
        if (dn_value_match(issuer_cns[i], cn))
            return 1;
    return 0;
}

/* ------------------------------------------------------------ per connection */

struct wl_conn {
    unsigned long noreply; /* SMFIP_NR_* steps granted: answer SMFIS_NOREPLY */
    struct lbref *ref;
    int local; /* non-SMTP submission (sendmail, sieve redirect) */
    /* per message */
    int outbound;
    int null_sender;
    int exempt;
    char *sender_domain;
    char *cert_cn;
    const struct lb_operator *op;
    int trust_seen;
    int from_count;
    char *from_domain; /* NULL when missing or unparsable */
    char *refused;     /* non-SMTP: refused recipients, for the bounce */
};

/* reset_message - forget one transaction, keep the connection */
static void reset_message(struct wl_conn *c)
{
    free(c->sender_domain);
    free(c->cert_cn);
    free(c->from_domain);
    free(c->refused);
    c->sender_domain = c->cert_cn = c->from_domain = c->refused = NULL;
    c->outbound = c->null_sender = c->exempt = c->trust_seen = c->from_count = 0;
    c->op = NULL;
}

/* conn_state - the connection's state, created by negotiate or connect */
static struct wl_conn *conn_state(SMFICTX *ctx)
{
    struct wl_conn *c = mfi_getpriv(ctx);

    if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL)
        mfi_setpriv(ctx, c);
    return c;
}

/* done - CONTINUE, or NOREPLY for a step the MTA agreed not to wait for */
static sfsistat done(const struct wl_conn *c, unsigned long step)
{
    return c && (c->noreply & step) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* wl_connect - connection state; whether this is a non-SMTP submission */
static sfsistat wl_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    struct wl_conn *c = conn_state(ctx);

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    c->local = mfi_is_local(host, sa);
    c->ref = lbref_get();
    return done(c, SMFIP_NR_CONN);
}

/* wl_envfrom - outbound or inbound; inbound: the client certificate's operator and the sender domain */
static sfsistat wl_envfrom(SMFICTX *ctx, char **argv)
{
    struct wl_conn *c = mfi_getpriv(ctx);
    const char *issuer, *why;
    struct addr sender;
    const struct lb_domain *d;

    if (c == NULL)
        return mfi_tempfail(ctx, "no connection state");
    reset_message(c);
    if (c->ref == NULL && (c->ref = lbref_get()) == NULL) {
        msg_warn("%s: no valid liste blanche loaded: message deferred (451)", mfi_qid(ctx));
        return mfi_reply(ctx, SMFIS_TEMPFAIL, "451", "4.7.0",
                         "Liste blanche MSSante indisponible, reessayez plus tard",
                         "MSSante trust list unavailable, try again later");
    }
    c->outbound = mfi_is_outbound(ctx, c->local, outbound_daemons);

    if (argv[0] == NULL || strcmp(argv[0], "<>") == 0 || strcmp(argv[0], "") == 0) {
        c->null_sender = 1;
    } else if (addr_parse(argv[0], &sender, &why) < 0) {
        if (c->outbound)
            return SMFIS_CONTINUE; /* Postfix decides for our own users */
        char *s = mfi_reply_text(argv[0]);

        msg_info("%s: reject: MAIL FROM %s: %s", mfi_qid(ctx), s, why);
        free(s);
        return mfi_reply(ctx, SMFIS_REJECT, "550", "5.1.7", "Adresse d'expediteur invalide",
                         "Invalid sender address");
    } else {
        c->sender_domain = xstrdup(sender.domain);
        c->exempt = c->local && strlist_has(exempt_senders, sender.key);
        addr_free(&sender);
    }
    if (c->outbound)
        return SMFIS_CONTINUE;

    /* Inbound: a verified IGC-Santé certificate listed for the sender's domain. */
    c->cert_cn = mfi_getsymval(ctx, "{cert_subject}") ? xstrdup(mfi_getsymval(ctx, "{cert_subject}")) : NULL;
    issuer = mfi_getsymval(ctx, "{cert_issuer}");
    if (c->cert_cn == NULL || *c->cert_cn == 0) {
        msg_info("%s: reject: sender domain %s: no verified client certificate", mfi_qid(ctx),
                 c->sender_domain ? c->sender_domain : "(null sender)");
        return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1",
                         "Certificat client IGC-Sante verifie exige (espace de confiance MSSante)",
                         "A verified IGC-Sante client certificate is required (MSSante trust space)");
    }
    if (issuer == NULL || !is_issuer(issuer)) {
        char *s = mfi_reply_text(issuer ? issuer : "");

        msg_info("%s: reject: client certificate CN=%s issued by \"%s\", not an IGC-Sante CA", mfi_qid(ctx),
                 c->cert_cn, s);
        free(s);
        return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1", "Certificat client non emis par une AC IGC-Sante",
                         "Client certificate not issued by an IGC-Sante CA");
    }
    if (c->null_sender) {
        /* A DSN or MDN: the operator must be one of the trust space. */
        if ((c->op = lb_find_cn(c->ref->lb, c->cert_cn)) == NULL) {
            msg_info("%s: reject: from=<>: certificate CN=%s is not listed for any domain", mfi_qid(ctx),
                     c->cert_cn);
            return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1",
                             "Certificat absent de la liste blanche MSSante",
                             "Certificate not in the MSSante trust list");
        }
        return SMFIS_CONTINUE;
    }
    if ((d = lb_lookup(c->ref->lb, c->sender_domain)) == NULL) {
        msg_info("%s: reject: from domain %s not in the liste blanche (client CN=%s)", mfi_qid(ctx),
                 c->sender_domain, c->cert_cn);
        return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1",
                         "Domaine expediteur absent de la liste blanche MSSante",
                         "Sender domain not in the MSSante trust list");
    }
    if ((c->op = lb_match_cn(d, c->cert_cn)) == NULL) {
        msg_info("%s: reject: certificate CN=%s is not listed for domain %s", mfi_qid(ctx), c->cert_cn,
                 c->sender_domain);
        return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1",
                         "Certificat non inscrit en liste blanche pour ce domaine expediteur",
                         "Certificate not listed for the sender domain in the MSSante trust list");
    }
    return SMFIS_CONTINUE;
}

/* rcpt_allowed - one of our domains, or a domain of the list */
static int rcpt_allowed(const struct wl_conn *c, const char *domain)
{
    return strlist_has(our_domains, domain) || lb_lookup(c->ref->lb, domain) != NULL;
}

/* wl_envrcpt - outbound: a recipient outside our domains and the list is refused */
static sfsistat wl_envrcpt(SMFICTX *ctx, char **argv)
{
    struct wl_conn *c = mfi_getpriv(ctx);
    struct addr rcpt;
    const char *why;
    char *shown;

    if (c == NULL || c->ref == NULL)
        return mfi_tempfail(ctx, "RCPT without a transaction");
    if (!c->outbound || c->exempt)
        return SMFIS_CONTINUE;
    if (addr_parse(argv[0], &rcpt, &why) == 0 && rcpt_allowed(c, rcpt.domain)) {
        addr_free(&rcpt);
        return SMFIS_CONTINUE;
    }
    shown = mfi_reply_text(argv[0]);
    if (c->local) {
        /* Postfix cannot refuse one recipient here: decide at end of message. */
        char *more = c->refused ? xasprintf("%s, %s", c->refused, shown) : xstrdup(shown);

        free(c->refused);
        c->refused = more;
    } else {
        msg_info("%s: reject: RCPT %s: outside the MSSante trust space", mfi_qid(ctx), shown);
    }
    addr_free(&rcpt);
    if (c->local) {
        free(shown);
        return SMFIS_CONTINUE;
    }
    {
        char *fr = xasprintf("%s: destinataire hors de l'espace de confiance MSSante "
                             "(domaine absent de la liste blanche)",
                             shown);
        char *en = xasprintf("%s: recipient outside the MSSante trust space "
                             "(domain not in the liste blanche)",
                             shown);
        sfsistat st = mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1", fr, en);

        free(fr);
        free(en);
        free(shown);
        return st;
    }
}

/* from_domain - the domain of the address in a From: value, or NULL */
static char *from_domain(const char *value)
{
    const char *lt = strrchr(value, '<'), *gt;
    char *addr, *d = NULL;
    struct addr a;
    const char *why;

    if (lt && (gt = strchr(lt, '>')) != NULL)
        addr = xstrndup(lt + 1, (size_t) (gt - lt - 1));
    else
        addr = xstrdup(value);
    if (strchr(addr, ',') == NULL && addr_parse(addr, &a, &why) == 0) {
        d = xstrdup(a.domain);
        addr_free(&a);
    }
    free(addr);
    return d;
}

/* wl_header - the first From: domain, the count of From: fields and of forged verdicts */
static sfsistat wl_header(SMFICTX *ctx, char *name, char *value)
{
    struct wl_conn *c = mfi_getpriv(ctx);

    if (c == NULL)
        return SMFIS_CONTINUE;
    if (strcasecmp(name, TRUST_HEADER) == 0)
        c->trust_seen++;
    else if (strcasecmp(name, "From") == 0 && c->from_count++ == 0)
        c->from_domain = from_domain(value);
    return done(c, SMFIP_NR_HDR);
}

/* wl_eom - From: domain of the operator, forged verdicts out, the verdict in */
static sfsistat wl_eom(SMFICTX *ctx)
{
    struct wl_conn *c = mfi_getpriv(ctx);
    char *value;
    sfsistat st;

    if (c == NULL || c->ref == NULL)
        return mfi_tempfail(ctx, "end of message without a transaction");
    if (c->local && c->refused && !c->exempt) {
        msg_info("%s: reject: local submission to recipients outside the MSSante trust space: %s",
                 mfi_qid(ctx), c->refused);
        return mfi_refuse_gathered(ctx,
                                   "Recipients outside the MSSante trust space / destinataires "
                                   "hors de l'espace de confiance MSSante",
                                   c->refused);
    }
    if (!c->outbound && !c->null_sender) {
        const struct lb_domain *fd = c->from_domain ? lb_lookup(c->ref->lb, c->from_domain) : NULL;

        if (c->from_count != 1 || c->from_domain == NULL || lb_match_cn(fd, c->cert_cn) == NULL) {
            msg_info("%s: reject: From: domain %s is not listed for the sending operator CN=%s", mfi_qid(ctx),
                     c->from_domain ? c->from_domain : "(missing or invalid)", c->cert_cn);
            return mfi_reply(ctx, SMFIS_REJECT, "550", "5.7.1",
                             "Domaine de l'en-tete From: non inscrit pour l'operateur emetteur",
                             "From: header domain not listed for the sending operator");
        }
    }
    /* Drop every copy that came from outside. */
    if (mfi_strip(ctx, TRUST_HEADER, c->trust_seen) < 0)
        return mfi_tempfail(ctx, "cannot remove a forged " TRUST_HEADER);
    if (c->outbound) {
        value = xstrdup("local");
    } else {
        char *op = mfi_quoted(c->op->text);

        value = xasprintf("mssante; domain=%s; operator=%s", c->sender_domain ? c->sender_domain : "", op);
        free(op);
    }
    st = mfi_insheader(ctx, 0, TRUST_HEADER, value) == MI_FAILURE
             ? mfi_tempfail(ctx, "cannot add " TRUST_HEADER)
             : SMFIS_CONTINUE;
    if (st == SMFIS_CONTINUE)
        msg_info("%s: %s: %s", mfi_qid(ctx), c->outbound ? "outbound" : "inbound", value);
    free(value);
    return st;
}

/* wl_abort - the transaction ends without a message */
static sfsistat wl_abort(SMFICTX *ctx)
{
    struct wl_conn *c = mfi_getpriv(ctx);

    if (c)
        reset_message(c);
    return SMFIS_CONTINUE;
}

/* wl_close - may come without a connect (a probe): state may be absent */
static sfsistat wl_close(SMFICTX *ctx)
{
    struct wl_conn *c = mfi_getpriv(ctx);

    if (c) {
        reset_message(c);
        lbref_put(c->ref);
        free(c);
        mfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

/*
 * wl_negotiate - only the steps we use, no reply for the steps that cannot
 * fail, and the macros we need at MAIL FROM. Comes before connect: the
 * connection state starts here.
 */
static sfsistat wl_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    unsigned long want = SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH |
                         SMFIP_NR_CONN | SMFIP_NR_HDR;

    (void) f2;
    (void) f3;
    if ((f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) != (SMFIF_ADDHDRS | SMFIF_CHGHDRS))
        return SMFIS_REJECT; /* this MTA cannot do what we need */
    struct wl_conn *c = conn_state(ctx);

    if (c == NULL)
        return SMFIS_TEMPFAIL;
    *pf0 = SMFIF_ADDHDRS | SMFIF_CHGHDRS | (f0 & SMFIF_SETSYMLIST);
    *pf1 = f1 & want;
    *pf2 = *pf3 = 0;
    /* Steps granted without reply must answer SMFIS_NOREPLY (libmilter). */
    c->noreply = *pf1 & (SMFIP_NR_CONN | SMFIP_NR_HDR);
    if (f0 & SMFIF_SETSYMLIST)
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {daemon_name} {cert_subject} {cert_issuer}");
    return SMFIS_CONTINUE;
}

static struct smfiDesc wl_desc = {
    .xxfi_name = "milter-whitelist",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
    .xxfi_connect = wl_connect,
    .xxfi_envfrom = wl_envfrom,
    .xxfi_envrcpt = wl_envrcpt,
    .xxfi_header = wl_header,
    .xxfi_eom = wl_eom,
    .xxfi_abort = wl_abort,
    .xxfi_close = wl_close,
    .xxfi_negotiate = wl_negotiate,
};

/* wl_start - the watcher thread, once serving */
static int wl_start(char **err)
{
    pthread_t tid;

    if (pthread_create(&tid, NULL, watcher, NULL) != 0) {
        *err = xstrdup("cannot start the liste blanche watcher thread");
        return -1;
    }
    return 0;
}

/* main - the milter skeleton with milter-whitelist's callbacks */
int main(int argc, char **argv)
{
    static const struct milter_app app = {
        .name = "milter-whitelist",
        .desc = &wl_desc,
        .socket = &var_whitelist_socket,
        .user = &var_whitelist_user,
        .init = wl_init,
        .start = wl_start,
        .reload = wl_reload,
        .test_usage = "--from ADDR --rcpt ADDR... [--auth USER] [--local] "
                      "[--cert-subject CN --cert-issuer CN] < message",
    };

    return milter_main(argc, argv, &app);
}
