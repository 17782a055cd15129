/*
 * dn - parsing and matching of distinguished names.
 *
 * The parser reads DNs from a signed national file and from certificates
 * presented by any SMTP client: it must refuse what it cannot read rather
 * than guess, and a comparison must never succeed because of a parsing
 * shortcut. Values are unescaped first, then folded (Unicode NFKC case
 * folding by libunistring, white space collapsed) for matching.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicase.h>
#include <uninorm.h>

#include "addr.h"
#include "dn.h"
#include "mymalloc.h"

/* Attribute names and OIDs, with the canonical name they map to. */
static const struct {
    const char *name;
    const char *canon;
} dn_types[] = {
    {"cn", "CN"},
    {"commonname", "CN"},
    {"2.5.4.3", "CN"},
    {"ou", "OU"},
    {"organizationalunitname", "OU"},
    {"2.5.4.11", "OU"},
    {"o", "O"},
    {"organizationname", "O"},
    {"2.5.4.10", "O"},
    {"st", "ST"},
    {"s", "ST"},
    {"stateorprovincename", "ST"},
    {"2.5.4.8", "ST"},
    {"l", "L"},
    {"localityname", "L"},
    {"2.5.4.7", "L"},
    {"c", "C"},
    {"countryname", "C"},
    {"2.5.4.6", "C"},
    {"street", "STREET"},
    {"streetaddress", "STREET"},
    {"2.5.4.9", "STREET"},
    {"dc", "DC"},
    {"domaincomponent", "DC"},
    {"0.9.2342.19200300.100.1.25", "DC"},
    {"uid", "UID"},
    {"userid", "UID"},
    {"0.9.2342.19200300.100.1.1", "UID"},
    {"e", "EMAILADDRESS"},
    {"email", "EMAILADDRESS"},
    {"emailaddress", "EMAILADDRESS"},
    {"1.2.840.113549.1.9.1", "EMAILADDRESS"},
    {"serialnumber", "SERIALNUMBER"},
    {"2.5.4.5", "SERIALNUMBER"},
    {"sn", "SN"},
    {"surname", "SN"},
    {"2.5.4.4", "SN"},
    {"gn", "GN"},
    {"givenname", "GN"},
    {"2.5.4.42", "GN"},
    {"title", "TITLE"},
    {"2.5.4.12", "TITLE"},
    {"organizationidentifier", "ORGANIZATIONIDENTIFIER"},
    {"2.5.4.97", "ORGANIZATIONIDENTIFIER"},
};

/* canon_type - canonical attribute name, or NULL if not a valid type */
static char *canon_type(const char *s, size_t len)
{
    char *t = xstrndup(s, len);
    int alpha = isalpha((unsigned char) t[0]), ok = len > 0;

    for (size_t i = 0; ok && i < len; i++) {
        unsigned char c = (unsigned char) t[i];

        ok = alpha ? (isalnum(c) || c == '-') : (isdigit(c) || (c == '.' && i > 0 && i < len - 1));
    }
    if (!ok) {
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(dn_types) / sizeof(dn_types[0]); i++) {
        if (strcasecmp(t, dn_types[i].name) == 0) {
            free(t);
            return xstrdup(dn_types[i].canon);
        }
    }
    for (char *p = t; *p; p++)
        *p = (char) toupper((unsigned char) *p);
    return t;
}

/* dn_value_fold - NFKC case fold, trimmed, inner white space collapsed */
char *dn_value_fold(const char *value)
{
    size_t len = 0;
    uint8_t *folded = u8_casefold((const uint8_t *) value, strlen(value), NULL, UNINORM_NFKC, NULL, &len);
    char *out, *o;
    int space = 0;

    if (folded == NULL) /* invalid UTF-8: compare bytes */
        folded = (uint8_t *) xstrdup(value), len = strlen(value);
    out = o = xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = folded[i];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = 1;
            continue;
        }
        if (space && o > out)
            *o++ = ' ';
        space = 0;
        *o++ = (char) c;
    }
    *o = 0;
    free(folded);
    return out;
}

/* dn_value_match - compare two values after folding */
int dn_value_match(const char *a, const char *b)
{
    char *fa = dn_value_fold(a), *fb = dn_value_fold(b);
    int eq = strcmp(fa, fb) == 0;

    free(fa);
    free(fb);
    return eq;
}

/* hexval - the value of a hex digit, or -1 */
static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The parser state: text, position, and the separators of this syntax. */
struct parser {
    const char *s;
    size_t pos;
    const char *rdn_seps; /* ",;" or "/" */
};

/* skip_spaces - skip blanks at the parser's position */
static void skip_spaces(struct parser *p)
{
    while (p->s[p->pos] == ' ')
        p->pos++;
}

