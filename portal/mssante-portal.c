/*
 * mssante-portal - the users' own pages: activation, sign-in with the
 * second factor, the code channel, forgotten password, client
 * autoconfiguration. Server-rendered HTML, no script, French first.
 *
 *   mssante-portal [-f] [-c FILE] [-o key=value]...
 *   mssante-portal -n [-c FILE] [-o key=value]...
 *
 * Plain HTTP on portal_listen (loopback), behind the operator's reverse
 * proxy, which terminates TLS and names the client in X-Real-IP. It starts
 * as root, reads otp_key_file (to seal the secrets of new enrolments) and
 * becomes portal_user. Credentials and codes of sign-ins are checked by
 * Dovecot's auth service (portal_auth_socket), that is by the same passdb
 * as IMAP and SMTP logins: one set of rules, lock-outs and audit trail.
 * Sessions live in this process's memory (a restart signs everyone out).
 * SIGHUP reads mssante.conf again (all keys but portal_listen, portal_user
 * and portal_threads); SIGTERM stops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistr.h>

#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"
#include "portal.h"
#include "privs.h"
#include "strlist.h"

#define BODY_MAX     16384 /* the largest form we take */
#define SESSIONS_MAX 20000
#define BUCKETS      4096
#define COOKIE       "__Host-mssante"

unsigned char portal_key[OTP_KEY_LEN];
int portal_have_key;

static const char *conf_path;
static char **conf_overrides;
static int conf_noverrides;
static pthread_rwlock_t conf_lock = PTHREAD_RWLOCK_INITIALIZER;
static char **trusted_proxies; /* portal_trusted_proxies, split at each load */

/* ---------------------------------------------------------------- database */

static __thread PGconn *thread_db;

