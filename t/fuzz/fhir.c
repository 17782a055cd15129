/*
 * fhir - Bundles of the Annuaire Santé FHIR API (and OperationOutcomes),
 * as annuaire-sync reads each page.
 */
#include <stdlib.h>
#include <string.h>

#include "../../annuaire-sync/fhir.h"
#include "../../annuaire-sync/staging.h"
#include "fuzz.h"

/* row - count one row */
static int row(void *ctx, long entry, const char *const *values)
{
    size_t *rows = ctx;

    fuzz_check(entry >= 0);
    for (int i = 0; i < ST_NCOLS; i++)
        if (values[i] != NULL)
            (void) strlen(values[i]);
    ++*rows;
    return 0;
}

/* LLVMFuzzerTestOneInput - FHIR bundles: every row read or a clear error */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *next = NULL, *err = NULL;
    size_t rows = 0;

    if (fhir_bundle((const char *) data, size, "fuzz", row, &rows, &next, &err) < 0)
        fuzz_check(err != NULL && next == NULL);
    free(next);
    free(err);
    return 0;
}
