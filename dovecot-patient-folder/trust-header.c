/*
 * trust-header.c - parse the X-MSSante-Trust value.
 *
 * Grammar (what milter-whitelist writes; whitespace and folding allowed
 * around every element):
 *   value  = token *( ";" param )
 *   param  = token "=" ( token / quoted-string )
 * Anything else makes the whole value invalid: a verdict we cannot read
 * is no verdict.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "trust-header.h"

#define TOKEN_MAX 256

/* is_ws - whether c is folding white space */
static int is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_tchar - whether c may appear in a token */
static int is_tchar(int c)
{
    return c > ' ' && c < 0x7f && strchr("\";=\\", c) == NULL;
}

/* skip_ws - skip white space */
static void skip_ws(const char **p)
{
    while (is_ws((unsigned char) **p))
        (*p)++;
}

/* token - copy one token; 0 when there is none or it does not fit */
static int token(const char **p, char *buf, size_t size)
{
    size_t n = 0;

    skip_ws(p);
    while (is_tchar((unsigned char) **p)) {
        if (n + 1 >= size)
            return 0;
        buf[n++] = *(*p)++;
    }
    buf[n] = 0;
    return n > 0;
}

/* quoted - copy one quoted-string without its quotes and escapes */
static int quoted(const char **p, char *buf, size_t size)
{
    size_t n = 0;

    if (**p != '"')
        return 0;
    for ((*p)++; **p != '"'; (*p)++) {
        if (**p == '\\')
            (*p)++;
        if (**p == 0 || n + 1 >= size)
            return 0;
        buf[n++] = **p;
    }
    (*p)++;
    buf[n] = 0;
    return 1;
}

/* trust_header_parse - the kind of verdict and its domain */
enum trust_kind trust_header_parse(const char *value, char *domain, size_t size)
{
    char kind[TOKEN_MAX], name[TOKEN_MAX], val[TOKEN_MAX * 4];
    const char *p = value;
    int domains = 0;
    enum trust_kind k;

    if (size == 0 || !token(&p, kind, sizeof(kind)))
        return TRUST_INVALID;
    domain[0] = 0;
    if (strcasecmp(kind, "mssante") == 0)
        k = TRUST_MSSANTE;
    else if (strcasecmp(kind, "local") == 0)
        k = TRUST_LOCAL;
    else if (strcasecmp(kind, "none") == 0)
        k = TRUST_NONE;
    else
        return TRUST_INVALID;
    for (;;) {
        skip_ws(&p);
        if (*p == 0)
            break;
        if (*p++ != ';' || !token(&p, name, sizeof(name)))
            return TRUST_INVALID;
        skip_ws(&p);
        if (*p++ != '=')
            return TRUST_INVALID;
        skip_ws(&p);
        if (!(*p == '"' ? quoted(&p, val, sizeof(val)) : token(&p, val, sizeof(val))))
            return TRUST_INVALID;
        if (strcasecmp(name, "domain") == 0) {
            size_t len = strlen(val);

            if (domains++ || len == 0 || len >= size)
                return TRUST_INVALID;
            for (size_t i = 0; i <= len; i++)
                domain[i] = (char) tolower((unsigned char) val[i]);
        }
    }
    if (k == TRUST_MSSANTE && domains != 1)
        return TRUST_INVALID;
    return k;
}
