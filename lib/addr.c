/*
 * addr - parsing and canonical forms of addresses and domains.
 *
 * This code reads envelope addresses from any SMTP client and rows from
 * national files: it must reject anything that is not an address rather
 * than guess, and never let two different addresses fold to one key.
 * IDN conversion is left to libidn2 (IDNA2008 with TR46 mapping).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "addr.h"
#include "mymalloc.h"
#include "strlist.h"

#define LOCAL_MAX  64
#define DOMAIN_MAX 253
#define LABEL_MAX  63

/* utf8_valid - strict UTF-8 check (RFC 3629: no overlongs, no surrogates) */
int utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *) str, *e = s + len;

    while (s < e) {
        unsigned c = *s++;
        int n;
        unsigned min, cp;

        if (c < 0x80)
            continue;
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            min = 0x80;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            min = 0x800;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            min = 0x10000;
            cp = c & 0x07;
        } else
            return 0;
        if (e - s < n)
            return 0;
        while (n-- > 0) {
            if ((*s & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (*s++ & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
    }
    return 1;
}

/* ascii_domain_ok - LDH rules on a lower-case ASCII domain */
static int ascii_domain_ok(const char *d, const char **why)
{
    size_t len = strlen(d), label = 0;

    if (len == 0) {
        *why = "empty domain";
        return 0;
    }
    if (len > DOMAIN_MAX) {
        *why = "domain longer than 253 characters";
        return 0;
    }
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == 0) {
            if (label == 0) {
                *why = "empty label in domain";
                return 0;
            }
            if (p[-1] == '-' || p[-(long) label] == '-') {
                *why = "domain label begins or ends with a hyphen";
                return 0;
            }
            if (*p == 0)
                break;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char) *p) || *p == '-')) {
            *why = "invalid character in domain";
            return 0;
        }
        if (++label > LABEL_MAX) {
            *why = "domain label longer than 63 characters";
            return 0;
        }
    }
    if (strchr(d, '.') == NULL) {
        *why = "domain has no dot";
        return 0;
    }
    return 1;
}

/* domain_canon - canonical lower-case A-label form of a domain */
char *domain_canon(const char *in, const char **why)
{
    size_t len = strlen(in);
    char *out;
    int ascii = 1;

    if (len > 0 && in[len - 1] == '.')
        len--;
    if (len == 0) {
        *why = "empty domain";
        return NULL;
    }
    if (in[0] == '[') {
        *why = "address literals are not accepted";
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) in[i] >= 0x80)
            ascii = 0;
    if (ascii) {
        out = xstrndup(in, len);
    } else {
        char *tmp = xstrndup(in, len), *alabel = NULL;

        if (!utf8_valid(tmp, len)) {
            free(tmp);
            *why = "domain is not valid UTF-8";
            return NULL;
        }
        if (idn2_to_ascii_8z(tmp, &alabel, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK) {
            free(tmp);
            *why = "domain is not a valid internationalised name";
            return NULL;
        }
        free(tmp);
        out = xstrdup(alabel);
        idn2_free(alabel);
    }
    for (char *p = out; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    if (!ascii_domain_ok(out, why)) {
        free(out);
        return NULL;
    }
    return out;
}

/* local_ok - RFC 5321 dot-string or quoted string, UTF-8 allowed */
static int local_ok(const char *l, size_t len, const char **why)
{
    static const char atext_specials[] = "!#$%&'*+-/=?^_`{|}~";

    if (len == 0) {
        *why = "empty local part";
        return 0;
    }
    if (len > LOCAL_MAX) {
        *why = "local part longer than 64 characters";
        return 0;
    }
    if (!utf8_valid(l, len)) {
        *why = "local part is not valid UTF-8";
        return 0;
    }
    if (l[0] == '"') {
        if (len < 2 || l[len - 1] != '"') {
            *why = "unterminated quoted local part";
            return 0;
        }
        for (size_t i = 1; i < len - 1; i++) {
            unsigned char c = (unsigned char) l[i];

            if (c == '\\') {
                if (++i >= len - 1 || (unsigned char) l[i] < 0x20) {
                    *why = "bad escape in quoted local part";
                    return 0;
                }
            } else if (c == '"' || c < 0x20 || c == 0x7f) {
                *why = "invalid character in quoted local part";
                return 0;
            }
        }
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) l[i];

        if (c == '.') {
            if (i == 0 || i == len - 1 || l[i + 1] == '.') {
                *why = "misplaced dot in local part";
                return 0;
            }
        } else if (!(c >= 0x80 || isalnum(c) || strchr(atext_specials, c))) {
            *why = "invalid character in local part";
            return 0;
        }
    }
    return 1;
}

/* addr_parse - check and split an address */
int addr_parse(const char *in, struct addr *out, const char **why)
{
    const char *s = in, *e, *at;
    char *local;

    memset(out, 0, sizeof(*out));
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e > s && *s == '<') {
        if (e[-1] != '>') {
            *why = "unbalanced angle brackets";
            return -1;
        }
        s++, e--;
    }
    if (e == s) {
        *why = "empty address";
        return -1;
    }
    if (*s == '@') {
        *why = "source routes are not accepted";
        return -1;
    }
    for (at = e - 1; at >= s && *at != '@'; at--)
        /* void */;
    if (at < s) {
        *why = "no @ in address";
        return -1;
    }
    if (!local_ok(s, (size_t) (at - s), why))
        return -1;
    {
        char *dom = xstrndup(at + 1, (size_t) (e - at - 1));

        out->domain = domain_canon(dom, why);
        free(dom);
    }
    if (out->domain == NULL)
        return -1;
    local = xstrndup(s, (size_t) (at - s));
    out->local = local;
    out->key = xasprintf("%s@%s", local, out->domain);
    for (char *p = out->key; *p != '@'; p++)
        *p = (char) tolower((unsigned char) *p);
    return 0;
}

/* addr_free - release what addr_parse allocated */
void addr_free(struct addr *a)
{
    free(a->local);
    free(a->domain);
    free(a->key);
    a->local = a->domain = a->key = NULL;
}

/* canon_list - each item of value through canon (domain_list, address_list) */
static char **canon_list(const char *value, const char *key, char **err,
                         char *(*canon)(const char *, const char **) )
{
    char **raw = strlist_split(value, " ,\t"), **out = xcalloc(1, sizeof(char *));
    const char *why;
    size_t n = 0, cap = 1;

    for (size_t i = 0; raw[i]; i++) {
        char *d = canon(raw[i], &why);

        if (d == NULL) {
            *err = xasprintf("key \"%s\": \"%s\": %s", key, raw[i], why);
            strlist_free(raw);
            strlist_free(out);
            return NULL;
        }
        out = strlist_push(out, &n, &cap, d);
    }
    strlist_free(raw);
    return out;
}

/* domain_list - a setting's domains, canonical; NULL and *err on a bad one */
char **domain_list(const char *value, const char *key, char **err)
{
    return canon_list(value, key, err, domain_canon);
}

/* address_canon - an address as a list key (domain canonical); NULL and *why */
char *address_canon(const char *in, const char **why)
{
    struct addr a;
    char *key;

    if (addr_parse(in, &a, why) < 0)
        return NULL;
    key = xstrdup(a.key);
    addr_free(&a);
    return key;
}

/* address_list - a setting's addresses as keys; NULL and *err on a bad one */
char **address_list(const char *value, const char *key, char **err)
{
    return canon_list(value, key, err, address_canon);
}
