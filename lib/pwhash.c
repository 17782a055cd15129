/*
 * pwhash - hashing and generating passwords (see pwhash.h).
 *
 * SHA512-CRYPT through libcrypt: Dovecot verifies it natively and it needs
 * nothing beyond libc. Generated passwords carry 20 x log2(31) ~ 99 bits.
 */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "msg.h"
#include "mymalloc.h"
#include "pwhash.h"

/* pwhash_hash - a salted SHA512-CRYPT hash with Dovecot's scheme prefix */
char *pwhash_hash(const char *plain, char **err)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE], *hash, *out;
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));

    if (crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)) == NULL ||
        (hash = crypt_r(plain, salt, cd)) == NULL || *hash == '*') {
        *err = xasprintf("cannot hash the password: %s", strerror(errno));
        free(cd);
        return NULL;
    }
    out = xasprintf("{SHA512-CRYPT}%s", hash);
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return out;
}

/* pwhash_random - unbiased draws from 31 characters that cannot be misread */
char *pwhash_random(void)
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
    char *out = xmalloc(24), *p = out;
    int n = 0;

    while (n < 20) {
        unsigned char r;

        if (RAND_bytes(&r, 1) != 1)
            msg_fatal("no random bytes");
        if (r >= 248) /* 248 = 8 x 31: keep the draw uniform */
            continue;
        if (n && n % 5 == 0)
            *p++ = '-';
        *p++ = alphabet[r % 31];
        n++;
    }
    *p = 0;
    return out;
}

/* pwhash_forget - a password leaves no copy in freed memory */
void pwhash_forget(char *plain)
{
    if (plain) {
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);
    }
}

/* pwhash_same - crypt(3) of plain with the stored hash's own salt */
int pwhash_same(const char *plain, const char *stored)
{
    static const char *const prefixes[] = {"{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}", "{CRYPT}"};
    struct crypt_data *cd;
    const char *setting = NULL, *hash;
    int same;

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]) && setting == NULL; i++)
        if (strncmp(stored, prefixes[i], strlen(prefixes[i])) == 0)
            setting = stored + strlen(prefixes[i]);
    if (setting == NULL || *setting == '\0')
        return 0;
    cd = xcalloc(1, sizeof(*cd));
    hash = crypt_r(plain, setting, cd);
    same = hash != NULL && *hash != '*' && strlen(hash) == strlen(setting) &&
           CRYPTO_memcmp(hash, setting, strlen(hash)) == 0;
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return same;
}
