#ifndef MSSANTE_APPSIEVE_H
#define MSSANTE_APPSIEVE_H

/*
 * appsieve - the Sieve script of the APP (software) BALs' addresses, ours
 * (bal) and the directory's (annuaire_bal), that Dovecot runs before each
 * user's script: a message whose envelope sender is one of them gets the
 * guard's Auto-Submitted line, so no out-of-office ever answers software.
 */
#include <libpq-fe.h>

/*
 * app_senders_write - write the script to path (a new file renamed over
 * the old one, so Dovecot never reads half of it); the number of addresses
 * in *count. -1 and *err (naming path) when nothing was replaced.
 */
int app_senders_write(PGconn *conn, const char *path, long *count, char **err);

#endif
