/*
 * mssante-otp - second factor and device passwords of the local accounts.
 *
 *   mssante-otp key                       create otp_key_file (root, 0600)
 *   mssante-otp enroll LOGIN --totp [--qr] [--png FILE]
 *                                         new TOTP secret: otpauth:// URI, QR code on
 *                                         the terminal and, if asked, in a PNG (mode 0600)
 *   mssante-otp enroll LOGIN --email ADDR codes by e-mail to ADDR (outside MSSanté)
 *   mssante-otp verify LOGIN CODE         confirm the enrolment with a first code
 *   mssante-otp device add LOGIN NAME     a device password, printed once
 *   mssante-otp device list LOGIN
 *   mssante-otp device revoke LOGIN NAME
 *   mssante-otp unlock LOGIN [ADDRESS]    clear the failures and lock-outs of the
 *                                         login's client addresses (or of one)
 *   mssante-otp audit LOGIN               its last 50 authentications and changes
 *
 * Every change is a row of audit_event (actor "mssante-otp", never a
 * secret). Secrets are printed only to the terminal that asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <qrencode.h>

#include "cmd.h"
#include "enrol.h"
#include "msg.h"
#include "mymalloc.h"
#include "otp.h"
#include "params.h"
#include "pgutil.h"
#include "pwhash.h"

#define OPT_TOTP  0x200
#define OPT_EMAIL 0x201
#define OPT_PNG   0x202
#define OPT_QR    0x203

/* usage - the options and verbs */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mssante-otp [options] key\n"
            "       mssante-otp [options] enroll LOGIN --totp [--qr] [--png FILE] | --email ADDRESS\n"
            "       mssante-otp [options] verify LOGIN CODE\n"
            "       mssante-otp [options] device add|list|revoke LOGIN [NAME]\n"
            "       mssante-otp [options] unlock LOGIN [ADDRESS]\n"
            "       mssante-otp [options] audit LOGIN\n"
            "%s"
            "Exit: 0 done; 1 refused or failed (nothing changed); 2 usage.\n",
            cmd_usage_common);
}

static PGconn *conn;

/* account_id - the id of a login; exits when there is none */
static char *account_id(const char *login)
{
    const char *p[1] = {login};
    PGresult *res = pgu_must(conn, "SELECT id FROM account WHERE login = lower($1)", 1, p);
    char *id;

    if (PQntuples(res) != 1)
        msg_fatal("no account \"%s\"", login);
    id = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return id;
}

/* load_key - the sealing key, or exit */
static void load_key(unsigned char key[OTP_KEY_LEN])
{
    char *err = NULL;

    if (otp_key_load(var_otp_key_file, key, &err) < 0)
        msg_fatal("%s", err);
}

/* cmd_key - key: a new sealing key file */
static int cmd_key(void)
{
    unsigned char key[OTP_KEY_LEN];
    int fd;
    FILE *fp;

    if (RAND_bytes(key, sizeof(key)) != 1)
        msg_fatal("no random bytes");
    if ((fd = open(var_otp_key_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600)) < 0)
        msg_fatal("%s: %m (an existing key is never replaced: the secrets sealed with it would be lost)",
                  var_otp_key_file);
    if (fchown(fd, 0, 0) < 0 || (fp = fdopen(fd, "w")) == NULL)
        msg_fatal("%s: %m", var_otp_key_file);
    for (int i = 0; i < OTP_KEY_LEN; i++)
        fprintf(fp, "%02x", key[i]);
    fputc('\n', fp);
    OPENSSL_cleanse(key, sizeof(key));
    if (fclose(fp) != 0)
        msg_fatal("%s: %m", var_otp_key_file);
    printf("created %s\n", var_otp_key_file);
    return 0;
}

