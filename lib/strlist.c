/*
 * strlist - NULL-terminated arrays of strings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mymalloc.h"
#include "strlist.h"

/* strlist_split - items of s separated by any character of seps */
char  **strlist_split(const char *s, const char *seps)
{
    char  **list = xcalloc(1, sizeof(char *));
    size_t  n = 0;

    while (s && *s) {
        size_t  len = strcspn(s, seps), b = 0, e = len;

        while (b < e && (s[b] == ' ' || s[b] == '\t'))
            b++;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (e > b) {
            list = xrealloc(list, (n + 2) * sizeof(char *));
            list[n++] = xstrndup(s + b, e - b);
            list[n] = NULL;
        }
        s += len;
        if (*s)
            s++;
    }
    return list;
}

int strlist_has(char **list, const char *s)
{
    for (; list && *list; list++)
        if (strcasecmp(*list, s) == 0)
            return 1;
    return 0;
}

void strlist_free(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}
