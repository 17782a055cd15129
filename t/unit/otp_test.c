/*
 * otp_test.c - TOTP against the RFC 6238 vectors, sealing, base32, splitting.
 */
#include <stdlib.h>

#include "tap.h"
#include "../../dovecot-auth-otp/otp.h"

/* main - TOTP (RFC 6238 vectors), sealing, codes, lock-outs */
int main(void)
{
    const unsigned char rfc[] = "12345678901234567890"; /* RFC 6238 SHA-1 seed */
    unsigned char key[OTP_KEY_LEN], sealed[OTP_SEALED_LEN], back[OTP_SECRET_LEN];
    size_t pwlen = 0;
    char *b32;

    /* RFC 6238 appendix B, last 6 of the 8 digits. */
    ok(otp_totp_match(rfc, 20, "287082", 59, 0) == 1, "T=59: 287082 is step 1");
    ok(otp_totp_match(rfc, 20, "081804", 1111111109, 0) == 1111111109 / 30, "T=1111111109: 081804");
    ok(otp_totp_match(rfc, 20, "005924", 1234567890, 0) == 1234567890 / 30, "T=1234567890: 005924");
    ok(otp_totp_match(rfc, 20, "081804", 1111111109 + 30, 0) == 1111111109 / 30,
       "the previous step is still accepted");
    ok(otp_totp_match(rfc, 20, "081804", 1111111109 + 60, 0) == 0, "two steps old is not");
    ok(otp_totp_match(rfc, 20, "081804", 1111111109, 1111111109 / 30) == 0,
       "a step already used is not accepted again");
    ok(otp_totp_match(rfc, 20, "081805", 1111111109, 0) == 0, "a wrong code is not");
    ok(otp_totp_match(rfc, 20, "08180", 1111111109, 0) == 0, "five digits are not a code");

    for (int i = 0; i < OTP_KEY_LEN; i++)
        key[i] = (unsigned char) i;
    ok(otp_seal(key, "jean.dupont", rfc, sealed) == 0, "seal");
    ok(otp_open(key, "jean.dupont", sealed, sizeof(sealed), back) == 0 && memcmp(back, rfc, 20) == 0,
       "open gives the secret back");
    ok(otp_open(key, "marie.curie", sealed, sizeof(sealed), back) < 0,
       "a sealed secret moved to another login does not open");
    sealed[20] ^= 1;
    ok(otp_open(key, "jean.dupont", sealed, sizeof(sealed), back) < 0, "a changed ciphertext does not open");

    b32 = otp_base32((const unsigned char *) "foobar", 6);
    is_str(b32, "MZXW6YTBOI", "base32 of \"foobar\" (RFC 4648, no padding)");
    free(b32);
    b32 = otp_base32(rfc, 20);
    is_str(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "base32 of the RFC 6238 seed");
    free(b32);

    is_str(otp_split("Mot-de-passe123456", &pwlen), "123456", "split: the code");
    ok(pwlen == 12, "split: the password length");
    ok(otp_split("123456", &pwlen) == NULL, "a code alone is not password+code");
    ok(otp_split("Mot-de-passe12345a", &pwlen) == NULL, "no code when the end is not 6 digits");

    /* Lock-out of one client address: 10 failures, then 60 s doubling up to a day. */
    ok(otp_lock_seconds(9, 10, 60, 0) == 0, "lock: 9 failures of 10 allowed: not locked");
    ok(otp_lock_seconds(10, 10, 60, 0) == 60, "lock: the 10th failure locks for the first period");
    ok(otp_lock_seconds(11, 10, 60, 0) == 120, "lock: the 11th doubles it");
    ok(otp_lock_seconds(13, 10, 60, 0) == 480, "lock: the 13th: 8 times");
    ok(otp_lock_seconds(21, 10, 60, 0) == OTP_LOCK_MAX_SECONDS, "lock: capped at a day");
    ok(otp_lock_seconds(1000000, 10, 60, 0) == OTP_LOCK_MAX_SECONDS, "lock: a huge count stays a day");
    ok(otp_lock_seconds(1, 10, 60, 1) == 60, "lock: under attack the first failure locks");
    ok(otp_lock_seconds(2, 10, 60, 1) == 120, "lock: under attack the second doubles");
    ok(otp_lock_seconds(1, 1, 86400, 0) == 86400 && otp_lock_seconds(2, 1, 86400, 0) == 86400,
       "lock: a first period of a day stays a day");
    is_str(otp_outcome_name(OTP_LOCKED), "locked", "outcome names: locked");
    is_str(otp_outcome_name(OTP_NOT_DELEGATE), "not-delegate", "outcome names: not-delegate");
    is_str(otp_outcome_name((enum otp_outcome) 99), "fail", "outcome names: out of range reads fail");
    ok(otp_outcome_counts(OTP_BAD_CODE) && !otp_outcome_counts(OTP_LOCKED) &&
           !otp_outcome_counts(OTP_NOT_DELEGATE) && !otp_outcome_counts(OTP_TEMPFAIL),
       "counted toward lock-outs: wrong credentials only");
    return done_testing();
}
