/*
 * extraction - reader of the national extraction file.
 *
 * Parsing is by position, after the header has been checked against the
 * published column list: a file whose columns moved must stop the sync,
 * not load names into the wrong places.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "extraction.h"
#include "mymalloc.h"

const char *const ex_header_names[EX_COLUMNS] = {
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION structure BAL",
    "L3COMPLEMENTDISTRIBUTION structure BAL",
    "L4NUMEROVOIE structure BAL",
    "L4COMPLEMENTNUMEROVOIE structure BAL",
    "NL4TYPEVOIE structure BAL",
    "L4LIBELLEVOIE structure BAL",
    "L5LIEUDITMENTION structure BAL",
    "L6LIGNEACHEMINEMENT structure BAL",
    "Code postal structure BAL",
    "Département structure BAL",
    "Pays structure BAL",
};

/*
 * split - cut the current line into fields (at most EX_COLUMNS + 1 kept);
 * returns how many there are. An empty field after a final '|' is not one.
 */
static int split(struct ex_reader *r, size_t len)
{
    const char *s = r->line;
    char *o;
    size_t i = 0;
    int n = 0;

    if (r->bufcap < len + 1)
        r->buf = xrealloc(r->buf, r->bufcap = len + 1);
    o = r->buf;
    for (;;) {
        char *start = o;

        while (i < len && s[i] == ' ')
            i++;
        if (i < len && s[i] == '"') { /* quoted, "" inside */
            for (i++; i < len; i++) {
                if (s[i] == '"' && i + 1 < len && s[i + 1] == '"')
                    *o++ = s[i++];
                else if (s[i] == '"')
                    break;
                else
                    *o++ = s[i];
            }
            while (i < len && s[i] != '|')
                i++;
        } else {
            const char *bar = memchr(s + i, '|', len - i);
            size_t end = bar ? (size_t) (bar - s) : len;

            memcpy(o, s + i, end - i);
            o += end - i;
            i = end;
        }
        while (o > start && o[-1] == ' ')
            o--;
        *o++ = 0;
        if (n <= EX_COLUMNS)
            r->fields[n] = start;
        n++;
        if (i >= len)
            return n;
        i++; /* the '|' */
        if (i == len && n == EX_COLUMNS)
            return n; /* tolerated trailing '|' */
    }
}

/* read_line - one line without its CR/LF; length, or -1 at EOF */
static ssize_t read_line(struct ex_reader *r)
{
    ssize_t len = getline(&r->line, &r->cap, r->fp);

    if (len < 0)
        return -1;
    r->lineno++;
    while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
        r->line[--len] = 0;
    return len;
}

/* ex_open - start reading an extraction file: its header line checked */
int ex_open(struct ex_reader *r, FILE *fp, const char *path, char **err)
{
    ssize_t len;
    int n;

    memset(r, 0, sizeof(*r));
    r->fp = fp;
    r->path = path;
    if ((len = read_line(r)) < 0) {
        *err = xasprintf("%s: empty file (no header line)", path);
        return -1;
    }
    if (len >= 3 && memcmp(r->line, "\xEF\xBB\xBF", 3) == 0) {
        memmove(r->line, r->line + 3, (size_t) len - 2);
        len -= 3;
    }
    n = split(r, (size_t) len);
    if (n != EX_COLUMNS) {
        *err = xasprintf("%s:1: header has %d columns, expected %d", path, n, EX_COLUMNS);
        return -1;
    }
    for (int i = 0; i < EX_COLUMNS; i++) {
        if (strcmp(r->fields[i], ex_header_names[i]) != 0) {
            *err = xasprintf("%s:1: header column %d is \"%.60s\", expected \"%s\"", path, i + 1,
                             r->fields[i], ex_header_names[i]);
            return -1;
        }
    }
    return 0;
}

/* ex_next - the next row of an extraction file */
int ex_next(struct ex_reader *r, char **err)
{
    ssize_t len;
    int n;

    do {
        errno = 0;
        if ((len = read_line(r)) < 0) {
            if (ferror(r->fp)) {
                *err = xasprintf("%s:%ld: read error: %s", r->path, r->lineno + 1, strerror(errno));
                return -1;
            }
            return 0;
        }
    } while (len == 0); /* blank lines */
    if (memchr(r->line, 0, (size_t) len) || !utf8_valid(r->line, (size_t) len)) {
        *err = xasprintf("line %ld: not valid UTF-8", r->lineno);
        return 2;
    }
    if ((n = split(r, (size_t) len)) != EX_COLUMNS) {
        *err = xasprintf("line %ld: %d columns, expected %d", r->lineno, n, EX_COLUMNS);
        return 2;
    }
    return 1;
}

/* ex_close - free a reader (not its file) */
void ex_close(struct ex_reader *r)
{
    free(r->line);
    free(r->buf);
}

/* ex_city - the city of an L6 line (after the postcode) */
const char *ex_city(const char *l6)
{
    const char *p = l6;

    while (isdigit((unsigned char) *p) || (*p >= 'A' && *p <= 'B' && p != l6))
        p++; /* 2A/2B: Corsica */
    while (*p == ' ')
        p++;
    return p;
}
