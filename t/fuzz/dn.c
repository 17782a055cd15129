/*
 * dn - RFC 4514 distinguished names (the liste blanche's operator DNs,
 * Postfix's {cert_subject}). Whatever parses must print as text that
 * parses again to an equal name, and every value must match itself.
 */
#include <stdlib.h>

#include "dn.h"
#include "fuzz.h"

/* LLVMFuzzerTestOneInput - distinguished names: parse and compare */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *out;
    const char *why;
    struct dn *dn = dn_parse(text, &why), *again;

    if (dn != NULL) {
        for (size_t i = 0; i < dn->n; i++)
            for (size_t k = 0; k < dn->rdn[i].n; k++)
                fuzz_check(dn_value_match(dn->rdn[i].ava[k].value, dn->rdn[i].ava[k].value));
        (void) dn_get(dn, "CN");
        out = dn_format(dn);
        again = dn_parse(out, &why);
        fuzz_check(again != NULL);
        fuzz_check(dn_equal(dn, again));
        dn_free(again);
        free(out);
        dn_free(dn);
    }
    free(text);
    return 0;
}
