/*
 * known - the mailboxes already in annuaire_bal, held by the run so that
 * the sources' rows are compared while they are read: only new and changed
 * rows are sent to the database, repeated addresses are noticed, and the
 * vanished ones are what is left unseen at the end.
 *
 * One entry per address (the database's and the source's new ones): the
 * address in an arena, the MD5 of its row, whether it belongs to the run's
 * source, and whether the run has seen it. A slot of the open-addressing
 * table holds an entry number and part of its hash, so that a probe rarely
 * reads an entry that is not the one; 535,000 mailboxes take about 45 MB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mymalloc.h"
#include "pgutil.h"
#include "sync.h"

#define KN_IN_DB 0x01 /* the database has this address */
#define KN_OURS  0x02 /* ... from the run's source */
#define KN_SEEN  0x04 /* the run has read it */

#define ADDR_GUESS 32 /* bytes of an address, with its end, to reserve room by */

struct kentry {
    uint32_t addr;         /* offset in the arena */
    unsigned char md5[16]; /* of the row */
    unsigned char flags;
};

struct known {
    struct kentry *e;
    size_t n, cap;
    uint64_t *slots; /* hash high bits << 32 | entry number + 1; 0 = empty */
    size_t nslots;   /* a power of two */
    char *arena;
    size_t alen, acap;
};

/* hash - FNV-1a of an address */
static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;

    while (len--)
        h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
    return h;
}

/* find - the slot of an address: its own, or the empty one it would take */
static size_t find(const struct known *k, const char *addr, size_t len, uint64_t h)
{
    size_t i = h & (k->nslots - 1);
    uint64_t tag = h & 0xffffffff00000000ULL;

    while (k->slots[i]) {
        if ((k->slots[i] & 0xffffffff00000000ULL) == tag) {
            const char *a = k->arena + k->e[(uint32_t) k->slots[i] - 1].addr;

            if (strncmp(a, addr, len) == 0 && a[len] == 0)
                return i;
        }
        i = (i + 1) & (k->nslots - 1);
    }
    return i;
}

/* rehash - the slots made again, nslots of them (a power of two), for entries all different */
static void rehash(struct known *k, size_t nslots)
{
    free(k->slots);
    k->nslots = nslots;
    k->slots = xcalloc(k->nslots, sizeof(*k->slots));
    for (size_t j = 0; j < k->n; j++) {
        const char *a = k->arena + k->e[j].addr;
        uint64_t h = hash(a, strlen(a));
        size_t i = h & (k->nslots - 1);

        while (k->slots[i]) /* no address to compare: they are all different */
            i = (i + 1) & (k->nslots - 1);
        k->slots[i] = (h & 0xffffffff00000000ULL) | (j + 1);
    }
}

/* grow - twice the slots, when three quarters are taken; 1 if it did */
static int grow(struct known *k)
{
    if (k->nslots && (k->n + 1) * 4 < k->nslots * 3)
        return 0;
    rehash(k, k->nslots ? k->nslots * 2 : 1 << 16);
    return 1;
}

/*
 * reserve - room for n entries at once (the database's estimate of its rows
 * and some for the day's new ones), rather than growing to it a step at a
 * time, each step hashing every address again
 */
static void reserve(struct known *k, size_t n)
{
    size_t nslots = 1 << 16;

    while (n * 4 >= nslots * 3)
        nslots *= 2;
    if (nslots > k->nslots)
        rehash(k, nslots);
    if (n > k->cap)
        k->e = xrealloc(k->e, (k->cap = n) * sizeof(*k->e));
    if (n * ADDR_GUESS > k->acap)
        k->arena = xrealloc(k->arena, k->acap = n * ADDR_GUESS);
}

/* add - a new entry at its empty slot i (from find; found again if the table grows) */
static struct kentry *add(struct known *k, size_t i, const char *addr, size_t len, uint64_t h)
{
    struct kentry *e;

    if (k->alen + len + 1 > k->acap)
        k->arena = xrealloc(k->arena, k->acap = (k->alen + len + 1) * 2);
    if (k->n == k->cap)
        k->e = xrealloc(k->e, (k->cap = k->cap ? k->cap * 2 : 4096) * sizeof(*k->e));
    if (grow(k))
        i = find(k, addr, len, h);
    e = &k->e[k->n];
    e->addr = (uint32_t) k->alen;
    e->flags = 0;
    memcpy(k->arena + k->alen, addr, len);
    k->arena[k->alen + len] = 0;
    k->alen += len + 1;
    k->slots[i] = (h & 0xffffffff00000000ULL) | ++k->n;
    return e;
}

