/*
 * quota - mssante-admin's quota verbs: the default quota of each BAL type
 * (a BAL's own, set by "bal set --quota", comes first), and the warning
 * Dovecot's quota plugin asks for as a BAL fills (conf/dovecot-quota.conf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "msg.h"
#include "mymalloc.h"
#include "notice.h"
#include "params.h"

/* quota_default - quota default: the quota of a BAL type */
int quota_default(char **a)
{
    const char *p[2];

    opt_form.in[FF_TYPE] = a[0];
    opt_form.in[FF_QUOTA] = a[1];
    check_options(0);
    p[0] = opt_form.val[FF_TYPE];
    p[1] = opt_form.val[FF_QUOTA];
    change_one("UPDATE quota_default SET quota_mb = $2::integer WHERE bal_type = $1", 2, p, "quota-default",
               "no such BAL type");
    fprintf(stderr, "mssante-admin: %s BALs without a quota of their own: %s MB\n", p[0], p[1]);
    return 0;
}

/* quota_list - quota list: the default quota of each BAL type */
int quota_list(char **a)
{
    (void) a;
    list_all("SELECT bal_type AS type, quota_mb FROM quota_default", "ORDER BY bal_type", 2);
    return 0;
}

/*
 * quota_warning - PERCENT BAL: a fixed text to the BAL's notification
 * address, or its owner's contact address, from otp_email_sender through
 * otp_sendmail. Nothing of any message: it leaves MSSanté.
 */
int quota_warning(char **a)
{
    char *end, *subject, *body, *err, *rcpt, *bal;
    long pct = strtol(a[0], &end, 10);

    if (*end || end == a[0] || pct < 1 || pct > 100)
        refuse("\"%s\" is not a percentage", a[0]);
    if ((rcpt = bal_holder(a[1], &bal)) == NULL) {
        msg_warn("%s is %ld%% full: no notification or contact address to warn", a[1], pct);
        free(bal);
        return 0;
    }
    subject = xasprintf("Votre messagerie MSSant\xc3\xa9 est pleine \xc3\xa0 %ld %% / mailbox %ld %% full",
                        pct, pct);
    body = xasprintf("Votre bo\xc3\xaete aux lettres MSSant\xc3\xa9 %s est remplie \xc3\xa0 %ld %% de son"
                     " quota.\nSupprimez ou archivez des messages, et videz la corbeille : pleine, elle"
                     " ne re\xc3\xa7oit plus\nrien, les messages attendent chez leur exp\xc3\xa9"
                     "diteur puis lui reviennent.\n\n"
                     "Your MSSant\xc3\xa9 mailbox %s is %ld %% full. Delete or archive messages and"
                     " empty the\nTrash: once full it receives nothing, mail waits at its sender's"
                     " and is returned.\n",
                     bal, pct, bal, pct);
    if (notice_send(var_otp_sendmail, var_otp_email_sender, rcpt, subject, body, &err) < 0)
        refuse("%s: the %ld %% warning was not sent: %s", a[1], pct, err);
    /* The audit row is the record: Dovecot logs whatever a script says as an error. */
    audit("quota-warning", bal, a[0]);
    free(subject);
    free(body);
    free(rcpt);
    free(bal);
    return 0;
}
