/*
 * privs - giving up root for good, the same way in every daemon.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "mymalloc.h"
#include "privs.h"

/* privs_drop - switch to an unprivileged account for good */
int privs_drop(const char *user, char **err)
{
    struct passwd *pw;

    if ((pw = getpwnam(user)) == NULL) {
        *err = xasprintf("unknown user \"%s\"", user);
        return -1;
    }
    if (pw->pw_uid == 0) {
        *err = xasprintf("refusing to run as \"%s\": it is uid 0", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        *err = xasprintf("cannot become user \"%s\": %s", user, strerror(errno));
        return -1;
    }
    /* Paranoia: a privilege drop that can be undone is not one. */
    if (setuid(0) == 0) {
        *err = xasprintf("privileges could be regained after becoming \"%s\"", user);
        return -1;
    }
    return 0;
}
