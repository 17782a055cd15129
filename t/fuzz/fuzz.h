/*
 * fuzz - what every fuzz target shares.
 *
 * A target defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer program ("make fuzz"); built with
 * replay.c it runs the inputs it is given once each, which is how the
 * test suite replays the seed corpus and every input that once crashed.
 */
#ifndef MSSANTE_FUZZ_H
#define MSSANTE_FUZZ_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_cstr - the input as a NUL-terminated string (free it) */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* fuzz_file - a path whose file holds exactly the input (rewritten each call) */
const char *fuzz_file(const uint8_t *data, size_t size);

/* fuzz_check - a property of the code under test; abort (a finding) when false */
#define fuzz_check(cond) ((cond) ? (void) 0 : fuzz_fail(#cond, __FILE__, __LINE__))
void fuzz_fail(const char *what, const char *file, int line) __attribute__((noreturn));

/*
 * fuzz_pki - a test CA and one end-entity certificate (RSA, signatures and
 * S/MIME, e-mail "fuzz@a.mssante.test") made once per process; *anchors
 * is the path of a file holding the CA certificate in PEM.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
void fuzz_pki(X509 **ca, X509 **cert, EVP_PKEY **key, const char **anchors);
#endif
