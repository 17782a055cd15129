/*
 * mssante-smime - the certificate store of milter-smime.
 *
 *   mssante-smime import own  ADDRESS|DOMAIN --cert FILE --key FILE
 *                                   our certificate (and its chain) with the path of
 *                                   its private key: we sign and decrypt with it
 *   mssante-smime import peer ADDRESS|DOMAIN --cert FILE
 *                                   a correspondent's certificate: we encrypt to it
 *   mssante-smime list [ADDRESS|DOMAIN]
 *   mssante-smime show ID           the certificate's details and PEM
 *   mssante-smime revoke ID         no longer used, kept for the record
 *
 * An owner with an "@" is a mailbox, otherwise a domain. Certificates are
 * checked before they are stored: ours must match their key, sign e-mail
 * and have a key readable by nobody but its owner; a peer's must chain to
 * smime_trust_anchors with e-mail encryption usage. Every change is a row
 * of audit_event (actor "mssante-smime").
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpq-fe.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "cmd.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"
#include "smime.h"

#define OPT_CERT 0x200
#define OPT_KEY  0x201

/* usage - the command's synopsis */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mssante-smime [options] import own ADDRESS|DOMAIN --cert FILE --key FILE\n"
            "       mssante-smime [options] import peer ADDRESS|DOMAIN --cert FILE\n"
            "       mssante-smime [options] list [ADDRESS|DOMAIN]\n"
            "       mssante-smime [options] show ID\n"
            "       mssante-smime [options] revoke ID\n"
            "%s"
            "Exit: 0 done; 1 refused or failed (nothing changed); 2 usage.\n",
            cmd_usage_common);
}

static PGconn *conn;

/* owner_of - the canonical owner and its scope; exits on garbage */
static char *owner_of(const char *arg, const char **scope)
{
    const char *why;
    char *out;

    if (strchr(arg, '@')) {
        struct addr a;

        if (addr_parse(arg, &a, &why) < 0)
            msg_fatal("\"%s\": %s", arg, why);
        out = xstrdup(a.key);
        addr_free(&a);
        *scope = "address";
    } else {
        if ((out = domain_canon(arg, &why)) == NULL)
            msg_fatal("\"%s\": %s", arg, why);
        *scope = "domain";
    }
    return out;
}

/* read_certs - the certificates of a PEM file, leaf first */
static STACK_OF(X509) * read_certs(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    STACK_OF(X509) * certs;

    if (fp == NULL)
        msg_fatal("%s: %s", path, strerror(errno));
    {
        FILE *mem = open_memstream(&buf, &len);
        char chunk[8192];
        size_t n;

        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            fwrite(chunk, 1, n, mem);
        fclose(mem);
    }
    fclose(fp);
    if ((certs = smime_certs_pem(buf, len)) == NULL)
        msg_fatal("%s: no PEM certificate in this file", path);
    free(buf);
    return certs;
}

/* has_email - whether a certificate names this address */
static int has_email(const struct smime_certinfo *ci, const char *addr)
{
    for (size_t i = 0; ci->emails[i]; i++)
        if (strcmp(ci->emails[i], addr) == 0)
            return 1;
    return 0;
}

