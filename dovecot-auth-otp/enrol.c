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

#define PNG_SCALE 8                     /* pixels per module */
#define PNG_BORDER 4                    /* modules of quiet zone */

char   *enrol_uri(const char *login, const unsigned char secret[OTP_SECRET_LEN])
{
    char   *b32 = otp_base32(secret, OTP_SECRET_LEN);
    char   *uri = xasprintf("otpauth://totp/" ENROL_ISSUER ":%s?secret=%s&issuer=" ENROL_ISSUER
                            "&algorithm=SHA1&digits=%d&period=%d", login, b32, OTP_DIGITS, OTP_STEP);

    OPENSSL_cleanse(b32, strlen(b32));
    free(b32);
    return uri;
}

unsigned char *enrol_qr_png(const char *uri, size_t *len)
{
    QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    png_image img = {.version = PNG_IMAGE_VERSION, .format = PNG_FORMAT_GRAY};
    png_alloc_size_t size = 0;
    unsigned char *px, *out = NULL;
    size_t  side, area;

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
                    memset(px + ((size_t) (y + PNG_BORDER) * PNG_SCALE + (size_t) dy) * side
                           + (size_t) (x + PNG_BORDER) * PNG_SCALE, 0, PNG_SCALE);
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

int enrol_totp_confirm(PGconn *conn, const char *account_id, const unsigned char *sealed, size_t len,
                       long step, const char *actor, const char *service, const char *client,
                       char **err)
{
    size_t  elen;
    unsigned char *esc = PQescapeByteaConn(conn, sealed, len, &elen);
    char    st[32];
    const char *p[6] = {account_id, (const char *) esc, st, actor, service, client};
    PGresult *res;
    int     ok;

    if (esc == NULL) {
        *err = pgu_error(conn);
        return -1;
    }
    snprintf(st, sizeof(st), "%ld", step);
    /* One statement: the secret, the method, the replay guard and the trace together. */
    res = PQexecParams(conn, "WITH s AS (INSERT INTO otp_secret (account_id, secret_enc, confirmed)"
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
