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

#define OTP_KEY_LEN 32                  /* AES-256 */
#define OTP_SECRET_LEN 20               /* 160-bit TOTP seed (RFC 4226 recommends) */
#define OTP_SEALED_LEN (12 + OTP_SECRET_LEN + 16)       /* nonce, ciphertext, tag */
#define OTP_DIGITS 6
#define OTP_STEP 30

/*
 * otp_key_load - the site key: a file of 64 hex digits, owned by root and
 * readable by nobody else. 0, or -1 with *err.
 */
int     otp_key_load(const char *path, unsigned char key[OTP_KEY_LEN], char **err);

/* otp_seal / otp_open - a secret to and from its stored form; login is bound in */
int     otp_seal(const unsigned char key[OTP_KEY_LEN], const char *login,
                 const unsigned char secret[OTP_SECRET_LEN], unsigned char out[OTP_SEALED_LEN]);
int     otp_open(const unsigned char key[OTP_KEY_LEN], const char *login,
                 const unsigned char *sealed, size_t len, unsigned char secret[OTP_SECRET_LEN]);

/*
 * otp_totp_match - the time step (>= 1) at which code is the TOTP of secret,
 * looking at now-1, now and now+1 steps and only at steps after last_step
 * (a code is good once); 0 when none matches. Comparisons take the same
 * time whatever the code.
 */
long    otp_totp_match(const unsigned char *secret, size_t len, const char *code, time_t now,
                       long last_step);

/* otp_random_code - 6 random digits, uniformly drawn */
int     otp_random_code(char code[OTP_DIGITS + 1]);

/*
 * otp_code_hash - how an e-mailed code is stored: HMAC-SHA256 under the site
 * key of "login:code", in hex (a leaked table does not give the codes away).
 */
int     otp_code_hash(const unsigned char key[OTP_KEY_LEN], const char *login, const char *code,
                      char hex[65]);

/* otp_hex_equal - two hex digests compared in constant time */
int     otp_hex_equal(const char *a, const char *b);

/* otp_base32 - RFC 4648 base32 without padding (for otpauth:// URIs); malloc'd */
char   *otp_base32(const unsigned char *data, size_t len);

/* otp_split - password+code: the last 6 characters are digits. Returns the
 * code (inside s) or NULL; *pwlen is the length of the password part. */
const char *otp_split(const char *s, size_t *pwlen);

#endif
