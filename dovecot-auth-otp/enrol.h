/*
 * enrol - a second factor set up, as mssante-otp and mssante-portal both
 * do it: the otpauth:// URI an app scans, its QR code as a PNG, and the
 * confirmed enrolment stored in one transaction.
 */
#ifndef MSSANTE_ENROL_H
#define MSSANTE_ENROL_H

#include <stddef.h>

#include <libpq-fe.h>

#include "otp.h"

#define ENROL_ISSUER "MSSante"

/* enrol_uri - otpauth://totp/ISSUER:login?secret=...; malloc'd (wipe it) */
char *enrol_uri(const char *login, const unsigned char secret[OTP_SECRET_LEN]);

/* enrol_qr_png - the URI as a QR code in a PNG image; malloc'd (wipe it), NULL on failure */
unsigned char *enrol_qr_png(const char *uri, size_t *len);

/*
 * enrol_totp_confirm - store the sealed secret as the account's confirmed
 * TOTP, its method "totp", step as the last code used (it is not good
 * again); actor and service go to audit_event. 0, or -1 with *err.
 */
int enrol_totp_confirm(PGconn *conn, const char *account_id, const unsigned char *sealed, size_t len,
                       long step, const char *actor, const char *service, const char *client, char **err);

/*
 * enrol_device_add - a new device password "d<id>-xxxxx-xxxxx-xxxxx-xxxxx"
 * of the account, stored hashed, audited as actor/service/client. The
 * password (malloc'd, to show once and wipe), or NULL with *err (*exists
 * set when the account has a live device of that name already).
 */
char *enrol_device_add(PGconn *conn, const char *account_id, const char *name, const char *actor,
                       const char *service, const char *client, int *exists, char **err);

/* enrol_device_revoke - revoke a live device by name: 1 done, 0 none such, -1 with *err */
int enrol_device_revoke(PGconn *conn, const char *account_id, const char *name, const char *actor,
                        const char *service, const char *client, char **err);

#endif
