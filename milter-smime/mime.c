/*
 * mime - header fields, multipart parts and the canonical form.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "addr.h"
#include "mime.h"
#include "mymalloc.h"

/* line - the next line: its length without line end, and where the next starts */
static size_t line(const unsigned char *p, const unsigned char *end, const unsigned char **next)
{
    const unsigned char *nl = memchr(p, '\n', (size_t) (end - p));
    size_t n;

    if (nl == NULL) {
        *next = end;
        return (size_t) (end - p);
    }
    *next = nl + 1;
    n = (size_t) (nl - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    return n;
}

/* field_name_len - the length of "Name" if the line starts a header field */
static size_t field_name_len(const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n && p[i] > 32 && p[i] < 127 && p[i] != ':'; i++)
        /* void */;
    return i > 0 && i < n && p[i] == ':' ? i : 0;
}

/* mime_parse - split an entity into its header fields and its body (no copy) */
void mime_parse(const unsigned char *p, size_t len, struct mime_entity *e)
{
    const unsigned char *end = p + len, *next;
    size_t cap = 0;

    memset(e, 0, sizeof(*e));
    while (p < end) {
        size_t n = line(p, end, &next), nl;
        struct mime_field *f;

        if (n == 0) { /* the blank line */
            p = next;
            break;
        }
        if ((*p == ' ' || *p == '\t') && e->nfields) {
            f = &e->fields[e->nfields - 1]; /* continuation */
            f->rawlen = (size_t) (p + n - f->raw);
            p = next;
            continue;
        }
        if ((nl = field_name_len(p, n)) == 0)
            break; /* not a header: the body starts here */
        e->fields = xgrow(e->fields, &cap, e->nfields + 1, sizeof(*e->fields));
        f = &e->fields[e->nfields++];
        f->raw = p;
        f->rawlen = n;
        f->namelen = nl;
        p = next;
    }
    e->body = p;
    e->bodylen = (size_t) (end - p);
}

/* mime_entity_free - the field array of a parsed entity */
void mime_entity_free(struct mime_entity *e)
{
    free(e->fields);
    e->fields = NULL;
    e->nfields = 0;
}

/* mime_field_is - whether a field has this name (case-insensitive) */
int mime_field_is(const struct mime_field *f, const char *name)
{
    return strlen(name) == f->namelen && strncasecmp((const char *) f->raw, name, f->namelen) == 0;
}

/* unfold - a field's value on one line, blanks around it trimmed */
static char *unfold(const struct mime_field *f)
{
    const unsigned char *v = f->raw + f->namelen + 1, *end = f->raw + f->rawlen;
    char *out = xmalloc((size_t) (end - v) + 1), *o = out;

    for (; v < end; v++)
        if (*v != '\r' && *v != '\n')
            *o++ = (char) (*v == '\t' ? ' ' : *v);
    *o = 0;
    while (o > out && o[-1] == ' ')
        *--o = 0;
    o = out + strspn(out, " ");
    memmove(out, o, strlen(o) + 1);
    return out;
}

/* mime_get - the unfolded value of the first field of this name, or NULL */
char *mime_get(const struct mime_entity *e, const char *name)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (mime_field_is(&e->fields[i], name))
            return unfold(&e->fields[i]);
    return NULL;
}

