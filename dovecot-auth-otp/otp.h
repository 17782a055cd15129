/*
 * otp - the second-factor primitives shared by the passdb driver and
 * mssante-otp: TOTP (RFC 6238 over liboath), secrets sealed with
 * AES-256-GCM under the site key, base32 for otpauth:// URIs.
 * No Dovecot and no PostgreSQL here.
 */
#ifndef MSSANTE_OTP_H
#define MSSANTE_OTP_H

#include <stddef.h>
#include <time.h>

#define OTP_KEY_LEN    32                         /* AES-256 */
#define OTP_SECRET_LEN 20                         /* 160-bit TOTP seed (RFC 4226 recommends) */
#define OTP_SEALED_LEN (12 + OTP_SECRET_LEN + 16) /* nonce, ciphertext, tag */
#define OTP_DIGITS     6
#define OTP_STEP       30

/*
 * otp_key_load - the site key: a file of 64 hex digits, owned by root and
 * readable by nobody else. 0, or -1 with *err.
 */
int otp_key_load(const char *path, unsigned char key[OTP_KEY_LEN], char **err);

/* otp_seal / otp_open - a secret to and from its stored form; login is bound in */
int otp_seal(const unsigned char key[OTP_KEY_LEN], const char *login,
             const unsigned char secret[OTP_SECRET_LEN], unsigned char out[OTP_SEALED_LEN]);
int otp_open(const unsigned char key[OTP_KEY_LEN], const char *login, const unsigned char *sealed, size_t len,
             unsigned char secret[OTP_SECRET_LEN]);

/*
 * otp_totp_match - the time step (>= 1) at which code is the TOTP of secret,
 * looking at now-1, now and now+1 steps and only at steps after last_step
 * (a code is good once); 0 when none matches. Comparisons take the same
 * time whatever the code.
 */
long otp_totp_match(const unsigned char *secret, size_t len, const char *code, time_t now, long last_step);

/* otp_random_code - 6 random digits, uniformly drawn */
int otp_random_code(char code[OTP_DIGITS + 1]);

/*
 * otp_code_hash - how an e-mailed code is stored: HMAC-SHA256 under the site
 * key of "login:code", in hex (a leaked table does not give the codes away).
 */
int otp_code_hash(const unsigned char key[OTP_KEY_LEN], const char *login, const char *code, char hex[65]);

/* otp_hex_equal - two hex digests compared in constant time */
int otp_hex_equal(const char *a, const char *b);

/* otp_base32 - RFC 4648 base32 without padding (for otpauth:// URIs); malloc'd */
char *otp_base32(const unsigned char *data, size_t len);

/* otp_split - password+code: the last 6 characters are digits. Returns the
 * code (inside s) or NULL; *pwlen is the length of the password part. */
const char *otp_split(const char *s, size_t *pwlen);

/*
 * What one login attempt came to. The audit trail records its name; what
 * the client is told depends on who could have caused it (see passdb-otp.c):
 * every refusal a stranger can provoke reads the same as a wrong password.
 */
enum otp_outcome {
    OTP_OK,
    OTP_FAIL,             /* wrong password or device password */
    OTP_BAD_PASSWORD,     /* wrong password, with a code */
    OTP_BAD_CODE,         /* right password, wrong or used code */
    OTP_UNKNOWN,          /* no such login */
    OTP_NO_BAL,           /* the account owns no BAL */
    OTP_DISABLED,         /* the account is disabled */
    OTP_LOCKED,           /* this client address is locked out */
    OTP_NOT_DELEGATE,     /* good credentials, not a delegate of the BAL */
    OTP_BAL_DISABLED,     /* good credentials, the BAL is disabled */
    OTP_NO_SECOND_FACTOR, /* right password, no second factor enrolled */
    OTP_CODE_SENT,        /* right password: a code was e-mailed */
    OTP_NO_CONTACT,       /* right password: no address to mail a code to */
    OTP_CERT_ONLY,        /* a software BAL: its certificate, never a password */
    OTP_PENDING,          /* the account waits for its holder's activation */
    OTP_CODE_NEEDED,      /* portal: right password alone, the app's code next */
    OTP_TEMPFAIL,         /* our own failure: the client retries */
};

/*
 * The service name mssante-portal gives Dovecot's auth service. For it the
 * passdb accepts no device password (a mail client's password opens no
 * portal), and says when a password alone is right and a code must follow.
 * Its answers carry "mssante_outcome" (the audit trail's word) and
 * "mssante_login" (the account) as extra fields, for the portal only.
 */
#define OTP_PORTAL_SERVICE "mssante-portal"
/* The portal's forwarded field: "password" asks for the password alone to be
 * checked ("code-needed" when right, whatever the method, no code sent);
 * "code" says the password is followed by a code (one hash, not two). */
#define OTP_PORTAL_CHECK "mssante_check"

/* otp_outcome_name - the word of the audit trail ("ok", "fail", "bad-code", ...) */
const char *otp_outcome_name(enum otp_outcome outcome);

/* otp_outcome_counts - whether the outcome counts toward the lock-outs */
int otp_outcome_counts(enum otp_outcome outcome);

#define OTP_LOCK_MAX_SECONDS 86400

/*
 * otp_lock_seconds - how long a client address is locked out after its
 * failures-th consecutive failure: 0 below max_failures, then first,
 * doubled for each failure beyond, never more than a day. Under attack
 * (the login's own ceiling reached) the back-off starts at the first
 * failure.
 */
long otp_lock_seconds(long failures, long max_failures, long first, int under_attack);

#endif
