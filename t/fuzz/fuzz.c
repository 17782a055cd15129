/*
 * fuzz - helpers of the fuzz targets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fuzz.h"
#include "msg.h"
#include "mymalloc.h"

/* fuzz_cstr - the input as a NUL-terminated string */
char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);

    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* fuzz_file - the input as a file: one memory file per process, rewritten for each input */
const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    size_t done = 0;

    if (fd < 0) {
        if ((fd = memfd_create("fuzz-input", MFD_CLOEXEC)) < 0)
            msg_fatal("memfd_create: %m");
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0)
        msg_fatal("ftruncate: %m");
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t) done);

        if (n <= 0)
            msg_fatal("pwrite: %m");
        done += (size_t) n;
    }
    return path;
}

/* fuzz_fail - report a property that does not hold, and abort */
void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: property does not hold: %s\n", file, line, what);
    abort();
}

/* make_cert - a certificate for key, signed by the issuer's key (itself if none) */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int ca)
{
    X509 *x = X509_new();
    X509V3_CTX v3;
    static const char *const ca_ext[][2] =
        {
            {"basicConstraints", "critical,CA:TRUE"},
            {"keyUsage", "critical,keyCertSign,cRLSign"},
            {"subjectKeyIdentifier", "hash"},
            {0, 0},
        },
                             *const ee_ext[][2] = {
                                 {"basicConstraints", "CA:FALSE"},
                                 {"keyUsage", "critical,digitalSignature,keyEncipherment"},
                                 {"extendedKeyUsage", "emailProtection"},
                                 {"subjectAltName", "email:fuzz@a.mssante.test"},
                                 {"subjectKeyIdentifier", "hash"},
                                 {"authorityKeyIdentifier", "keyid:always"},
                                 {0, 0},
                             };
    const char *const(*ext)[2] = ca ? ca_ext : ee_ext;
    X509_NAME *name = X509_NAME_new();

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650);
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *) "FR", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *) "Fuzz", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    for (int i = 0; ext[i][0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, ext[i][0], ext[i][1]);

        if (e == NULL || !X509_add_ext(x, e, -1))
            msg_fatal("cannot add %s to a test certificate", ext[i][0]);
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, ikey ? ikey : key, EVP_sha256()))
        msg_fatal("cannot sign a test certificate");
    return x;
}

/* fuzz_pki - a test CA, a certificate and key issued by it, an anchors file */
void fuzz_pki(X509 **ca, X509 **cert, EVP_PKEY **key, const char **anchors)
{
    static X509 *c, *ee;
    static EVP_PKEY *k;
    static char path[64];

    if (c == NULL) {
        EVP_PKEY *cakey = EVP_RSA_gen(2048);
        int fd = memfd_create("fuzz-anchors", MFD_CLOEXEC);
        FILE *fp;

        if (cakey == NULL || (k = EVP_RSA_gen(2048)) == NULL || fd < 0)
            msg_fatal("cannot make the test PKI");
        c = make_cert("Fuzz CA", cakey, NULL, NULL, 1);
        ee = make_cert("fuzz.a.mssante.test", k, c, cakey, 0);
        EVP_PKEY_free(cakey);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if ((fp = fopen(path, "w")) == NULL || !PEM_write_X509(fp, c) || fclose(fp) != 0)
            msg_fatal("cannot write the test trust anchors");
    }
    *ca = c;
    *cert = ee;
    *key = k;
    *anchors = path;
}
