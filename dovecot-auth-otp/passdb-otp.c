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
 * per worker, re-established when lost. The login is "prenom.nom" or the
 * address of a BAL the account owns, or "BAL*prenom.nom" for a delegate of
 * an ORG BAL (own credentials and second factor); the BAL address becomes
 * the user name, so the userdb opens that mailbox. What is accepted:
 *   - a live device password of the account (alone, no code);
 *   - with otp_method totp: the password followed by the 6-digit code of
 *     the current, previous or next 30 s step, each step good once.
 * Consecutive failures lock the account (otp_max_failures), first for
 * otp_lockout_time, doubling up to a day. Every attempt is a row of
 * audit_event; no password or code is ever logged or stored in clear.
 * PostgreSQL unreachable: internal failure (the client retries), never OK.
 */
#include "auth-common.h"
#include "passdb.h"
#include "password-scheme.h"

#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "otp.h"
#include "params.h"

/* What Dovecot looks up; the rest of the module is hidden. */
#define EXPORT __attribute__((visibility("default")))
EXPORT const char *authdb_mssante_otp_version = DOVECOT_ABI_VERSION;
EXPORT void authdb_mssante_otp_init(void);
EXPORT void authdb_mssante_otp_deinit(void);

#define LOCK_MAX_SECONDS 86400

struct otp_passdb {
    struct passdb_module module;
    const char *config;
    PGconn *conn;
    unsigned char key[OTP_KEY_LEN];
    bool    have_key;
};

/* The account as one query returns it. */
enum {
    F_ID, F_LOGIN, F_PASSWORD, F_METHOD, F_STATE, F_SECRET, F_LAST_STEP, F_FAILURES,
    F_LOCKED, F_BAL, F_NOW, F_CONTACT,
};
static const char *account_sql =
    "SELECT a.id, a.login, a.password, a.otp_method, a.state, s.secret_enc, coalesce(o.last_step, 0),"
    " coalesce(o.failures, 0), CASE WHEN o.locked_until > now() THEN"
    " extract(epoch FROM o.locked_until - now())::bigint + 1 END,"
    " (SELECT x.bal FROM bal_access x WHERE x.account_id = a.id AND x.role = 'owner'),"
    " extract(epoch FROM now())::bigint, a.contact_email"
    " FROM account a LEFT JOIN otp_secret s ON s.account_id = a.id AND s.confirmed"
    " LEFT JOIN otp_state o ON o.account_id = a.id"
    " WHERE a.login = lower($1) OR a.id = (SELECT x.account_id FROM bal_access x"
    " WHERE x.bal = lower($1) AND x.role = 'owner')";

/* pg_err - PostgreSQL's message on one line */
static const char *pg_err(PGconn *conn)
{
    char   *s = t_strdup_noconst(PQerrorMessage(conn));

    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    return t_str_trim(s, " ");
}

/* db - the worker's connection, (re)established; NULL when PostgreSQL is down */
static PGconn *db(struct otp_passdb *m, struct auth_request *request)
{
    if (m->conn != NULL && PQstatus(m->conn) == CONNECTION_OK)
        return m->conn;
    if (m->conn != NULL)
        PQfinish(m->conn);
    m->conn = PQconnectdb(var_database);
    if (PQstatus(m->conn) != CONNECTION_OK) {
        e_error(authdb_event(request), "mssante_otp: cannot connect to PostgreSQL: %s",
                pg_err(m->conn));
        PQfinish(m->conn);
        m->conn = NULL;
    }
    return m->conn;
}

/*
 * audit - one row per attempt: who, which BAL, how, the result. For a
 * success (account set) the same statement records the last login, the
 * device's last use and clears the failure count: one round trip.
 */
