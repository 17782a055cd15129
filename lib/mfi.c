/*
 * mfi - libmilter calls, or their test-mode stand-ins.
 *
 * The test-mode context is defined in milter_test.c; this file only
 * dispatches. Reply texts go through mfi_reply_text: libmilter and the
 * SMTP client on the other side expect printable ASCII without '%'.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "mfi.h"
#include "msg.h"
#include "milter_test.h"
#include "mymalloc.h"
#include "strlist.h"

int mfi_test_mode;

#define TEST_CTX(ctx) ((struct mt_ctx *) (void *) (ctx))

/* mfi_getsymval - a macro's value (libmilter or test mode) */
const char *mfi_getsymval(SMFICTX *ctx, const char *name)
{
    return mfi_test_mode ? mt_getsymval(TEST_CTX(ctx), name) : smfi_getsymval(ctx, (char *) name);
}

/* mfi_getpriv - the connection's private data */
void *mfi_getpriv(SMFICTX *ctx)
{
    return mfi_test_mode ? TEST_CTX(ctx)->priv : smfi_getpriv(ctx);
}

/* mfi_setpriv - set the connection's private data */
int mfi_setpriv(SMFICTX *ctx, void *priv)
{
    if (mfi_test_mode) {
        TEST_CTX(ctx)->priv = priv;
        return MI_SUCCESS;
    }
    return smfi_setpriv(ctx, priv);
}

/* mfi_setreply - the SMTP reply of the next refusal (one or two lines) */
int mfi_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *line1, const char *line2)
{
    if (mfi_test_mode)
        return mt_setreply(TEST_CTX(ctx), rcode, xcode, line1, line2);
    if (line2)
        return smfi_setmlreply(ctx, rcode, xcode, (char *) line1, (char *) line2, (char *) NULL);
    return smfi_setreply(ctx, (char *) rcode, (char *) xcode, (char *) line1);
}

/* mfi_addheader - append a header field */
int mfi_addheader(SMFICTX *ctx, const char *name, const char *value)
{
    if (mfi_test_mode)
        return mt_edit(TEST_CTX(ctx), MT_ADD, 0, name, value);
    return smfi_addheader(ctx, (char *) name, (char *) value);
}

/* mfi_insheader - insert a header field at index */
int mfi_insheader(SMFICTX *ctx, int index, const char *name, const char *value)
{
    if (mfi_test_mode)
        return mt_edit(TEST_CTX(ctx), MT_INS, index, name, value);
    return smfi_insheader(ctx, index, (char *) name, (char *) value);
}

/* mfi_chgheader - change or (value NULL) delete the index-th field of a name */
int mfi_chgheader(SMFICTX *ctx, const char *name, int index, const char *value)
{
    if (mfi_test_mode)
        return mt_edit(TEST_CTX(ctx), MT_CHG, index, name, value);
    return smfi_chgheader(ctx, (char *) name, index, (char *) value);
}

/* mfi_replacebody - one chunk of the new body */
int mfi_replacebody(SMFICTX *ctx, const unsigned char *buf, size_t len)
{
    if (mfi_test_mode)
        return mt_replacebody(TEST_CTX(ctx), buf, len);
    return smfi_replacebody(ctx, (unsigned char *) buf, (int) len);
}

/* mfi_progress - tell the MTA we are still working */
int mfi_progress(SMFICTX *ctx)
{
    return mfi_test_mode ? MI_SUCCESS : smfi_progress(ctx);
}

/* mfi_reply_text - printable ASCII, '%' and controls replaced, bounded */
char *mfi_reply_text(const char *s)
{
    size_t n = strnlen(s, 400);
    char *out = xstrndup(s, n);

    for (char *p = out; *p; p++)
        if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e || *p == '%')
            *p = '?';
    return out;
}

/* mfi_reply - a bilingual reply and the status to return with it */
sfsistat mfi_reply(SMFICTX *ctx, sfsistat st, const char *rcode, const char *xcode, const char *fr,
                   const char *en)
{
    char *l1 = mfi_reply_text(fr), *l2 = mfi_reply_text(en);

    if (mfi_setreply(ctx, rcode, xcode, l1, l2) == MI_FAILURE)
        st = SMFIS_TEMPFAIL;
    free(l1);
    free(l2);
    return st;
}

/* mfi_tempfail - log the reason, answer 451 4.7.0 */
sfsistat mfi_tempfail(SMFICTX *ctx, const char *why)
{
    msg_error("%s: temporary failure: %s", mfi_qid(ctx), why);
    return mfi_reply(ctx, SMFIS_TEMPFAIL, "451", "4.7.0",
                     "Erreur temporaire du filtre MSSante, reessayez plus tard",
                     "Temporary MSSante filter error, try again later");
}

/*
 * mfi_refuse_gathered - one line "WHAT: refused": Postfix folds a
 * multi-line reply badly into the bounce of a non-SMTP submission.
 */
sfsistat mfi_refuse_gathered(SMFICTX *ctx, const char *what, const char *refused)
{
    char *both = xasprintf("%s: %s", what, refused), *text = mfi_reply_text(both);
    sfsistat st = mfi_setreply(ctx, "550", "5.7.1", text, NULL) == MI_FAILURE ? SMFIS_TEMPFAIL : SMFIS_REJECT;

    free(both);
    free(text);
    return st;
}

/* mfi_strip - last first: deleting a copy shifts the indexes of the later ones */
int mfi_strip(SMFICTX *ctx, const char *name, int count)
{
    for (int i = count; i > 0; i--)
        if (mfi_chgheader(ctx, name, i, NULL) == MI_FAILURE)
            return -1;
    if (count)
        msg_warn("%s: removed %d %s header(s) that came with the message", mfi_qid(ctx), count, name);
    return 0;
}

/* mfi_qid - the Postfix queue id, or "NOQUEUE" */
const char *mfi_qid(SMFICTX *ctx)
{
    const char *i = mfi_getsymval(ctx, "i");

    return i && *i ? i : "NOQUEUE";
}

/* mfi_is_local - non-SMTP mail: Postfix presents it as localhost, 127.0.0.1, port 0 */
int mfi_is_local(const char *host, const struct sockaddr *sa)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *) (const void *) sa;

    return sa && sa->sa_family == AF_INET && host && strcmp(host, "localhost") == 0 && in->sin_port == 0 &&
           ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK;
}

/* mfi_is_outbound - mail of our users: non-SMTP, SMTP AUTH, or an outbound daemon name */
int mfi_is_outbound(SMFICTX *ctx, int local, char **daemons)
{
    const char *auth = mfi_getsymval(ctx, "{auth_authen}");
    const char *daemon = mfi_getsymval(ctx, "{daemon_name}");

    return local || (auth && *auth) || (daemon && strlist_has(daemons, daemon));
}

/* mfi_quoted - a quoted-string of untrusted text, line breaks blanked */
char *mfi_quoted(const char *s)
{
    char *out = xmalloc(2 * strlen(s) + 3), *o = out;

    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = (*s == '\r' || *s == '\n') ? ' ' : *s;
    }
    *o++ = '"';
    *o = 0;
    return out;
}

/* mfi_same_file - whether two stat results are the same unchanged file */
int mfi_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}