/* db - the database connection, reopened when lost */
PGconn *db(void)
{
    char *err = NULL;

    if (thread_db != NULL && PQstatus(thread_db) == CONNECTION_OK)
        return thread_db;
    if (thread_db != NULL)
        PQfinish(thread_db);
    if ((thread_db = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL) {
        msg_error("database: %s", err);
        free(err);
    }
    return thread_db;
}

/* dbq - a query, retried once on a new connection */
PGresult *dbq(const char *sql, int n, const char *const *p)
{
    for (int tries = 0; tries < 2; tries++) {
        PGconn *c = db();
        PGresult *res;
        ExecStatusType st;

        if (c == NULL)
            return NULL;
        res = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
        st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
            return res;
        PQclear(res);
        /* A connection the server dropped shows only now: once more on a new one. */
        if (PQstatus(c) != CONNECTION_BAD) {
            char *e = pgu_error(c);

            msg_error("database: %s", e);
            free(e);
            return NULL;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- helpers */

/* random_hex - n random bytes as hex */
void random_hex(char *out, size_t n)
{
    unsigned char raw[64];

    if (n > sizeof(raw) || RAND_bytes(raw, (int) n) != 1)
        msg_fatal("no random bytes");
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof(raw));
}

/* sha256 - of a string */
static void sha256(const char *s, unsigned char md[32])
{
    unsigned int len = 0;

    EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL);
}

/* bucket_of - the first bytes of a digest as a bucket number */
static unsigned bucket_of(const unsigned char *md)
{
    return (unsigned) (md[0] | md[1] << 8) % BUCKETS;
}

/* ---------------------------------------------------------------- sessions */

struct node {
    struct session s;
    struct node *next;
};

static struct node *table[BUCKETS];
static long nsessions;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* expired - whether a session is over */
static int expired(const struct session *s, time_t now)
{
    return now - s->seen > var_portal_idle_timeout ||
           (s->signed_in != 0 && now - s->signed_in > var_portal_session_lifetime) ||
           now - s->created > var_portal_session_lifetime + var_portal_idle_timeout;
}

/* wipe_node - forget a session and its secrets */
static void wipe_node(struct node *n)
{
    OPENSSL_cleanse(n, sizeof(*n));
    free(n);
    nsessions--;
}

/* purge - drop every expired session (table locked) */
static void purge(time_t now)
{
    for (int b = 0; b < BUCKETS; b++)
        for (struct node **pp = &table[b]; *pp;) {
            struct node *n = *pp;

            if (expired(&n->s, now)) {
                *pp = n->next;
                wipe_node(n);
            } else {
                pp = &n->next;
            }
        }
}

/* session_find - a copy of the session of a cookie; 0 if none (or over) */
static int session_find(const char *cookie, struct session *out)
{
    unsigned char md[32];
    time_t now = time(NULL);
    int found = 0;

    if (cookie == NULL || strlen(cookie) != 64 || strspn(cookie, "0123456789abcdef") != 64)
        return 0;
    sha256(cookie, md);
    pthread_mutex_lock(&table_lock);
    for (struct node **pp = &table[bucket_of(md)]; *pp; pp = &(*pp)->next) {
        struct node *n = *pp;

        /* Found by digest: nothing here depends on the bytes of the cookie itself. */
        if (CRYPTO_memcmp(n->s.key, md, sizeof(md)) != 0)
            continue;
        if (expired(&n->s, now)) {
            *pp = n->next;
            wipe_node(n);
        } else {
            n->s.seen = now;
            *out = n->s;
            found = 1;
        }
        break;
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}

/* session_remove_locked - drop the session of a key (table locked) */
static void session_remove_locked(const unsigned char key[32])
{
    for (struct node **pp = &table[bucket_of(key)]; *pp; pp = &(*pp)->next)
        if (memcmp((*pp)->s.key, key, 32) == 0) {
            struct node *n = *pp;

            *pp = n->next;
            wipe_node(n);
            return;
        }
}

/* session_store - write a request's copy back (under a new key if rotated) */
static void session_store(struct req *r, const unsigned char old_key[32], int had_old)
{
    struct node *n;

    pthread_mutex_lock(&table_lock);
    if (had_old)
        session_remove_locked(old_key);
    if (!r->drop) {
        if (nsessions >= SESSIONS_MAX)
            purge(time(NULL));
        if (nsessions < SESSIONS_MAX) {
            n = xcalloc(1, sizeof(*n));
            n->s = r->s;
            n->next = table[bucket_of(n->s.key)];
            table[bucket_of(n->s.key)] = n;
            nsessions++;
        } else {
            msg_warn("%d sessions at once: a new one is refused", SESSIONS_MAX);
        }
    }
    pthread_mutex_unlock(&table_lock);
}

/* new_key - a new cookie for the request's session */
static void new_key(struct req *r)
{
    random_hex(r->cookie, 32);
    sha256(r->cookie, r->s.key);
}

/* session_ensure - a session for this request (a new anonymous one if none) */
void session_ensure(struct req *r)
{
    time_t now = time(NULL);

    if (r->have_session)
        return;
    memset(&r->s, 0, sizeof(r->s));
    r->s.created = r->s.seen = now;
    random_hex(r->s.csrf, 32);
    new_key(r);
    r->have_session = 1;
}

/* ---------------------------------------------------------------- rate limits */

struct rate {
    unsigned char key[32];
    time_t start;
    long count;
};
static struct rate rates[BUCKETS];
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

/* rate_ok - whether key may do one more thing in this window */
int rate_ok(const char *key, long limit, long window)
{
    unsigned char md[32];
    struct rate *e;
    time_t now = time(NULL);
    int ok;

    sha256(key, md);
    pthread_mutex_lock(&rate_lock);
    e = &rates[bucket_of(md)];
    /* One slot per bucket: a collision starts a new window, never blocks a stranger's key. */
    if (memcmp(e->key, md, 32) != 0 || now - e->start >= window) {
        memcpy(e->key, md, 32);
        e->start = now;
        e->count = 0;
    }
    ok = ++e->count <= limit;
    pthread_mutex_unlock(&rate_lock);
    return ok;
}

/* ---------------------------------------------------------------- forms */

/* form_get - a form field's value, or NULL */
const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].name, name) == 0)
            return f->f[i].value;
    return NULL;
}

/* hexval - a hex digit's value, or -1 */
static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* url_decode - %XX and + in place; -1 on a bad escape or a NUL */
static int url_decode(char *s)
{
    char *o = s;

    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%') {
            int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);

            if (l < 0 || (h == 0 && l == 0))
                return -1;
            *o++ = (char) (h * 16 + l);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return 0;
}