/*
 * parse_value - one attribute value, unescaped. Stops before an unescaped
 * separator. Unescaped trailing spaces are not part of the value.
 */
static char *parse_value(struct parser *p, const char **why)
{
    const char *s = p->s;
    size_t cap = strlen(s + p->pos) + 1, len = 0, keep = 0;
    char *v = xmalloc(cap);

    if (s[p->pos] == '#') { /* BER hexstring: kept as text */
        size_t start = p->pos++;

        while (isxdigit((unsigned char) s[p->pos]))
            p->pos++;
        if (p->pos - start < 3 || (p->pos - start - 1) % 2) {
            *why = "bad #hexstring value";
            free(v);
            return NULL;
        }
        memcpy(v, s + start, p->pos - start);
        v[p->pos - start] = 0;
        skip_spaces(p);
        return v;
    }
    if (s[p->pos] == '"') { /* RFC 1779 quoted value */
        p->pos++;
        for (;;) {
            char c = s[p->pos];

            if (c == 0) {
                *why = "unterminated quoted value";
                free(v);
                return NULL;
            }
            p->pos++;
            if (c == '"')
                break;
            if (c == '\\') {
                if (s[p->pos] == 0) {
                    *why = "escape at end of DN";
                    free(v);
                    return NULL;
                }
                c = s[p->pos++];
            }
            v[len++] = c;
        }
        v[len] = 0;
        skip_spaces(p);
        if (s[p->pos] && !strchr(p->rdn_seps, s[p->pos]) && s[p->pos] != '+') {
            *why = "text after a quoted value";
            free(v);
            return NULL;
        }
        return v;
    }
    for (;;) {
        char c = s[p->pos];

        if (c == 0 || strchr(p->rdn_seps, c) || c == '+')
            break;
        p->pos++;
        if (c == '\\') {
            int h1 = hexval((unsigned char) s[p->pos]), h2;

            if (s[p->pos] == 0) {
                *why = "escape at end of DN";
                free(v);
                return NULL;
            }
            if (h1 >= 0 && (h2 = hexval((unsigned char) s[p->pos + 1])) >= 0) {
                v[len++] = (char) (h1 * 16 + h2);
                p->pos += 2;
            } else {
                v[len++] = s[p->pos++];
            }
            keep = len; /* an escaped space is kept */
            continue;
        }
        /*
         * A '"' inside a value must be escaped (RFC 4514), but the national
         * list has O=CENTRE HOSPITALIER "FRANCK-JOLY": a quote that does not
         * open the value is taken as written, as the certificate holds it.
         */
        if ((c == '<' || c == '>') && p->rdn_seps[0] == ',') {
            *why = "unescaped special character in value";
            free(v);
            return NULL;
        }
        if (c == '=' && p->rdn_seps[0] == ',') {
            *why = "unescaped '=' in value (missing ',' between attributes?)";
            free(v);
            return NULL;
        }
        v[len++] = c;
        if (c != ' ')
            keep = len;
    }
    v[keep] = 0;
    return v;
}

/* dn_free - release a parsed DN */
void dn_free(struct dn *dn)
{
    if (dn == NULL)
        return;
    for (size_t i = 0; i < dn->n; i++) {
        for (size_t j = 0; j < dn->rdn[i].n; j++) {
            free(dn->rdn[i].ava[j].type);
            free(dn->rdn[i].ava[j].value);
            free(dn->rdn[i].ava[j].key);
        }
        free(dn->rdn[i].ava);
    }
    free(dn->rdn);
    free(dn);
}

/* dn_parse - parse a DN in one of the accepted syntaxes */
struct dn *dn_parse(const char *text, const char **why)
{
    struct parser p = {text, 0, ",;"};
    struct dn *dn = xcalloc(1, sizeof(*dn));
    size_t rdn_cap = 0;