/* cmd_import - import: a certificate (and key) into the store */
static int cmd_import(const char *usage_kind, const char *who, const char *cert_file, const char *key_file)
{
    const char *scope;
    char *owner = owner_of(who, &scope), *pem, *err = NULL, *reason = NULL;
    STACK_OF(X509) *certs = read_certs(cert_file);
    X509 *leaf = sk_X509_shift(certs);
    struct smime_certinfo ci;
    char keypath[PATH_MAX];
    X509_STORE *store;
    PGresult *res;

    if (smime_certinfo(leaf, &ci) < 0)
        msg_fatal("%s: cannot read the certificate", cert_file);
    if (strcmp(usage_kind, "own") == 0) {
        EVP_PKEY *key;
        struct stat st;

        if (realpath(key_file, keypath) == NULL || stat(keypath, &st) < 0)
            msg_fatal("%s: %s", key_file, strerror(errno));
        if (st.st_mode & S_IROTH)
            msg_fatal("%s: readable by every account (mode %04o): make it readable only by "
                      "milter-smime's user (chmod 0600 or 0640)",
                      keypath, st.st_mode & 07777);
        if ((key = smime_key_file(keypath, &err)) == NULL)
            msg_fatal("%s", err);
        if (X509_check_private_key(leaf, key) != 1)
            msg_fatal("%s does not match the certificate in %s", keypath, cert_file);
        EVP_PKEY_free(key);
        if (X509_check_purpose(leaf, X509_PURPOSE_SMIME_SIGN, 0) != 1)
            msg_fatal("%s: this certificate may not sign e-mail (key usage)", cert_file);
        key_file = keypath;
    } else {
        if ((store = smime_store(var_smime_trust_anchors, var_smime_crl_files, &err)) == NULL)
            msg_fatal("%s", err);
        if (!smime_usable_for_encryption(leaf, certs, store, &reason))
            msg_fatal("%s: not usable for encryption: %s", cert_file, reason);
        X509_STORE_free(store);
        key_file = NULL;
    }
    if (strcmp(scope, "address") == 0 && !has_email(&ci, owner))
        msg_warn("%s: the certificate does not name %s (it names %s)", cert_file, owner,
                 ci.emails[0] ? ci.emails[0] : "no e-mail address");
    pem = smime_x509_pem(leaf, certs);
    {
        const char *p[11] = {usage_kind,   scope,     owner,     ci.fingerprint,
                             ci.subject,   ci.issuer, ci.serial, ci.not_before,
                             ci.not_after, pem,       key_file};

        res = pgu_must(conn,
                       "INSERT INTO smime_cert (usage, scope, owner, fingerprint, subject, issuer, serial,"
                       " not_before, not_after, cert_pem, key_file) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                       " $8, $9, $10, $11) ON CONFLICT (usage, owner, fingerprint) DO UPDATE SET"
                       " key_file = EXCLUDED.key_file, cert_pem = EXCLUDED.cert_pem, revoked_at = NULL"
                       " RETURNING id",
                       11, p);
    }
    printf("%s certificate %s stored for %s %s (id %s): %s, valid until %s\n", usage_kind, ci.fingerprint,
           scope, owner, PQgetvalue(res, 0, 0), ci.subject, ci.not_after);
    pgu_audit(conn, "mssante-smime", "smime-import", owner, ci.fingerprint);
    PQclear(res);
    free(pem);
    free(owner);
    smime_certinfo_free(&ci);
    X509_free(leaf);
    smime_certs_free(certs);
    return 0;
}

/* cmd_list - the stored certificates of an owner, or all */
static int cmd_list(const char *who)
{
    const char *scope;
    char *owner = who ? owner_of(who, &scope) : NULL;
    const char *p[1] = {owner};
    PGresult *res = pgu_must(conn,
                             "SELECT id, usage, scope, owner, source, to_char(not_after, 'YYYY-MM-DD'),"
                             " CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
                             " WHEN now() > not_after THEN 'expired' WHEN now() < not_before"
                             " THEN 'not yet valid' ELSE 'valid' END, subject FROM smime_cert"
                             " WHERE $1::text IS NULL OR owner = $1"
                             " OR (scope = 'domain' AND owner = split_part($1, '@', 2))"
                             " ORDER BY owner, usage, not_after DESC",
                             1, p);

    printf("%-6s %-5s %-7s %-32s %-9s %-10s %-13s %s\n", "ID", "USE", "SCOPE", "OWNER", "SOURCE", "NOT AFTER",
           "STATE", "SUBJECT");
    for (int i = 0; i < PQntuples(res); i++)
        printf("%-6s %-5s %-7s %-32s %-9s %-10s %-13s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
               PQgetvalue(res, i, 6), PQgetvalue(res, i, 7));
    PQclear(res);
    free(owner);
    return 0;
}

