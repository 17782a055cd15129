/*
 * doveadm - mssante-admin asks Dovecot about mail, and acts on it, through
 * doveadm (setting admin_doveadm): never by reading or writing mail files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "mymalloc.h"
#include "params.h"
#include "strlist.h"

/* doveadm - run doveadm with the configured command line, its output captured */
char *doveadm(const char *what, const char *const *args)
{
    char **words = strlist_split(var_admin_doveadm, " ");
    size_t n = 0, nargs = 0, len = 0, cap = 4096;
    const char **argv;
    char *out = NULL;
    int fds[2], status = 0;
    ssize_t got;
    pid_t pid;

    while (words[n])
        n++;
    while (args[nargs])
        nargs++;
    argv = xcalloc(n + nargs + 1, sizeof(*argv));
    memcpy(argv, words, n * sizeof(*argv));
    memcpy(argv + n, args, nargs * sizeof(*argv));
    if (n == 0 || pipe(fds) < 0 || (pid = fork()) < 0) {
        fprintf(stderr, "mssante-admin: %s: cannot run \"%s\": %s\n", what, var_admin_doveadm,
                n ? strerror(errno) : "admin_doveadm is empty");
        free(argv);
        strlist_free(words);
        return NULL;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *) argv);
        fprintf(stderr, "mssante-admin: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    out = xmalloc(cap);
    while ((got = read(fds[0], out + len, cap - len - 1)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t) got;
        if (cap - len < 2)
            out = xrealloc(out, cap *= 2);
    }
    out[len] = 0;
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "mssante-admin: %s: \"%s %s\" failed (exit %d)\n", what, var_admin_doveadm,
                args[0][0] == '-' && nargs > 2 ? args[2] : args[0],
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        free(out);
        out = NULL;
    }
    free(argv);
    strlist_free(words);
    return out;
}
