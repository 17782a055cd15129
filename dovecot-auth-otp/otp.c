/*
 * otp.c - TOTP, sealed secrets and base32 (see otp.h).
 */
#include <ctype.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "mymalloc.h"
#include "otp.h"

/* otp_key_load - read the sealing key file (mode and length checked) */
int otp_key_load(const char *path, unsigned char key[OTP_KEY_LEN], char **err)
{
    char hex[OTP_KEY_LEN * 2 + 2];
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW), n;

    if (fd < 0) {
        *err = xasprintf("%s: cannot open the OTP key: %m", path);
        return -1;
    }
    if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 077) != 0) {
        *err = xasprintf("%s: the OTP key must belong to root and be readable by nobody else"
                         " (chmod 0600)",
                         path);
        close(fd);
        return -1;
    }
    n = (int) read(fd, hex, sizeof(hex));
    close(fd);
    if (n >= OTP_KEY_LEN * 2 + 1 && hex[OTP_KEY_LEN * 2] == '\n')
        n = OTP_KEY_LEN * 2;
    if (n != OTP_KEY_LEN * 2) {
        *err = xasprintf("%s: the OTP key must be 64 hex digits", path);
        return -1;
    }
    for (int i = 0; i < OTP_KEY_LEN; i++) {
        unsigned v = 0;

        if (!isxdigit((unsigned char) hex[2 * i]) || !isxdigit((unsigned char) hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &v) != 1) {
            *err = xasprintf("%s: the OTP key must be 64 hex digits", path);
            OPENSSL_cleanse(hex, sizeof(hex));
            return -1;
        }
        key[i] = (unsigned char) v;
    }
    OPENSSL_cleanse(hex, sizeof(hex));
    return 0;
}