static void audit(struct otp_passdb *m, struct auth_request *request, const char *actor,
                  const char *bal, const char *how, const char *result, const char *account,
                  const char *device)
{
    const char *ip = request->fields.remote_ip.family != 0
        ? net_ip2addr(&request->fields.remote_ip) : NULL;
    const char *p[8] = {actor, bal, request->fields.service, ip, how, result, account, device};
    PGresult *res;

    if (m->conn == NULL)
        return;
    res = account == NULL
        ? PQexecParams(m->conn, "INSERT INTO audit_event (actor, bal, action, service, remote_ip,"
                       " request, result) VALUES ($1, $2, 'login', $3, $4::inet, $5, $6)",
                       6, NULL, p, NULL, NULL, 0)
        : PQexecParams(m->conn, "WITH l AS (UPDATE account SET last_login_at = now() WHERE id = $7::bigint),"
                       " d AS (UPDATE device_password SET last_used_at = now()"
                       "  WHERE account_id = $7::bigint AND id = $8::bigint),"
                       " f AS (UPDATE otp_state SET failures = 0, locked_until = NULL"
                       "  WHERE account_id = $7::bigint AND (failures > 0 OR locked_until IS NOT NULL))"
                       " INSERT INTO audit_event (actor, bal, action, service, remote_ip, request, result)"
                       " VALUES ($1, $2, 'login', $3, $4::inet, $5, $6)", 8, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        e_error(authdb_event(request), "mssante_otp: cannot write the audit trail: %s",
                pg_err(m->conn));
    PQclear(res);
}

/* exec - a statement with text parameters; false when it failed */
static bool exec(struct otp_passdb *m, struct auth_request *request, const char *sql, int n,
                 const char *const *p, long *rows)
{
    PGresult *res = PQexecParams(m->conn, sql, n, NULL, p, NULL, NULL, 0);
    bool    ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        e_error(authdb_event(request), "mssante_otp: %s", pg_err(m->conn));
    else if (rows)
        *rows = atol(PQcmdTuples(res));
    PQclear(res);
    return ok;
}

/* failed - count a failure; lock when there are too many */
static void failed(struct otp_passdb *m, struct auth_request *request, const char *id,
                   long failures)
{
    long    over = failures + 1 - var_otp_max_failures, secs = 0;
    char    lock[32];
    const char *p[2] = {id, lock};

    if (over >= 0) {
        secs = var_otp_lockout_time;
        for (long i = 0; i < over && secs < LOCK_MAX_SECONDS; i++)
            secs *= 2;
        if (secs > LOCK_MAX_SECONDS)
            secs = LOCK_MAX_SECONDS;
    }
    i_snprintf(lock, sizeof(lock), "%ld", secs);
    (void) exec(m, request, "INSERT INTO otp_state (account_id, failures, locked_until)"
                " VALUES ($1, 1, CASE WHEN $2::int > 0 THEN now() + make_interval(secs => $2::int) END)"
                " ON CONFLICT (account_id) DO UPDATE SET failures = otp_state.failures + 1,"
                " locked_until = CASE WHEN $2::int > 0 THEN now() + make_interval(secs => $2::int)"
                " ELSE otp_state.locked_until END", 2, p, NULL);
    if (secs > 0)
        e_info(authdb_event(request), "mssante_otp: account locked for %ld s after %ld failures",
               secs, failures + 1);
}

/*
 * device_match - the name of the live device password the password is,
 * or NULL. Device passwords read "d<id>-...": one hash is checked, not one
 * per device.
 */
static const char *device_match(struct otp_passdb *m, struct auth_request *request,
                                const char *id, const char *password, const char **device_id)
{
    size_t  digits = strspn(password + 1, "0123456789");
    const char *name = NULL, *hash, *scheme, *p[2] = {id, NULL};
    PGresult *res;

    if (password[0] != 'd' || digits == 0 || digits > 18 || password[1 + digits] != '-')
        return NULL;
    p[1] = t_strndup(password + 1, digits);
    res = PQexecParams(m->conn, "SELECT name, hash FROM device_password WHERE account_id = $1"
                       " AND id = $2 AND revoked_at IS NULL", 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        hash = PQgetvalue(res, 0, 1);
        scheme = password_get_scheme(&hash);
        if (scheme != NULL && auth_request_password_verify_log(request, password, hash, scheme,
                                                               AUTH_SUBSYS_DB, FALSE) > 0) {
            name = t_strdup(PQgetvalue(res, 0, 0));
            *device_id = p[1];
        }
    }
    PQclear(res);
    return name;
}

/* password_ok - the account password, in whatever scheme it is stored */
static bool password_ok(struct auth_request *request, const char *stored, const char *plain)
{
    const char *scheme = password_get_scheme(&stored);

    return scheme != NULL
        && auth_request_password_verify_log(request, plain, stored, scheme, AUTH_SUBSYS_DB,
                                            FALSE) > 0;
}

/* send_code - the code to the contact address through the local sendmail */
static int send_code(struct auth_request *request, const char *contact, const char *code)
{
    const char *const *argv = (const char *const *) p_strsplit_spaces(unsafe_data_stack_pool,
                                                                        var_otp_sendmail, " ");
    ARRAY_TYPE(const_string) args;
    int     fds[2], status = 0;
    pid_t   pid;
    FILE   *fp;

    if (argv[0] == NULL || *var_otp_email_sender == '\0') {
        e_error(authdb_event(request), "mssante_otp: set otp_email_sender (and otp_sendmail)"
                " to send e-mailed codes");
        return -1;
    }
    t_array_init(&args, 8);
    for (; *argv; argv++)
        array_push_back(&args, argv);
    const char *tail[] = {"-i", "-f", var_otp_email_sender, "--", contact, NULL};

    array_append(&args, tail, N_ELEMENTS(tail));
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        e_error(authdb_event(request), "mssante_otp: cannot run %s: %m", var_otp_sendmail);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(array_idx_elem(&args, 0), (char *const *) array_front(&args));
        _exit(127);
    }
    close(fds[0]);
    fp = fdopen(fds[1], "w");
    /* No health data, nothing but the code: it goes outside MSSanté. */
    fprintf(fp, "From: %s\nTo: %s\nSubject: =?UTF-8?Q?Code_de_connexion_MSSant=C3=A9?=\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\nAuto-Submitted: auto-generated\n\n"
            "Votre code de connexion \xc3\xa0 votre messagerie MSSant\xc3\xa9 : %s\n\n"
            "Il est valable %ld minutes et ne sert qu'une fois. Si vous n'avez pas demand\xc3\xa9"
            " ce code,\nquelqu'un conna\xc3\xaet votre mot de passe : changez-le.\n",
            var_otp_email_sender, contact, code, var_otp_email_validity / 60);
    if (fclose(fp) != 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)
        || WEXITSTATUS(status) != 0) {
        e_error(authdb_event(request), "mssante_otp: %s failed (exit %d): the code was not sent",
                var_otp_sendmail, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}

/*
 * email_code - method "email": password + the code sent last time, or, for
 * the right password alone, a new code sent to the contact address.
 */
static enum passdb_result email_code(struct otp_passdb *m, struct auth_request *request,
                                     PGresult *res, const char *password, const char **how,
                                     const char **outcome)
{
    const char *id = PQgetvalue(res, 0, F_ID), *login = PQgetvalue(res, 0, F_LOGIN);
    const char *stored = PQgetvalue(res, 0, F_PASSWORD), *code;
    char    hash[65], newcode[OTP_DIGITS + 1], secs[32], tries[32];
    size_t  pwlen = 0;

    *how = "password+email-code";
    *outcome = "fail";
    if (!m->have_key) {
        e_error(authdb_event(request), "mssante_otp: e-mailed codes need otp_key_file");
        *outcome = "tempfail";
        return PASSDB_RESULT_INTERNAL_FAILURE;
    }
    if ((code = otp_split(password, &pwlen)) != NULL
        && password_ok(request, stored, t_strndup(password, pwlen))) {
        const char *p[3] = {id, hash, tries};
        PGresult *r;
        long    rows;

        if (otp_code_hash(m->key, login, code, hash) < 0)
            return PASSDB_RESULT_INTERNAL_FAILURE;
        i_snprintf(tries, sizeof(tries), "%ld", var_otp_email_attempts);
        /* Single use: the matching, live code is deleted as it is accepted. */
        r = PQexecParams(m->conn, "DELETE FROM email_code WHERE account_id = $1 AND code_hash = $2"
                         " AND expires_at > now() AND attempts < $3::int", 3, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            e_error(authdb_event(request), "mssante_otp: %s", pg_err(m->conn));
            PQclear(r);
            return PASSDB_RESULT_INTERNAL_FAILURE;
        }
        rows = atol(PQcmdTuples(r));
        PQclear(r);
        if (rows == 1) {
            *outcome = "ok";
            return PASSDB_RESULT_OK;
        }
        (void) exec(m, request, "UPDATE email_code SET attempts = attempts + 1 WHERE account_id = $1",
                    1, p, NULL);
        *outcome = "bad-code";
        return PASSDB_RESULT_PASSWORD_MISMATCH;
    }
    if (!password_ok(request, stored, password)) {
        *how = "password";
        return PASSDB_RESULT_PASSWORD_MISMATCH;
    }
    /* The right password alone: a new code, sent to the contact address. */
    *how = "password";
    if (PQgetisnull(res, 0, F_CONTACT) || *PQgetvalue(res, 0, F_CONTACT) == '\0') {
        auth_request_set_field(request, "reason", "No contact address to send a code to", NULL);
        *outcome = "no-contact";
        return PASSDB_RESULT_USER_DISABLED;
    }
    if (otp_random_code(newcode) < 0 || otp_code_hash(m->key, login, newcode, hash) < 0)
        return PASSDB_RESULT_INTERNAL_FAILURE;
    i_snprintf(secs, sizeof(secs), "%ld", var_otp_email_validity);
    {
        const char *p[3] = {id, hash, secs};

        if (!exec(m, request, "INSERT INTO email_code (account_id, code_hash, expires_at)"
                  " VALUES ($1, $2, now() + make_interval(secs => $3::int))"
                  " ON CONFLICT (account_id) DO UPDATE SET code_hash = EXCLUDED.code_hash,"
                  " expires_at = EXCLUDED.expires_at, attempts = 0", 3, p, NULL)
            || send_code(request, PQgetvalue(res, 0, F_CONTACT), newcode) < 0) {
            (void) exec(m, request, "DELETE FROM email_code WHERE account_id = $1", 1, p, NULL);
            OPENSSL_cleanse(newcode, sizeof(newcode));
            *outcome = "tempfail";
            return PASSDB_RESULT_INTERNAL_FAILURE;
        }
    }
    OPENSSL_cleanse(newcode, sizeof(newcode));
    auth_request_set_field(request, "reason", t_strdup_printf(
        "A code was sent to your contact address: log in again with your password followed by"
        " the code (valid %ld minutes)", var_otp_email_validity / 60), NULL);
    *outcome = "code-sent";
    return PASSDB_RESULT_USER_DISABLED;
}

/*
 * credentials - the account's own credentials: a device password, or the
 * password and a TOTP code. Sets *how (what was presented) and *outcome.
 */
static enum passdb_result credentials(struct otp_passdb *m, struct auth_request *request,
                                      PGresult *res, const char *password, const char **how,
                                      const char **outcome, const char **device_id)
{
    const char *id = PQgetvalue(res, 0, F_ID), *login = PQgetvalue(res, 0, F_LOGIN);
    const char *method = PQgetvalue(res, 0, F_METHOD), *device, *code;
    size_t  pwlen = 0;

    if ((device = device_match(m, request, id, password, device_id)) != NULL) {
        *how = t_strdup_printf("device %s", device);
        *outcome = "ok";
        return PASSDB_RESULT_OK;
    }
    if (strcmp(method, "totp") == 0 && !PQgetisnull(res, 0, F_SECRET)
        && (code = otp_split(password, &pwlen)) != NULL) {
        unsigned char secret[OTP_SECRET_LEN];
        size_t  slen;
        unsigned char *sealed = PQunescapeBytea((const unsigned char *) PQgetvalue(res, 0, F_SECRET),
                                                &slen);
        bool    pw = password_ok(request, PQgetvalue(res, 0, F_PASSWORD), t_strndup(password, pwlen));
        long    step, rows = 0;
        char    s[32];
        const char *q[2] = {id, s};

        *how = "password+totp";
        if (!m->have_key || sealed == NULL || otp_open(m->key, login, sealed, slen, secret) < 0) {
            e_error(authdb_event(request), "mssante_otp: the TOTP secret of %s cannot be opened"
                    " with the key of otp_key_file", login);
            PQfreemem(sealed);
            *outcome = "tempfail";
            return PASSDB_RESULT_INTERNAL_FAILURE;
        }
        PQfreemem(sealed);
        step = otp_totp_match(secret, sizeof(secret), code, (time_t) atoll(PQgetvalue(res, 0, F_NOW)),
                              atol(PQgetvalue(res, 0, F_LAST_STEP)));
        OPENSSL_cleanse(secret, sizeof(secret));
        *outcome = !pw ? "bad-password" : "bad-code";
        if (!pw || step == 0)
            return PASSDB_RESULT_PASSWORD_MISMATCH;
        /* Only a step later than the last accepted one: a concurrent replay loses here. */
        i_snprintf(s, sizeof(s), "%ld", step);
        if (!exec(m, request, "INSERT INTO otp_state (account_id, last_step) VALUES ($1, $2)"
                  " ON CONFLICT (account_id) DO UPDATE SET last_step = $2"
                  " WHERE otp_state.last_step < $2", 2, q, &rows)) {
            *outcome = "tempfail";
            return PASSDB_RESULT_INTERNAL_FAILURE;
        }
        if (rows != 1)
            return PASSDB_RESULT_PASSWORD_MISMATCH;
        *outcome = "ok";
        return PASSDB_RESULT_OK;
    }
    if (strcmp(method, "email") == 0)
        return email_code(m, request, res, password, how, outcome);
    *how = "password";
    *outcome = "fail";
    if (strcmp(method, "none") == 0 && password_ok(request, PQgetvalue(res, 0, F_PASSWORD), password)) {
        /* The right password, but no second factor: say so, let nothing in. (A
         * failure, not "nologin": SMTP AUTH clients of the auth socket ignore that.) */
        auth_request_set_field(request, "reason", "A second factor is required: enrol one"
                               " or use a device password", NULL);
        *outcome = "no-second-factor";
        return PASSDB_RESULT_USER_DISABLED;
    }
    return PASSDB_RESULT_PASSWORD_MISMATCH;
}

/* may_open - whether the account owns or is delegate of the BAL */
static int may_open(struct otp_passdb *m, struct auth_request *request, const char *id,
                    const char *bal)
{
    const char *p[2] = {id, bal};
    PGresult *res = PQexecParams(m->conn, "SELECT 1 FROM bal_access WHERE account_id = $1"
                                 " AND bal = lower($2)", 2, NULL, p, NULL, NULL, 0);
    int     ret = PQresultStatus(res) != PGRES_TUPLES_OK ? -1 : PQntuples(res) == 1;

    if (ret < 0)
        e_error(authdb_event(request), "mssante_otp: %s", pg_err(m->conn));
    PQclear(res);
    return ret;
}

/*
 * check - one login. The user name is "LOGIN" (prenom.nom or the address
 * of the BAL it owns), or "BAL*LOGIN" for a delegate opening an ORG BAL
 * with their own credentials.
 */
static enum passdb_result check(struct otp_passdb *m, struct auth_request *request,
                                const char *password)
{
    const char *user = request->fields.user, *star = strchr(user, '*');
    const char *who = star ? star + 1 : user, *target = star ? t_strdup_until(user, star) : NULL;
    const char *p[1] = {who}, *id, *login, *bal, *how = "any", *outcome, *device_id = NULL;
    PGconn *conn = db(m, request);
    PGresult *res;
    long    failures;
    enum passdb_result result;

    if (conn == NULL)
        return PASSDB_RESULT_INTERNAL_FAILURE;
    res = PQexecParams(conn, account_sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        e_error(authdb_event(request), "mssante_otp: %s", pg_err(conn));
        PQclear(res);
        return PASSDB_RESULT_INTERNAL_FAILURE;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        audit(m, request, who, target, "unknown", "fail", NULL, NULL);
        return PASSDB_RESULT_USER_UNKNOWN;
    }
    id = t_strdup(PQgetvalue(res, 0, F_ID));
    login = t_strdup(PQgetvalue(res, 0, F_LOGIN));
    bal = target ? t_str_lcase(target) : PQgetisnull(res, 0, F_BAL) ? NULL : t_strdup(PQgetvalue(res, 0, F_BAL));
    failures = atol(PQgetvalue(res, 0, F_FAILURES));

    if (strcmp(PQgetvalue(res, 0, F_STATE), "active") != 0) {
        result = PASSDB_RESULT_USER_DISABLED;
        outcome = "disabled";
    } else if (!PQgetisnull(res, 0, F_LOCKED)) {
        auth_request_set_field(request, "reason", t_strdup_printf(
            "Account locked after repeated failures; try again in %s s",
            PQgetvalue(res, 0, F_LOCKED)), NULL);
        result = PASSDB_RESULT_USER_DISABLED;
        outcome = "locked";
    } else if (bal == NULL) {
        result = PASSDB_RESULT_USER_UNKNOWN;
        outcome = "no-bal";
    } else {
        result = credentials(m, request, res, password, &how, &outcome, &device_id);
    }
    PQclear(res);
    if (result == PASSDB_RESULT_OK && target != NULL && strcmp(outcome, "ok") == 0) {
        /* Credentials first, then the BAL: nothing tells a stranger who is delegate. */
        int     may = may_open(m, request, id, bal);

        if (may < 0)
            return PASSDB_RESULT_INTERNAL_FAILURE;
        if (may == 0) {
            result = PASSDB_RESULT_PASSWORD_MISMATCH;
            outcome = "not-delegate";
        }
    }
    if (result == PASSDB_RESULT_OK && strcmp(outcome, "ok") == 0) {
        audit(m, request, login, bal, how, outcome, id, device_id);
        /* The mailbox to open: the BAL, whatever the login typed. */
        auth_request_set_field(request, "user", bal, NULL);
        return result;
    }
    audit(m, request, login, bal, how, outcome, NULL, NULL);
    if (result == PASSDB_RESULT_PASSWORD_MISMATCH && strcmp(outcome, "not-delegate") != 0)
        failed(m, request, id, failures);
    return result;
}

static void otp_verify_plain(struct auth_request *request, const char *password,
                             verify_plain_callback_t *callback)
{
    struct otp_passdb *m = (struct otp_passdb *) request->passdb->passdb;

    callback(check(m, request, password), request);
}

static struct passdb_module *otp_preinit(pool_t pool, const char *args)
{
    struct otp_passdb *m = p_new(pool, struct otp_passdb, 1);

    m->config = p_strdup(pool, *args ? args : MSSANTE_SYSCONFDIR "/mssante.conf");
    m->module.blocking = TRUE;
    return &m->module;
}

static void otp_init(struct passdb_module *module)
{
    struct otp_passdb *m = (struct otp_passdb *) module;
    char   *err = NULL;

    if (params_load(m->config, NULL, 0, &err) < 0)
        i_fatal("mssante_otp: %s", err);
    if (!worker)
        return;                             /* the key is for the workers (root) only */
    if (otp_key_load(var_otp_key_file, m->key, &err) < 0) {
        /* Device passwords still work; TOTP logins fail with this reason. */
        i_error("mssante_otp: %s", err);
        free(err);
    } else {
        m->have_key = TRUE;
    }
}

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

void authdb_mssante_otp_init(void)
{
    passdb_register_module(&passdb_mssante_otp);
}

void authdb_mssante_otp_deinit(void)
{
    passdb_unregister_module(&passdb_mssante_otp);
}
