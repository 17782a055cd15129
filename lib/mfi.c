/*
 * mfi - libmilter calls, or their test-mode stand-ins.
 *
 * The test-mode context is defined in milter_test.c; this file only
 * dispatches. Reply texts go through mfi_reply_text: libmilter and the
 * SMTP client on the other side expect printable ASCII without '%'.
 */
#include <stdlib.h>
#include <string.h>

#include "mfi.h"
#include "milter_test.h"
#include "mymalloc.h"

int     mfi_test_mode;

#define TEST_CTX(ctx) ((struct mt_ctx *) (void *) (ctx))

const char *mfi_getsymval(SMFICTX *ctx, const char *name)
{
    return mfi_test_mode ? mt_getsymval(TEST_CTX(ctx), name) : smfi_getsymval(ctx, (char *) name);
}

void   *mfi_getpriv(SMFICTX *ctx)
{
    return mfi_test_mode ? TEST_CTX(ctx)->priv : smfi_getpriv(ctx);
}

int mfi_setpriv(SMFICTX *ctx, void *priv)
{
    if (mfi_test_mode) {
        TEST_CTX(ctx)->priv = priv;
        return MI_SUCCESS;
    }
    return smfi_setpriv(ctx, priv);
}

int mfi_setreply(SMFICTX *ctx, const char *rcode, const char *xcode,
                 const char *line1, const char *line2)
{
    if (mfi_test_mode)
        return mt_setreply(TEST_CTX(ctx), rcode, xcode, line1, line2);
    if (line2)
        return smfi_setmlreply(ctx, rcode, xcode, (char *) line1, (char *) line2, (char *) NULL);
    return smfi_setreply(ctx, (char *) rcode, (char *) xcode, (char *) line1);
}

int mfi_addheader(SMFICTX *ctx, const char *name, const char *value)
{
    if (mfi_test_mode)
        return mt_edit(TEST_CTX(ctx), MT_ADD, 0, name, value);
    return smfi_addheader(ctx, (char *) name, (char *) value);
}

int mfi_insheader(SMFICTX *ctx, int index, const char *name, const char *value)
{
    if (mfi_test_mode)
        return mt_edit(TEST_CTX(ctx), MT_INS, index, name, value);
    return smfi_insheader(ctx, index, (char *) name, (char *) value);
}

int mfi_chgheader(SMFICTX *ctx, const char *name, int index, const char *value)
{
    if (mfi_test_mode)
        return mt_edit(TEST_CTX(ctx), MT_CHG, index, name, value);
    return smfi_chgheader(ctx, (char *) name, index, (char *) value);
}

int mfi_replacebody(SMFICTX *ctx, const unsigned char *buf, size_t len)
{
    if (mfi_test_mode)
        return mt_replacebody(TEST_CTX(ctx), buf, len);
    return smfi_replacebody(ctx, (unsigned char *) buf, (int) len);
}

int mfi_progress(SMFICTX *ctx)
{
    return mfi_test_mode ? MI_SUCCESS : smfi_progress(ctx);
}

/* mfi_reply_text - printable ASCII, '%' and controls replaced, bounded */
char   *mfi_reply_text(const char *s)
{
    size_t  n = strnlen(s, 400);
    char   *out = xstrndup(s, n);

    for (char *p = out; *p; p++)
        if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e || *p == '%')
            *p = '?';
    return out;
}
