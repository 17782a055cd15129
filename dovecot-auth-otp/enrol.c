/*
 * enrol - a second factor set up (mssante-otp, mssante-portal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <png.h>
#include <qrencode.h>

#include "enrol.h"
#include "mymalloc.h"
#include "pgutil.h"
#include "pwhash.h"

#define PNG_SCALE  8 /* pixels per module */
#define PNG_BORDER 4 /* modules of quiet zone */

/* enrol_uri - the otpauth:// URI of a TOTP secret */
char *enrol_uri(const char *login, const unsigned char secret[OTP_SECRET_LEN])
{
    char *b32 = otp_base32(secret, OTP_SECRET_LEN);
    char *uri = xasprintf("otpauth://totp/" ENROL_ISSUER ":%s?secret=%s&issuer=" ENROL_ISSUER
                          "&algorithm=SHA1&digits=%d&period=%d",
                          login, b32, OTP_DIGITS, OTP_STEP);

    OPENSSL_cleanse(b32, strlen(b32));
    free(b32);
    return uri;
}

/* enrol_qr_png - a QR code of uri as a PNG in memory */
unsigned char *enrol_qr_png(const char *uri, size_t *len)
{
    QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    png_image img = {.version = PNG_IMAGE_VERSION, .format = PNG_FORMAT_GRAY};
    png_alloc_size_t size = 0;
    unsigned char *px, *out = NULL;
    size_t side, area;

    if (qr == NULL)
        return NULL;
    side = (size_t) (qr->width + 2 * PNG_BORDER) * PNG_SCALE;
    area = side * side;
    px = xmalloc(area);
    memset(px, 255, area);
    for (int y = 0; y < qr->width; y++)
        for (int x = 0; x < qr->width; x++)
            if (qr->data[y * qr->width + x] & 1)
                for (int dy = 0; dy < PNG_SCALE; dy++)
                    memset(px + ((size_t) (y + PNG_BORDER) * PNG_SCALE + (size_t) dy) * side +
                               (size_t) (x + PNG_BORDER) * PNG_SCALE,
                           0, PNG_SCALE);
    img.width = img.height = (png_uint_32) side;
    /* Twice: the size first, then the image into memory of that size. */
    if (png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL) && size > 0) {
        out = xmalloc(size);
        if (!png_image_write_to_memory(&img, out, &size, 0, px, 0, NULL)) {
            free(out);
            out = NULL;
        }
    }
    png_image_free(&img);
    OPENSSL_cleanse(px, area);
    free(px);
    QRcode_free(qr);
    *len = out ? size : 0;
    return out;
}

/* enrol_totp_confirm - a confirmed TOTP secret becomes the account's second factor */
int enrol_totp_confirm(PGconn *conn, const char *account_id, const unsigned char *sealed, size_t len,
                       long step, const char *actor, const char *service, const char *client, char **err)
{
    size_t elen;
    unsigned char *esc = PQescapeByteaConn(conn, sealed, len, &elen);
    char st[32];
    const char *p[6] = {account_id, (const char *) esc, st, actor, service, client};
    PGresult *res;
    int ok;

    if (esc == NULL) {
        *err = pgu_error(conn);
        return -1;
    }
    snprintf(st, sizeof(st), "%ld", step);
    /* One statement: the secret, the method, the replay guard and the trace together. */
    res = PQexecParams(conn,
                       "WITH s AS (INSERT INTO otp_secret (account_id, secret_enc, confirmed)"
                       "  VALUES ($1, $2::bytea, true) ON CONFLICT (account_id) DO UPDATE"
                       "  SET secret_enc = EXCLUDED.secret_enc, confirmed = true, created_at = now()),"
                       " m AS (UPDATE account SET otp_method = 'totp' WHERE id = $1),"
                       " g AS (INSERT INTO otp_state (account_id, last_step) VALUES ($1, $3)"
                       "  ON CONFLICT (account_id) DO UPDATE"
                       "  SET last_step = GREATEST(otp_state.last_step, $3))"
                       " INSERT INTO audit_event (actor, action, service, remote_ip, request, result)"
                       " SELECT coalesce($4, login), 'otp-confirm', $5, $6::inet, login || ': totp', 'ok'"
                       " FROM account WHERE id = $1",
                       6, NULL, p, NULL, NULL, 0);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        *err = pgu_error(conn);
    PQclear(res);
    PQfreemem(esc);
    return ok ? 0 : -1;
}

