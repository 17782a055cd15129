/*
 * skel-milter - the smallest milter built on lib/milter_skel, for tests.
 *
 * At end of message it adds "X-MSSante-Skeleton: <queue id> reloads=<n>",
 * after deleting any copy of that header that came with the message; the
 * reload hook counts SIGUSR1. It proves the skeleton's socket, privilege
 * drop and reload against the real Postfix; it filters nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter_skel.h"
#include "msg.h"

static volatile int reloads;

struct msgctx {
    int seen; /* copies of our header that arrived */
};

/* skel_header - count incoming copies of our header */
static sfsistat skel_header(SMFICTX *ctx, char *name, char *value)
{
    struct msgctx *m = smfi_getpriv(ctx);

    (void) value;
    if (m == NULL) {
        m = calloc(1, sizeof(*m));
        if (m == NULL)
            return SMFIS_TEMPFAIL;
        smfi_setpriv(ctx, m);
    }
    if (strcasecmp(name, "X-MSSante-Skeleton") == 0)
        m->seen++;
    return SMFIS_CONTINUE;
}

/* skel_eom - replace forged copies by our own header */
static sfsistat skel_eom(SMFICTX *ctx)
{
    struct msgctx *m = smfi_getpriv(ctx);
    const char *qid = smfi_getsymval(ctx, "i");
    char value[128];

    for (int i = m ? m->seen : 0; i > 0; i--)
        if (smfi_chgheader(ctx, "X-MSSante-Skeleton", i, NULL) == MI_FAILURE)
            return SMFIS_TEMPFAIL;
    snprintf(value, sizeof(value), "%s reloads=%d", qid ? qid : "unknown", reloads);
    if (smfi_addheader(ctx, "X-MSSante-Skeleton", value) == MI_FAILURE)
        return SMFIS_TEMPFAIL;
    msg_info("%s: header added", qid ? qid : "NOQUEUE");
    return SMFIS_CONTINUE;
}

/* skel_cleanup - free per-message state; may come with none */
static sfsistat skel_cleanup(SMFICTX *ctx)
{
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

/* skel_close - the connection closes: free its state */
static sfsistat skel_close(SMFICTX *ctx)
{
    return skel_cleanup(ctx);
}

/* skel_reload - count reloads */
static void skel_reload(void)
{
    reloads++;
    msg_info("reloaded, count %d", reloads);
}

static struct smfiDesc desc = {
    .xxfi_name = "skel-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
    .xxfi_header = skel_header,
    .xxfi_eom = skel_eom,
    .xxfi_abort = skel_cleanup,
    .xxfi_close = skel_close,
};

static const struct milter_app app = {
    .name = "skel-milter",
    .desc = &desc,
    .reload = skel_reload,
};

/* main - the skeleton with the test callbacks */
int main(int argc, char **argv)
{
    return milter_main(argc, argv, &app);
}
