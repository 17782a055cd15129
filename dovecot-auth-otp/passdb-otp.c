/*
 * passdb-otp.c - Dovecot passdb "mssante_otp": password + second factor,
 * or a device password, against the accounts in PostgreSQL.
 *
 *   passdb {
 *     driver = mssante_otp
 *     args = /etc/mssante/mssante.conf
 *   }
 *
 * Blocking (the auth worker processes run it): one PostgreSQL connection
 * per worker. The login is "prenom.nom" (the account's default BAL), the
 * address of a BAL the account owns, or "BAL*prenom.nom" for any BAL the
 * account owns or is delegate of (own credentials and second factor); the
 * BAL address becomes the user name, so the userdb opens that mailbox.
 * What is accepted:
 *   - a live device password of the account (alone, no code);
 *   - with otp_method totp: the password followed by the 6-digit code of
 *     the current, previous or next 30 s step, each step good once;
 *   - with otp_method email: the password followed by the code mailed to
 *     the contact address after a login with the password alone.
 * Asked by mssante-portal (service OTP_PORTAL_SERVICE): no device password;
 * a right password alone on a TOTP account is answered "code-needed", and
 * the portal sends the password and the code next. An account still
 * waiting for activation is refused with a reason naming the link.
 *
 * Failures are counted per (account, client address): otp_max_failures
 * from one address lock that address out of the account (otp_lockout_time,
 * doubling up to a day), never the owner elsewhere. Past the login's own
 * ceiling (otp_login_max_failures from all addresses in otp_login_window)
 * each failing address is locked at its first failure. A locked address,
 * an unknown login, a disabled account and a wrong password get the same
 * answer; the reason goes to the log and the audit trail only.
 *
 * Every attempt is a row of audit_event; no password or code is ever
 * logged or stored in clear. PostgreSQL unreachable: internal failure (the
 * client retries), never OK; a connection the server dropped is made again
 * and the statement run once more, so the next login after an outage works.
 */
#include "auth-common.h"
#include "auth-fields.h"
#include "passdb.h"
#include "password-scheme.h"

#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "mymalloc.h"
#include "notice.h"
#include "otp.h"
#include "params.h"
#include "pgutil.h"

/* What Dovecot looks up; the rest of the module is hidden. */
#define EXPORT __attribute__((visibility("default")))
EXPORT const char *authdb_mssante_otp_version = DOVECOT_ABI_VERSION;
EXPORT void authdb_mssante_otp_init(void);
EXPORT void authdb_mssante_otp_deinit(void);

struct otp_passdb {
    struct passdb_module module;
    const char *config;
    PGconn *conn;
    unsigned char key[OTP_KEY_LEN];
    bool have_key;
};

/* One login attempt, as the checks below share it. */
struct attempt {
    struct otp_passdb *m;
    struct auth_request *request;
    const char *client; /* the client's address, "" when none */
    PGresult *row;      /* the account, as account_sql returns it */
    const char *id, *login;
    const char *how;       /* what was presented, for the audit trail */
    const char *device_id; /* the device password that matched */
    bool portal;           /* asked by mssante-portal (OTP_PORTAL_SERVICE) */
    bool password_only;    /* the portal checks a password alone (no code sent) */
    bool with_code;        /* the portal sends the password and the code */
};

/* The account as one query returns it, with the BAL to open. */
enum {
    F_ID,
    F_LOGIN,
    F_PASSWORD,
    F_METHOD,
    F_STATE,
    F_SECRET,
    F_LAST_STEP,
    F_FAILURES,
    F_LOCKED,
    F_BAL,
    F_NOW,
    F_CONTACT,
    F_WINDOW,
    F_CERT_ONLY,
    F_BAL_OFF,
};
/*
 * $1 the login, $2 the client address, $3 otp_login_window, $4 the BAL
 * asked for (NULL: the account's default BAL, or the first it owns; an
 * active one first, so that disabling one BAL leaves the others open).
 */
