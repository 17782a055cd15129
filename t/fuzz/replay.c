/*
 * replay - run a fuzz target once on each input file, or on every file of
 * each directory given; what the test suite uses to replay the corpus.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "msg.h"
#include "mymalloc.h"

static unsigned long count;

/* run_file - one corpus file through the fuzz target */
static void run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (fp == NULL)
        msg_fatal("%s: cannot open: %s", path, strerror(errno));
    do {
        if (len == cap)
            buf = xrealloc(buf, cap = cap ? 2 * cap : 65536);
        n = fread(buf + len, 1, cap - len, fp);
        len += n;
    } while (n > 0);
    if (ferror(fp))
        msg_fatal("%s: read error", path);
    fclose(fp);
    /* Exactly the input's bytes, as libFuzzer gives them: a read past them is seen. */
    buf = xrealloc(buf, len ? len : 1);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    count++;
}

/* by_name - scandir order by name */
static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* main - every file of the corpus directories through the target */
int main(int argc, char **argv)
{
    struct stat st;

    msg_open(argv[0], 1);
    for (int i = 1; i < argc; i++) {
        struct dirent **ents;
        int n;

        if (stat(argv[i], &st) < 0)
            msg_fatal("%s: %s", argv[i], strerror(errno));
        if (!S_ISDIR(st.st_mode)) {
            run_file(argv[i]);
            continue;
        }
        if ((n = scandir(argv[i], &ents, NULL, by_name)) < 0)
            msg_fatal("%s: cannot list: %s", argv[i], strerror(errno));
        for (int k = 0; k < n; k++) {
            char *p = xasprintf("%s/%s", argv[i], ents[k]->d_name);

            if (ents[k]->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode))
                run_file(p);
            free(p);
            free(ents[k]);
        }
        free(ents);
    }
    printf("%lu inputs\n", count);
    return 0;
}
