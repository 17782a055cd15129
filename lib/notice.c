/*
 * notice - the add-on's own short messages through the local sendmail.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mymalloc.h"
#include "notice.h"
#include "strlist.h"

/* q_encode - an RFC 2047 "Q" encoded word of UTF-8 text */
static char *q_encode(const char *s)
{
    char *out = xmalloc(3 * strlen(s) + 13), *o = out;

    o += sprintf(o, "=?UTF-8?Q?");
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == ' ')
            *o++ = '_';
        else if (*p < 0x80 && isalnum(*p))
            *o++ = (char) *p;
        else
            o += sprintf(o, "=%02X", *p);
    }
    strcpy(o, "?=");
    return out;
}

/* notice_send - send a short text message through sendmail */
int notice_send(const char *sendmail, const char *sender, const char *rcpt, const char *subject,
                const char *body, char **err)
{
    char **words = strlist_split(sendmail, " ");
    size_t n = 0;
    const char **argv;
    int fds[2], status = 0, werr;
    pid_t pid, ret;
    FILE *fp;
    char *subj;

    while (words[n])
        n++;
    if (n == 0 || *sender == 0) {
        strlist_free(words);
        *err = xstrdup("no sendmail command or no sender configured");
        return -1;
    }
    argv = xcalloc(n + 6, sizeof(*argv));
    memcpy(argv, words, n * sizeof(*argv));
    argv[n] = "-i";
    argv[n + 1] = "-f";
    argv[n + 2] = sender;
    argv[n + 3] = "--";
    argv[n + 4] = rcpt;
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        *err = xasprintf("cannot run %s: %s", words[0], strerror(errno));
        free(argv);
        strlist_free(words);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[0], STDIN_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    fp = fdopen(fds[1], "w");
    subj = q_encode(subject);
    fprintf(fp,
            "From: %s\nTo: %s\nSubject: %s\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
            "Auto-Submitted: auto-generated\n\n%s",
            sender, rcpt, subj, body);
    free(subj);
    werr = ferror(fp) ? EIO : 0;
    if (fclose(fp) != 0)
        werr = errno;
    /* A signal handler of the caller's (Dovecot's SIGCHLD) may interrupt the wait. */
    while ((ret = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        /* again */;
    /* A sendmail that refuses may leave before reading: its own status says more than the broken pipe. */
    if (ret < 0)
        *err = xasprintf("%s: wait: %s", words[0], strerror(errno));
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        *err = xasprintf("%s failed (%s %d)", words[0], WIFEXITED(status) ? "exit" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    else if (werr != 0)
        *err = xasprintf("%s: cannot write the message: %s", words[0], strerror(werr));
    else
        *err = NULL;
    free(argv);
    strlist_free(words);
    return *err ? -1 : 0;
}