/* form_parse - name=value&... into f; -1 when malformed (bad escape, bad UTF-8) */
static int form_parse(char *body, struct form *f)
{
    char *save = NULL;

    for (char *pair = strtok_r(body, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');

        if (eq == NULL)
            return -1;
        *eq = '\0';
        if (url_decode(pair) < 0 || url_decode(eq + 1) < 0 ||
            u8_check((const uint8_t *) pair, strlen(pair)) != NULL ||
            u8_check((const uint8_t *) eq + 1, strlen(eq + 1)) != NULL || f->n >= 32)
            return -1;
        f->f = xgrow(f->f, &f->cap, f->n + 1, sizeof(*f->f));
        f->f[f->n].name = pair;
        f->f[f->n].value = eq + 1;
        f->n++;
    }
    return 0;
}

/* ---------------------------------------------------------------- HTTP */

/* What a connection has sent of its body so far. */
struct upload {
    char buf[BODY_MAX + 1];
    size_t len;
    int too_big;
};

/* client_of - the client's address: X-Real-IP when the peer is a trusted proxy */
static void client_of(struct MHD_Connection *c, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char peer[64] = "";
    const char *xr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Real-IP");
    unsigned char tmp[16];

    if (ci != NULL && ci->client_addr != NULL)
        getnameinfo(ci->client_addr,
                    ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in),
                    peer, sizeof(peer), NULL, 0, NI_NUMERICHOST);
    snprintf(out, len, "%s", peer);
    if (xr == NULL || (inet_pton(AF_INET, xr, tmp) != 1 && inet_pton(AF_INET6, xr, tmp) != 1))
        return;
    pthread_rwlock_rdlock(&conf_lock);
    if (strlist_has(trusted_proxies, peer))
        snprintf(out, len, "%s", xr);
    pthread_rwlock_unlock(&conf_lock);
}

/* add_security_headers - on every answer */
static void add_security_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
}

