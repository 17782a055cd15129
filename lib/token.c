/*
 * token - single-use links to a contact address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mymalloc.h"
#include "notice.h"
#include "params.h"
#include "pgutil.h"
#include "token.h"

/* token_hash - the hex SHA-256 of a token, as stored */
void token_hash(const char *token, char hex[TOKEN_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int len = 0;

    EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

/* token_new - a random single-use token for an account, stored hashed; the token or NULL and *err */
char *token_new(PGconn *conn, const char *account_id, const char *kind, long validity, char **err)
{
    unsigned char raw[32];
    char *token = xmalloc(2 * sizeof(raw) + 1), hash[TOKEN_HEX_LEN + 1], secs[32];
    const char *p[4] = {hash, account_id, kind, secs};
    PGresult *res;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        free(token);
        *err = xstrdup("no random bytes");
        return NULL;
    }
    for (unsigned i = 0; i < sizeof(raw); i++)
        sprintf(token + 2 * i, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof(raw));
    token_hash(token, hash);
    snprintf(secs, sizeof(secs), "%ld", validity);
    res = PQexecParams(conn,
                       "WITH old AS (UPDATE portal_token SET used_at = now() WHERE account_id = $2"
                       " AND kind = $3 AND used_at IS NULL)"
                       " INSERT INTO portal_token (token_hash, account_id, kind, expires_at)"
                       " VALUES ($1, $2, $3, now() + make_interval(secs => $4::int))",
                       4, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        OPENSSL_cleanse(token, strlen(token));
        free(token);
        return NULL;
    }
    PQclear(res);
    return token;
}

/* token_mail - mail an activation or reset link */
int token_mail(const char *kind, const char *base_url, const char *token, long validity, const char *rcpt,
               char **err)
{
    int activation = strcmp(kind, "activation") == 0;
    const char *path = activation ? "/activation" : "/reinitialisation";
    long hours = validity / 3600, minutes = validity / 60;
    char delay_fr[48], delay_en[48], *body;
    int ret;

    if (hours >= 2 && validity % 3600 == 0) {
        snprintf(delay_fr, sizeof(delay_fr), "%ld heures", hours);
        snprintf(delay_en, sizeof(delay_en), "%ld hours", hours);
    } else {
        snprintf(delay_fr, sizeof(delay_fr), "%ld minutes", minutes);
        snprintf(delay_en, sizeof(delay_en), "%ld minutes", minutes);
    }
    /* Nothing but the login and the link: it goes outside MSSanté. */
    body = xasprintf("%s\n\n  %s%s?t=%s\n\n"
                     "Ce lien est valable %s et ne sert qu'une fois. Si vous n'\xc3\xaates pas"
                     " \xc3\xa0 l'origine de cette demande, ignorez ce message.\n\n"
                     "-- \n%s\n  %s%s?t=%s\nThis link is good for %s, once.\n",
                     activation ? "Activez votre compte de messagerie MSSant\xc3\xa9 en suivant ce lien"
                                  " : choisissez votre mot de passe et votre second facteur."
                                : "Pour choisir un nouveau mot de passe de votre messagerie MSSant\xc3\xa9,"
                                  " suivez ce lien :",
                     base_url, path, token, delay_fr,
                     activation ? "Activate your MSSante mail account:" : "Reset your MSSante password:",
                     base_url, path, token, delay_en);
    ret = notice_send(var_otp_sendmail, var_otp_email_sender, rcpt,
                      activation ? "Activation de votre compte MSSant\xc3\xa9"
                                 : "R\xc3\xa9initialisation de votre mot de passe MSSant\xc3\xa9",
                      body, err);
    OPENSSL_cleanse(body, strlen(body));
    free(body);
    return ret;
}