/* cmd_show - one stored certificate in full */
static int cmd_show(const char *id)
{
    const char *p[1] = {id};
    static const char *const labels[] = {
        "id",         "usage",     "scope",    "owner",  "fingerprint", "subject", "issuer", "serial",
        "not before", "not after", "key file", "source", "created",     "revoked", NULL,
    };
    PGresult *res;

    if (strspn(id, "0123456789") != strlen(id) || *id == 0)
        msg_fatal("\"%s\": an ID is a number (see mssante-smime list)", id);
    res = pgu_must(conn,
                   "SELECT id, usage, scope, owner, fingerprint, subject, issuer, serial, not_before,"
                   " not_after, coalesce(key_file, '-'), source, created_at, coalesce(revoked_at::text, '-'),"
                   " cert_pem FROM smime_cert WHERE id = $1",
                   1, p);
    if (PQntuples(res) != 1)
        msg_fatal("no certificate with ID %s", id);
    for (int i = 0; labels[i]; i++)
        printf("%-12s %s\n", labels[i], PQgetvalue(res, 0, i));
    fputs(PQgetvalue(res, 0, 14), stdout);
    PQclear(res);
    return 0;
}

/* cmd_revoke - mark a stored certificate revoked (kept for the record) */
static int cmd_revoke(const char *id)
{
    const char *p[1] = {id};
    PGresult *res;

    if (strspn(id, "0123456789") != strlen(id) || *id == 0)
        msg_fatal("\"%s\": an ID is a number (see mssante-smime list)", id);
    res = pgu_must(conn,
                   "UPDATE smime_cert SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
                   " RETURNING owner, fingerprint",
                   1, p);
    if (PQntuples(res) != 1)
        msg_fatal("no certificate with ID %s in use", id);
    printf("certificate %s of %s revoked\n", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
    pgu_audit(conn, "mssante-smime", "smime-revoke", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

/* main - options, then one verb */
int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_LONGOPTS,
        {"cert", required_argument, 0, OPT_CERT},
        {"key", required_argument, 0, OPT_KEY},
        {0, 0, 0, 0},
    };
    struct cmd_common c;
    int ch, n;
    char *err = NULL, **a, *cert = NULL, *key = NULL;

    cmd_init(&c, argc, argv);
    while ((ch = getopt_long(argc, argv, CMD_SHORTOPTS, longopts, NULL)) != -1) {
        if (cmd_option(&c, ch, optarg))
            continue;
        if (ch == OPT_CERT)
            cert = optarg;
        else if (ch == OPT_KEY)
            key = optarg;
        else {
            usage(stderr);
            return 2;
        }
    }
    cmd_load(&c, usage);
    a = argv + optind;
    n = argc - optind;
    if (n < 1) {
        usage(stderr);
        return 2;
    }
    if ((conn = pgu_connect(var_database, var_db_connect_timeout, &err)) == NULL)
        msg_fatal("%s", err);
    if (strcmp(a[0], "import") == 0 && n == 3 && cert && strcmp(a[1], "own") == 0 && key)
        return cmd_import("own", a[2], cert, key);
    if (strcmp(a[0], "import") == 0 && n == 3 && cert && strcmp(a[1], "peer") == 0 && !key)
        return cmd_import("peer", a[2], cert, NULL);
    if (strcmp(a[0], "list") == 0 && n <= 2)
        return cmd_list(n == 2 ? a[1] : NULL);
    if (strcmp(a[0], "show") == 0 && n == 2)
        return cmd_show(a[1]);
    if (strcmp(a[0], "revoke") == 0 && n == 2)
        return cmd_revoke(a[1]);
    usage(stderr);
    return 2;
}
