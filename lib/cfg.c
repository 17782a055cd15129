/*
 * cfg - typed "key = value" configuration files.
 *
 * The reader collects every assignment of a file, converts each value to
 * its type and checks its bounds, and only then stores the results. This
 * gives the all-or-nothing behaviour a reload needs: a typo in a new file
 * is reported and the old settings stay in force.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "msg.h"
#include "mymalloc.h"

/* One converted value, waiting to be stored. */
struct cfg_value {
    struct cfg_param *param;
    char *str;
    long num;
    char *origin;
};

/* find - the entry of a name, alias entries included */
static struct cfg_param *find(struct cfg_param *table, const char *name)
{
    for (struct cfg_param *p = table; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

/* cfg_lookup - find a parameter by name; a former name gives the current entry */
struct cfg_param *cfg_lookup(struct cfg_param *table, const char *name)
{
    struct cfg_param *p = find(table, name);

    return p && p->type == CFG_ALIAS ? find(table, p->defval) : p;
}

/* lookup_warn - cfg_lookup, with a warning at WHERE when a former name is used */
static struct cfg_param *lookup_warn(struct cfg_param *table, const char *name, const char *where)
{
    struct cfg_param *p = cfg_lookup(table, name);

    if (p && strcmp(p->name, name) != 0)
        msg_warn("%s: key \"%s\" is the former name of \"%s\": still accepted, rename it", where, name,
                 p->name);
    return p;
}

/* trim - remove leading and trailing white space in place */
static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char) *s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1]))
        *--e = 0;
    return s;
}

/* convert - turn the text of one value into its typed form */
static int convert(struct cfg_param *p, const char *text, const char *where, struct cfg_value *out,
                   char **err)
{
    char *end;
    long mult = 1;
    const char *kind = p->type == CFG_TIME ? "time (number with s, m, h or d)" : "number";

    out->param = p;
    out->str = NULL;
    out->num = 0;
    switch (p->type) {
    case CFG_STR:
        out->str = xstrdup(text);
        return 0;
    case CFG_BOOL:
        if (!strcasecmp(text, "yes") || !strcasecmp(text, "true") || !strcasecmp(text, "on") ||
            !strcmp(text, "1"))
            out->num = 1;
        else if (!strcasecmp(text, "no") || !strcasecmp(text, "false") || !strcasecmp(text, "off") ||
                 !strcmp(text, "0"))
            out->num = 0;
        else {
            *err = xasprintf("%s: key \"%s\": bad boolean \"%s\" (use yes or no)", where, p->name, text);
            return -1;
        }
        return 0;
    case CFG_INT:
    case CFG_TIME:
        errno = 0;
        out->num = strtol(text, &end, 10);
        if (end == text || errno == ERANGE) {
            *err = xasprintf("%s: key \"%s\": bad %s \"%s\"", where, p->name, kind, text);
            return -1;
        }
        if (p->type == CFG_TIME && *end && end[1] == 0) {
            switch (*end) {
            case 's':
                mult = 1;
                end++;
                break;
            case 'm':
                mult = 60;
                end++;
                break;
            case 'h':
                mult = 3600;
                end++;
                break;
            case 'd':
                mult = 86400;
                end++;
                break;
            default:
                break;
            }
        }
        if (*end) {
            *err = xasprintf("%s: key \"%s\": bad %s \"%s\"", where, p->name, kind, text);
            return -1;
        }
        if (out->num > LONG_MAX / mult || out->num < LONG_MIN / mult) {
            *err = xasprintf("%s: key \"%s\": value \"%s\" is too large", where, p->name, text);
            return -1;
        }
        out->num *= mult;
        if (out->num < p->min || out->num > p->max) {
            *err = xasprintf("%s: key \"%s\": value \"%s\" is out of range %ld..%ld%s", where, p->name, text,
                             p->min, p->max, p->type == CFG_TIME ? " seconds" : "");
            return -1;
        }
        return 0;
    case CFG_ALIAS: /* cfg_lookup never returns one */
        break;
    }
    *err = xasprintf("%s: key \"%s\": unsupported type", where, p->name);
    return -1;
}

/* store - write a converted value into its target */
static void store(struct cfg_value *v)
{
    struct cfg_param *p = v->param;

    switch (p->type) {
    case CFG_STR:
        free(*(char **) p->target);
        *(char **) p->target = v->str;
        v->str = NULL;
        break;
    case CFG_BOOL:
        *(int *) p->target = (int) v->num;
        break;
    case CFG_INT:
    case CFG_TIME:
        *(long *) p->target = v->num;
        break;
    case CFG_ALIAS:
        break;
    }
    free((char *) p->origin);
    p->origin = v->origin;
    v->origin = NULL;
}

/*
 * cfg_defaults - give every parameter its default value. String targets
 * must start out NULL (static storage does): store() frees the old value.
 */
int cfg_defaults(struct cfg_param *table, char **err)
{
    struct cfg_value v;

    for (struct cfg_param *p = table; p->name; p++) {
        if (p->type == CFG_ALIAS)
            continue;
        if (convert(p, p->defval, "built-in default", &v, err) < 0)
            return -1;
        v.origin = NULL;
        store(&v);
    }
    return 0;
}

/* cfg_set - apply one key=value assignment from the command line */
int cfg_set(struct cfg_param *table, const char *assignment, char **err)
{
    const char *eq = strchr(assignment, '=');
    struct cfg_param *p;
    struct cfg_value v;
    char *key, *val;
    int ret = -1;

    if (eq == NULL) {
        *err = xasprintf("-o %s: expected key=value", assignment);
        return -1;
    }
    key = xstrndup(assignment, (size_t) (eq - assignment));
    val = xstrdup(eq + 1);
    if ((p = lookup_warn(table, trim(key), "-o")) == NULL)
        *err = xasprintf("-o: unknown key \"%s\"", trim(key));
    else if (convert(p, trim(val), "-o", &v, err) == 0) {
        v.origin = xstrdup("-o");
        store(&v);
        ret = 0;
    }
    free(key);
    free(val);
    return ret;
}

