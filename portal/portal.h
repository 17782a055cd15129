/*
 * portal - what the parts of mssante-portal share: one request as the pages
 * see it, the server-side session, forms, and the page writer.
 */
#ifndef MSSANTE_PORTAL_H
#define MSSANTE_PORTAL_H

#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "otp.h"

/* Where a session stands. */
enum stage {
    ST_ANON,  /* no one signed in */
    ST_CODE,  /* password given, the code next */
    ST_ENROL, /* signed in, but a second factor must be chosen first */
    ST_IN,    /* signed in */
};

/*
 * session - kept in the daemon's memory only, found by the SHA-256 of the
 * cookie. A request works on a copy, written back at its end.
 */
struct session {
    unsigned char key[32]; /* SHA-256 of the cookie's value */
    char csrf[65];         /* the forms' token */
    time_t created, seen, signed_in;
    enum stage stage;
    char login[128];
    char account_id[24];
    char password[257]; /* between the password and the code pages only */
    int code_tries;
    int email_channel;   /* ST_CODE: a code was mailed */
    char token_hash[65]; /* an activation or reset link being used */
    char token_kind[16];
    /* a second factor being set up */
    int enrol_method; /* 0, 't' (app), 'e' (e-mail) */
    unsigned char enrol_sealed[OTP_SEALED_LEN];
    char enrol_code_hash[65];
    time_t enrol_expires;
    int enrol_tries;
    char flash[256]; /* a message for the next page */
    /* a change that needs the second factor again */
    char pending_contact[256];
    /* a device password just made, shown once */
    char device_pw[96];
    char device_name[64];
    time_t device_until;
};

/* One form field. */
struct field {
    char *name, *value;
};

/* form - the fields of a POST (application/x-www-form-urlencoded) or query */
struct form {
    struct field *f;
    size_t n, cap;
};

/* One request, as the pages see it. */
struct req {
    const char *method, *path;
    const char *query_t;     /* ?t= of a link */
    const char *query_l;     /* ?l= of /langue */
    const char *query_email; /* ?emailaddress= of autoconfiguration */
    const char *set_lang;    /* a language cookie to set */
    const char *accept_lang;
    char client[64]; /* the client's address (X-Real-IP from the proxy) */
    struct form form;
    int is_post;
    struct session s; /* a copy of the session, if have_session */
    int have_session;
    int rotate;      /* give the session a new cookie (sign-in) */
    int drop;        /* end the session */
    char cookie[65]; /* a new cookie value to set */
    int en;          /* English */
    /* the answer */
    int status;
    struct buf body;
    const char *ctype;
    char *location;
    unsigned char *bin; /* a binary body (the QR code) */
    size_t binlen;
};

#define T(r, fr, en_) ((r)->en ? (en_) : (fr))

/* mssante-portal.c */
extern unsigned char portal_key[OTP_KEY_LEN];
extern int portal_have_key;

/* db - this thread's PostgreSQL connection, NULL (logged) when there is none */
PGconn *db(void);

/* dbq - a statement with text parameters; NULL (logged) on any failure */
PGresult *dbq(const char *sql, int n, const char *const *p);

/* form_get - a field's value, or NULL */
const char *form_get(const struct form *f, const char *name);

/* session_ensure - a session for this request (a new anonymous one if none) */
void session_ensure(struct req *r);

/* rate_ok - whether key may do one more thing: at most limit per window seconds */
int rate_ok(const char *key, long limit, long window);

/* random_hex - n random bytes as 2n hex digits and a NUL */
void random_hex(char *out, size_t n);

/* pages.c: the page writer and what every page may need */
struct authc_reply;

/* page_begin - the head of a page, the navigation of a signed-in user, the title */
void page_begin(struct req *r, const char *title);

/* page_end - the foot of a page */
void page_end(struct req *r);

/* message - a paragraph of a kind (error, note, ok) */
void message(struct req *r, const char *kind, const char *text);

/* form_begin - a POST form with the CSRF token */
void form_begin(struct req *r, const char *action);

/* input - a labelled field (value and extra attributes may be NULL) */
void input(struct req *r, const char *type, const char *name, const char *label, const char *autocomplete,
           const char *value, const char *extra);

/* form_end - the submit button and the end of the form */
void form_end(struct req *r, const char *button);

/* redirect - 303 to a path of ours */
void redirect(struct req *r, const char *path);

/* unavailable - our own failure: 503, the user retries later */
void unavailable(struct req *r);

/* flash - a message for the next page */
void flash(struct req *r, const char *fr, const char *en);

/* audit - an audit_event row of the portal */
void audit(struct req *r, const char *actor, const char *action, const char *result, const char *detail);

/* password_problem - why a new password is refused, or NULL */
const char *password_problem(struct req *r, const char *pw, const char *confirm, const char *login,
                             const char *current);

/* new_hash - the stored form of a new password (malloc'd), or NULL after a 503 page */
char *new_hash(struct req *r, const char *pw);

/* password_rules - the rules, as the page states them */
void password_rules(struct req *r);

/* ask_dovecot - credentials to the passdb through Dovecot (forward: NULL or
 * "key=value"); -1 (logged) when it could not decide */
int ask_dovecot(struct req *r, const char *login, const char *password, const char *forward,
                struct authc_reply *rep);

/* is_code - whether a form value is a 6-digit code */
int is_code(const char *code);

/* ask_with_code - the session's password and code to the passdb: 1 OK, 0 refused, -1 (logged) undecided */
int ask_with_code(struct req *r, const char *code);

/* page_code - a page asking for the one-time code (e-mailed or of the app) */
void page_code(struct req *r, const char *title, const char *action, const char *error);

/* page_qr - a QR code of text as the answer (a PNG) */
void page_qr(struct req *r, const char *text);

/* mail_later - a short message to an address, sent by a thread of its own */
void mail_later(const char *rcpt, const char *subject, const char *body);

/* account.c: the pages of a signed-in user */

/* account_route - profile, devices, delegates; 0 when the path is none of theirs */
int account_route(struct req *r);

/* pages.c */

/* page_route - the answer to one request */
void page_route(struct req *r);

/* page_error - a whole error page with its status */
void page_error(struct req *r, int status, const char *fr, const char *en);

#endif
