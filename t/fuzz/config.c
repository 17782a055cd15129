/*
 * config - mssante.conf as every program reads it (params_load), and
 * "-o key=value" overrides. A file that loads prints (cfg_print) as a
 * file that loads again to the same settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"
#include "msg.h"
#include "params.h"

/* printed - the explicit settings as mssante.conf text */
static char *printed(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    if (fp == NULL)
        msg_fatal("open_memstream: %m");
    cfg_print(fp, mssante_params, 1);
    fclose(fp);
    return buf;
}

/* LLVMFuzzerTestOneInput - configuration text: parse, dump, parse again the same */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = NULL, *once, *twice, *text;

    if (params_load(fuzz_file(data, size), NULL, 0, &err) == 0) {
        once = printed();
        fuzz_check(params_load(fuzz_file((const uint8_t *) once, strlen(once)), NULL, 0, &err) == 0);
        twice = printed();
        fuzz_check(strcmp(once, twice) == 0);
        free(once);
        free(twice);
    } else {
        fuzz_check(err != NULL);
    }
    free(err);
    err = NULL;
    text = fuzz_cstr(data, size);
    if (cfg_set(mssante_params, text, &err) < 0)
        fuzz_check(err != NULL);
    free(err);
    free(text);
    msg_verbose = 0;
    return 0;
}
