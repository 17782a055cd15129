/*
 * mfi - the libmilter calls our milters make, through one thin layer.
 *
 * In a running milter these are the smfi_* functions. In test mode (-t)
 * the context is a recording stand-in driven by milter_test, so that the
 * very same callbacks run over a message file without an MTA.
 */
#ifndef MSSANTE_MFI_H
#define MSSANTE_MFI_H

#include <stddef.h>
#include <sys/stat.h>
#include <libmilter/mfapi.h>

extern int mfi_test_mode;

const char *mfi_getsymval(SMFICTX *ctx, const char *name);
void *mfi_getpriv(SMFICTX *ctx);
int mfi_setpriv(SMFICTX *ctx, void *priv);

/* mfi_setreply - a reply of one or two lines (French, then English) */
int mfi_setreply(SMFICTX *ctx, const char *rcode, const char *xcode, const char *line1, const char *line2);
int mfi_addheader(SMFICTX *ctx, const char *name, const char *value);
int mfi_insheader(SMFICTX *ctx, int index, const char *name, const char *value);
int mfi_chgheader(SMFICTX *ctx, const char *name, int index, const char *value);
int mfi_replacebody(SMFICTX *ctx, const unsigned char *buf, size_t len);
int mfi_progress(SMFICTX *ctx);

/* mfi_reply_text - printable ASCII copy of untrusted text for a reply */
char *mfi_reply_text(const char *s);

/* mfi_reply - set a reply in French then English; returns st (TEMPFAIL if it cannot) */
sfsistat mfi_reply(SMFICTX *ctx, sfsistat st, const char *rcode, const char *xcode, const char *fr,
                   const char *en);

/* mfi_tempfail - an internal problem: logged, 451 4.7.0 so that the MTA retries; never accept */
sfsistat mfi_tempfail(SMFICTX *ctx, const char *why);

/* mfi_refuse_gathered - a non-SMTP submission's refusals, gathered until its end, as one 550 5.7.1 */
sfsistat mfi_refuse_gathered(SMFICTX *ctx, const char *what, const char *refused);

/* mfi_strip - remove the count copies of a header that came with the message; 0, or -1 */
int mfi_strip(SMFICTX *ctx, const char *name, int count);

/* mfi_quoted - a header quoted-string of untrusted text (line breaks blanked) */
char *mfi_quoted(const char *s);

/* mfi_same_file - whether two stat results describe the same, unchanged file */
int mfi_same_file(const struct stat *a, const struct stat *b);

/* mfi_qid - the Postfix queue id, or "NOQUEUE" */
const char *mfi_qid(SMFICTX *ctx);

/* mfi_is_local - whether xxfi_connect describes Postfix's non-SMTP submission */
int mfi_is_local(const char *host, const struct sockaddr *sa);

/*
 * mfi_is_outbound - mail of our own users: non-SMTP submission, SMTP AUTH,
 * or a listener whose milter_macro_daemon_name is one of daemons.
 */
int mfi_is_outbound(SMFICTX *ctx, int local, char **daemons);

#endif
