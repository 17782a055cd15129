/*
 * authclient - one PLAIN authentication through Dovecot's auth service.
 *
 * A connection per question: VERSION and CPID from us, the server's
 * handshake up to DONE, one AUTH line with the initial response, one
 * answer. The password lives only in buffers wiped before they are freed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "authclient.h"
#include "mymalloc.h"

#define LINE_MAX_BYTES 16384

/* One connection and what has come in of it. */
struct conn {
    int fd;
    char buf[LINE_MAX_BYTES];
    size_t len;
    struct timespec deadline;
};

/* ms_left - milliseconds until the deadline, 0 when it passed */
static int ms_left(const struct conn *c)
{
    struct timespec now;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (c->deadline.tv_sec - now.tv_sec) * 1000 + (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (int) ms : 0;
}

/* write_all - all of s, or -1 */
static int write_all(struct conn *c, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        s += n;
        len -= (size_t) n;
    }
    return 0;
}

/*
 * read_line - the next line without its newline, in place in c->buf (valid
 * until the next call); NULL on timeout, end or a line too long.
 */
static char *read_line(struct conn *c, size_t *consumed)
{
    char *nl;

    /* Drop the line returned last time. */
    if (*consumed > 0) {
        memmove(c->buf, c->buf + *consumed, c->len - *consumed);
        c->len -= *consumed;
        *consumed = 0;
    }
    while ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        ssize_t n;
        int r;

        if (c->len >= sizeof(c->buf) - 1)
            return NULL;
        if ((r = poll(&pfd, 1, ms_left(c))) < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        if ((n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0)) < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        c->len += (size_t) n;
    }
    *nl = '\0';
    *consumed = (size_t) (nl - c->buf) + 1;
    return c->buf;
}

