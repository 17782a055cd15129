/*
 * notice - a short plain-text message of the add-on to an address outside
 * MSSanté (a contact or notification address), through the local sendmail.
 * It carries only the fixed text given: never a message's sender, subject,
 * body or a patient's identity.
 */
#ifndef MSSANTE_NOTICE_H
#define MSSANTE_NOTICE_H

/*
 * notice_send - submit the message with "sendmail -i -f sender -- rcpt"
 * (sendmail: the command, words separated by spaces); subject is UTF-8.
 * 0, or -1 with *err (malloc'd).
 */
int notice_send(const char *sendmail, const char *sender, const char *rcpt, const char *subject,
                const char *body, char **err);

#endif