/* respond - send what the pages put in the request */
static enum MHD_Result respond(struct MHD_Connection *c, struct req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (r->bin != NULL)
        resp = MHD_create_response_from_buffer(r->binlen, r->bin, MHD_RESPMEM_MUST_COPY);
    else
        resp = MHD_create_response_from_buffer(r->body.len, r->body.s ? r->body.s : (char *) "",
                                               MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    add_security_headers(resp);
    MHD_add_response_header(resp, "Content-Type", r->ctype ? r->ctype : "text/html; charset=utf-8");
    if (r->location)
        MHD_add_response_header(resp, "Location", r->location);
    if (r->set_lang)
        MHD_add_response_header(resp, "Set-Cookie",
                                strcmp(r->set_lang, "en") == 0
                                    ? "lang=en; Path=/; Max-Age=31536000; Secure; SameSite=Strict"
                                    : "lang=fr; Path=/; Max-Age=31536000; Secure; SameSite=Strict");
    if (r->drop) {
        MHD_add_response_header(resp, "Set-Cookie",
                                COOKIE "=; Path=/; Max-Age=0; HttpOnly; Secure;"
                                       " SameSite=Strict");
    } else if (r->cookie[0]) {
        char set[160];

        snprintf(set, sizeof(set), COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict", r->cookie);
        MHD_add_response_header(resp, "Set-Cookie", set);
    }
    ret = MHD_queue_response(c, (unsigned) r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * finish - after the pages: store the session if it changed (orig: as it
 * was found, NULL for none), answer, free the request. A request that
 * changed nothing (a stylesheet, an image) writes nothing back, so it
 * cannot undo what a request running beside it changed.
 */
static enum MHD_Result finish(struct MHD_Connection *c, struct req *r, const struct session *orig)
{
    enum MHD_Result ret;

    if (r->have_session) {
        if (r->rotate && !r->drop)
            new_key(r);
        if (r->drop || r->cookie[0] || (orig != NULL && memcmp(&r->s, orig, sizeof(*orig)) != 0))
            session_store(r, orig ? orig->key : NULL, orig != NULL);
    }
    ret = respond(c, r);
    OPENSSL_cleanse(&r->s, sizeof(r->s));
    buf_free(&r->body);
    free(r->bin);
    free(r->location);
    free(r->form.f);
    return ret;
}

/* handler - libmicrohttpd request handler: body gathered, then routed */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *data, size_t *data_len, void **con_cls)
{
    struct upload *up = *con_cls;
    struct req r = {.method = method, .path = url, .status = 200};
    struct session orig;
    const char *lang, *ctype;
    int had_old;
    enum MHD_Result ret;

    (void) cls;
    (void) version;
    r.is_post = strcmp(method, "POST") == 0;
    /* The first call only sees the headers: an answer queued then would close
     * the connection (libmicrohttpd refuses keep-alive after an early answer). */
    if (up == NULL) {
        *con_cls = xcalloc(1, sizeof(*up));
        return MHD_YES;
    }
    if (*data_len > 0) {
        if (!r.is_post) {
            up->too_big = 1; /* a body where none belongs: refused below */
            *data_len = 0;
            return MHD_YES;
        }
        if (up->len + *data_len > BODY_MAX) {
            up->too_big = 1;
        } else {
            memcpy(up->buf + up->len, data, *data_len);
            up->len += *data_len;
        }
        *data_len = 0;
        return MHD_YES;
    }
    client_of(c, r.client, sizeof(r.client));
    r.accept_lang = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language");
    lang = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "lang");
    r.en = lang ? strcmp(lang, "en") == 0 : r.accept_lang != NULL && strncmp(r.accept_lang, "en", 2) == 0;
    r.query_t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "t");
    r.query_l = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "l");
    r.query_email = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "emailaddress");
    pthread_rwlock_rdlock(&conf_lock);
    had_old = r.have_session = session_find(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE), &r.s);
    if (had_old)
        memcpy(&orig, &r.s, sizeof(orig));
    ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (u8_check((const uint8_t *) url, strlen(url)) != NULL ||
        (r.query_t && u8_check((const uint8_t *) r.query_t, strlen(r.query_t)) != NULL) ||
        (r.query_email && u8_check((const uint8_t *) r.query_email, strlen(r.query_email)) != NULL)) {
        page_error(&r, 400, "Adresse invalide.", "Invalid address.");
    } else if (up->too_big) {
        page_error(&r, 413, "Formulaire trop long.", "Form too large.");
    } else if (r.is_post &&
               (ctype == NULL || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)) {
        page_error(&r, 415, "Formulaire illisible.", "Unreadable form.");
    } else if (r.is_post && (up->buf[up->len] = '\0', form_parse(up->buf, &r.form) < 0)) {
        page_error(&r, 400, "Formulaire illisible (caract\xc3\xa8res invalides).",
                   "Unreadable form (invalid characters).");
    } else if (!r.is_post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        page_error(&r, 405, "M\xc3\xa9thode non prise en charge.", "Method not allowed.");
    } else if (r.is_post && !rate_ok(r.client, var_portal_rate_limit, 60)) {
        msg_warn("client %s: more than %ld forms in a minute: refused", r.client, var_portal_rate_limit);
        page_error(&r, 429,
                   "Trop de tentatives depuis votre adresse : r\xc3\xa9"
                   "essayez dans une minute.",
                   "Too many attempts from your address: try again in a minute.");
    } else {
        page_route(&r);
    }
    ret = finish(c, &r, had_old ? &orig : NULL);
    OPENSSL_cleanse(&orig, sizeof(orig));
    pthread_rwlock_unlock(&conf_lock);
    return ret;
}

/* completed - free what a connection's request held */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void) cls;
    (void) c;
    (void) t;
    if (*con_cls != NULL) {
        OPENSSL_cleanse(*con_cls, sizeof(struct upload));
        free(*con_cls);
        *con_cls = NULL;
    }
}

/* mhd_log - libmicrohttpd's own messages */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void) cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    msg_warn("http: %s", line);
}

/* ---------------------------------------------------------------- main */

/* usage - the options */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mssante-portal [-f] [-c FILE] [-o key=value]...\n"
            "       mssante-portal -n [-c FILE] [-o key=value]...\n"
            "  -c FILE        configuration file (default %s)\n"
            "  -f             stay in the foreground and log to stderr\n"
            "  -n             check the configuration, print the effective settings, exit\n"
            "  -o key=value   override a setting\n"
            "The users' own pages (activation, sign-in, code channel, forgotten password,\n"
            "client autoconfiguration) behind the operator's reverse proxy.\n",
            MSSANTE_DEFAULT_CONF);
}