/* unescape - Dovecot's tab escaping (\001 then 1, t, r, n or 0), malloc'd */
static char *unescape(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;

    for (; *s; s++) {
        if (*s != '\001' || s[1] == '\0') {
            *o++ = *s;
            continue;
        }
        switch (*++s) {
        case 't':
            *o++ = '\t';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case '0':
            *o++ = '\0';
            break;
        default:
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* parse_reply - "OK|FAIL \t id \t key=value..." into *r; -1 if it is neither */
static int parse_reply(char *line, struct authc_reply *r)
{
    char *save = NULL, *tok = strtok_r(line, "\t", &save);

    if (tok == NULL)
        return -1;
    if (strcmp(tok, "OK") == 0)
        r->status = AUTHC_OK;
    else if (strcmp(tok, "FAIL") == 0)
        r->status = AUTHC_FAIL;
    else
        return -1;
    (void) strtok_r(NULL, "\t", &save); /* the request id: one request */
    while ((tok = strtok_r(NULL, "\t", &save)) != NULL) {
        char **slot = strncmp(tok, "user=", 5) == 0               ? &r->user
                      : strncmp(tok, "code=", 5) == 0             ? &r->code
                      : strncmp(tok, "reason=", 7) == 0           ? &r->reason
                      : strncmp(tok, "mssante_outcome=", 16) == 0 ? &r->outcome
                      : strncmp(tok, "mssante_login=", 14) == 0   ? &r->login
                                                                  : NULL;

        if (slot != NULL && *slot == NULL)
            *slot = unescape(strchr(tok, '=') + 1);
    }
    if (r->status == AUTHC_FAIL && r->code != NULL && strcmp(r->code, "temp_fail") == 0)
        r->status = AUTHC_TEMPFAIL;
    return 0;
}

/* plain_response - base64 of "\0user\0password"; malloc'd, wiped by the caller */
static char *plain_response(const char *user, const char *password, size_t *len)
{
    size_t ulen = strlen(user), plen = strlen(password), rlen = ulen + plen + 2;
    unsigned char *raw = xmalloc(rlen);
    char *b64 = xmalloc(4 * ((rlen + 2) / 3) + 1);

    raw[0] = '\0';
    memcpy(raw + 1, user, ulen);
    raw[1 + ulen] = '\0';
    memcpy(raw + 2 + ulen, password, plen);
    *len = (size_t) EVP_EncodeBlock((unsigned char *) b64, raw, (int) rlen);
    OPENSSL_cleanse(raw, rlen);
    free(raw);
    return b64;
}

/* safe_value - whether s may be sent as a field value as it is */
static int safe_value(const char *s)
{
    return strpbrk(s, "\t\r\n\001") == NULL;
}

/* authc_plain - PLAIN authentication through Dovecot's auth socket */
int authc_plain(const char *path, const char *service, const char *user, const char *password,
                const char *rip, int timeout, struct authc_reply *reply, char **err)
{
    return authc_plain_fwd(path, service, user, password, rip, NULL, timeout, reply, err);
}

/* authc_plain_fwd - authc_plain with extra fields forwarded to the passdb */
int authc_plain_fwd(const char *path, const char *service, const char *user, const char *password,
                    const char *rip, const char *forward, int timeout, struct authc_reply *reply, char **err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct conn c = {.fd = -1};
    size_t consumed = 0, b64len = 0;
    char *line, *b64 = NULL, *req = NULL, hello[64];
    int done = 0, ret = -1;

    memset(reply, 0, sizeof(*reply));
    *err = NULL;
    if (!safe_value(service) || (rip != NULL && !safe_value(rip)) || (forward && !safe_value(forward))) {
        *err = xstrdup("a field holds a tab or a newline");
        return -1;
    }
    if (strlen(path) >= sizeof(sun.sun_path)) {
        *err = xasprintf("%s: path too long", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    clock_gettime(CLOCK_MONOTONIC, &c.deadline);
    c.deadline.tv_sec += timeout;
    if ((c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(c.fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
        *err = xasprintf("connect to %s: %s", path, strerror(errno));
        goto out;
    }
    snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld\n", (long) getpid());
    if (write_all(&c, hello, strlen(hello)) < 0)
        goto lost;
    /* The server's handshake: VERSION, MECH..., SPID, CUID, COOKIE, DONE. */
    while (!done && (line = read_line(&c, &consumed)) != NULL) {
        if (strncmp(line, "VERSION\t", 8) == 0 && strncmp(line + 8, "1\t", 2) != 0) {
            *err = xasprintf("%s: auth protocol \"%s\", not 1.x", path, line + 8);
            goto out;
        }
        done = strcmp(line, "DONE") == 0;
    }
    if (!done)
        goto lost;
    b64 = plain_response(user, password, &b64len);
    req = xasprintf("AUTH\t1\tPLAIN\tservice=%s%s%s%s%s\tsecured\tresp=%s\n", service, rip ? "\trip=" : "",
                    rip ? rip : "", forward ? "\tforward_fields=" : "", forward ? forward : "", b64);
    if (write_all(&c, req, strlen(req)) < 0)
        goto lost;
    if ((line = read_line(&c, &consumed)) == NULL)
        goto lost;
    if (parse_reply(line, reply) < 0) {
        *err = xasprintf("%s: unexpected answer \"%.40s\"", path, line);
        authc_free(reply);
        goto out;
    }
    ret = 0;
    goto out;
lost:
    *err = xasprintf("%s: %s", path, ms_left(&c) == 0 ? "no answer in time" : "connection lost");
out:
    if (c.fd >= 0)
        close(c.fd);
    if (b64 != NULL) {
        OPENSSL_cleanse(b64, b64len);
        free(b64);
    }
    if (req != NULL) {
        OPENSSL_cleanse(req, strlen(req));
        free(req);
    }
    OPENSSL_cleanse(c.buf, sizeof(c.buf));
    return ret;
}

/* authc_free - what a reply holds */
void authc_free(struct authc_reply *r)
{
    free(r->user);
    free(r->code);
    free(r->reason);
    free(r->outcome);
    free(r->login);
    memset(r, 0, sizeof(*r));
}
