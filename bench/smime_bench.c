/*
 * smime_bench - the floor of milter-smime: OpenSSL's CMS called directly
 * in-process (sign detached SHA-256, then encrypt AES-256-CBC) on one
 * message held in memory, and the same work through our own code path
 * (canonical form, multipart/signed, envelope, spools) for comparison.
 *
 *   smime_bench MESSAGE SIGNER-CERT SIGNER-KEY RECIPIENT-CERT ROUNDS
 *
 * Prints "floor_ms ours_ms" of CPU time per message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/pem.h>

#include "../milter-smime/mime.h"
#include "../milter-smime/smime.h"

/* cpu_ms - CPU time of the process in ms */
static double cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* load - a whole file in memory */
static void *load(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;

    if (fp == NULL || fseek(fp, 0, SEEK_END) < 0)
        exit(2);
    *len = (size_t) ftell(fp);
    rewind(fp);
    buf = malloc(*len + 1);
    if (buf == NULL || fread(buf, 1, *len, fp) != *len)
        exit(2);
    fclose(fp);
    return buf;
}

/* main - sign+encrypt CPU: OpenSSL CMS alone vs our outbound code */
int main(int argc, char **argv)
{
    size_t len;
    unsigned char *msg;
    FILE *fp;
    X509 *cert, *rcpt;
    EVP_PKEY *key;
    STACK_OF(X509) *rcpts = sk_X509_new_null();
    int rounds;
    double t, floor_ms, ours_ms;

    if (argc != 6)
        return 2;
    msg = load(argv[1], &len);
    rounds = atoi(argv[5]);
    if ((fp = fopen(argv[2], "r")) == NULL || (cert = PEM_read_X509(fp, NULL, NULL, NULL)) == NULL)
        return 2;
    fclose(fp);
    if ((fp = fopen(argv[3], "r")) == NULL || (key = PEM_read_PrivateKey(fp, NULL, NULL, NULL)) == NULL)
        return 2;
    fclose(fp);
    if ((fp = fopen(argv[4], "r")) == NULL || (rcpt = PEM_read_X509(fp, NULL, NULL, NULL)) == NULL)
        return 2;
    fclose(fp);
    sk_X509_push(rcpts, rcpt);

    /*
     * The floor: only what any signer and encrypter must do, the way OpenSSL
     * does it fastest: the detached signature over the message, then one
     * envelope streamed over message and signature (no MIME around them)
     * through OpenSSL's base64 filter into a sink (the result is not kept).
     */
    t = cpu_ms();
    for (int i = 0; i < rounds; i++) {
        BIO *in = BIO_new_mem_buf(msg, (int) len), *sig = BIO_new(BIO_s_mem()), *both;
        BIO *b64 = BIO_push(BIO_new(BIO_f_base64()), BIO_new(BIO_s_null()));
        CMS_ContentInfo *s = CMS_sign(cert, key, NULL, in, CMS_DETACHED | CMS_BINARY), *e;
        unsigned char *cat;
        char *p;
        long n;

        i2d_CMS_bio(sig, s);
        n = BIO_get_mem_data(sig, &p);
        if ((cat = malloc(len + (size_t) n)) == NULL)
            return 2;
        memcpy(cat, msg, len);
        memcpy(cat + len, p, (size_t) n);
        both = BIO_new_mem_buf(cat, (int) (len + (size_t) n));
        e = CMS_encrypt(rcpts, both, EVP_aes_256_cbc(), CMS_BINARY | CMS_STREAM);
        if (e == NULL || i2d_CMS_bio_stream(b64, e, both, CMS_BINARY | CMS_STREAM) != 1 ||
            BIO_flush(b64) != 1)
            return 1;
        CMS_ContentInfo_free(s);
        CMS_ContentInfo_free(e);
        BIO_free(in);
        BIO_free(sig);
        BIO_free(both);
        BIO_free_all(b64);
        free(cat);
    }
    floor_ms = (cpu_ms() - t) / rounds;

    t = cpu_ms();
    for (int i = 0; i < rounds; i++) {
        struct spool canon, signed_, enc;
        struct smime_signer signer = {cert, key, NULL};
        char *ctype = NULL, *err = NULL;

        spool_init(&canon, 1 << 20, "/tmp");
        spool_init(&signed_, 1 << 20, "/tmp");
        spool_init(&enc, 1 << 20, "/tmp");
        if (mime_canon(msg, len, &canon) < 0 ||
            smime_sign(spool_data(&canon), spool_size(&canon), &signer, &signed_, &ctype, &err) < 0 ||
            smime_encrypt(spool_data(&signed_), spool_size(&signed_), rcpts, &enc, &err) < 0) {
            fprintf(stderr, "smime_bench: %s\n", err ? err : "failed");
            return 1;
        }
        free(ctype);
        spool_free(&canon);
        spool_free(&signed_);
        spool_free(&enc);
    }
    ours_ms = (cpu_ms() - t) / rounds;
    printf("%.3f %.3f\n", floor_ms, ours_ms);
    return 0;
}
