/*
 * trust-header_test.c - the X-MSSante-Trust reader of the patient plugin.
 */
#include "tap.h"
#include "../../dovecot-patient-folder/trust-header.h"

/* verdict - one verdict parsed and compared */
static void verdict(const char *value, enum trust_kind want, const char *want_domain, const char *name)
{
    char domain[64] = "unchanged";
    enum trust_kind got = trust_header_parse(value, domain, sizeof(domain));

    if (!ok(got == want, "%s: kind", name))
        printf("#   got %d, want %d for [%s]\n", got, want, value);
    if (want_domain)
        is_str(domain, want_domain, "%s: domain", name);
}

/* main - verdicts written by milter-whitelist and malformed ones */
int main(void)
{
    verdict("mssante; domain=patient.mssante.fr; operator=\"CN=mx.cnam.fr,OU=123,O=CNAM,C=FR\"",
            TRUST_MSSANTE, "patient.mssante.fr", "what milter-whitelist writes");
    verdict("mssante; domain=Patient.MSSante.FR", TRUST_MSSANTE, "patient.mssante.fr",
            "domain is lower-cased");
    verdict("mssante;\r\n\tdomain=patient.mssante.fr;\r\n operator=\"CN=x\"", TRUST_MSSANTE,
            "patient.mssante.fr", "folded value");
    verdict("mssante; operator=\"CN=a; domain=patient.mssante.fr\"; domain=b.mssante.test", TRUST_MSSANTE,
            "b.mssante.test", "a domain= inside a quoted DN is not the domain");
    verdict("mssante; operator=\"O=\\\"Q\\\"\"; domain=x.test", TRUST_MSSANTE, "x.test",
            "escaped quotes inside the DN");
    verdict("local", TRUST_LOCAL, NULL, "local user");
    verdict("none", TRUST_NONE, NULL, "none");
    verdict("mssante", TRUST_INVALID, NULL, "mssante without a domain");
    verdict("mssante; domain=", TRUST_INVALID, NULL, "empty domain");
    verdict("mssante; domain=a.test; domain=patient.mssante.fr", TRUST_INVALID, NULL, "two domains");
    verdict("mssante; domain=patient.mssante.fr; operator=\"CN=x", TRUST_INVALID, NULL, "unterminated quote");
    verdict("mssante domain=patient.mssante.fr", TRUST_INVALID, NULL, "missing semicolon");
    verdict("mssante; domain patient.mssante.fr", TRUST_INVALID, NULL, "missing equals sign");
    verdict("trusted; domain=patient.mssante.fr", TRUST_INVALID, NULL, "unknown kind");
    verdict("", TRUST_INVALID, NULL, "empty value");
    verdict("mssante; domain=patient.mssante.fr;", TRUST_INVALID, NULL, "trailing semicolon");
    {
        char big[600], small[8];

        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        ok(trust_header_parse("mssante; domain=patient.mssante.fr", small, sizeof(small)) == TRUST_INVALID,
           "a domain longer than the caller's buffer is refused");
        ok(trust_header_parse(big, small, sizeof(small)) == TRUST_INVALID, "an over-long token is refused");
    }
    return done_testing();
}