static const char *account_sql =
    "SELECT a.id, a.login, a.password, a.otp_method, a.state, s.secret_enc, coalesce(o.last_step, 0),"
    " coalesce(f.failures, 0), CASE WHEN f.locked_until > now() THEN"
    " extract(epoch FROM f.locked_until - now())::bigint + 1 END, r.bal,"
    " extract(epoch FROM now())::bigint, a.contact_email,"
    " CASE WHEN o.window_start > now() - make_interval(secs => $3::int) THEN o.window_failures ELSE 0 END,"
    " b.bal_type = 'APP', b.state = 'disabled'"
    " FROM account a LEFT JOIN otp_secret s ON s.account_id = a.id AND s.confirmed"
    " LEFT JOIN otp_state o ON o.account_id = a.id"
    " LEFT JOIN login_failure f ON f.account_id = a.id AND f.client = $2"
    " CROSS JOIN LATERAL (SELECT coalesce(lower($4::text),"
    "  (SELECT x.bal FROM bal_access x JOIN bal y ON y.address = x.bal AND y.state = 'active'"
    "   WHERE x.account_id = a.id AND x.bal = a.default_bal),"
    "  (SELECT min(x.bal) FROM bal_access x JOIN bal y ON y.address = x.bal AND y.state = 'active'"
    "   WHERE x.account_id = a.id AND x.role = 'owner'),"
    "  (SELECT min(x.bal) FROM bal_access x WHERE x.account_id = a.id AND x.role = 'owner')) AS bal) r"
    " LEFT JOIN bal b ON b.address = r.bal"
    " WHERE a.login = lower($1) OR a.id = (SELECT x.account_id FROM bal_access x"
    " WHERE x.bal = lower($1) AND x.role = 'owner')";

/* pg_err - PostgreSQL's message on one line */
static const char *pg_err(PGconn *conn)
{
    char *s = t_strdup_noconst(PQerrorMessage(conn));

    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    return t_str_trim(s, " ");
}

/*
 * query - a statement with text parameters. A connection the server
 * dropped (restart, switchover) shows only when a statement fails on it:
 * then connect again and run the statement once more. Every statement of
 * the module is safe to run twice (a repeated replay guard or code
 * deletion finds nothing and refuses). NULL, logged, when PostgreSQL
 * cannot answer.
 */