/* unhex - 32 hex digits into 16 bytes; -1 if they are not */
static int unhex(const char *s, size_t len, unsigned char out[16])
{
    if (len != 32)
        return -1;
    for (int i = 0; i < 32; i++) {
        int c = s[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

        if (v < 0)
            return -1;
        out[i / 2] = (unsigned char) (i % 2 ? out[i / 2] | v : v << 4);
    }
    return 0;
}

/* known_load - every address of annuaire_bal with the hash of its row */
struct known *known_load(PGconn *conn, const char *source, struct counts *cnt, char **err)
{
    char *lit = PQescapeLiteral(conn, source, strlen(source)), *sql, *line;
    struct known *k = xcalloc(1, sizeof(*k));
    PGresult *res;
    size_t i;
    long rows;
    int len;

    cnt->existing = 0;
    if (query_long(conn,
                   "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'annuaire_bal'::regclass",
                   NULL, &rows, err) < 0) {
        PQfreemem(lit);
        known_free(k);
        return NULL;
    }
    reserve(k, (size_t) rows + (size_t) rows / 8);
    sql = xasprintf("COPY (SELECT address, row_hash, source = %s FROM annuaire_bal) TO STDOUT", lit);
    PQfreemem(lit);
    res = PQexec(conn, sql);
    free(sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        *err = pgu_error(conn);
        PQclear(res);
        known_free(k);
        return NULL;
    }
    PQclear(res);
    while ((len = PQgetCopyData(conn, &line, 0)) > 0) {
        char *t1 = memchr(line, '\t', (size_t) len);
        char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t) (line + len - (t1 + 1))) : NULL;
        unsigned char md5[16];
        size_t alen = t1 ? copy_unescape(line, (size_t) (t1 - line)) : 0;
        uint64_t h = hash(line, alen);
        struct kentry *e;

        if (t2 == NULL || unhex(t1 + 1, (size_t) (t2 - t1 - 1), md5) < 0) {
            if (*err == NULL) /* the rest is read all the same, to end the COPY */
                *err = xasprintf("annuaire_bal: unexpected row \"%.*s\"", len > 80 ? 80 : len, line);
        } else if (k->slots[i = find(k, line, alen, h)] == 0) {
            e = add(k, i, line, alen, h);
            memcpy(e->md5, md5, 16);
            e->flags = KN_IN_DB | (t2[1] == 't' ? KN_OURS : 0);
            cnt->existing += t2[1] == 't';
        }
        PQfreemem(line);
    }
    res = PQgetResult(conn);
    if (*err == NULL && (len != -1 || PQresultStatus(res) != PGRES_COMMAND_OK))
        *err = pgu_error(conn);
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    if (*err) {
        known_free(k);
        return NULL;
    }
    cnt->total = (long) k->n;
    return k;
}

/* known_see - what a row read by this run is: new, changed, same or read again */
enum known_verdict known_see(struct known *k, const char *addr, const unsigned char md5[16])
{
    size_t len = strlen(addr), i;
    uint64_t h = hash(addr, len);
    struct kentry *e;

    i = find(k, addr, len, h);
    if (k->slots[i] == 0) {
        e = add(k, i, addr, len, h);
        e->flags = KN_SEEN;
        memcpy(e->md5, md5, 16);
        return KNOWN_NEW;
    }
    e = &k->e[(uint32_t) k->slots[i] - 1];
    if (e->flags & KN_SEEN)
        return KNOWN_AGAIN;
    e->flags |= KN_SEEN;
    if (!(e->flags & KN_IN_DB))
        return KNOWN_NEW;
    return (e->flags & KN_OURS) && memcmp(e->md5, md5, 16) == 0 ? KNOWN_SAME : KNOWN_CHANGED;
}

/* known_unseen - fn for each address of the source this run has not read */
long known_unseen(const struct known *k, int (*fn)(void *, const char *), void *ctx)
{
    long n = 0;

    for (size_t j = 0; j < k->n; j++)
        if ((k->e[j].flags & (KN_OURS | KN_SEEN)) == KN_OURS) {
            if (fn(ctx, k->arena + k->e[j].addr) < 0)
                return -1;
            n++;
        }
    return n;
}

/* known_free - free the known addresses */
void known_free(struct known *k)
{
    if (k == NULL)
        return;
    free(k->e);
    free(k->slots);
    free(k->arena);
    free(k);
}
