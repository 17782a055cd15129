/*
 * addr_test - address and domain parsing: canonical forms and refusals.
 */
#include <stdlib.h>

#include "addr.h"
#include "tap.h"

/* good - an address that must parse to the given domain and key */
static void good(const char *in, const char *domain, const char *key)
{
    struct addr a;
    const char *why = NULL;

    if (!ok(addr_parse(in, &a, &why) == 0, "accepts %s", in)) {
        printf("#   refused: %s\n", why);
        return;
    }
    is_str(a.domain, domain, "domain of %s", in);
    is_str(a.key, key, "key of %s", in);
    addr_free(&a);
}

/* bad - an address that must be refused with the given reason */
static void bad(const char *in, const char *reason)
{
    struct addr a;
    const char *why = NULL;

    ok(addr_parse(in, &a, &why) < 0, "refuses \"%s\"", in);
    like(why, reason, "reason for \"%s\"", in);
    addr_free(&a);
}

/* main - address parsing and canonical forms */
int main(void)
{
    const char *why;
    char *d;

    good("jean-marie.dupont@infirmier.mssante.fr", "infirmier.mssante.fr",
         "jean-marie.dupont@infirmier.mssante.fr");
    good("<Jean.Dupont@CH-Exemple.MSSante.fr>", "ch-exemple.mssante.fr", "jean.dupont@ch-exemple.mssante.fr");
    good("  123456789012345@patient.mssante.fr. ", "patient.mssante.fr",
         "123456789012345@patient.mssante.fr");
    good("\"a b\"@example.org", "example.org", "\"a b\"@example.org");
    good("secretariat.cardio@hôpital-exemple.fr", "xn--hpital-exemple-0ob.fr",
         "secretariat.cardio@xn--hpital-exemple-0ob.fr");
    good("x@XN--HPITAL-EXEMPLE-0OB.FR", "xn--hpital-exemple-0ob.fr", "x@xn--hpital-exemple-0ob.fr");
    good("éloïse@exemple.fr", "exemple.fr", "éloïse@exemple.fr");

    bad("", "empty address");
    bad("<>", "empty address");
    bad("no-at-sign", "no @");
    bad("@relay.example:user@example.org", "source route");
    bad("user@", "empty domain");
    bad("@example.org", "source route");
    bad("a..b@example.org", "misplaced dot");
    bad(".a@example.org", "misplaced dot");
    bad("a b@example.org", "invalid character in local part");
    bad("a@exa mple.org", "invalid character in domain");
    bad("a@example..org", "empty label");
    bad("a@-example.org", "hyphen");
    bad("a@example-.org", "hyphen");
    bad("a@localhost", "no dot");
    bad("a@[127.0.0.1]", "address literal");
    bad("a@ex\xff"
        "ample.org",
        "not valid UTF-8");
    bad("a\xc0\xafx@example.org", "not valid UTF-8");
    bad("a@ex\x01"
        "ample.org",
        "invalid character");
    bad("\"unterminated@example.org", "quoted");
    bad("<a@example.org", "angle brackets");
    bad("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org", "longer than 64");
    bad("a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", "longer than 63");

    d = domain_canon("MedeCin.MSSante.FR.", &why);
    is_str(d, "medecin.mssante.fr", "domain_canon folds case and the root dot");
    free(d);

    ok(utf8_valid("\xc3\xa9", 2) && !utf8_valid("\xed\xa0\x80", 3) && !utf8_valid("\xc3", 1),
       "utf8_valid: accepts é, refuses a surrogate and a truncated sequence");
    return done_testing();
}
