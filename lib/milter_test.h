/*
 * milter_test - run a milter's callbacks over one message, without an MTA.
 *
 * The driver plays the part of Postfix: connect, MAIL FROM, RCPT TO,
 * headers, end of headers, body, end of message; it prints each stage's
 * reply to stderr and the message as Postfix would queue it to stdout.
 */
#ifndef MSSANTE_MILTER_TEST_H
#define MSSANTE_MILTER_TEST_H

#include <stddef.h>
#include <libmilter/mfapi.h>

enum mt_edit_op { MT_ADD, MT_INS, MT_CHG };

struct mt_macro {
    char *name;
    char *value;
};

struct mt_ctx {
    void *priv;
    struct mt_macro *macros;
    size_t nmacros, macros_cap;
    char *reply; /* the last reply set by the milter */
    struct mt_hdr {
        char *name;
        char *value; /* NULL: deleted */
    } * hdrs;
    size_t nhdrs, hdrs_cap;
    unsigned char *newbody; /* replacement body, if any */
    size_t newbody_len, newbody_cap;
    int body_replaced;
};

const char *mt_getsymval(struct mt_ctx *ctx, const char *name);
int mt_setreply(struct mt_ctx *ctx, const char *rcode, const char *xcode, const char *line1,
                const char *line2);
int mt_edit(struct mt_ctx *ctx, enum mt_edit_op op, int index, const char *name, const char *value);
int mt_replacebody(struct mt_ctx *ctx, const unsigned char *buf, size_t len);

/*
 * milter_test_run - the test mode of a milter. Arguments:
 *   --from ADDR --rcpt ADDR... [--auth USER] [--local]
 *   [--client ADDR] [--cert-subject CN --cert-issuer CN] [--macro name=value]...
 * The message is read from stdin. Exit: 0 accepted, 1 rejected (5xx),
 * 75 temporary failure (4xx), 2 usage.
 */
int milter_test_run(const struct smfiDesc *desc, int argc, char **argv);

#endif
