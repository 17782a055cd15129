/*
 * fold - the search forms of names (annuaire_bal's *_f columns), computed
 * while the rows are read instead of by the server row after row.
 *
 * They must equal what the search compares them with, mssante_fold() of
 * the query (schema 003): so the run first asks the database for
 * mssante_fold() of every character of the Latin ranges (one query), and
 * folds a value character by character with that table (unaccent, lower
 * and translate all work one character at a time). A value with a
 * character outside the table is left to the database (fold() says so).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mymalloc.h"
#include "pgutil.h"
#include "sync.h"

/* The code points asked for: Latin letters, combining accents, punctuation. */
static const uint32_t ranges[][2] = {
    {0x0001, 0x024f},
    {0x0300, 0x036f},
    {0x1e00, 0x1eff},
    {0x2010, 0x2027},
};
#define FOLD_MAX 0x2028

static uint32_t off[FOLD_MAX]; /* in text; 0 = not in the table */
static unsigned char len[FOLD_MAX];
static struct buf text; /* the folded forms, after a dummy byte */

/* fold_load - the database's fold of each character of the Latin ranges */
int fold_load(PGconn *conn, char **err)
{
    struct buf sql = {0};
    PGresult *res;
    char *line;
    int n;

    if (text.len)
        return 0;
    buf_puts(&sql, "COPY (SELECT i, mssante_fold(chr(i)) FROM (");
    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
        buf_printf(&sql, "%sSELECT generate_series(%u, %u) AS i", r ? " UNION ALL " : "", ranges[r][0],
                   ranges[r][1]);
    buf_puts(&sql, ") c) TO STDOUT");
    res = PQexec(conn, sql.s);
    buf_free(&sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        *err = pgu_error(conn);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    buf_add(&text, "", 1); /* offset 0 means "not in the table" */
    while ((n = PQgetCopyData(conn, &line, 0)) > 0) {
        char *tab = memchr(line, '\t', (size_t) n);
        long cp = atol(line);
        size_t flen = tab ? copy_unescape(tab + 1, (size_t) (line + n - 1 - (tab + 1))) : 0;

        if (tab && cp > 0 && cp < FOLD_MAX && flen < 256) {
            off[cp] = (uint32_t) text.len;
            len[cp] = (unsigned char) flen;
            buf_add(&text, tab + 1, flen);
        }
        PQfreemem(line);
    }
    res = PQgetResult(conn);
    if (n != -1 || PQresultStatus(res) != PGRES_COMMAND_OK)
        *err = pgu_error(conn);
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    return *err ? -1 : 0;
}

/* fold - append the search form of v to b */
int fold(struct buf *b, const char *v)
{
    const unsigned char *s = (const unsigned char *) v;

    while (*s) {
        uint32_t cp;
        int n;

        if (*s < 0x80)
            cp = *s, n = 1;
        else if ((*s & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80)
            cp = (uint32_t) (*s & 0x1f) << 6 | (s[1] & 0x3f), n = 2;
        else if ((*s & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80)
            cp = (uint32_t) (*s & 0x0f) << 12 | (uint32_t) (s[1] & 0x3f) << 6 | (s[2] & 0x3f), n = 3;
        else
            return -1;
        if (cp >= FOLD_MAX || off[cp] == 0)
            return -1;
        buf_add(b, text.s + off[cp], len[cp]);
        s += n;
    }
    return 0;
}