/* qr_print - the URI as a QR code of half blocks, for a terminal */
static void qr_print(const char *uri)
{
    QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);

    if (qr == NULL)
        return;
    for (int y = -2; y < qr->width + 2; y += 2) {
        for (int x = -2; x < qr->width + 2; x++) {
            int top = y >= 0 && y < qr->width && x >= 0 && x < qr->width && (qr->data[y * qr->width + x] & 1);
            int bot = y + 1 >= 0 && y + 1 < qr->width && x >= 0 && x < qr->width &&
                      (qr->data[(y + 1) * qr->width + x] & 1);

            /* Dark modules are drawn as background: light terminals and dark alike scan. */
            fputs(top && bot ? " " : top ? "\u2584" : bot ? "\u2580" : "\u2588", stdout);
        }
        fputc('\n', stdout);
    }
    QRcode_free(qr);
}

/* qr_png - the URI as a QR code in a new PNG file, readable by its owner only */
static void qr_png(const char *uri, const char *path)
{
    size_t len = 0;
    unsigned char *png = enrol_qr_png(uri, &len);
    int fd;
    FILE *fp;

    if (png == NULL)
        msg_fatal("cannot encode the QR code");
    /* It holds the secret: a new file, mode 0600, never an existing one. */
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600)) < 0 ||
        (fp = fdopen(fd, "wb")) == NULL)
        msg_fatal("%s: %m", path);
    if (fwrite(png, 1, len, fp) != len || fclose(fp) != 0)
        msg_fatal("%s: cannot write the PNG: %m", path);
    OPENSSL_cleanse(png, len);
    free(png);
}

/* cmd_enroll - enroll: a new TOTP secret for a login, its URI or QR code */
static int cmd_enroll(const char *login, const char *png, int qr)
{
    unsigned char key[OTP_KEY_LEN], secret[OTP_SECRET_LEN], sealed[OTP_SEALED_LEN];
    char *id = account_id(login), *uri;
    size_t elen;
    unsigned char *esc;
    const char *p[2];

    load_key(key);
    if (RAND_bytes(secret, sizeof(secret)) != 1 || otp_seal(key, login, secret, sealed) < 0)
        msg_fatal("cannot create a secret");
    esc = PQescapeByteaConn(conn, sealed, sizeof(sealed), &elen);
    p[0] = id;
    p[1] = (const char *) esc;
    PQclear(pgu_must(conn,
                     "INSERT INTO otp_secret (account_id, secret_enc) VALUES ($1, $2::bytea)"
                     " ON CONFLICT (account_id) DO UPDATE SET secret_enc = EXCLUDED.secret_enc,"
                     " confirmed = false, created_at = now()",
                     2, p));
    PQfreemem(esc);
    pgu_audit(conn, "mssante-otp", "otp-enroll", login, "totp");
    uri = enrol_uri(login, secret);
    printf("%s\n", uri);
    if (qr || isatty(STDOUT_FILENO))
        qr_print(uri);
    if (png) {
        qr_png(uri, png);
        printf("QR code written to %s (delete it once scanned)\n", png);
    }
    printf("Scan it, then confirm with: mssante-otp verify %s CODE\n", login);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(uri, strlen(uri));
    free(uri);
    free(id);
    return 0;
}

/* cmd_enroll_email - enroll-email: codes mailed to an address */
static int cmd_enroll_email(const char *login, const char *address)
{
    char *id = account_id(login);
    const char *p[2] = {id, address}, *at = strrchr(address, '@');

    if (at == NULL || at == address || strchr(at, '.') == NULL || strpbrk(address, " \t\r\n<>,;"))
        msg_fatal("\"%s\" is not an e-mail address", address);
    PQclear(
        pgu_must(conn, "UPDATE account SET otp_method = 'email', contact_email = $2 WHERE id = $1", 2, p));
    pgu_audit(conn, "mssante-otp", "otp-enroll", login, "email");
    printf("%s: codes will be sent to %s\n", login, address);
    free(id);
    return 0;
}

