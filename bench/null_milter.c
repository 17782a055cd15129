/*
 * null_milter - the protocol floor of the milter benchmarks: a libmilter
 * filter that decides nothing, run in the same harness as ours.
 *
 * null_milter -p SOCKET [-r] [-e]
 *   -r  the steps milter-smime negotiates; the body is kept and given
 *       back unchanged at end of message (a body replacement's round trip)
 *   -e  the steps milter-whitelist negotiates (no body, no reply awaited
 *       for connect and headers)
 * Every step answers "continue" at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static int replace, envelope_only;

struct body {
    unsigned char *buf;
    size_t len, cap;
};

/* nm_body - keep the chunk when the body is to be given back */
static sfsistat nm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    struct body *b = smfi_getpriv(ctx);

    if (!replace)
        return SMFIS_CONTINUE;
    if (b == NULL) {
        if ((b = calloc(1, sizeof(*b))) == NULL)
            return SMFIS_TEMPFAIL;
        smfi_setpriv(ctx, b);
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        unsigned char *n;

        while (cap < b->len + len)
            cap *= 2;
        if ((n = realloc(b->buf, cap)) == NULL)
            return SMFIS_TEMPFAIL;
        b->buf = n;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, chunk, len);
    b->len += len;
    return SMFIS_CONTINUE;
}

/* nm_free - drop a message's body */
static void nm_free(SMFICTX *ctx)
{
    struct body *b = smfi_getpriv(ctx);

    if (b) {
        free(b->buf);
        free(b);
        smfi_setpriv(ctx, NULL);
    }
}

/* nm_eom - give the body back, in chunks of at most 64 KB */
static sfsistat nm_eom(SMFICTX *ctx)
{
    struct body *b = smfi_getpriv(ctx);

    for (size_t off = 0; b && off < b->len; off += 65535) {
        size_t k = b->len - off < 65535 ? b->len - off : 65535;

        if (smfi_replacebody(ctx, b->buf + off, (int) k) == MI_FAILURE) {
            nm_free(ctx);
            return SMFIS_TEMPFAIL;
        }
    }
    nm_free(ctx);
    return SMFIS_CONTINUE;
}

/* nm_abort - the message ended without end of message */
static sfsistat nm_abort(SMFICTX *ctx)
{
    nm_free(ctx);
    return SMFIS_CONTINUE;
}

/* nm_envelope - MAIL FROM and RCPT TO: accepted */
static sfsistat nm_envelope(SMFICTX *ctx, char **argv)
{
    (void) ctx;
    (void) argv;
    return SMFIS_CONTINUE;
}

/* nm_connect - no reply awaited with -e */
static sfsistat nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void) ctx;
    (void) host;
    (void) sa;
    return envelope_only ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* nm_header - no reply awaited (both of ours negotiate it) */
static sfsistat nm_header(SMFICTX *ctx, char *name, char *value)
{
    (void) ctx;
    (void) name;
    (void) value;
    return SMFIS_NOREPLY;
}

/* nm_eoh - end of headers (milter-smime's step) */
static sfsistat nm_eoh(SMFICTX *ctx)
{
    (void) ctx;
    return SMFIS_CONTINUE;
}

/* nm_negotiate - the steps of the milter compared with */
static sfsistat nm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                             unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
                             unsigned long *pf3)
{
    (void) ctx;
    (void) f2;
    (void) f3;
    *pf0 = f0 & (replace ? SMFIF_CHGBODY : 0);
    *pf1 = f1 & (envelope_only ? SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH |
                                     SMFIP_NR_CONN | SMFIP_NR_HDR
                               : SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_HDR);
    *pf2 = *pf3 = 0;
    return SMFIS_CONTINUE;
}

/* main - parse the options and serve */
int main(int argc, char **argv)
{
    struct smfiDesc d = {
        .xxfi_name = "null",
        .xxfi_version = SMFI_VERSION,
        .xxfi_connect = nm_connect,
        .xxfi_envfrom = nm_envelope,
        .xxfi_envrcpt = nm_envelope,
        .xxfi_header = nm_header,
        .xxfi_eoh = nm_eoh,
        .xxfi_body = nm_body,
        .xxfi_eom = nm_eom,
        .xxfi_abort = nm_abort,
        .xxfi_negotiate = nm_negotiate,
    };
    const char *sock = NULL;
    int c;

    while ((c = getopt(argc, argv, "efp:r")) != -1) {
        switch (c) {
        case 'e':
            envelope_only = 1;
            break;
        case 'f':
            break;
        case 'p':
            sock = optarg;
            break;
        case 'r':
            replace = 1;
            break;
        default:
            fprintf(stderr, "usage: null_milter -p SOCKET [-r] [-e]\n");
            return 2;
        }
    }
    d.xxfi_flags = replace ? SMFIF_CHGBODY : 0;
    if (sock == NULL || smfi_setconn((char *) sock) == MI_FAILURE || smfi_register(d) == MI_FAILURE ||
        smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "null_milter: no socket, or cannot register or open it\n");
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
