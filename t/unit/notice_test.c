/*
 * notice_test - notice_send through a recording sendmail: the arguments and
 * the message it is given; a sendmail that refuses, even before reading,
 * is reported by its exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notice.h"
#include "tap.h"

static char dir[] = "/tmp/notice_test.XXXXXX";

/* script - an executable shell script in the test's directory; returns its path (malloc'd) */
static char *script(const char *name, const char *text)
{
    char *path = NULL;
    FILE *fp;

    if (asprintf(&path, "%s/%s", dir, name) < 0 || (fp = fopen(path, "w")) == NULL)
        return NULL;
    fprintf(fp, "#!/bin/sh\n%s\n", text);
    fclose(fp);
    chmod(path, 0755);
    return path;
}

/* slurp - a file's content (malloc'd), or NULL */
static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *fp = fopen(path, "r");
    size_t n;

    if (fp == NULL)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return strdup(buf);
}

int main(void)
{
    char *ok_sh, *refuse_sh, *err = NULL, *got, *big, *text, out[64];
    size_t big_len = 65536 + 2048 - 200;

    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(out, sizeof(out), "%s/out", dir);
    if (asprintf(&text, "{ echo \"ARGS $*\"; cat; } > %s", out) < 0)
        return 1;
    ok_sh = script("record", text);
    free(text);
    refuse_sh = script("refuse", "exit 75");

    ok(notice_send(ok_sh, "notices@a.test", "jean@perso.test", "Nouveau message", "Bonjour.\n", &err) == 0,
       "a sendmail that takes the message: sent");
    got = slurp(out);
    like(got, "ARGS -i -f notices@a.test -- jean@perso.test\n", "sendmail -i -f sender -- recipient");
    like(got, "\nTo: jean@perso.test\n", "the To header");
    like(got, "\nAuto-Submitted: auto-generated\n", "marked as automatic");
    like(got, "\n\nBonjour.\n", "the body after the headers");
    free(got);

    /*
     * A message of a pipe's 64 kB and a little more: stdio writes the 64 kB at once,
     * the rest only at the close, blocked until the sendmail has left: a broken pipe.
     */
    big = malloc(big_len + 1);
    memset(big, 'x', big_len);
    big[big_len] = '\0';
    ok(notice_send(refuse_sh, "notices@a.test", "fail@perso.test", "s", big, &err) < 0,
       "a sendmail that exits 75 without reading: not sent");
    like(err, "failed (exit 75)", "its exit status is the reason given");
    free(err);
    err = NULL;
    ok(notice_send(refuse_sh, "notices@a.test", "fail@perso.test", "s", "short\n", &err) < 0,
       "the same with a short message: not sent");
    like(err, "failed (exit 75)", "the same reason");
    free(err);
    free(big);

    unlink(out);
    unlink(ok_sh);
    unlink(refuse_sh);
    free(ok_sh);
    free(refuse_sh);
    ok(rmdir(dir) == 0, "the test's directory removed");
    return done_testing();
}