/* mime_type - "type/subtype" of a Content-Type value, lower case, or NULL */
char *mime_type(const char *value)
{
    size_t n;
    char *t;

    if (value == NULL)
        return NULL;
    value += strspn(value, " ");
    n = strcspn(value, "; (");
    if (n == 0 || memchr(value, '/', n) == NULL)
        return NULL;
    t = xstrndup(value, n);
    for (char *p = t; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    return t;
}

/* mime_param - a parameter of a structured field value, unquoted, or NULL */
char *mime_param(const char *value, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = value ? strchr(value, ';') : NULL;

    while (p) {
        p++;
        p += strspn(p, " ");
        if (strncasecmp(p, name, nlen) == 0 && (p[nlen] == '=' || p[nlen] == ' ')) {
            const char *v = p + nlen + strspn(p + nlen, " ");

            if (*v++ != '=')
                return NULL;
            v += strspn(v, " ");
            if (*v == '"') {
                char *out = xmalloc(strlen(v)), *o = out;

                for (v++; *v && *v != '"'; v++) {
                    if (*v == '\\' && v[1])
                        v++;
                    *o++ = *v;
                }
                *o = 0;
                return out;
            }
            return xstrndup(v, strcspn(v, "; "));
        }
        /* skip this parameter, quoted semicolons included */
        while (*p && *p != ';') {
            if (*p == '"') {
                for (p++; *p && *p != '"'; p++)
                    if (*p == '\\' && p[1])
                        p++;
                if (*p == 0)
                    return NULL;
            }
            p++;
        }
        if (*p == 0)
            return NULL;
    }
    return NULL;
}

/* delimiter - 0 if not a delimiter line of boundary, 1 if one, 2 if the close */
static int delimiter(const unsigned char *p, size_t n, const char *b, size_t blen)
{
    size_t i;

    if (n < blen + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, blen) != 0)
        return 0;
    i = blen + 2;
    int close = n >= i + 2 && p[i] == '-' && p[i + 1] == '-';

    for (i += close ? 2 : 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return 0;
    return close ? 2 : 1;
}

/* mime_parts - the parts of a multipart body */
size_t mime_parts(const unsigned char *body, size_t len, const char *boundary, struct mime_part **parts,
                  int *closed)
{
    const unsigned char *p = body, *end = body + len, *next, *start = NULL;
    size_t blen = strlen(boundary), n = 0, cap = 0;

    *parts = NULL;
    *closed = 0;
    for (; p < end; p = next) {
        size_t ll = line(p, end, &next);
        int d = delimiter(p, ll, boundary, blen);

        if (d == 0)
            continue;
        if (start) {
            /* The line end before the delimiter belongs to the delimiter. */
            const unsigned char *stop = p;

            if (stop > start && stop[-1] == '\n')
                stop--;
            if (stop > start && stop[-1] == '\r')
                stop--;
            if (stop < start)
                stop = start;
            *parts = xgrow(*parts, &cap, n + 1, sizeof(**parts));
            (*parts)[n].p = start;
            (*parts)[n].len = (size_t) (stop - start);
            n++;
        }
        if (d == 2) {
            *closed = 1;
            return n;
        }
        start = next;
    }
    if (start) { /* no close delimiter: the rest is a part */
        *parts = xgrow(*parts, &cap, n + 1, sizeof(**parts));
        (*parts)[n].p = start;
        (*parts)[n].len = (size_t) (end - start);
        n++;
    }
    return n;
}

/* ------------------------------------------------------------ canonical form */

/*
 * mime_canon_lines - the bytes with every line end written CRLF; runs of
 * lines already ending CRLF are copied whole
 */
int mime_canon_lines(const unsigned char *p, size_t len, struct spool *out)
{
    const unsigned char *end = p + len, *run = p, *nl;

    while ((nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        if (nl == run || nl[-1] != '\r') { /* a bare LF: the run ends before it */
            if (spool_write(out, run, (size_t) (nl - run)) < 0 || spool_write(out, "\r\n", 2) < 0)
                return -1;
            run = nl + 1;
        }
        p = nl + 1;
    }
    return spool_write(out, run, (size_t) (end - run));
}

/* seven_bit - no 8-bit byte, NUL or lone CR, no line over 998 octets */
static int seven_bit(const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len;

    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t n = (size_t) ((nl ? nl : end) - p);
        unsigned char any = 0, bad = 0;

        if (nl && n > 0 && p[n - 1] == '\r') /* the CR of CRLF */
            n--;
        if (n > 998)
            return 0;
        for (size_t i = 0; i < n; i++) { /* a loop the compiler vectorises */
            any |= p[i];
            bad |= (unsigned char) (p[i] == 0) | (unsigned char) (p[i] == '\r');
        }
        if ((any & 0x80) || bad)
            return 0;
        p = nl ? nl + 1 : end;
    }
    return 1;
}

/* qp - quoted-printable of text: line ends become hard CRLF breaks */
static int qp(const unsigned char *p, size_t len, struct spool *out)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *end = p + len, *next;

    while (p < end) {
        size_t n = line(p, end, &next);
        char buf[8];
        size_t col = 0;

        for (size_t i = 0; i < n; i++) {
            unsigned char c = p[i];
            int last = i + 1 == n;
            size_t w;

            if ((c >= 33 && c <= 126 && c != '=' &&
                 !(c == 'F' && i == 0 && n >= 5 && memcmp(p, "From ", 5) == 0)) ||
                ((c == ' ' || c == '\t') && !last)) {
                buf[0] = (char) c;
                w = 1;
            } else {
                buf[0] = '=';
                buf[1] = hex[c >> 4];
                buf[2] = hex[c & 15];
                w = 3;
            }
            if (col + w > 75) { /* soft break: "=" ends the line */
                if (spool_write(out, "=\r\n", 3) < 0)
                    return -1;
                col = 0;
            }
            if (spool_write(out, buf, w) < 0)
                return -1;
            col += w;
        }
        if (next > p + n && spool_write(out, "\r\n", 2) < 0)
            return -1;
        p = next;
    }
    return 0;
}

