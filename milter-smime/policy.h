/*
 * policy - the S/MIME policy of our users' mail and the site's lists.
 */
#ifndef MSSANTE_POLICY_H
#define MSSANTE_POLICY_H

enum policy { POL_NONE, POL_SIGN, POL_WHEN_POSSIBLE, POL_REQUIRED };

/* policy_init - read the policies and the site's lists from the settings; 0, or -1 and *err */
int policy_init(char **err);

/*
 * policy_for - the recipient domain's entry, else the sender domain's,
 * else the default; encrypt-required from the sender side is never lowered.
 */
enum policy policy_for(const char *sender_domain, const char *rcpt_domain);

/* policy_ours - whether a domain is one of ours (our_domains) */
int policy_ours(const char *domain);

/* policy_exempt - whether an address key is one of local_exempt_senders */
int policy_exempt(const char *sender_key);

/* policy_outbound_daemons - outbound_daemons, split */
char **policy_outbound_daemons(void);

/*
 * policy_foreign_signer - whether our user's mail from this sender needs a
 * signature no certificate can ever give (sender outside our domains).
 */
int policy_foreign_signer(const char *sender_domain, const char *sender_key, int local);

#endif