/* cfg_load_file - parse, check, then store every assignment of a file */
int cfg_load_file(struct cfg_param *table, const char *path, char **err)
{
    FILE *fp;
    char *line = NULL, *pending = NULL;
    size_t cap = 0, nvals = 0, vals_cap = 0, lineno = 0, pending_line = 0;
    struct cfg_value *vals = NULL;
    int ret = 0;

    if ((fp = fopen(path, "r")) == NULL) {
        *err = xasprintf("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }

    /*
     * Each logical line is completed when the next non-continuation line
     * (or end of file) is seen; "pending" holds it meanwhile.
     */
    for (;;) {
        ssize_t len = getline(&line, &cap, fp);
        int cont = 0;

        if (len >= 0) {
            lineno++;
            if (memchr(line, 0, (size_t) len)) {
                *err = xasprintf("%s:%zu: NUL byte in line", path, lineno);
                ret = -1;
                break;
            }
            char *t = trim(line);
            if (*t == '#' || *t == 0)
                continue;
            cont = isspace((unsigned char) line[0]);
            if (cont && pending) {
                char *joined = xasprintf("%s %s", pending, t);
                free(pending);
                pending = joined;
                continue;
            }
            if (cont) {
                *err = xasprintf("%s:%zu: continuation line without a key before it", path, lineno);
                ret = -1;
                break;
            }
        }
        if (pending) {
            char *where = xasprintf("%s:%zu", path, pending_line);
            char *eq = strchr(pending, '=');
            struct cfg_param *p;

            if (eq == NULL) {
                *err = xasprintf("%s: expected \"key = value\", found \"%.60s\"", where, pending);
                ret = -1;
            } else {
                *eq = 0;
                char *key = trim(pending), *val = trim(eq + 1);

                if (*key == 0) {
                    *err = xasprintf("%s: missing key before \"=\"", where);
                    ret = -1;
                } else if ((p = lookup_warn(table, key, where)) == NULL) {
                    *err = xasprintf("%s: unknown key \"%s\"", where, key);
                    ret = -1;
                } else {
                    vals = xgrow(vals, &vals_cap, nvals + 1, sizeof(*vals));
                    if (convert(p, val, where, vals + nvals, err) < 0)
                        ret = -1;
                    else
                        vals[nvals++].origin = xstrdup(where);
                }
            }
            free(where);
            free(pending);
            pending = NULL;
            if (ret < 0)
                break;
        }
        if (len < 0)
            break;
        pending = xstrdup(trim(line));
        pending_line = lineno;
    }
    if (ret == 0 && ferror(fp)) {
        *err = xasprintf("%s: read error: %s", path, strerror(errno));
        ret = -1;
    }
    fclose(fp);
    free(line);
    free(pending);
    for (size_t i = 0; i < nvals; i++) {
        if (ret == 0)
            store(vals + i);
        free(vals[i].str);
        free(vals[i].origin);
    }
    free(vals);
    return ret;
}

/*
 * mask_password - copy a value with any libpq password hidden, so that
 * printing the effective settings never shows a database secret.
 */
static char *mask_password(const char *value)
{
    size_t len = value ? strlen(value) : 0;
    char *out, *p, *end, *colon;
    size_t n = 0;

    /* Each password becomes "*****": room for that per occurrence. */
    for (p = value ? strstr(value, "password=") : NULL; p; p = strstr(p + 1, "password="))
        n++;
    for (p = value ? strstr(value, "://") : NULL; p; p = strstr(p + 1, "://"))
        n++;
    out = xmalloc(len + 5 * n + 1);
    memcpy(out, value ? value : "", len + 1);

    /* Every one of them: libpq takes the last of repeated keywords. */
    for (p = strstr(out, "password="); p; p = strstr(p, "password=")) {
        p += sizeof("password=") - 1;
        end = p + strcspn(p, " \t");
        memmove(p + 5, end, strlen(end) + 1);
        memcpy(p, "*****", 5);
        p += 5;
    }
    for (p = strstr(out, "://"); p && (end = strchr(p + 3, '@')) != NULL; p = strstr(p + 3, "://")) {
        if ((colon = memchr(p + 3, ':', (size_t) (end - p - 3))) != NULL) {
            memmove(colon + 6, end, strlen(end) + 1);
            memcpy(colon + 1, "*****", 5);
        }
    }
    return out;
}

/* cfg_print - write the settings in the file's own syntax */
void cfg_print(FILE *fp, const struct cfg_param *table, int explicit_only)
{
    for (const struct cfg_param *p = table; p->name; p++) {
        if ((explicit_only && p->origin == NULL) || p->type == CFG_ALIAS)
            continue;
        switch (p->type) {
        case CFG_STR: {
            const char *v = *(char **) p->target;
            char *s = (strstr(p->name, "api_key") || strstr(p->name, "password")) && v && *v
                          ? xstrdup("*****")
                          : mask_password(v);
            fprintf(fp, "%s = %s\n", p->name, s);
            free(s);
            break;
        }
        case CFG_BOOL:
            fprintf(fp, "%s = %s\n", p->name, *(int *) p->target ? "yes" : "no");
            break;
        case CFG_INT:
            fprintf(fp, "%s = %ld\n", p->name, *(long *) p->target);
            break;
        case CFG_TIME:
            fprintf(fp, "%s = %lds\n", p->name, *(long *) p->target);
            break;
        case CFG_ALIAS:
            break;
        }
    }
}