/* gcm - one AES-256-GCM operation; the login is the additional data */
static int gcm(int enc, const unsigned char *key, const char *login, const unsigned char *nonce,
               const unsigned char *in, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len, ok;

    ok = c != NULL && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
         EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) == 1 &&
         EVP_CipherUpdate(c, NULL, &len, (const unsigned char *) login, (int) strlen(login)) == 1 &&
         EVP_CipherUpdate(c, out, &len, in, OTP_SECRET_LEN) == 1 &&
         (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1) &&
         EVP_CipherFinal_ex(c, out + len, &len) == 1 &&
         (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* otp_seal - seal a secret for a login (AES-GCM, login as associated data) */
int otp_seal(const unsigned char key[OTP_KEY_LEN], const char *login,
             const unsigned char secret[OTP_SECRET_LEN], unsigned char out[OTP_SEALED_LEN])
{
    if (RAND_bytes(out, 12) != 1)
        return -1;
    return gcm(1, key, login, out, secret, out + 12, out + 12 + OTP_SECRET_LEN);
}

/* otp_open - open a sealed secret of a login */
int otp_open(const unsigned char key[OTP_KEY_LEN], const char *login, const unsigned char *sealed, size_t len,
             unsigned char secret[OTP_SECRET_LEN])
{
    unsigned char tag[16];

    if (len != OTP_SEALED_LEN)
        return -1;
    memcpy(tag, sealed + 12 + OTP_SECRET_LEN, 16);
    if (gcm(0, key, login, sealed, sealed + 12, secret, tag) < 0) {
        OPENSSL_cleanse(secret, OTP_SECRET_LEN);
        return -1;
    }
    return 0;
}

/* otp_totp_match - the step of a TOTP code within the window, after last_step */
long otp_totp_match(const unsigned char *secret, size_t len, const char *code, time_t now, long last_step)
{
    long step = (long) (now / OTP_STEP), found = 0;
    char want[OTP_DIGITS + 1];

    if (strlen(code) != OTP_DIGITS)
        return 0;
    /* Every candidate is computed and compared: the time does not depend on which matched. */
    for (long s = step - 1; s <= step + 1; s++) {
        int same;

        if (oath_totp_generate2((const char *) secret, len, (time_t) s * OTP_STEP, OTP_STEP, 0, OTP_DIGITS, 0,
                                want) != OATH_OK)
            continue;
        same = CRYPTO_memcmp(want, code, OTP_DIGITS) == 0;
        if (same && s > last_step && found == 0)
            found = s;
    }
    OPENSSL_cleanse(want, sizeof(want));
    return found;
}

/* otp_random_code - a random 6-digit code */
int otp_random_code(char code[OTP_DIGITS + 1])
{
    uint32_t r;

    /* Rejection sampling: 4,294,000,000 is a multiple of 10^6, so no digit is favoured. */
    do {
        if (RAND_bytes((unsigned char *) &r, sizeof(r)) != 1)
            return -1;
    } while (r >= 4294000000u);
    snprintf(code, OTP_DIGITS + 1, "%06u", (unsigned) (r % 1000000u));
    return 0;
}

/* otp_code_hash - the keyed hash of a mailed code, as hex */
int otp_code_hash(const unsigned char key[OTP_KEY_LEN], const char *login, const char *code, char hex[65])
{
    unsigned char mac[32];
    unsigned int len = 0;
    char *msg = NULL;

    if (asprintf(&msg, "%s:%s", login, code) < 0)
        return -1;
    if (HMAC(EVP_sha256(), key, OTP_KEY_LEN, (unsigned char *) msg, strlen(msg), mac, &len) == NULL ||
        len != sizeof(mac)) {
        free(msg);
        return -1;
    }
    OPENSSL_cleanse(msg, strlen(msg));
    free(msg);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

/* otp_hex_equal - constant-time equality of two hex strings */
int otp_hex_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* otp_base32 - data in base32 (RFC 4648, no padding) */
char *otp_base32(const unsigned char *data, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char *out = malloc(len * 8 / 5 + 2), *p = out;
    unsigned buf = 0;
    int bits = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            *p++ = alphabet[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        *p++ = alphabet[(buf << (5 - bits)) & 31];
    *p = 0;
    return out;
}

/* otp_split - split password+code */
const char *otp_split(const char *s, size_t *pwlen)
{
    size_t len = strlen(s);

    if (len <= OTP_DIGITS)
        return NULL;
    for (size_t i = len - OTP_DIGITS; i < len; i++)
        if (!isdigit((unsigned char) s[i]))
            return NULL;
    *pwlen = len - OTP_DIGITS;
    return s + *pwlen;
}

/* otp_outcome_name - the name of an outcome, as logged and audited */
const char *otp_outcome_name(enum otp_outcome outcome)
{
    static const char *const names[] = {
        [OTP_OK] = "ok",
        [OTP_FAIL] = "fail",
        [OTP_BAD_PASSWORD] = "bad-password",
        [OTP_BAD_CODE] = "bad-code",
        [OTP_UNKNOWN] = "fail",
        [OTP_NO_BAL] = "no-bal",
        [OTP_DISABLED] = "disabled",
        [OTP_LOCKED] = "locked",
        [OTP_NOT_DELEGATE] = "not-delegate",
        [OTP_BAL_DISABLED] = "bal-disabled",
        [OTP_NO_SECOND_FACTOR] = "no-second-factor",
        [OTP_CODE_SENT] = "code-sent",
        [OTP_NO_CONTACT] = "no-contact",
        [OTP_CERT_ONLY] = "certificate-only",
        [OTP_TEMPFAIL] = "tempfail",
        [OTP_PENDING] = "pending",
        [OTP_CODE_NEEDED] = "code-needed",
    };

    return (unsigned) outcome < sizeof(names) / sizeof(names[0]) ? names[outcome] : "fail";
}

/* otp_outcome_counts - whether the outcome counts toward the lock-outs */
int otp_outcome_counts(enum otp_outcome outcome)
{
    return outcome == OTP_FAIL || outcome == OTP_BAD_PASSWORD || outcome == OTP_BAD_CODE;
}

/* otp_lock_seconds - seconds of lock-out after failures */
long otp_lock_seconds(long failures, long max_failures, long first, int under_attack)
{
    long secs, over;

    if (under_attack)
        max_failures = 1;
    if (failures < max_failures || first <= 0)
        return 0;
    secs = first;
    for (over = failures - max_failures; over > 0 && secs < OTP_LOCK_MAX_SECONDS; over--)
        secs *= 2;
    return secs < OTP_LOCK_MAX_SECONDS ? secs : OTP_LOCK_MAX_SECONDS;
}
