/*
 * milter_test - drive a milter's own callbacks over a message file.
 *
 * This plays Postfix's part closely enough for a sysadmin to see what the
 * milter would do with a given message, sender, recipients and TLS or
 * SASL identity: the same callbacks run, edits are applied the way
 * Postfix applies them, and rejections stop the transaction where Postfix
 * would stop it (a recipient refused on the non-SMTP path is, as in
 * Postfix, a configuration error that defers the message).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter_test.h"
#include "msg.h"
#include "mymalloc.h"

/* mt_getsymval - a macro given on the command line */
const char *mt_getsymval(struct mt_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nmacros; i++)
        if (strcmp(ctx->macros[i].name, name) == 0)
            return ctx->macros[i].value;
    return NULL;
}

/* mt_setreply - remember the reply text, lines joined as Postfix logs them */
int mt_setreply(struct mt_ctx *ctx, const char *rcode, const char *xcode, const char *line1,
                const char *line2)
{
    free(ctx->reply);
    ctx->reply = line2 ? xasprintf("%s %s %s / %s", rcode, xcode ? xcode : "", line1, line2)
                       : xasprintf("%s %s %s", rcode, xcode ? xcode : "", line1 ? line1 : "");
    return MI_SUCCESS;
}

/* mt_edit - apply a header edit to the message being built */
int mt_edit(struct mt_ctx *ctx, enum mt_edit_op op, int index, const char *name, const char *value)
{
    struct mt_hdr h = {xstrdup(name), value ? xstrdup(value) : NULL};
    size_t pos;

    switch (op) {
    case MT_ADD:
        pos = ctx->nhdrs;
        break;
    case MT_INS:
        pos = index < 0 ? 0 : (size_t) index > ctx->nhdrs ? ctx->nhdrs : (size_t) index;
        break;
    case MT_CHG: {
        int seen = 0;

        for (size_t i = 0; i < ctx->nhdrs; i++) {
            if (ctx->hdrs[i].value && strcasecmp(ctx->hdrs[i].name, name) == 0 && ++seen == index) {
                free(ctx->hdrs[i].value);
                ctx->hdrs[i].value = h.value;
                free(h.name);
                return MI_SUCCESS;
            }
        }
        free(h.name);
        free(h.value);
        return MI_SUCCESS; /* as Postfix: no such header, no change */
    }
    default:
        return MI_FAILURE;
    }
    ctx->hdrs = xgrow(ctx->hdrs, &ctx->hdrs_cap, ctx->nhdrs + 1, sizeof(*ctx->hdrs));
    memmove(ctx->hdrs + pos + 1, ctx->hdrs + pos, (ctx->nhdrs - pos) * sizeof(*ctx->hdrs));
    ctx->hdrs[pos] = h;
    ctx->nhdrs++;
    return MI_SUCCESS;
}

/* mt_replacebody - collect the replacement body, chunk by chunk */
int mt_replacebody(struct mt_ctx *ctx, const unsigned char *buf, size_t len)
{
    if (!ctx->body_replaced) {
        ctx->body_replaced = 1;
        ctx->newbody_len = 0;
    }
    ctx->newbody = xgrow(ctx->newbody, &ctx->newbody_cap, ctx->newbody_len + len + 1, 1);
    memcpy(ctx->newbody + ctx->newbody_len, buf, len);
    ctx->newbody_len += len;
    return MI_SUCCESS;
}

/* set_macro - define a macro, replacing an earlier value */
static void set_macro(struct mt_ctx *ctx, const char *name, const char *value)
{
    for (size_t i = 0; i < ctx->nmacros; i++) {
        if (strcmp(ctx->macros[i].name, name) == 0) {
            free(ctx->macros[i].value);
            ctx->macros[i].value = xstrdup(value);
            return;
        }
    }
    ctx->macros = xgrow(ctx->macros, &ctx->macros_cap, ctx->nmacros + 1, sizeof(*ctx->macros));
    ctx->macros[ctx->nmacros].name = xstrdup(name);
    ctx->macros[ctx->nmacros].value = xstrdup(value);
    ctx->nmacros++;
}

