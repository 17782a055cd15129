/*
 * authclient - one PLAIN authentication through Dovecot's auth service
 * (its auth-client protocol, version 1.2), the way Dovecot's own login
 * processes and Postfix ask: the credentials are checked by whatever
 * passdb Dovecot runs, with its rules, lock-outs and audit trail.
 */
#ifndef MSSANTE_AUTHCLIENT_H
#define MSSANTE_AUTHCLIENT_H

enum authc_status {
    AUTHC_OK,       /* OK */
    AUTHC_FAIL,     /* FAIL, decided */
    AUTHC_TEMPFAIL, /* FAIL code=temp_fail, or no answer */
};

/* What came back: every string malloc'd or NULL. */
struct authc_reply {
    enum authc_status status;
    char *user;    /* user= */
    char *code;    /* code= (user_disabled, temp_fail, ...) */
    char *reason;  /* reason= */
    char *outcome; /* mssante_outcome= */
    char *login;   /* mssante_login= */
};

/*
 * authc_plain - ask the auth socket at path whether user/password may log
 * in for service from client address rip (NULL: none), waiting at most
 * timeout seconds. Returns 0 with *reply filled (status TEMPFAIL when
 * Dovecot could not decide), or -1 with *err when it could not be asked.
 */
int authc_plain(const char *path, const char *service, const char *user, const char *password,
                const char *rip, int timeout, struct authc_reply *reply, char **err);

/*
 * authc_plain_fwd - authc_plain with one forwarded field ("key=value", no
 * tab or newline) that the passdb reads as forward_<key>
 */
int authc_plain_fwd(const char *path, const char *service, const char *user, const char *password,
                    const char *rip, const char *forward, int timeout, struct authc_reply *reply, char **err);

/* authc_free - the strings of a reply */
void authc_free(struct authc_reply *reply);

#endif