/* run - one statement; its result, or NULL with *err */
static PGresult *run(PGconn *conn, const char *sql, int n, const char *const *p, char **err)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    *err = pgu_error(conn);
    PQclear(res);
    return NULL;
}

/* audit_device - the audit row of a device change, in the caller's transaction */
static PGresult *audit_device(PGconn *conn, const char *account_id, const char *action, const char *name,
                              const char *actor, const char *service, const char *client, char **err)
{
    const char *p[6] = {account_id, action, name, actor, service, client};

    return run(conn,
               "INSERT INTO audit_event (actor, action, service, remote_ip, request, result)"
               " SELECT coalesce($4, login), $2, $5, $6::inet, login || ': ' || $3, 'ok'"
               " FROM account WHERE id = $1",
               6, p, err);
}

/* enrol_device_add - a new device password for an account */
char *enrol_device_add(PGconn *conn, const char *account_id, const char *name, const char *actor,
                       const char *service, const char *client, int *exists, char **err)
{
    const char *p[3] = {account_id, name, NULL};
    PGresult *res = NULL, *r2;
    char *body = NULL, *pw = NULL, *hash = NULL;

    *exists = 0;
    PQclear(run(conn, "BEGIN", 0, NULL, err));
    if ((res = run(conn,
                   "INSERT INTO device_password (account_id, name, hash) VALUES ($1, $2, '')"
                   " ON CONFLICT DO NOTHING RETURNING id",
                   2, p, err)) == NULL)
        goto fail;
    if (PQntuples(res) != 1) {
        *exists = 1;
        *err = xasprintf("a device \"%s\" exists already", name);
        goto fail;
    }
    /* "d<id>-": the passdb checks one hash, not one per device. */
    body = pwhash_random();
    pw = xasprintf("d%s-%s", PQgetvalue(res, 0, 0), body);
    pwhash_forget(body);
    if ((hash = pwhash_hash(pw, err)) == NULL)
        goto fail;
    p[1] = hash;
    p[2] = PQgetvalue(res, 0, 0);
    if ((r2 = run(conn, "UPDATE device_password SET hash = $2 WHERE id = $3 AND account_id = $1", 3, p,
                  err)) == NULL)
        goto fail;
    PQclear(r2);
    if ((r2 = audit_device(conn, account_id, "device-add", name, actor, service, client, err)) == NULL)
        goto fail;
    PQclear(r2);
    if ((r2 = run(conn, "COMMIT", 0, NULL, err)) == NULL)
        goto fail;
    PQclear(r2);
    PQclear(res);
    free(hash);
    return pw;
fail:
    PQclear(PQexec(conn, "ROLLBACK"));
    PQclear(res);
    free(hash);
    pwhash_forget(pw);
    return NULL;
}

/* enrol_device_revoke - revoke a device password */
int enrol_device_revoke(PGconn *conn, const char *account_id, const char *name, const char *actor,
                        const char *service, const char *client, char **err)
{
    const char *p[5] = {account_id, name, actor, service, client};
    PGresult *res;
    long n;

    /* The revocation and its trace in one statement: no trace, no revocation. */
    if ((res = run(conn,
                   "WITH d AS (UPDATE device_password SET revoked_at = now() WHERE account_id = $1"
                   "  AND name = $2 AND revoked_at IS NULL RETURNING 1)"
                   " INSERT INTO audit_event (actor, action, service, remote_ip, request, result)"
                   " SELECT coalesce($3, login), 'device-revoke', $4, $5::inet, login || ': ' || $2, 'ok'"
                   " FROM account WHERE id = $1 AND EXISTS (SELECT 1 FROM d)",
                   5, p, err)) == NULL)
        return -1;
    n = atol(PQcmdTuples(res));
    PQclear(res);
    return n > 0;
}