/* cmd_verify - verify: whether a code is good for a login now */
static int cmd_verify(const char *login, const char *code)
{
    unsigned char key[OTP_KEY_LEN], secret[OTP_SECRET_LEN];
    char *id = account_id(login), *err = NULL;
    const char *p[1] = {id};
    PGresult *res = pgu_must(conn,
                             "SELECT secret_enc, extract(epoch FROM now())::bigint FROM otp_secret"
                             " WHERE account_id = $1",
                             1, p);
    size_t slen;
    unsigned char *sealed;
    long s;

    if (PQntuples(res) != 1)
        msg_fatal("%s has no TOTP enrolment: mssante-otp enroll %s --totp", login, login);
    load_key(key);
    sealed = PQunescapeBytea((const unsigned char *) PQgetvalue(res, 0, 0), &slen);
    if (sealed == NULL || otp_open(key, login, sealed, slen, secret) < 0)
        msg_fatal("the secret of %s cannot be opened with %s", login, var_otp_key_file);
    s = otp_totp_match(secret, sizeof(secret), code, (time_t) atoll(PQgetvalue(res, 0, 1)), 0);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(key, sizeof(key));
    PQclear(res);
    if (s == 0) {
        fprintf(stderr, "mssante-otp: wrong code for %s (check the phone's clock); not confirmed\n", login);
        PQfreemem(sealed);
        free(id);
        return 1;
    }
    if (enrol_totp_confirm(conn, id, sealed, slen, s, "mssante-otp", "admin", NULL, &err) < 0)
        msg_fatal("%s", err);
    PQfreemem(sealed);
    printf("%s: TOTP confirmed; logins now need password followed by the code\n", login);
    free(id);
    return 0;
}

/* cmd_device - device add, list or revoke */
static int cmd_device(const char *verb, const char *login, const char *name)
{
    char *id = account_id(login);
    const char *p[3] = {id, name, NULL};
    PGresult *res;

    if (strcmp(verb, "list") == 0) {
        res =
            pgu_must(conn,
                     "SELECT name, to_char(created_at, 'YYYY-MM-DD HH24:MI'), coalesce(to_char(last_used_at,"
                     " 'YYYY-MM-DD HH24:MI'), '-'), coalesce(to_char(revoked_at, 'YYYY-MM-DD HH24:MI'), '-')"
                     " FROM device_password WHERE account_id = $1 ORDER BY name",
                     1, p);
        printf("%-24s %-16s %-16s %s\n", "device", "created", "last used", "revoked");
        for (int i = 0; i < PQntuples(res); i++)
            printf("%-24s %-16s %-16s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
        PQclear(res);
    } else if (name == NULL) {
        usage(stderr);
        free(id);
        return 2;
    } else if (strcmp(verb, "add") == 0) {
        char *pw, *err = NULL;
        int exists;

        if ((pw = enrol_device_add(conn, id, name, "mssante-otp", "admin", NULL, &exists, &err)) == NULL)
            msg_fatal("%s%s", err, exists ? " (revoke it, or choose another name)" : "");
        printf("%s\n", pw);
        fprintf(stderr, "device password of %s for \"%s\": shown once, give it to the device now\n", login,
                name);
        pwhash_forget(pw);
    } else if (strcmp(verb, "revoke") == 0) {
        char *err = NULL;
        int r = enrol_device_revoke(conn, id, name, "mssante-otp", "admin", NULL, &err);

        if (r < 0)
            msg_fatal("%s", err);
        if (r == 0)
            msg_fatal("%s has no live device \"%s\"", login, name);
        printf("%s: device \"%s\" revoked\n", login, name);
    } else {
        usage(stderr);
        free(id);
        return 2;
    }
    free(id);
    return 0;
}

/* cmd_unlock - clear the failures of a login, from one address or from all */
static int cmd_unlock(const char *login, const char *address)
{
    char *id = account_id(login), *detail = NULL;
    const char *p[2] = {id, address};
    PGresult *res =
        pgu_must(conn,
                 address ? "DELETE FROM login_failure WHERE account_id = $1 AND client = $2"
                           " RETURNING coalesce(nullif(client, ''), '(none)'), locked_until > now()"
                         : "WITH w AS (UPDATE otp_state SET window_failures = 0 WHERE account_id = $1)"
                           " DELETE FROM login_failure WHERE account_id = $1"
                           " RETURNING coalesce(nullif(client, ''), '(none)'), locked_until > now()",
                 address ? 2 : 1, p);

    /* The audit row names each address cleared and whether it was locked out. */
    for (int i = 0; i < PQntuples(res); i++) {
        char *prev = detail;
        const char *what = strcmp(PQgetvalue(res, i, 1), "t") == 0 ? "locked out" : "failures";

        detail = xasprintf("%s%s%s (%s)", prev ? prev : "", prev ? ", " : "", PQgetvalue(res, i, 0), what);
        free(prev);
    }
    pgu_audit(conn, "mssante-otp", "unlock", login, detail ? detail : "nothing to clear");
    printf("%s: unlocked%s%s\n", login, detail ? ": " : " (nothing was locked)", detail ? detail : "");
    PQclear(res);
    free(detail);
    free(id);
    return 0;
}

/* cmd_audit - audit: the last 50 events of a login */
static int cmd_audit(const char *login)
{
    const char *p[1] = {login};
    PGresult *res =
        pgu_must(conn,
                 "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), action, coalesce(bal, '-'),"
                 " coalesce(service, '-'), coalesce(host(remote_ip), '-'), coalesce(request, '-'), result"
                 " FROM (SELECT * FROM audit_event WHERE actor = lower($1)"
                 "  OR (actor = 'mssante-otp' AND (request = lower($1) OR request LIKE lower($1) || ': %'))"
                 "  ORDER BY id DESC LIMIT 50) x ORDER BY at, id",
                 1, p);

    printf("%-19s  %-13s  %-32s  %-10s  %-15s  %-24s  %s\n", "when", "action", "BAL", "service", "from",
           "how", "result");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-19s  %-13s  %-32s  %-10s  %-15s  %-24s  %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
               PQgetvalue(res, i, 6));
    PQclear(res);
    return 0;
}

