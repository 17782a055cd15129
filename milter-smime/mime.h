/*
 * mime - just enough MIME for S/MIME: header fields, Content-Type
 * parameters, the parts of a multipart body, and the canonical 7-bit form
 * that is signed (RFC 8551 3.1: CRLF line ends, every part 7-bit clean,
 * lines of at most 998 octets).
 *
 * Everything works on a region of bytes (the message may be a mapped
 * file); lines may end in CRLF or LF (Postfix hands milters CRLF, files
 * on disk have LF).
 */
#ifndef MSSANTE_MIME_H
#define MSSANTE_MIME_H

#include <stddef.h>

#include "spool.h"

#define MIME_MAX_DEPTH 32

struct mime_field {
    const unsigned char *raw; /* "Name: value", folding included, no final line end */
    size_t rawlen;
    size_t namelen;
};

struct mime_entity {
    struct mime_field *fields;
    size_t nfields;
    const unsigned char *body; /* after the blank line */
    size_t bodylen;
};

/* mime_parse - split an entity into its header fields and body */
void mime_parse(const unsigned char *p, size_t len, struct mime_entity *e);
void mime_entity_free(struct mime_entity *e);

/* mime_field_is - whether a field has this name (case-insensitive) */
int mime_field_is(const struct mime_field *f, const char *name);

/* mime_get - the unfolded value of the first field of that name, or NULL */
char *mime_get(const struct mime_entity *e, const char *name);

/* mime_type - "type/subtype" in lower case of a Content-Type value, or NULL */
char *mime_type(const char *value);

/* mime_param - a parameter of a Content-Type or Content-Disposition value */
char *mime_param(const char *value, const char *name);

struct mime_part {
    const unsigned char *p; /* between the delimiter line and the CRLF before the next */
    size_t len;
};

/*
 * mime_parts - the parts of a multipart body. *closed tells whether the
 * close delimiter was seen. Returns the number of parts (0: no delimiter);
 * *parts is allocated.
 */
size_t mime_parts(const unsigned char *body, size_t len, const char *boundary, struct mime_part **parts,
                  int *closed);

/*
 * mime_canon - write the canonical, 7-bit form of an entity to out:
 * 8-bit or binary leaves re-encoded (text as quoted-printable, the rest
 * base64), 7-bit leaves and their bytes kept as they are, preamble and
 * epilogue of multiparts dropped. 0, or -1 when out fails.
 */
int mime_canon(const unsigned char *p, size_t len, struct spool *out);

/* mime_canon_lines - the bytes as they are, every line end made CRLF */
int mime_canon_lines(const unsigned char *p, size_t len, struct spool *out);

/*
 * mime_b64_decode - decode base64 text (line breaks and blanks ignored) to
 * out: 0, 1 when the text is not base64 (the sender's fault), or -1 when
 * out fails (ours).
 */
int mime_b64_decode(const unsigned char *p, size_t len, struct spool *out);

/* mime_boundary - a fresh random boundary "=_mssante_<hex>" */
char *mime_boundary(void);

#endif
