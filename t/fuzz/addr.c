/*
 * addr - e-mail addresses and domain names from the envelope, headers and
 * configuration. A canonical domain is a fixed point of domain_canon.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "strlist.h"

/* LLVMFuzzerTestOneInput - addresses: parse, canonical form stable, lists split */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *canon, *again, *err = NULL, **list;
    const char *why;
    struct addr a;

    (void) utf8_valid((const char *) data, size);
    if (addr_parse(text, &a, &why) == 0) {
        fuzz_check(a.domain != NULL && a.key != NULL);
        again = domain_canon(a.domain, &why);
        fuzz_check(again != NULL && strcmp(again, a.domain) == 0);
        free(again);
        addr_free(&a);
    }
    if ((canon = domain_canon(text, &why)) != NULL) {
        again = domain_canon(canon, &why);
        fuzz_check(again != NULL && strcmp(again, canon) == 0);
        free(again);
        free(canon);
    }
    if ((list = domain_list(text, "fuzz_domains", &err)) != NULL)
        strlist_free(list);
    free(err);
    free(text);
    return 0;
}