/* main - options, then the verb asked */
int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_LONGOPTS,
        {"totp", no_argument, 0, OPT_TOTP},
        {"email", required_argument, 0, OPT_EMAIL},
        {"png", required_argument, 0, OPT_PNG},
        {"qr", no_argument, 0, OPT_QR},
        {0, 0, 0, 0},
    };
    struct cmd_common c;
    int ch, totp = 0, qr = 0, n, ret;
    char *err = NULL, **a, *email = NULL, *png = NULL;

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        if (ch == OPT_TOTP) {
            totp = 1;
            continue;
        }
        if (ch == OPT_EMAIL) {
            email = optarg;
            continue;
        }
        if (ch == OPT_PNG) {
            png = optarg;
            continue;
        }
        if (ch == OPT_QR) {
            qr = 1;
            continue;
        }
        usage(stderr);
        return 2;
    }
    cmd_load(&c, usage);
    a = argv + optind;
    n = argc - optind;
    if (n < 1) {
        usage(stderr);
        return 2;
    }
    if (strcmp(a[0], "key") == 0 && n == 1)
        return cmd_key();
    if ((conn = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL)
        msg_fatal("%s", err);
    if (strcmp(a[0], "enroll") == 0 && n == 2 && totp && !email)
        ret = cmd_enroll(a[1], png, qr);
    else if (strcmp(a[0], "enroll") == 0 && n == 2 && email && !totp)
        ret = cmd_enroll_email(a[1], email);
    else if (strcmp(a[0], "verify") == 0 && n == 3)
        ret = cmd_verify(a[1], a[2]);
    else if (strcmp(a[0], "device") == 0 && (n == 3 || n == 4))
        ret = cmd_device(a[1], a[2], n == 4 ? a[3] : NULL);
    else if (strcmp(a[0], "unlock") == 0 && (n == 2 || n == 3))
        ret = cmd_unlock(a[1], n == 3 ? a[2] : NULL);
    else if (strcmp(a[0], "audit") == 0 && n == 2)
        ret = cmd_audit(a[1]);
    else {
        usage(stderr);
        ret = 2;
    }
    PQfinish(conn);
    return ret;
}
