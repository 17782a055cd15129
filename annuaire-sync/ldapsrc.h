/*
 * ldapsrc - MSSanté mailboxes from the operator's own LDAP directory.
 *
 * Every entry under the base matching the filter, read by a paged search,
 * becomes one row per value of its "mail" attribute. The mapping
 * (inetOrgPerson) is in ldapsrc.c and the README.
 */
#ifndef MSSANTE_LDAPSRC_H
#define MSSANTE_LDAPSRC_H

#define LDAP_DEFAULT_FILTER "(&(objectClass=inetOrgPerson)(mail=*))"

/*
 * ldap_row_fn - one mailbox (values indexed by staging.h's ST_*) of the entry dn, or, with
 * values NULL, an entry that cannot be used and why; <0 stops the search.
 */
typedef int (*ldap_row_fn)(void *ctx, const char *dn, long entry, const char *const *values, const char *why);

/* ldap_login - where and as whom (bind_dn NULL or empty: no bind) */
struct ldap_login {
    const char *uri, *bind_dn, *password;
};

/*
 * ldapc_connect - a handle ready to use: StartTLS on ldap:// unless
 * annuaire_ldap_starttls = no, certificates checked (annuaire_ldap_ca), a
 * bind password only over TLS or ldapi://. NULL and *err.
 */
struct ldap;
struct ldap *ldapc_connect(const struct ldap_login *login, char **err);

/* ldapc_error - "what: the server's error - its diagnostic" (free it) */
char *ldapc_error(struct ldap *ld, const char *what, int rc);

/*
 * ldap_load - bind, search, call fn per mailbox.
 * Returns 0 when the whole result was read, or -1 with *err (unreachable
 * server, refused bind, TLS failure, size limit reached...): a partial
 * result is never reported as complete.
 */
int ldap_load(const struct ldap_login *login, const char *base, const char *filter, ldap_row_fn fn, void *ctx,
              long *entries, char **err);

#endif