/* check_settings - what the portal cannot start without; NULL or the problem */
static const char *check_settings(void)
{
    if (strncmp(var_portal_url, "https://", 8) != 0 || var_portal_url[8] == '\0')
        return "portal_url: the portal's public https:// address is needed (links are mailed with it)";
    if (var_portal_url[strlen(var_portal_url) - 1] == '/')
        return "portal_url: no trailing /";
    if (*var_otp_email_sender == '\0')
        return "otp_email_sender: the portal mails links and codes from this address";
    return NULL;
}

/* listen_on - a listening socket for host:port */
static int listen_on(const char *spec)
{
    char *copy = xstrdup(spec), *colon = strrchr(copy, ':'), *host = copy;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST}, *ai;
    int fd, one = 1, e;

    if (colon == NULL)
        msg_fatal("portal_listen = %s: host:port expected", spec);
    *colon = '\0';
    if (*host == '[' && host[strlen(host) - 1] == ']') {
        host++;
        host[strlen(host) - 1] = '\0';
    }
    if ((e = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
        msg_fatal("portal_listen = %s: %s", spec, gai_strerror(e));
    if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0)
        msg_fatal("portal_listen = %s: %m", spec);
    freeaddrinfo(ai);
    free(copy);
    return fd;
}

/* reload - mssante.conf again; on an error the old settings stay */
static void reload(void)
{
    char *err = NULL;
    const char *why;

    pthread_rwlock_wrlock(&conf_lock);
    if (params_load(conf_path, conf_overrides, conf_noverrides, &err) < 0) {
        msg_error("reload refused, the settings in use stay: %s", err);
        free(err);
    } else if ((why = check_settings()) != NULL) {
        msg_error("reload: %s", why);
    } else {
        strlist_free(trusted_proxies);
        trusted_proxies = strlist_split(var_portal_trusted_proxies, ", ");
        msg_info("settings reloaded from %s", conf_path ? conf_path : MSSANTE_DEFAULT_CONF);
    }
    pthread_rwlock_unlock(&conf_lock);
}

/* main - settings, key, listener, privileges dropped, then serve */
int main(int argc, char **argv)
{
    struct cmd_common cc;
    int ch, foreground = 0, fd;
    char *err = NULL, *listen_spec, *user;
    const char *why;
    struct MHD_Daemon *d;
    sigset_t sigs;
    int sig = 0;
    static const struct option longopts[] = {CMD_LONGOPTS, {0, 0, 0, 0}};

    cmd_init(&cc, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS "f", longopts, NULL)) != -1) {
        if (cmd_option(&cc, ch, optarg))
            continue;
        if (ch == 'f')
            foreground = 1;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    cmd_load(&cc, usage);
    if ((why = check_settings()) != NULL)
        msg_fatal("%s", why);
    trusted_proxies = strlist_split(var_portal_trusted_proxies, ", ");
    conf_path = cc.conf;
    conf_overrides = cc.overrides;
    conf_noverrides = cc.noverrides;
    msg_open("mssante-portal", foreground);
    msg_set_facility(var_syslog_facility);
    if (otp_key_load(var_otp_key_file, portal_key, &err) < 0) {
        /* Sign-ins still work (Dovecot checks them); app enrolment does not. */
        msg_error("%s: new enrolments by app are refused until it can be read", err);
        free(err);
    } else {
        portal_have_key = 1;
    }
    listen_spec = xstrdup(var_portal_listen);
    user = xstrdup(var_portal_user);
    fd = listen_on(listen_spec);
    if (getuid() == 0 && privs_drop(user, &err) < 0)
        msg_fatal("%s", err);
    /* Signals reach this thread only (sigwait), never a server thread. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, NULL,
                         MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned) var_portal_threads,
                         MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 0u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t) 65536, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (d == NULL)
        msg_fatal("cannot start the HTTP server on %s", listen_spec);
    msg_info("listening on %s for %s", listen_spec, var_portal_url);
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        reload();
    msg_info("stopping");
    MHD_stop_daemon(d);
    OPENSSL_cleanse(portal_key, sizeof(portal_key));
    free(listen_spec);
    free(user);
    strlist_free(trusted_proxies);
    return 0;
}
