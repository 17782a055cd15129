/*
 * pwhash - passwords as the add-on stores and hands them out: hashed in a
 * scheme Dovecot verifies, generated from an alphabet without look-alikes.
 */
#ifndef MSSANTE_PWHASH_H
#define MSSANTE_PWHASH_H

/* pwhash_hash - "{SHA512-CRYPT}$6$..." of a password; malloc'd, or NULL and *err */
char *pwhash_hash(const char *plain, char **err);

/* pwhash_random - 20 random characters in groups of 5 ("abcde-fghjk-..."); malloc'd */
char *pwhash_random(void);

/*
 * pwhash_same - whether plain is the password of a stored crypt(3) hash
 * ({SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}, {CRYPT}); 0 for any other
 * scheme. For the rule "not the same password again" only: logins are
 * checked by the passdb.
 */
int pwhash_same(const char *plain, const char *stored);

/* pwhash_forget - wipe and free a password */
void pwhash_forget(char *plain);

#endif
