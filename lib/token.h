/*
 * token - the single-use links the portal mails to a contact address
 * (activation, password reset): 256 random bits in the link, only their
 * SHA-256 in portal_token, spent once, before a deadline.
 */
#ifndef MSSANTE_TOKEN_H
#define MSSANTE_TOKEN_H

#include <libpq-fe.h>

#define TOKEN_HEX_LEN 64

/* token_hash - the stored form of a token: SHA-256 in hex */
void token_hash(const char *token, char hex[TOKEN_HEX_LEN + 1]);

/*
 * token_new - a new token of kind ("activation", "reset") for the account,
 * good for validity seconds; the account's older unspent tokens of that
 * kind are void. The token (malloc'd), or NULL with *err.
 */
char *token_new(PGconn *conn, const char *account_id, const char *kind, long validity, char **err);

/*
 * token_mail - the link to the contact address: base_url + path + "?t=" +
 * token, with a text saying what it is for and until when (French and
 * English). 0, or -1 with *err.
 */
int token_mail(const char *kind, const char *base_url, const char *token, long validity, const char *rcpt,
               char **err);

#endif