/* b64 - base64 in 76-character CRLF lines */
static int b64(const unsigned char *p, size_t len, struct spool *out)
{
    BIO *bio = spool_bio(out, 1);
    int ok;

    if (bio == NULL)
        return -1;
    ok = len == 0 || BIO_write(bio, p, (int) len) == (int) len;
    ok = ok && BIO_flush(bio) == 1;
    BIO_free(bio);
    return ok ? 0 : -1;
}

/* crlf_copy - 8bit content in canonical form (LF alone becomes CRLF) */
static unsigned char *crlf_copy(const unsigned char *p, size_t len, size_t *outlen)
{
    unsigned char *out = xmalloc(2 * len + 1), *o = out;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
            *o++ = '\r';
        *o++ = p[i];
    }
    *outlen = (size_t) (o - out);
    return out;
}

static int canon(const unsigned char *p, size_t len, struct spool *out, int depth, int top);

/* emit_fields - the header fields, all but those named skip */
static int emit_fields(const struct mime_entity *e, const char *skip, struct spool *out)
{
    for (size_t i = 0; i < e->nfields; i++) {
        if (skip && mime_field_is(&e->fields[i], skip))
            continue;
        if (mime_canon_lines(e->fields[i].raw, e->fields[i].rawlen, out) < 0 ||
            spool_write(out, "\r\n", 2) < 0)
            return -1;
    }
    return 0;
}

/* canon_multipart - canonical form of a multipart entity, part by part */
static int canon_multipart(const struct mime_entity *e, const char *boundary, struct spool *out, int depth)
{
    struct mime_part *parts;
    int closed, rc = 0;
    size_t n = mime_parts(e->body, e->bodylen, boundary, &parts, &closed);

    if (emit_fields(e, NULL, out) < 0 || spool_write(out, "\r\n", 2) < 0)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (spool_puts(out, "--") < 0 || spool_puts(out, boundary) < 0 || spool_write(out, "\r\n", 2) < 0 ||
            canon(parts[i].p, parts[i].len, out, depth + 1, 0) < 0 || spool_write(out, "\r\n", 2) < 0)
            rc = -1;
    }
    /* A nested part's last line end belongs to its parent's next delimiter. */
    if (rc == 0 && (spool_puts(out, "--") < 0 || spool_puts(out, boundary) < 0 ||
                    spool_write(out, "--\r\n", depth ? 2 : 4) < 0))
        rc = -1;
    free(parts);
    return rc;
}