static PGresult *query(struct otp_passdb *m, struct auth_request *request, const char *sql, int n,
                       const char *const *p)
{
    for (int tries = 0; tries < 2; tries++) {
        PGresult *res;
        ExecStatusType st;
        char *err = NULL;

        if (m->conn == NULL && (m->conn = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL) {
            e_error(authdb_event(request), "mssante_otp: %s", err);
            free(err);
            return NULL;
        }
        res = PQexecParams(m->conn, sql, n, NULL, p, NULL, NULL, 0);
        st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
            return res;
        PQclear(res);
        if (PQstatus(m->conn) != CONNECTION_BAD) {
            e_error(authdb_event(request), "mssante_otp: %s", pg_err(m->conn));
            return NULL;
        }
        e_warning(authdb_event(request),
                  "mssante_otp: connection to PostgreSQL lost (%s):"
                  " connecting again",
                  pg_err(m->conn));
        PQfinish(m->conn);
        m->conn = NULL;
    }
    return NULL;
}

/* exec - a statement whose rows do not matter; false when it failed */
static bool exec(struct attempt *a, const char *sql, int n, const char *const *p, long *rows_r)
{
    PGresult *res = query(a->m, a->request, sql, n, p);

    if (res == NULL)
        return FALSE;
    if (rows_r != NULL)
        *rows_r = atol(PQcmdTuples(res));
    PQclear(res);
    return TRUE;
}

/*
 * audit - one row per attempt: who, which BAL, how, the result. For a
 * success the same statement records the last login, the device's last
 * use and clears this address's failures: one round trip.
 */
static void audit(struct attempt *a, const char *actor, const char *bal, enum otp_outcome outcome,
                  const char *detail)
{
    const char *ip = *a->client != '\0' ? a->client : NULL;
    const char *p[10] = {actor,    bal,    a->request->fields.service,
                         ip,       a->how, otp_outcome_name(outcome),
                         detail,   a->id,  a->device_id,
                         a->client};
    PGresult *res =
        outcome != OTP_OK
            ? query(a->m, a->request,
                    "INSERT INTO audit_event (actor, bal, action, service, remote_ip,"
                    " request, result, detail) VALUES ($1, $2, 'login', $3, $4::inet, $5, $6, $7)",
                    7, p)
            : query(
                  a->m, a->request,
                  "WITH l AS (UPDATE account SET last_login_at = now() WHERE id = $8::bigint),"
                  " d AS (UPDATE device_password SET last_used_at = now()"
                  "  WHERE account_id = $8::bigint AND id = $9::bigint),"
                  " f AS (DELETE FROM login_failure WHERE account_id = $8::bigint AND client = $10),"
                  " b AS (UPDATE bal SET last_login_at = now() WHERE address = $2)"
                  " INSERT INTO audit_event (actor, bal, action, service, remote_ip, request, result, detail)"
                  " VALUES ($1, $2, 'login', $3, $4::inet, $5, $6, $7)",
                  10, p);

    if (res == NULL)
        e_error(authdb_event(a->request), "mssante_otp: the audit trail of this login is lost");
    PQclear(res);
}

/*
 * failed - count a failure of this address and of the login; lock the
 * address out when it has failed too often. Returns what the audit row
 * says of it (NULL when nothing was locked).
 */
static const char *failed(struct attempt *a)
{
    long failures = atol(PQgetvalue(a->row, 0, F_FAILURES)) + 1;
    long window = atol(PQgetvalue(a->row, 0, F_WINDOW)) + 1;
    bool attack = window >= var_otp_login_max_failures;
    long secs = otp_lock_seconds(failures, var_otp_max_failures, var_otp_lockout_time, attack);
    const char *p[4] = {a->id, a->client, dec2str(secs), dec2str(var_otp_login_window)};

    if (!exec(a,
              "WITH f AS (INSERT INTO login_failure (account_id, client, failures, locked_until)"
              "  VALUES ($1, $2, 1, CASE WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) END)"
              "  ON CONFLICT (account_id, client) DO UPDATE SET failures = login_failure.failures + 1,"
              "  last_failure = now(), locked_until = CASE WHEN $3::int > 0"
              "  THEN now() + make_interval(secs => $3::int) ELSE login_failure.locked_until END)"
              " INSERT INTO otp_state (account_id, window_start, window_failures) VALUES ($1, now(), 1)"
              " ON CONFLICT (account_id) DO UPDATE SET window_failures = CASE WHEN"
              "  otp_state.window_start > now() - make_interval(secs => $4::int)"
              "  THEN otp_state.window_failures + 1 ELSE 1 END, window_start = CASE WHEN"
              "  otp_state.window_start > now() - make_interval(secs => $4::int)"
              "  THEN otp_state.window_start ELSE now() END",
              4, p, NULL))
        return NULL;
    if (window == var_otp_login_max_failures)
        e_warning(authdb_event(a->request),
                  "mssante_otp: %s: %ld failed logins from all addresses"
                  " within %ld s: each failing address is now locked out at its first failure",
                  a->login, window, var_otp_login_window);
    if (secs == 0)
        return NULL;
    e_warning(authdb_event(a->request),
              "mssante_otp: %s: address %s locked out for %ld s after"
              " %ld failures",
              a->login, *a->client ? a->client : "(none)", secs, failures);
    return t_strdup_printf("address %s locked out for %ld s after %ld failures",
                           *a->client ? a->client : "(none)", secs, failures);
}

/*
 * device_match - the name of the live device password the password is,
 * or NULL. Device passwords read "d<id>-...": one hash is checked, not one
 * per device.
 */
static const char *device_match(struct attempt *a, const char *password, bool *tempfail_r)
{
    size_t digits = strspn(password + 1, "0123456789");
    const char *name = NULL, *hash, *scheme, *p[2] = {a->id, NULL};
    PGresult *res;

    *tempfail_r = FALSE;
    if (password[0] != 'd' || digits == 0 || digits > 18 || password[1 + digits] != '-')
        return NULL;
    p[1] = t_strndup(password + 1, digits);
    res = query(a->m, a->request,
                "SELECT name, hash FROM device_password WHERE account_id = $1"
                " AND id = $2 AND revoked_at IS NULL",
                2, p);
    if (res == NULL) {
        *tempfail_r = TRUE;
        return NULL;
    }
    if (PQntuples(res) == 1) {
        hash = PQgetvalue(res, 0, 1);
        scheme = password_get_scheme(&hash);
        if (scheme != NULL &&
            auth_request_password_verify_log(a->request, password, hash, scheme, AUTH_SUBSYS_DB, FALSE) > 0) {
            name = t_strdup(PQgetvalue(res, 0, 0));
            a->device_id = p[1];
        }
    }
    PQclear(res);
    return name;
}

/* dummy_check - a password check that always fails, as costly as a real one */
static bool dummy_check(struct auth_request *request, const char *plain)
{
    /* SHA512-CRYPT, the scheme the README proposes, of a password nobody has. */
    const char *stored = "$6$uGFG0Vf6ct20DBb/$2G7M6ud20WUDz.OKmK/UgOcUp.fS4Ii9oNJCRXC6LcdttKl6M"
                         "uIzdcC2iERUsNd65mcbDEY0poB7SOdiXam3h.";

    return auth_request_password_verify_log(request, plain, stored, "SHA512-CRYPT", AUTH_SUBSYS_DB, FALSE) >
           0;
}

/* password_ok - the account password, in whatever scheme it is stored */
static bool password_ok(struct attempt *a, const char *plain)
{
    const char *stored = PQgetvalue(a->row, 0, F_PASSWORD);
    const char *scheme = password_get_scheme(&stored);

    /* No password yet ("!", an imported account): as long to refuse as a wrong one. */
    if (scheme == NULL)
        return dummy_check(a->request, plain);
    return auth_request_password_verify_log(a->request, plain, stored, scheme, AUTH_SUBSYS_DB, FALSE) > 0;
}
/* send_code - the code to the contact address through the local sendmail */
static int send_code(struct auth_request *request, const char *contact, const char *code)
{
    /* No health data, nothing but the code: it goes outside MSSanté. */
    char *body = xasprintf("Votre code de connexion \xc3\xa0 votre messagerie MSSant\xc3\xa9 : %s\n\n"
                           "Il est valable %ld minutes et ne sert qu'une fois. Si vous n'avez pas"
                           " demand\xc3\xa9 ce code,\nquelqu'un conna\xc3\xaet votre mot de passe :"
                           " changez-le.\n",
                           code, var_otp_email_validity / 60),
         *err;
    int ret = notice_send(var_otp_sendmail, var_otp_email_sender, contact, "Code de connexion MSSant\xc3\xa9",
                          body, &err);

    if (ret < 0) {
        e_error(authdb_event(request),
                "mssante_otp: the code was not sent: %s (otp_email_sender,"
                " otp_sendmail)",
                err);
        free(err);
    }
    free(body);
    return ret;
}

/*
 * email_code - method "email": password + the code sent last time, or, for
 * the right password alone, a new code sent to the contact address.
 */
static enum otp_outcome email_code(struct attempt *a, const char *password)
{
    const char *code;
    char hash[65], newcode[OTP_DIGITS + 1];
    size_t pwlen = 0;

    a->how = "password+email-code";
    if (!a->m->have_key) {
        e_error(authdb_event(a->request), "mssante_otp: e-mailed codes need otp_key_file");
        return OTP_TEMPFAIL;
    }
    if ((code = otp_split(password, &pwlen)) != NULL && password_ok(a, t_strndup(password, pwlen))) {
        const char *p[3] = {a->id, hash, dec2str(var_otp_email_attempts)};
        long rows;

        if (otp_code_hash(a->m->key, a->login, code, hash) < 0)
            return OTP_TEMPFAIL;
        /* Single use: the matching, live code is deleted as it is accepted. */
        if (!exec(a,
                  "DELETE FROM email_code WHERE account_id = $1 AND code_hash = $2"
                  " AND expires_at > now() AND attempts < $3::int",
                  3, p, &rows))
            return OTP_TEMPFAIL;
        if (rows == 1)
            return OTP_OK;
        (void) exec(a, "UPDATE email_code SET attempts = attempts + 1 WHERE account_id = $1", 1, p, NULL);
        return OTP_BAD_CODE;
    }
    a->how = "password";
    if (!password_ok(a, password))
        return OTP_FAIL;
    /* The right password alone: a new code, sent to the contact address. */
    if (PQgetisnull(a->row, 0, F_CONTACT) || *PQgetvalue(a->row, 0, F_CONTACT) == '\0') {
        auth_request_set_field(a->request, "reason", "No contact address to send a code to", NULL);
        return OTP_NO_CONTACT;
    }
    if (otp_random_code(newcode) < 0 || otp_code_hash(a->m->key, a->login, newcode, hash) < 0)
        return OTP_TEMPFAIL;
    {
        const char *p[3] = {a->id, hash, dec2str(var_otp_email_validity)};
        bool sent = exec(a,
                         "INSERT INTO email_code (account_id, code_hash, expires_at)"
                         " VALUES ($1, $2, now() + make_interval(secs => $3::int))"
                         " ON CONFLICT (account_id) DO UPDATE SET code_hash = EXCLUDED.code_hash,"
                         " expires_at = EXCLUDED.expires_at, attempts = 0",
                         3, p, NULL) &&
                    send_code(a->request, PQgetvalue(a->row, 0, F_CONTACT), newcode) == 0;

        OPENSSL_cleanse(newcode, sizeof(newcode));
        if (!sent) {
            (void) exec(a, "DELETE FROM email_code WHERE account_id = $1", 1, p, NULL);
            return OTP_TEMPFAIL;
        }
    }
    auth_request_set_field(
        a->request, "reason",
        t_strdup_printf("A code was sent to your contact address: log in again with your password followed by"
                        " the code (valid %ld minutes)",
                        var_otp_email_validity / 60),
        NULL);
    return OTP_CODE_SENT;
}

/* totp - method "totp": the password followed by a code of the app */
static enum otp_outcome totp(struct attempt *a, const char *password, const char *code, size_t pwlen)
{
    unsigned char secret[OTP_SECRET_LEN];
    size_t slen;
    unsigned char *sealed = PQunescapeBytea((const unsigned char *) PQgetvalue(a->row, 0, F_SECRET), &slen);
    bool pw = password_ok(a, t_strndup(password, pwlen));
    long step, rows = 0;
    const char *q[2] = {a->id, NULL};

    a->how = "password+totp";
    if (!a->m->have_key || sealed == NULL || otp_open(a->m->key, a->login, sealed, slen, secret) < 0) {
        e_error(authdb_event(a->request),
                "mssante_otp: the TOTP secret of %s cannot be opened"
                " with the key of otp_key_file",
                a->login);
        PQfreemem(sealed);
        return OTP_TEMPFAIL;
    }
    PQfreemem(sealed);
    step = otp_totp_match(secret, sizeof(secret), code, (time_t) atoll(PQgetvalue(a->row, 0, F_NOW)),
                          atol(PQgetvalue(a->row, 0, F_LAST_STEP)));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (!pw)
        return OTP_BAD_PASSWORD;
    if (step == 0)
        return OTP_BAD_CODE;
    /* Only a step later than the last accepted one: a concurrent replay loses here. */
    q[1] = dec2str(step);
    if (!exec(a,
              "INSERT INTO otp_state (account_id, last_step) VALUES ($1, $2)"
              " ON CONFLICT (account_id) DO UPDATE SET last_step = $2"
              " WHERE otp_state.last_step < $2",
              2, q, &rows))
        return OTP_TEMPFAIL;
    return rows == 1 ? OTP_OK : OTP_BAD_CODE;
}

/*
 * credentials - the account's own credentials: a device password, or the
 * password and a second factor.
 */
static enum otp_outcome credentials(struct attempt *a, const char *password)
{
    const char *method = PQgetvalue(a->row, 0, F_METHOD), *device, *code;
    size_t pwlen = 0;
    bool tempfail;

    /* A device password opens mail, never the portal that manages the account. */
    if (!a->portal && (device = device_match(a, password, &tempfail)) != NULL) {
        a->how = t_strdup_printf("device %s", device);
        return OTP_OK;
    }
    if (!a->portal && tempfail)
        return OTP_TEMPFAIL;
    /* The portal re-checks a signed-in user's password (a change of password). */
    if (a->password_only) {
        a->how = "password";
        return password_ok(a, password) ? OTP_CODE_NEEDED : OTP_FAIL;
    }
    if (strcmp(method, "totp") == 0 && !PQgetisnull(a->row, 0, F_SECRET)) {
        /* The portal asks for the password first, then for the code. */
        if (a->portal && !a->with_code && password_ok(a, password)) {
            a->how = "password";
            return OTP_CODE_NEEDED;
        }
        if ((code = otp_split(password, &pwlen)) != NULL)
            return totp(a, password, code, pwlen);
    }
    if (strcmp(method, "email") == 0)
        return email_code(a, password);
    a->how = "password";
    if (strcmp(method, "none") == 0 && password_ok(a, password)) {
        /* The right password, but no second factor: say so, let nothing in. (A
         * failure, not "nologin": SMTP AUTH clients of the auth socket ignore that.) */
        auth_request_set_field(a->request, "reason",
                               "A second factor is required: enrol one"
                               " or use a device password",
                               NULL);
        return OTP_NO_SECOND_FACTOR;
    }
    return OTP_FAIL;
}

/* may_open - whether the account owns or is delegate of the BAL; -1 on error */
static int may_open(struct attempt *a, const char *bal)
{
    const char *p[2] = {a->id, bal};
    PGresult *res = query(a->m, a->request,
                          "SELECT 1 FROM bal_access WHERE account_id = $1"
                          " AND bal = lower($2)",
                          2, p);
    int ret = res == NULL ? -1 : PQntuples(res) == 1;

    PQclear(res);
    return ret;
}

/*
 * verdict - the account's state, then its credentials, then the BAL. The
 * address lock comes first: a locked address learns nothing more.
 */
static enum otp_outcome verdict(struct attempt *a, const char *target, const char *bal, const char *password)
{
    enum otp_outcome outcome;
    int may;

    if (strcmp(PQgetvalue(a->row, 0, F_STATE), "pending") == 0) {
        auth_request_set_field(a->request, "reason",
                               "This account is not activated yet: follow the"
                               " activation link sent to your contact address",
                               NULL);
        return OTP_PENDING;
    }
    if (strcmp(PQgetvalue(a->row, 0, F_STATE), "active") != 0)
        return OTP_DISABLED;
    if (!PQgetisnull(a->row, 0, F_LOCKED)) {
        e_info(authdb_event(a->request), "mssante_otp: %s: address %s is locked out for %s s more", a->login,
               *a->client ? a->client : "(none)", PQgetvalue(a->row, 0, F_LOCKED));
        return OTP_LOCKED;
    }
    if (bal == NULL)
        return OTP_NO_BAL;
    /* A software BAL logs in with its certificate, never a password. */
    if (strcmp(PQgetvalue(a->row, 0, F_CERT_ONLY), "t") == 0)
        return OTP_CERT_ONLY;
    outcome = credentials(a, password);
    if (outcome != OTP_OK)
        return outcome;
    /* Credentials first, then the BAL: nothing tells a stranger who is delegate. */
    if (target != NULL && (may = may_open(a, bal)) <= 0)
        return may < 0 ? OTP_TEMPFAIL : OTP_NOT_DELEGATE;
    /* A disabled BAL opens for nobody: said to the right credentials only. */
    return strcmp(PQgetvalue(a->row, 0, F_BAL_OFF), "t") == 0 ? OTP_BAL_DISABLED : OTP_OK;
}

/*
 * passdb_result_of - what Dovecot answers. Everything a stranger can cause
 * (wrong credentials, a locked address, a disabled account, not being a
 * delegate) reads as a wrong password; the reasons given to the client
 * (no second factor, code sent) follow the right password only.
 */
static enum passdb_result passdb_result_of(enum otp_outcome outcome)
{
    switch (outcome) {
    case OTP_OK:
        return PASSDB_RESULT_OK;
    case OTP_TEMPFAIL:
        return PASSDB_RESULT_INTERNAL_FAILURE;
    case OTP_UNKNOWN:
    case OTP_NO_BAL:
        return PASSDB_RESULT_USER_UNKNOWN;
    case OTP_NO_SECOND_FACTOR:
    case OTP_CODE_SENT:
    case OTP_NO_CONTACT:
    case OTP_BAL_DISABLED:
    case OTP_PENDING:
    case OTP_CODE_NEEDED:
        return PASSDB_RESULT_USER_DISABLED;
    default:
        return PASSDB_RESULT_PASSWORD_MISMATCH;
    }
}

/*
 * portal_fields - what mssante-portal reads of the answer: the outcome's
 * word and the account. Dovecot passes a failure's fields on only for
 * "disabled" answers, which follow the right password (or a pending
 * account): a stranger's wrong guess still reads as nothing but FAIL.
 */
static void portal_fields(struct attempt *a, enum otp_outcome outcome)
{
    auth_request_set_field(a->request, "mssante_outcome", otp_outcome_name(outcome), NULL);
    auth_request_set_field(a->request, "mssante_login", a->login, NULL);
    /* The right password: the code page should not wait auth_failure_delay. */
    if (outcome == OTP_CODE_NEEDED || outcome == OTP_CODE_SENT || outcome == OTP_NO_SECOND_FACTOR)
        auth_request_set_field(a->request, "nodelay", "yes", NULL);
}

/*
 * check - one login. The user name is "LOGIN" (prenom.nom or the address
 * of the BAL it owns), or "BAL*LOGIN" for a delegate opening an ORG BAL
 * with their own credentials.
 */
static enum passdb_result check(struct otp_passdb *m, struct auth_request *request, const char *password)
{
    const char *user = request->fields.user, *star = strchr(user, '*');
    const char *who = star ? star + 1 : user, *target = star ? t_strdup_until(user, star) : NULL;
    struct attempt a = {
        .m = m,
        .request = request,
        .how = "any",
        .client = request->fields.remote_ip.family != 0 ? net_ip2addr(&request->fields.remote_ip) : "",
        .portal = null_strcmp(request->fields.service, OTP_PORTAL_SERVICE) == 0,
    };
    /* The BAL asked for: the one named before "*", or the address used as login. */
    const char *asked = target ? target : strchr(who, '@') != NULL ? who : NULL;
    const char *p[4] = {who, a.client, dec2str(var_otp_login_window), asked}, *bal, *detail = NULL;
    enum otp_outcome outcome;

    if (a.portal) {
        const char *check = auth_fields_find(request->fields.extra_fields, "forward_" OTP_PORTAL_CHECK);

        a.password_only = null_strcmp(check, "password") == 0;
        a.with_code = null_strcmp(check, "code") == 0;
    }
    if ((a.row = query(m, request, account_sql, 4, p)) == NULL)
        return PASSDB_RESULT_INTERNAL_FAILURE;
    if (PQntuples(a.row) != 1) {
        PQclear(a.row);
        /* The work of a password check all the same: the time taken does not
         * tell a stranger which logins exist. */
        (void) dummy_check(request, password);
        a.how = "unknown";
        audit(&a, who, target, OTP_UNKNOWN, NULL);
        return passdb_result_of(OTP_UNKNOWN);
    }
    a.id = t_strdup(PQgetvalue(a.row, 0, F_ID));
    a.login = t_strdup(PQgetvalue(a.row, 0, F_LOGIN));
    bal = PQgetisnull(a.row, 0, F_BAL) ? NULL : t_strdup(PQgetvalue(a.row, 0, F_BAL));
    outcome = verdict(&a, target, bal, password);
    if (otp_outcome_counts(outcome))
        detail = failed(&a);
    PQclear(a.row);
    audit(&a, a.login, bal, outcome, detail);
    if (outcome == OTP_OK)
        /* The mailbox to open: the BAL, whatever the login typed. */
        auth_request_set_field(request, "user", bal, NULL);
    if (a.portal)
        portal_fields(&a, outcome);
    return passdb_result_of(outcome);
}

/*
 * certificate - a software BAL (APP) by its client certificate, SASL
 * EXTERNAL: Dovecot verified the chain against ssl_ca and took the user
 * name from the certificate (ssl_cert_username_field); that name must be
 * the cert_name of exactly one APP BAL. No password, no second factor:
 * the private key is the credential.
 */
static enum passdb_result certificate(struct otp_passdb *m, struct auth_request *request)
{
    const char *name = request->fields.user, *p[1] = {name}, *bal;
    struct attempt a = {
        .m = m,
        .request = request,
        .how = t_strdup_printf("certificate %s", name),
        .client = request->fields.remote_ip.family != 0 ? net_ip2addr(&request->fields.remote_ip) : "",
    };
    PGresult *res;

    /* EXTERNAL has a user only when Dovecot took it from a certificate
     * (auth_ssl_username_from_cert); the worker is told it was verified. */
    if (!request->fields.valid_client_cert) {
        e_info(authdb_event(request), "mssante_otp: EXTERNAL without a verified client certificate");
        audit(&a, name, NULL, OTP_FAIL, "no verified client certificate");
        return PASSDB_RESULT_PASSWORD_MISMATCH;
    }
    if ((res = query(m, request,
                     "SELECT address, cert_name FROM bal WHERE lower(cert_name) = lower($1)"
                     " AND bal_type = 'APP' AND state = 'active'",
                     1, p)) == NULL)
        return PASSDB_RESULT_INTERNAL_FAILURE;
    if (PQntuples(res) != 1) {
        PQclear(res);
        audit(&a, name, NULL, OTP_UNKNOWN, "no software BAL has this certificate");
        return PASSDB_RESULT_USER_UNKNOWN;
    }
    bal = t_strdup(PQgetvalue(res, 0, 0));
    a.how = t_strdup_printf("certificate %s", PQgetvalue(res, 0, 1));
    PQclear(res);
    audit(&a, bal, bal, OTP_OK, NULL);
    auth_request_set_field(request, "user", bal, NULL);
    return PASSDB_RESULT_OK;
}

/* otp_verify_plain - passdb entry point: check a plain password (+ code) */
static void otp_verify_plain(struct auth_request *request, const char *password,
                             verify_plain_callback_t *callback)
{
    struct otp_passdb *m = (struct otp_passdb *) request->passdb->passdb;
    const char *mech = request->fields.mech_name;

    callback(mech != NULL && strcasecmp(mech, "EXTERNAL") == 0 ? certificate(m, request)
                                                               : check(m, request, password),
             request);
}

/* otp_preinit - the passdb module with its arguments */
static struct passdb_module *otp_preinit(pool_t pool, const char *args)
{
    struct otp_passdb *m = p_new(pool, struct otp_passdb, 1);

    m->config = p_strdup(pool, *args ? args : MSSANTE_SYSCONFDIR "/mssante.conf");
    m->module.blocking = TRUE;
    return &m->module;
}

/* otp_init - settings and, in the workers, the sealing key */
static void otp_init(struct passdb_module *module)
{
    struct otp_passdb *m = (struct otp_passdb *) module;
    char *err = NULL;

    if (params_load(m->config, NULL, 0, &err) < 0)
        i_fatal("mssante_otp: %s", err);
    if (!worker)
        return; /* the key is for the workers (root) only */
    if (otp_key_load(var_otp_key_file, m->key, &err) < 0) {
        /* Device passwords still work; TOTP logins fail with this reason. */
        i_error("mssante_otp: %s", err);
        free(err);
    } else {
        m->have_key = TRUE;
    }
}

/* otp_deinit - the database connection closed, the key wiped */
static void otp_deinit(struct passdb_module *module)
{
    struct otp_passdb *m = (struct otp_passdb *) module;

    if (m->conn)
        PQfinish(m->conn);
    OPENSSL_cleanse(m->key, sizeof(m->key));
}

static struct passdb_module_interface passdb_mssante_otp = {
    .name = "mssante_otp",
    .preinit = otp_preinit,
    .init = otp_init,
    .deinit = otp_deinit,
    .verify_plain = otp_verify_plain,
};

/* authdb_mssante_otp_init - register the passdb */
void authdb_mssante_otp_init(void)
{
    passdb_register_module(&passdb_mssante_otp);
}

/* authdb_mssante_otp_deinit - unregister the passdb */
void authdb_mssante_otp_deinit(void)
{
    passdb_unregister_module(&passdb_mssante_otp);
}