    while (text[p.pos] == ' ')
        p.pos++;
    if (text[p.pos] == '/') { /* OpenSSL oneline */
        p.rdn_seps = "/";
        p.pos++;
    }
    if (text[p.pos] == 0) {
        *why = "empty DN";
        goto fail;
    }
    for (;;) {
        struct dn_rdn *rdn;
        size_t ava_cap = 0;

        dn->rdn = xgrow(dn->rdn, &rdn_cap, dn->n + 1, sizeof(*dn->rdn));
        rdn = dn->rdn + dn->n++;
        rdn->ava = NULL;
        rdn->n = 0;
        for (;;) {
            struct dn_ava *ava;
            size_t start, end;
            char *type, *value;

            skip_spaces(&p);
            start = p.pos;
            while (text[p.pos] && text[p.pos] != '=' && !strchr(p.rdn_seps, text[p.pos]) &&
                   text[p.pos] != '+')
                p.pos++;
            if (text[p.pos] != '=') {
                *why = "attribute without '='";
                goto fail;
            }
            end = p.pos;
            while (end > start && text[end - 1] == ' ')
                end--;
            if ((type = canon_type(text + start, end - start)) == NULL) {
                *why = "invalid attribute type";
                goto fail;
            }
            p.pos++;
            skip_spaces(&p);
            if ((value = parse_value(&p, why)) == NULL) {
                free(type);
                goto fail;
            }
            if (!utf8_valid(value, strlen(value)) || strlen(value) == 0) {
                *why = *value ? "value is not valid UTF-8" : "empty attribute value";
                free(type);
                free(value);
                goto fail;
            }
            if (rdn->n == DN_MAX_AVA) {
                *why = "more than " DN_MAX_AVA_TEXT " values in one RDN";
                free(type);
                free(value);
                goto fail;
            }
            rdn->ava = xgrow(rdn->ava, &ava_cap, rdn->n + 1, sizeof(*rdn->ava));
            ava = rdn->ava + rdn->n++;
            ava->type = type;
            ava->value = value;
            ava->key = dn_value_fold(value);
            if (text[p.pos] != '+')
                break;
            p.pos++;
        }
        if (text[p.pos] == 0)
            break;
        p.pos++; /* an RDN separator */
        skip_spaces(&p);
        if (text[p.pos] == 0) {
            if (p.rdn_seps[0] == '/')
                break; /* "/C=FR/" */
            *why = "DN ends with a separator";
            goto fail;
        }
    }
    return dn;

fail:
    dn_free(dn);
    return NULL;
}

/* rdn_equal - same set of attribute values, in any order */
static int rdn_equal(const struct dn_rdn *a, const struct dn_rdn *b)
{
    unsigned char used[DN_MAX_AVA] = {0};

    if (a->n != b->n || a->n > DN_MAX_AVA)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        size_t j;

        for (j = 0; j < b->n; j++) {
            if (!used[j] && strcmp(a->ava[i].type, b->ava[j].type) == 0 &&
                strcmp(a->ava[i].key, b->ava[j].key) == 0) {
                used[j] = 1;
                break;
            }
        }
        if (j == b->n)
            return 0;
    }
    return 1;
}

/* dn_equal - compare in written order, then with one side reversed */
int dn_equal(const struct dn *a, const struct dn *b)
{
    size_t i;

    if (a == NULL || b == NULL || a->n != b->n)
        return 0;
    for (i = 0; i < a->n && rdn_equal(a->rdn + i, b->rdn + i); i++)
        /* void */;
    if (i == a->n)
        return 1;
    for (i = 0; i < a->n && rdn_equal(a->rdn + i, b->rdn + a->n - 1 - i); i++)
        /* void */;
    return i == a->n;
}

/* dn_get - first value of a type, types named in any accepted spelling */
const char *dn_get(const struct dn *dn, const char *type)
{
    char *t = canon_type(type, strlen(type));
    const char *v = NULL;

    if (t == NULL)
        return NULL;
    for (size_t i = 0; v == NULL && i < dn->n; i++)
        for (size_t j = 0; v == NULL && j < dn->rdn[i].n; j++)
            if (strcmp(dn->rdn[i].ava[j].type, t) == 0)
                v = dn->rdn[i].ava[j].value;
    free(t);
    return v;
}

/* dn_format - RFC 4514 string, escaping what must be */
char *dn_format(const struct dn *dn)
{
    size_t cap = 16, len = 0;
    char *out = xmalloc(cap);

#define PUT(c)                                                                                               \
    do {                                                                                                     \
        if (len + 2 > cap)                                                                                   \
            out = xrealloc(out, cap *= 2);                                                                   \
        out[len++] = (c);                                                                                    \
    } while (0)
    for (size_t i = 0; i < dn->n; i++) {
        if (i)
            PUT(',');
        for (size_t j = 0; j < dn->rdn[i].n; j++) {
            const struct dn_ava *a = dn->rdn[i].ava + j;
            size_t vlen = strlen(a->value);

            if (j)
                PUT('+');
            for (const char *t = a->type; *t; t++)
                PUT(*t);
            PUT('=');
            for (size_t k = 0; k < vlen; k++) {
                char c = a->value[k];

                if (strchr(",+\"\\<>;=", c) || (k == 0 && (c == ' ' || c == '#')) ||
                    (k == vlen - 1 && c == ' '))
                    PUT('\\');
                PUT(c);
            }
        }
    }
#undef PUT
    out[len] = 0;
    return out;
}

/* dn_x509_text - an X509_NAME in the RFC 4514 form we compare */
char *dn_x509_text(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    n = BIO_get_mem_data(b, &data);
    out = xstrndup(data, (size_t) n);
    BIO_free(b);
    return out;
}