/* read_stdin - the whole message */
static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0, got;
    char *buf = xmalloc(cap);

    while ((got = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += got;
        if (cap - n < 4096)
            buf = xrealloc(buf, cap *= 2);
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* verdict - report a stage's result; returns 1 when the transaction ends */
static int verdict(struct mt_ctx *ctx, const char *stage, sfsistat st, int *status)
{
    const char *dflt = NULL;

    switch (st) {
    case SMFIS_CONTINUE:
    case SMFIS_ACCEPT:
    case SMFIS_NOREPLY:
        return 0;
    case SMFIS_REJECT:
        dflt = "550 5.7.1 Command rejected";
        *status = 1;
        break;
    case SMFIS_TEMPFAIL:
        dflt = "451 4.7.1 Service unavailable - try again later";
        *status = 75;
        break;
    case SMFIS_DISCARD:
        dflt = "discarded";
        *status = 0;
        break;
    default:
        dflt = "unknown milter reply";
        *status = 75;
        break;
    }
    fprintf(stderr, "%s: %s\n", stage, ctx->reply ? ctx->reply : dflt);
    free(ctx->reply);
    ctx->reply = NULL;
    return 1;
}

/* usage - the test mode's synopsis */
static void usage(void)
{
    fprintf(stderr, "test mode: --from ADDR --rcpt ADDR [--rcpt ADDR]... [--auth USER] [--local]\n"
                    "           [--client IP] [--cert-subject CN --cert-issuer CN] [--macro name=value]...\n"
                    "           < message\n");
}

/* milter_test_run - one transaction through the callbacks */
int milter_test_run(const struct smfiDesc *desc, int argc, char **argv)
{
    struct mt_ctx ctx = {0};
    SMFICTX *mctx = (SMFICTX *) (void *) &ctx;
    const char *from = NULL, *client = "127.0.0.1";
    char **rcpts = xcalloc((size_t) argc + 1, sizeof(char *));
    int nrcpt = 0, accepted = 0, local = 0, status = 0, done = 0, rcpt_tempfail = 0;
    struct sockaddr_in sin = {0};
    char *msgbuf, *body, *p, *argvbuf[2];
    size_t len;

    set_macro(&ctx, "i", "TEST00000001");
    set_macro(&ctx, "j", "milter-test.localhost");
    set_macro(&ctx, "{daemon_name}", "milter-test");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--local")) {
            local = 1;
            continue;
        }
        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (!strcmp(a, "--from"))
            from = v;
        else if (!strcmp(a, "--rcpt"))
            rcpts[nrcpt++] = (char *) v;
        else if (!strcmp(a, "--auth")) {
            set_macro(&ctx, "{auth_authen}", v);
            set_macro(&ctx, "{auth_type}", "PLAIN");
        } else if (!strcmp(a, "--client"))
            client = v;
        else if (!strcmp(a, "--cert-subject"))
            set_macro(&ctx, "{cert_subject}", v);
        else if (!strcmp(a, "--cert-issuer"))
            set_macro(&ctx, "{cert_issuer}", v);
        else if (!strcmp(a, "--macro") && strchr(v, '=')) {
            char *n = xstrndup(v, (size_t) (strchr(v, '=') - v));

            set_macro(&ctx, n, strchr(v, '=') + 1);
            free(n);
        } else {
            usage();
            return 2;
        }
    }
    if (from == NULL || nrcpt == 0) {
        usage();
        return 2;
    }
    msgbuf = read_stdin(&len);

    /* Headers: name, value without leading blanks, folded lines kept with \n. */
    for (p = msgbuf; *p && *p != '\n' && !(*p == '\r' && p[1] == '\n');) {
        char *eol = p, *colon, *name;
        size_t vlen = 0;
        char *value;

        while (*eol && (*eol != '\n' || (eol[1] == ' ' || eol[1] == '\t')))
            eol++;
        colon = memchr(p, ':', (size_t) (eol - p));
        if (colon == NULL)
            break; /* not a header: the body starts */
        name = xstrndup(p, (size_t) (colon - p));
        value = xmalloc((size_t) (eol - colon) + 1);
        for (char *q = colon + 1; q < eol; q++)
            if (*q != '\r')
                value[vlen++] = *q;
        value[vlen] = 0;
        {
            char *v = value + strspn(value, " \t");
            struct mt_hdr h = {name, xstrdup(v)};

            ctx.hdrs = xgrow(ctx.hdrs, &ctx.hdrs_cap, ctx.nhdrs + 1, sizeof(*ctx.hdrs));
            ctx.hdrs[ctx.nhdrs++] = h;
        }
        free(value);
        p = *eol ? eol + 1 : eol;
    }
    body = p;
    if (*body == '\r')
        body++;
    if (*body == '\n')
        body++;

    sin.sin_family = AF_INET;
    sin.sin_port = htons(local ? 0 : 40000);
    inet_pton(AF_INET, local ? "127.0.0.1" : client, &sin.sin_addr);
    if (desc->xxfi_connect && !done)
        done = verdict(
            &ctx, "CONNECT",
            desc->xxfi_connect(mctx, local ? "localhost" : "client.test", (struct sockaddr *) &sin), &status);
    if (desc->xxfi_helo && !done)
        done = verdict(&ctx, "EHLO", desc->xxfi_helo(mctx, local ? "localhost" : "client.test"), &status);
    argvbuf[1] = NULL;
    if (desc->xxfi_envfrom && !done) {
        argvbuf[0] = xasprintf("<%s>", from);
        done = verdict(&ctx, "MAIL", desc->xxfi_envfrom(mctx, argvbuf), &status);
        free(argvbuf[0]);
    }
    for (int i = 0; i < nrcpt && !done; i++) {
        char *stage = xasprintf("RCPT <%s>", rcpts[i]);
        int st = 0;

        argvbuf[0] = xasprintf("<%s>", rcpts[i]);
        if (desc->xxfi_envrcpt && verdict(&ctx, stage, desc->xxfi_envrcpt(mctx, argvbuf), &st)) {
            rcpt_tempfail |= st == 75;
            if (local) {
                fprintf(stderr,
                        "%s: milter configuration error: can't reject recipient in "
                        "non-smtpd(8) submission; message deferred\n",
                        stage);
                status = 75;
                done = 1;
            }
        } else {
            accepted++;
        }
        free(argvbuf[0]);
        free(stage);
    }
    if (!done && accepted == 0) {
        fprintf(stderr, "DATA: 554 5.5.1 Error: no valid recipients\n");
        status = status ? status : rcpt_tempfail ? 75 : 1;
        done = 1;
    }
    if (desc->xxfi_data && !done)
        done = verdict(&ctx, "DATA", desc->xxfi_data(mctx), &status);
    for (size_t i = 0, n = ctx.nhdrs; i < n && !done && desc->xxfi_header; i++)
        done = verdict(&ctx, "HEADER", desc->xxfi_header(mctx, ctx.hdrs[i].name, ctx.hdrs[i].value), &status);
    if (desc->xxfi_eoh && !done)
        done = verdict(&ctx, "END-OF-HEADERS", desc->xxfi_eoh(mctx), &status);
    if (desc->xxfi_body && !done) {
        size_t blen = len - (size_t) (body - msgbuf);

        for (size_t off = 0; off < blen && !done; off += 65536) {
            size_t n = blen - off < 65536 ? blen - off : 65536;

            done = verdict(&ctx, "BODY", desc->xxfi_body(mctx, (unsigned char *) body + off, n), &status);
        }
    }
    if (desc->xxfi_eom && !done)
        done = verdict(&ctx, "END-OF-MESSAGE", desc->xxfi_eom(mctx), &status);
    if (done && desc->xxfi_abort)
        desc->xxfi_abort(mctx);
    if (desc->xxfi_close)
        desc->xxfi_close(mctx);

    if (!done) {
        for (size_t i = 0; i < ctx.nhdrs; i++)
            if (ctx.hdrs[i].value)
                printf("%s: %s\n", ctx.hdrs[i].name, ctx.hdrs[i].value);
        printf("\n");
        if (ctx.body_replaced)
            fwrite(ctx.newbody, 1, ctx.newbody_len, stdout);
        else
            fputs(body, stdout);
        fprintf(stderr, "END-OF-MESSAGE: 250 2.0.0 Ok: queued as TEST00000001\n");
    }
    for (size_t i = 0; i < ctx.nhdrs; i++) {
        free(ctx.hdrs[i].name);
        free(ctx.hdrs[i].value);
    }
    for (size_t i = 0; i < ctx.nmacros; i++) {
        free(ctx.macros[i].name);
        free(ctx.macros[i].value);
    }
    free(ctx.hdrs);
    free(ctx.macros);
    free(ctx.newbody);
    free(ctx.reply);
    free(rcpts);
    free(msgbuf);
    return status;
}
