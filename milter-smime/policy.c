/*
 * policy - what milter-smime does to our users' mail: the S/MIME policy
 * of a sender and recipient domain, and the site's domains, outbound
 * daemons and exempt senders, read once from the settings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "mymalloc.h"
#include "params.h"
#include "policy.h"
#include "strlist.h"

static const char *const policy_names[] = {
    "none",
    "sign",
    "sign+encrypt-when-possible",
    "encrypt-required",
};

struct policy_item {
    char *domain;
    enum policy policy;
};

static enum policy default_policy;
static struct policy_item *sender_policies, *rcpt_policies;
static char **our_domains;
static char **outbound_daemons;
static char **exempt_senders; /* address keys, local_exempt_senders */

/* policy_parse - a policy by its name, case-insensitive; -1 when unknown */
static int policy_parse(const char *s, enum policy *p)
{
    for (size_t i = 0; i < sizeof(policy_names) / sizeof(*policy_names); i++)
        if (strcasecmp(s, policy_names[i]) == 0) {
            *p = (enum policy) i;
            return 0;
        }
    return -1;
}

/* policy_list - "domain=policy, ..." of a key; NULL and *err on a bad item */
static struct policy_item *policy_list(const char *key, const char *value, char **err)
{
    char **items = strlist_split(value, ",");
    struct policy_item *list = xcalloc(1, sizeof(*list));
    size_t n = 0, cap = 1;

    for (size_t i = 0; items[i]; i++) {
        char *eq = strchr(items[i], '='), *d = NULL, *end;
        const char *why = "missing \"=\"";
        enum policy p;

        if (eq) {
            for (*eq = 0, end = eq; end > items[i] && (end[-1] == ' ' || end[-1] == '\t');)
                *--end = 0;
            d = domain_canon(items[i], &why);
        }
        if (d == NULL) {
            *err = xasprintf("key \"%s\": item \"%s\": %s", key, items[i], why);
            goto fail;
        }
        if (policy_parse(eq + 1 + strspn(eq + 1, " \t"), &p) < 0) {
            *err = xasprintf("key \"%s\": domain %s: unknown policy \"%s\" (none, sign, "
                             "sign+encrypt-when-possible, encrypt-required)",
                             key, d, eq + 1);
            free(d);
            goto fail;
        }
        list = xgrow(list, &cap, n + 2, sizeof(*list));
        list[n].domain = d;
        list[n].policy = p;
        list[++n].domain = NULL;
    }
    strlist_free(items);
    return list;
fail:
    strlist_free(items);
    for (size_t i = 0; i < n; i++)
        free(list[i].domain);
    free(list);
    return NULL;
}

/* policy_find - a domain's entry in a list, or NULL */
static const struct policy_item *policy_find(const struct policy_item *l, const char *domain)
{
    for (; domain && l->domain; l++)
        if (strcmp(l->domain, domain) == 0)
            return l;
    return NULL;
}

/*
 * policy_for - the recipient domain's entry, else the sender domain's,
 * else the default; encrypt-required from the sender side is never lowered.
 */
enum policy policy_for(const char *sender_domain, const char *rcpt_domain)
{
    const struct policy_item *s = policy_find(sender_policies, sender_domain);
    const struct policy_item *r = policy_find(rcpt_policies, rcpt_domain);

    if (s && s->policy == POL_REQUIRED)
        return POL_REQUIRED;
    return r ? r->policy : s ? s->policy : default_policy;
}

/* policy_init - the lists from the settings; -1 and *err on a bad value */
int policy_init(char **err)
{
    if (policy_parse(var_smime_default_policy, &default_policy) < 0) {
        *err = xasprintf("key \"smime_default_policy\": unknown policy \"%s\" (none, sign, "
                         "sign+encrypt-when-possible, encrypt-required)",
                         var_smime_default_policy);
        return -1;
    }
    if ((sender_policies = policy_list("smime_sender_policies", var_smime_sender_policies, err)) == NULL ||
        (rcpt_policies = policy_list("smime_recipient_policies", var_smime_recipient_policies, err)) == NULL)
        return -1;
    if ((our_domains = domain_list(var_our_domains, "our_domains", err)) == NULL)
        return -1;
    outbound_daemons = strlist_split(var_outbound_daemons, " ,\t");
    if ((exempt_senders = address_list(var_local_exempt_senders, "local_exempt_senders", err)) == NULL)
        return -1;
    return 0;
}

/* policy_ours - whether a domain is one of ours */
int policy_ours(const char *domain)
{
    return domain && strlist_has(our_domains, domain);
}

/* policy_exempt - whether a sender's address key is an exempt local sender */
int policy_exempt(const char *sender_key)
{
    return sender_key && strlist_has(exempt_senders, sender_key);
}

/* policy_outbound_daemons - the daemon names whose mail is outbound */
char **policy_outbound_daemons(void)
{
    return outbound_daemons;
}

/*
 * policy_foreign_signer - whether our user's mail from this sender needs a
 * signature no certificate can ever give: the sender's domain is not one
 * of ours (nor an exempt sender), and the policy signs it whatever the
 * recipients (no recipient entry lowers it to none).
 */
int policy_foreign_signer(const char *sender_domain, const char *sender_key, int local)
{
    if (sender_domain == NULL || strlist_has(our_domains, sender_domain) ||
        (local && strlist_has(exempt_senders, sender_key)) || policy_for(sender_domain, NULL) == POL_NONE)
        return 0;
    for (const struct policy_item *r = rcpt_policies; r->domain; r++)
        if (r->policy == POL_NONE)
            return 0;
    return 1;
}