/* canon_leaf - canonical form of a leaf entity */
static int canon_leaf(const struct mime_entity *e, const char *ctype, const char *cte, struct spool *out,
                      int top)
{
    int text = ctype == NULL || strncmp(ctype, "text/", 5) == 0;
    int binary = cte && strcasecmp(cte, "binary") == 0;
    int encoded = cte && (strcasecmp(cte, "base64") == 0 || strcasecmp(cte, "quoted-printable") == 0);
    int rc;

    if (encoded || (!binary && seven_bit(e->body, e->bodylen))) {
        if (emit_fields(e, NULL, out) < 0 || spool_write(out, "\r\n", 2) < 0)
            return -1;
        return mime_canon_lines(e->body, e->bodylen, out);
    }
    /* 8-bit or binary: re-encode, and say so. */
    if (emit_fields(e, "Content-Transfer-Encoding", out) < 0)
        return -1;
    if (ctype == NULL && top) {
        /* No MIME: RFC 2045 says US-ASCII; 8-bit text is UTF-8 or else Latin-1. */
        int utf8 = utf8_valid((const char *) e->body, e->bodylen);

        if (spool_puts(out, utf8 ? "Content-Type: text/plain; charset=utf-8\r\n"
                                 : "Content-Type: text/plain; charset=iso-8859-1\r\n") < 0)
            return -1;
    }
    if (text && !binary) {
        if (spool_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n") < 0)
            return -1;
        return qp(e->body, e->bodylen, out);
    }
    if (spool_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n") < 0)
        return -1;
    if (binary)
        return b64(e->body, e->bodylen, out);
    {
        size_t n;
        unsigned char *c = crlf_copy(e->body, e->bodylen, &n);

        rc = b64(c, n, out);
        free(c);
    }
    return rc;
}

/* canon - one entity in canonical 7-bit form, its parts recursively */
static int canon(const unsigned char *p, size_t len, struct spool *out, int depth, int top)
{
    struct mime_entity e;
    char *ct, *ctype, *cte, *boundary = NULL;
    int rc;

    mime_parse(p, len, &e);
    ct = mime_get(&e, "Content-Type");
    ctype = mime_type(ct);
    cte = mime_get(&e, "Content-Transfer-Encoding");
    if (depth < MIME_MAX_DEPTH && ctype && strncmp(ctype, "multipart/", 10) == 0 &&
        (boundary = mime_param(ct, "boundary")) != NULL && *boundary) {
        rc = canon_multipart(&e, boundary, out, depth);
    } else if (depth < MIME_MAX_DEPTH && ctype && strcmp(ctype, "message/rfc822") == 0 &&
               !(cte && (strcasecmp(cte, "base64") == 0 || strcasecmp(cte, "quoted-printable") == 0))) {
        rc = emit_fields(&e, NULL, out) < 0 || spool_write(out, "\r\n", 2) < 0
                 ? -1
                 : canon(e.body, e.bodylen, out, depth + 1, 1);
    } else {
        rc = canon_leaf(&e, ctype, cte, out, top);
    }
    free(ct);
    free(ctype);
    free(cte);
    free(boundary);
    mime_entity_free(&e);
    return rc;
}

/* mime_canon - the whole entity in canonical 7-bit form */
int mime_canon(const unsigned char *p, size_t len, struct spool *out)
{
    return canon(p, len, out, 0, 1);
}

/* mime_b64_decode - base64 text to bytes, line breaks and padding tolerated */
int mime_b64_decode(const unsigned char *p, size_t len, struct spool *out)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char buf[4096 + 64];
    int n, rc = 0;

    if (ctx == NULL)
        return -1;
    EVP_DecodeInit(ctx);
    for (size_t off = 0; off < len && rc == 0; off += 4096) {
        size_t chunk = len - off < 4096 ? len - off : 4096;

        if (EVP_DecodeUpdate(ctx, buf, &n, p + off, (int) chunk) < 0)
            rc = 1;
        else if (spool_write(out, buf, (size_t) n) < 0)
            rc = -1;
    }
    if (rc == 0 && EVP_DecodeFinal(ctx, buf, &n) < 0)
        rc = 1;
    else if (rc == 0 && spool_write(out, buf, (size_t) n) < 0)
        rc = -1;
    EVP_ENCODE_CTX_free(ctx);
    return rc;
}

/* mime_boundary - a new random multipart boundary */
char *mime_boundary(void)
{
    unsigned char r[12];
    char hex[25];

    if (RAND_bytes(r, sizeof(r)) != 1)
        return NULL;
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    return xasprintf("=_mssante_%s", hex);
}
