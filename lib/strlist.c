/*
 * strlist - NULL-terminated arrays of strings.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mymalloc.h"
#include "strlist.h"

/* strlist_split - items of s separated by any character of seps */
char **strlist_split(const char *s, const char *seps)
{
    char **list = xcalloc(1, sizeof(char *));
    size_t n = 0, cap = 1;

    while (s && *s) {
        size_t len = strcspn(s, seps), b = 0, e = len;

        while (b < e && (s[b] == ' ' || s[b] == '\t'))
            b++;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (e > b) {
            list = strlist_push(list, &n, &cap, xstrndup(s + b, e - b));
        }
        s += len;
        if (*s)
            s++;
    }
    return list;
}

/* strlist_push - append, keeping the list NULL-terminated */
char **strlist_push(char **list, size_t *n, size_t *cap, char *s)
{
    list = xgrow(list, cap, *n + 2, sizeof(char *));
    list[(*n)++] = s;
    list[*n] = NULL;
    return list;
}

/* strlist_has - ASCII case-insensitive membership */
int strlist_has(char **list, const char *s)
{
    for (; list && *list; list++)
        if (strcasecmp(*list, s) == 0)
            return 1;
    return 0;
}

/* strlist_free - the items and the list */
void strlist_free(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}
