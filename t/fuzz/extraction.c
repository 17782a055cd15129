/*
 * extraction - rows of the Annuaire Santé extraction file as annuaire-sync
 * reads them: header check, quoting, CRLF, BOM, wrong field counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../annuaire-sync/extraction.h"
#include "fuzz.h"

/* LLVMFuzzerTestOneInput - extraction files: read every row */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *fp = fopen(fuzz_file(data, size), "r");
    struct ex_reader r;
    char *err = NULL;
    int rc;

    if (fp == NULL)
        return 0;
    if (ex_open(&r, fp, "fuzz", &err) == 0) {
        while ((rc = ex_next(&r, &err)) > 0) {
            if (rc == 1) {
                for (int i = 0; i < EX_COLUMNS; i++)
                    fuzz_check(r.fields[i] != NULL && strlen(r.fields[i]) < size + 1);
                (void) ex_city(r.fields[EX_L6]);
            }
            free(err);
            err = NULL;
        }
    }
    ex_close(&r); /* after a failed ex_open too, as annuaire-sync does */
    free(err);
    fclose(fp);
    return 0;
}
