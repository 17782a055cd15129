/*
 * addr - e-mail addresses and domain names as the add-on compares them.
 *
 * Domains are returned in one canonical form: lower case ASCII, IDN
 * labels converted to their A-label ("xn--") form, no trailing dot, so
 * that two spellings of one domain compare equal with strcmp. The local
 * part is kept as written; the lookup key folds it to lower case because
 * MSSanté mailboxes are registered in lower case.
 */
#ifndef MSSANTE_ADDR_H
#define MSSANTE_ADDR_H

struct addr {
    char *local;  /* as written, without quotes removed */
    char *domain; /* canonical: lower case A-labels */
    char *key;    /* folded "local@domain" for lookups */
};

/*
 * addr_parse - split and check an address ("a@b", "<a@b>", " a@b ");
 * 0 on success, -1 with *why set to a static reason on garbage.
 */
int addr_parse(const char *in, struct addr *out, const char **why);
void addr_free(struct addr *a);

/* domain_canon - canonical form of a domain name, or NULL and *why */
char *domain_canon(const char *in, const char **why);

/*
 * domain_list - the canonical domains of a configuration value (space or
 * comma separated); NULL and *err naming key on a bad one. Free with strlist_free.
 */
char **domain_list(const char *value, const char *key, char **err);

/* address_canon - the key ("local@domain", folded) of one address, or NULL and *why */
char *address_canon(const char *in, const char **why);

/*
 * address_list - the address keys (struct addr .key) of a configuration
 * value, the same way; NULL and *err naming key on a bad one.
 */
char **address_list(const char *value, const char *key, char **err);

/* utf8_valid - whether len bytes are well-formed UTF-8 (no overlongs) */
int utf8_valid(const char *s, size_t len);

#endif
