/*
 * publish - the directory as a read-only LDAP address book for mail clients
 * (Thunderbird, Roundcube, any client searching LDAP while writing).
 *
 * Each mailbox of annuaire_bal not on the liste rouge is an inetOrgPerson
 * entry uid=HASH,annuaire_publish_base (uid_of), with the mapping ldapsrc.c
 * reads (so a published tree can itself be synced): cn (the name shown), sn,
 * givenName, mail, postalCode, l, st (department), title (profession), o,
 * ou (service), employeeNumber (RPPS/ADELI national id), employeeType (BAL
 * type PER/ORG/APP/CAB). LDAP compares names by case only, not by accent:
 * cn, sn, givenName, l, title and o carry, after the name as written, its
 * unaccented and its folded spellings when they differ, so "leger",
 * "saint-etienne" and "saint etienne" find what annuaire-search finds.
 *
 * Only what differs from the last publication is written (table
 * annuaire_ldap: address and row hash of each published entry): new and
 * changed entries, entries gone or put on the liste rouge. Requests are
 * pipelined; with annuaire_publish_transactions, written by BATCH in LDAP
 * transactions (RFC 5805, slapd 2.5's back-mdb) when the server takes them:
 * one write of slapd's database for many entries, where each alone costs a
 * third more (off by default: slapd before 2.5.14 keeps the memory of each
 * request written so). The transactions alternate between two connections
 * (slapd takes one per connection): the next is sent while the server
 * commits the last. What the server confirmed
 * is recorded as it goes (on a connection of its own to PostgreSQL), so a
 * publication cut short is caught up by the next one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <ldap.h>
#include <openssl/evp.h>

#include "buf.h"
#include "ldapsrc.h"
#include "msg.h"
#include "mymalloc.h"
#include "params.h"
#include "pgutil.h"
#include "sync.h"

#define WINDOW     64   /* requests in flight */
#define BATCH      1000 /* requests written in one LDAP transaction */
#define RECORD_MAX 2000 /* confirmed entries recorded at once */
#define NCONN      2    /* connections the transactions alternate on */
#define SHOW_MAX   20   /* refused entries named in the log */
#define UID_LEN    16   /* hex digits of the RDN */

/* The published attributes: SQL over annuaire_bal b, and whether spelled three ways. */
static const struct {
    const char *attr, *sql;
    int spellings;
} attrs[] = {
    {"cn",
     "CASE WHEN b.bal_type = 'PER' AND coalesce(b.first_name, '') <> '' "
     "THEN concat_ws(' ', b.first_name, nullif(b.last_name, '')) "
     "ELSE coalesce(nullif(b.org_name, ''), nullif(b.last_name, ''), b.address) END",
     1},
    {"sn", "coalesce(nullif(b.last_name, ''), nullif(b.org_name, ''), b.address)", 1},
    {"givenName", "b.first_name", 1},
    {"mail", "b.address", 0},
    {"postalCode", "b.postcode", 0},
    {"l", "b.city", 1},
    {"st", "b.department", 0},
    {"title", "b.profession_label", 1},
    {"o", "b.org_name", 1},
    {"ou", "b.service", 0},
    {"employeeNumber", "b.national_id", 0},
    {"employeeType", "b.bal_type", 0},
};
#define NATTRS (sizeof(attrs) / sizeof(attrs[0]))
/* Columns: address, row_hash, known, the published values as text[] (one
 * element per attribute), whether each attribute changed, then the values. */
#define COL_ATTRS      3
#define COL_CHANGED    4
#define FIRST_ATTR_COL (COL_CHANGED + (int) NATTRS)

enum op_kind { OP_ADD, OP_MODIFY, OP_DELETE };

/* op - one request in flight and what it needs to be sent again or recorded */
struct op {
    int msgid;
    enum op_kind kind;
    PGresult *row; /* OP_ADD, OP_MODIFY: the entry's row */
    char *address, *dn;
};

/* lconn - one connection to the server, and the transaction open on it */
struct lconn {
    LDAP *ld;
    struct op ops[WINDOW]; /* requests in flight */
    int nops;
    struct berval *txnid; /* the open transaction (RFC 5805) */
    LDAPControl *txn_ctrl;
    int txn_failed;    /* a request the transaction did not take: its code */
    struct op *queued; /* taken by the transaction, written at its end */
    int nqueued;
    int ending; /* the message id of the transaction's end, its answer not read yet */
};

/* pub - one publication */
struct pub {
    struct lconn c[NCONN];
    int cur;                                     /* the connection the next requests go to */
    int txn_off;                                 /* the server takes no transaction: each request alone */
    PGconn *rec;                                 /* records what the server confirmed */
    int recording;                               /* a record sent on rec, its answer not read yet */
    struct buf done_addr, done_hash, done_attrs; /* array literals of confirmed entries */
    long ndone, written, deleted, refused;
    char *first_refusal;
    char **err;
};

static int confirmed(struct pub *p, const struct op *o);

/* Which entries select_sql() reads. */
enum sel {
    SEL_ALL,     /* every one to publish (--ldif) */
    SEL_CHANGED, /* those new or changed since their publication: the whole directory compared */
    SEL_PENDING, /* the same, among the addresses of annuaire_ldap_pending */
};

/*
 * select_sql - the entries to write; with, per attribute, whether it
 * differs from what was published (a modification rewrites, and slapd
 * re-indexes, only those).
 */
static char *select_sql(enum sel which)
{
    struct buf b = {0}, v = {0};

    for (size_t i = 0; i < NATTRS; i++) {
        buf_printf(&v, ", v%zu_0", i);
        if (attrs[i].spellings)
            buf_printf(&v, ", v%zu_1, v%zu_2", i, i);
    }
    buf_puts(&b, "SELECT address, h, known, new");
    for (size_t i = 0; i < NATTRS; i++)
        buf_printf(&b, ", old[%zu] IS DISTINCT FROM new[%zu]", i + 1, i + 1);
    buf_printf(&b, "%s FROM (SELECT address, h, known, old, ARRAY[", buf_str(&v));
    for (size_t i = 0; i < NATTRS; i++) {
        if (attrs[i].spellings)
            buf_printf(&b, "%sconcat_ws(E'\\n', v%zu_0, v%zu_1, v%zu_2)", i ? ", " : "", i, i, i);
        else
            buf_printf(&b, "%sconcat_ws(E'\\n', v%zu_0)", i ? ", " : "", i);
    }
    buf_printf(&b,
               "] AS new%s FROM (SELECT b.address AS address, coalesce(b.row_hash, '') AS h,"
               " l.address IS NOT NULL AS known, l.attrs AS old",
               buf_str(&v));
    for (size_t i = 0; i < NATTRS; i++) {
        buf_printf(&b, ", %s AS v%zu_0", attrs[i].sql, i);
        if (attrs[i].spellings)
            buf_printf(
                &b,
                ", CASE WHEN mssante_unaccent(%1$s) <> lower(%1$s) THEN mssante_unaccent(%1$s) END"
                " AS v%2$zu_1, CASE WHEN mssante_fold(%1$s) NOT IN (lower(%1$s), mssante_unaccent(%1$s))"
                " THEN mssante_fold(%1$s) END AS v%2$zu_2",
                attrs[i].sql, i);
    }
    /* Pending: each address looked up through the primary keys (LATERAL, OFFSET 0),
     * where the planner would read the whole of annuaire_bal for a day's few. */
    buf_puts(&b,
             which == SEL_PENDING
                 ? " FROM annuaire_ldap_pending p CROSS JOIN LATERAL (SELECT * FROM annuaire_bal b"
                   " WHERE b.address = p.address OFFSET 0) b LEFT JOIN LATERAL (SELECT * FROM annuaire_ldap l"
                   " WHERE l.address = b.address OFFSET 0) l ON true"
                 : " FROM annuaire_bal b LEFT JOIN annuaire_ldap l ON l.address = b.address");
    buf_puts(&b, " WHERE NOT b.liste_rouge");
    if (which != SEL_ALL)
        buf_puts(&b, " AND (l.address IS NULL OR l.row_hash <> coalesce(b.row_hash, ''))");
    buf_puts(&b, " OFFSET 0) s OFFSET 0) t"); /* OFFSET 0: each value computed once, not per use */
    buf_free(&v);
    return b.s;
}

/*
 * uid_of - the entry's RDN value: the first 16 hex digits of the SHA-256 of
 * the address. slapd walks a large search in the order of the RDNs, shortest
 * first: with mail= RDNs the long addresses of the organisations came last,
 * and a search for them read every person first. Hashed, the entries of any
 * kind are spread evenly along that walk.
 */
static void uid_of(const char *address, char uid[UID_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    EVP_Digest(address, strlen(address), md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < UID_LEN / 2; i++)
        snprintf(uid + 2 * i, 3, "%02x", md[i]);
}

/* dn_of - uid=HASH,BASE */
static char *dn_of(const char *address)
{
    char uid[UID_LEN + 1];

    uid_of(address, uid);
    return xasprintf("uid=%s,%s", uid, var_annuaire_publish_base);
}

/* mods_of - the entry's attributes from its row (add: only those with values) */
static LDAPMod **mods_of(PGresult *row, const char *dn, int add)
{
    LDAPMod **mods = xcalloc(NATTRS + 3, sizeof(*mods));
    int n = 0, col = FIRST_ATTR_COL;

    if (add) {
        static char *oc[] = {"top", "person", "organizationalPerson", "inetOrgPerson", NULL};
        struct berval **uid = xcalloc(2, sizeof(*uid));

        mods[n] = xcalloc(1, sizeof(LDAPMod));
        mods[n]->mod_op = LDAP_MOD_ADD;
        mods[n]->mod_type = "objectClass";
        mods[n++]->mod_values = oc;
        uid[0] = xcalloc(1, sizeof(struct berval)); /* the RDN's value, read from the DN */
        uid[0]->bv_val = strchr(dn, '=') + 1;
        uid[0]->bv_len = UID_LEN;
        mods[n] = xcalloc(1, sizeof(LDAPMod));
        mods[n]->mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
        mods[n]->mod_type = "uid";
        mods[n++]->mod_bvalues = uid;
    }
    for (size_t i = 0; i < NATTRS; i++) {
        int nv = attrs[i].spellings ? 3 : 1, k = 0;
        struct berval **vals = xcalloc((size_t) nv + 1, sizeof(*vals));

        for (int j = 0; j < nv; j++, col++) {
            if (PQgetisnull(row, 0, col) || *PQgetvalue(row, 0, col) == 0)
                continue;
            vals[k] = xcalloc(1, sizeof(struct berval));
            vals[k]->bv_val = PQgetvalue(row, 0, col);
            vals[k++]->bv_len = (ber_len_t) PQgetlength(row, 0, col);
        }
        if ((k == 0 && add) || (!add && *PQgetvalue(row, 0, COL_CHANGED + (int) i) != 't')) {
            for (int j = 0; j < k; j++)
                free(vals[j]);
            free(vals);
            continue; /* nothing to add, or unchanged */
        }
        mods[n] = xcalloc(1, sizeof(LDAPMod));
        mods[n]->mod_op = (add ? LDAP_MOD_ADD : LDAP_MOD_REPLACE) | LDAP_MOD_BVALUES;
        mods[n]->mod_type = (char *) attrs[i].attr;
        if (k == 0) {
            free(vals);
            vals = NULL; /* replace with nothing: the attribute goes */
        }
        mods[n++]->mod_bvalues = vals;
    }
    return mods;
}

/* mods_free - free a modification list */
static void mods_free(LDAPMod **mods)
{
    for (LDAPMod **m = mods; *m; m++) {
        if ((*m)->mod_op & LDAP_MOD_BVALUES)
            for (struct berval **v = (*m)->mod_bvalues; v && *v; v++)
                free(*v);
        if ((*m)->mod_op & LDAP_MOD_BVALUES)
            free((*m)->mod_bvalues);
        free(*m);
    }
    free(mods);
}

/*
 * send_op - send one request: 0 in flight, 1 nothing to send (a change of
 * the row that no published attribute shows: recorded at once), -1 and *err
 * when the server cannot be reached
 */
static int send_op(struct pub *p, struct lconn *c, struct op *o)
{
    LDAPControl *txn[2] = {c->txn_ctrl, NULL}, **ctrls = c->txnid ? txn : NULL;
    int rc;

    if (o->kind == OP_DELETE) {
        rc = ldap_delete_ext(c->ld, o->dn, ctrls, NULL, &o->msgid);
    } else {
        LDAPMod **mods = mods_of(o->row, o->dn, o->kind == OP_ADD);

        if (mods[0] == NULL) {
            mods_free(mods);
            return confirmed(p, o) < 0 ? -1 : 1;
        }
        rc = o->kind == OP_ADD ? ldap_add_ext(c->ld, o->dn, mods, ctrls, NULL, &o->msgid)
                               : ldap_modify_ext(c->ld, o->dn, mods, ctrls, NULL, &o->msgid);
        mods_free(mods);
    }
    if (rc != LDAP_SUCCESS) {
        *p->err = ldapc_error(c->ld, var_annuaire_publish_uri, rc);
        return -1;
    }
    c->nops++;
    return 0;
}

/* record_wait - the answer to the record last sent; 0, or -1 and *p->err */
static int record_wait(struct pub *p)
{
    PGresult *res;
    int ok = 1;

    while (p->recording) {
        if ((res = PQgetResult(p->rec)) == NULL) {
            p->recording = 0;
            break;
        }
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            ok = 0;
            if (*p->err == NULL)
                *p->err = pgu_error(p->rec);
        }
        PQclear(res);
    }
    return ok ? 0 : -1;
}

/*
 * record_done - what the server confirmed into annuaire_ldap (hash "":
 * deleted), sent without waiting: the database records one batch while
 * slapd writes the next
 */
static int record_done(struct pub *p)
{
    const char *v[3];
    int ok;

    if (record_wait(p) < 0)
        return -1;
    if (p->ndone == 0)
        return 0;
    buf_add(&p->done_addr, "}", 1);
    buf_add(&p->done_hash, "}", 1);
    buf_add(&p->done_attrs, "}", 1);
    v[0] = buf_str(&p->done_addr);
    v[1] = buf_str(&p->done_hash);
    v[2] = buf_str(&p->done_attrs);
    ok = PQsendQueryParams(
        p->rec,
        "WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
        " AS d (address, h, a)),"
        " gone AS (DELETE FROM annuaire_ldap l USING d WHERE d.h = '' AND l.address = d.address)"
        " INSERT INTO annuaire_ldap (address, row_hash, attrs) SELECT address, h, a::text[]"
        " FROM d WHERE h <> '' ON CONFLICT (address) DO UPDATE"
        " SET row_hash = EXCLUDED.row_hash, attrs = EXCLUDED.attrs",
        3, NULL, v, NULL, NULL, 0);
    if (!ok && *p->err == NULL)
        *p->err = pgu_error(p->rec);
    p->recording = ok;
    p->done_addr.len = p->done_hash.len = p->done_attrs.len = 0;
    p->ndone = 0;
    return ok ? 0 : -1;
}

/* confirmed - an entry the server holds as the request left it */
static int confirmed(struct pub *p, const struct op *o)
{
    const char *hash = o->kind == OP_DELETE ? NULL : PQgetvalue(o->row, 0, 1);

    pgu_array_add(&p->done_addr, o->address);
    pgu_array_add(&p->done_hash, hash ? hash : "");
    pgu_array_add(&p->done_attrs, hash ? PQgetvalue(o->row, 0, COL_ATTRS) : "");
    if (hash)
        p->written++;
    else
        p->deleted++;
    return ++p->ndone >= RECORD_MAX ? record_done(p) : 0;
}

/* op_clear - free what a request holds */
static void op_clear(struct op *o)
{
    PQclear(o->row);
    free(o->dn);
    free(o->address);
}

/* op_free - forget a request in flight */
static void op_free(struct lconn *c, int i)
{
    op_clear(&c->ops[i]);
    c->ops[i] = c->ops[--c->nops];
}

/* answer - wait for the answer to msgid (or any) on c; 1, or -1 and *p->err */
static int answer(struct pub *p, struct lconn *c, int msgid, LDAPMessage **res)
{
    struct timeval tv = {var_annuaire_ldap_timeout, 0};
    int rc = ldap_result(c->ld, msgid, LDAP_MSG_ALL, &tv, res);

    if (rc > 0)
        return 1;
    *p->err = rc == 0
                  ? xasprintf("%s: no answer in %lds", var_annuaire_publish_uri, var_annuaire_ldap_timeout)
                  : ldapc_error(c->ld, var_annuaire_publish_uri, LDAP_SERVER_DOWN);
    ldap_msgfree(*res);
    *res = NULL;
    return -1;
}

/*
 * collect - wait for one answer on c and act on it; -1 when the server is
 * gone. Only requests are in flight on c meanwhile: no transaction's end.
 */
static int collect(struct pub *p, struct lconn *c)
{
    LDAPMessage *res = NULL;
    int rc, code = 0, i;
    char *diag = NULL;

    if (answer(p, c, LDAP_RES_ANY, &res) < 0)
        return -1;
    for (i = 0; i < c->nops && c->ops[i].msgid != ldap_msgid(res); i++)
        ;
    rc = ldap_parse_result(c->ld, res, &code, NULL, &diag, NULL, NULL, 1);
    if (i == c->nops) { /* not ours: cannot happen */
        ldap_memfree(diag);
        return 0;
    }
    if (rc != LDAP_SUCCESS)
        code = rc;
    struct op *o = &c->ops[i];
    int ret = 0;

    if (c->txnid && code != LDAP_SERVER_DOWN) {
        /* Taken by the transaction, or not: then the transaction is given up
         * at its end, and each of its requests written again alone. */
        if (code != LDAP_TXN_SPECIFY_OKAY && c->txn_failed == 0)
            c->txn_failed = code;
        c->queued[c->nqueued++] = *o;
        c->ops[i] = c->ops[--c->nops];
    } else if (code == LDAP_SUCCESS || (o->kind == OP_DELETE && code == LDAP_NO_SUCH_OBJECT)) {
        ret = confirmed(p, o);
        op_free(c, i);
    } else if ((o->kind == OP_ADD && code == LDAP_ALREADY_EXISTS) ||
               (o->kind == OP_MODIFY && code == LDAP_NO_SUCH_OBJECT)) {
        struct op again = *o; /* the tree and our record disagree: the other way */

        c->ops[i] = c->ops[--c->nops];
        again.kind = o->kind == OP_ADD ? OP_MODIFY : OP_ADD;
        c->ops[c->nops] = again;
        if ((ret = send_op(p, c, &c->ops[c->nops])) != 0)
            op_clear(&again);
        ret = ret < 0 ? -1 : 0;
    } else if (code == LDAP_SERVER_DOWN || code == LDAP_UNAVAILABLE || code == LDAP_BUSY ||
               code == LDAP_UNWILLING_TO_PERFORM || code == LDAP_INSUFFICIENT_ACCESS ||
               code == LDAP_NO_SUCH_OBJECT || code == LDAP_TIMEOUT || code == LDAP_CONNECT_ERROR) {
        /* The tree as a whole refuses (no base, no rights, server leaving). */
        *p->err = xasprintf("%s: %s %s: %s%s%s", var_annuaire_publish_uri,
                            o->kind == OP_DELETE ? "delete"
                            : o->kind == OP_ADD  ? "add"
                                                 : "modify",
                            o->dn, ldap_err2string(code), diag && *diag ? " - " : "", diag ? diag : "");
        op_free(c, i);
        ret = -1;
    } else {
        /* This entry alone is refused (a value the schema does not take). */
        if (++p->refused <= SHOW_MAX)
            msg_warn("%s: %s refused: %s%s%s", var_annuaire_publish_uri, o->address, ldap_err2string(code),
                     diag && *diag ? " - " : "", diag ? diag : "");
        if (p->first_refusal == NULL)
            p->first_refusal = xasprintf("%s: %s", o->address, ldap_err2string(code));
        op_free(c, i);
    }
    ldap_memfree(diag);
    return ret;
}

/* drain - every request in flight on c answered; 0, or -1 and *p->err */
static int drain(struct pub *p, struct lconn *c)
{
    while (c->nops > 0)
        if (collect(p, c) < 0)
            return -1;
    return 0;
}

/* submit - queue one request on c, waiting for answers while the window is full */
static int submit(struct pub *p, struct lconn *c, struct op o)
{
    while (c->nops == WINDOW)
        if (collect(p, c) < 0)
            goto fail;
    c->ops[c->nops] = o;
    switch (send_op(p, c, &c->ops[c->nops])) {
    case 0:
        return 0; /* in flight: freed when answered */
    case 1:
        op_clear(&o);
        return 0;
    }
fail:
    op_clear(&o);
    return -1;
}

/* lconn_open - c connected; 0, or -1 and *p->err */
static int lconn_open(struct pub *p, struct lconn *c)
{
    c->ld = ldapc_connect(&(struct ldap_login){var_annuaire_publish_uri, var_annuaire_publish_bind_dn,
                                               var_annuaire_publish_bind_password},
                          p->err);
    if (c->ld == NULL)
        return -1;
    c->queued = xcalloc(BATCH, sizeof(*c->queued));
    return 0;
}

/* lconn_close - what c holds freed, the connection closed */
static void lconn_close(struct lconn *c)
{
    while (c->nops > 0)
        op_free(c, 0);
    for (int i = 0; i < c->nqueued; i++) /* taken by a transaction never ended */
        op_clear(&c->queued[i]);
    free(c->queued);
    ber_bvfree(c->txnid);
    ldap_control_free(c->txn_ctrl);
    if (c->ld)
        ldap_unbind_ext_s(c->ld, NULL, NULL);
}

/*
 * txn_send_end - the transaction open on c ended: committed by the server
 * while the next is sent on the other connection (slapd takes one
 * transaction per connection), or given up when one request was not taken
 */
static int txn_send_end(struct pub *p, struct lconn *c)
{
    int rc;

    if (c->txnid == NULL)
        return 0;
    if (drain(p, c) < 0)
        return -1;
    rc = ldap_txn_end(c->ld, c->txn_failed == 0, c->txnid, NULL, NULL, &c->ending);
    ber_bvfree(c->txnid);
    c->txnid = NULL;
    ldap_control_free(c->txn_ctrl);
    c->txn_ctrl = NULL;
    if (rc != LDAP_SUCCESS) {
        c->ending = 0;
        *p->err = ldapc_error(c->ld, var_annuaire_publish_uri, rc);
        return -1;
    }
    return 0;
}

/*
 * txn_finish - the outcome of the transaction ended on c: its requests
 * confirmed all at once, or, when the server refused one of them, each sent
 * again alone (the entry the tree and our record disagree on, or the server
 * refuses, is then told apart from the others)
 */
static int txn_finish(struct pub *p, struct lconn *c)
{
    LDAPMessage *res = NULL;
    int rc, code = 0, n = c->nqueued, ret = 0;

    if (c->ending == 0)
        return 0;
    rc = answer(p, c, c->ending, &res);
    c->ending = 0;
    if (rc < 0)
        return -1;
    if ((rc = ldap_parse_result(c->ld, res, &code, NULL, NULL, NULL, NULL, 1)) != LDAP_SUCCESS)
        code = rc;
    if (code == LDAP_SERVER_DOWN || code == LDAP_CONNECT_ERROR || code == LDAP_TIMEOUT) {
        *p->err = ldapc_error(c->ld, var_annuaire_publish_uri, code);
        return -1;
    }
    c->nqueued = 0;
    if (code == LDAP_SUCCESS && c->txn_failed == 0) {
        for (int i = 0; i < n; i++) {
            if (ret == 0 && confirmed(p, &c->queued[i]) < 0)
                ret = -1;
            op_clear(&c->queued[i]);
        }
        return ret;
    }
    if (c->txn_failed == LDAP_UNAVAILABLE_CRITICAL_EXTENSION || c->txn_failed == LDAP_PROTOCOL_ERROR)
        p->txn_off = 1; /* the backend writes nothing in a transaction */
    c->txn_failed = 0;
    for (int i = 0; i < n; i++) {
        if (ret < 0)
            op_clear(&c->queued[i]);
        else if (submit(p, c, c->queued[i]) < 0)
            ret = -1;
    }
    /* Alone: answered before the next transaction begins on c. */
    return ret == 0 ? drain(p, c) : -1;
}

/*
 * txn_begin - c ready for the next requests: the outcome of its last
 * transaction read, connected, a transaction open unless the server takes
 * none; 0, or -1 and *p->err
 */
static int txn_begin(struct pub *p, struct lconn *c)
{
    int rc;

    if (txn_finish(p, c) < 0 || (c->ld == NULL && lconn_open(p, c) < 0))
        return -1;
    if (p->txn_off || c->txnid)
        return 0;
    if ((rc = ldap_txn_start_s(c->ld, NULL, NULL, &c->txnid)) != LDAP_SUCCESS ||
        ldap_control_create(LDAP_CONTROL_TXN_SPEC, 1, c->txnid, 1, &c->txn_ctrl) != LDAP_SUCCESS) {
        msg_info("%s: no LDAP transaction (%s): each entry written alone", var_annuaire_publish_uri,
                 ldap_err2string(rc));
        p->txn_off = 1;
        ber_bvfree(c->txnid);
        c->txnid = NULL;
    }
    return 0;
}

/*
 * write_op - one request, in a transaction of BATCH when the server takes
 * them; a full transaction ended, and the next requests sent on the other
 * connection while the server commits it
 */
static int write_op(struct pub *p, struct op o)
{
    struct lconn *c = &p->c[p->cur];

    if (txn_begin(p, c) < 0) {
        op_clear(&o);
        return -1;
    }
    if (submit(p, c, o) < 0)
        return -1;
    if (c->txnid == NULL || c->nqueued + c->nops < BATCH)
        return 0;
    p->cur = (p->cur + 1) % NCONN;
    return txn_send_end(p, c);
}

/*
 * ensure_base - the entry the address book is written under; when missing
 * and named ou=NAME, it is created (the suffix entry of the shipped slapd
 * database).
 */
static int ensure_base(LDAP *ld, char **err)
{
    struct timeval tv = {var_annuaire_ldap_timeout, 0};
    LDAPMessage *res = NULL;
    char *none[] = {LDAP_NO_ATTRS, NULL}, *ou = NULL, *what;
    int rc = ldap_search_ext_s(ld, var_annuaire_publish_base, LDAP_SCOPE_BASE, "(objectClass=*)", none, 0,
                               NULL, NULL, &tv, 1, &res);

    ldap_msgfree(res);
    if (rc == LDAP_NO_SUCH_OBJECT && strncasecmp(var_annuaire_publish_base, "ou=", 3) == 0) {
        char *oc[] = {"top", "organizationalUnit", NULL}, *ouv[] = {NULL, NULL};
        LDAPMod m_oc = {LDAP_MOD_ADD, "objectClass", {oc}}, m_ou = {LDAP_MOD_ADD, "ou", {ouv}};
        LDAPMod *mods[] = {&m_oc, &m_ou, NULL};

        ou = xstrndup(var_annuaire_publish_base + 3, strcspn(var_annuaire_publish_base + 3, ",+"));
        ouv[0] = ou;
        rc = ldap_add_ext_s(ld, var_annuaire_publish_base, mods, NULL, NULL);
        free(ou);
        if (rc == LDAP_SUCCESS) {
            msg_info("%s: created the base entry %s", var_annuaire_publish_uri, var_annuaire_publish_base);
            return 0;
        }
    }
    if (rc == LDAP_SUCCESS)
        return 0;
    what = xasprintf("%s: annuaire_publish_base %s", var_annuaire_publish_uri, var_annuaire_publish_base);
    *err = ldapc_error(ld, what, rc);
    free(what);
    return -1;
}

/* publish_ldap - write to LDAP what changed since the last publication */
int publish_ldap(PGconn *conn, int full, struct publication *out, char **err)
{
    struct pub p = {.err = err, .txn_off = !var_annuaire_publish_transactions};
    PGresult *res;
    char *sql = NULL;
    int ret = -1;
    long everything = full;

    memset(out, 0, sizeof(*out));
    if (*var_annuaire_publish_uri == '\0' || *var_annuaire_publish_base == '\0') {
        *err = xstrdup("annuaire_publish_uri and annuaire_publish_base are not set");
        return -1;
    }
    if (lconn_open(&p, &p.c[0]) < 0 || ensure_base(p.c[0].ld, err) < 0)
        goto out;
    if ((p.rec = pgu_connect(var_database, var_db_connect_timeout, err)) == NULL)
        goto out;

    /* The whole directory compared, or only the addresses noted as written
     * since the last publication (018_ldap_pending). */
    if (!everything && query_long(conn,
                                  "SELECT (NOT EXISTS (SELECT FROM annuaire_ldap)"
                                  " OR EXISTS (SELECT FROM annuaire_ldap_pending WHERE address = '*'))::int",
                                  NULL, &everything, err) < 0)
        goto out;

    /* The entries gone, or now on the liste rouge. */
    res = PQexec(conn, everything
                           ? "SELECT l.address FROM annuaire_ldap l LEFT JOIN annuaire_bal b USING (address)"
                             " WHERE b.address IS NULL OR b.liste_rouge"
                           : "SELECT p.address FROM annuaire_ldap_pending p"
                             " WHERE (SELECT count(*) FROM annuaire_ldap l WHERE l.address = p.address) > 0"
                             " AND (SELECT count(*) FROM annuaire_bal b"
                             " WHERE b.address = p.address AND NOT b.liste_rouge) = 0");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *a = PQgetvalue(res, i, 0);

        if (write_op(&p, (struct op){0, OP_DELETE, NULL, xstrdup(a), dn_of(a)}) < 0) {
            PQclear(res);
            goto out;
        }
    }
    PQclear(res);

    /* The new and changed ones, row by row. */
    sql = select_sql(everything ? SEL_CHANGED : SEL_PENDING);
    if (!PQsendQuery(conn, sql) || !PQsetSingleRowMode(conn)) {
        *err = pgu_error(conn);
        goto out;
    }
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_SINGLE_TUPLE && *err == NULL) {
            const char *a = PQgetvalue(res, 0, 0);
            int known = *PQgetvalue(res, 0, 2) == 't';

            write_op(&p, (struct op){0, known ? OP_MODIFY : OP_ADD, res, xstrdup(a), dn_of(a)});
            continue; /* submit owns res */
        }
        if (PQresultStatus(res) != PGRES_SINGLE_TUPLE && PQresultStatus(res) != PGRES_TUPLES_OK &&
            *err == NULL)
            *err = pgu_error(conn);
        PQclear(res); /* after a failure: the rest is drained */
    }
    if (*err == NULL)
        txn_send_end(&p, &p.c[p.cur]);
    for (int i = 0; i < NCONN && *err == NULL; i++)
        if (txn_finish(&p, &p.c[i]) == 0)
            drain(&p, &p.c[i]);
    if (*err == NULL && p.refused > 0)
        *err = xasprintf("%ld entr%s refused by %s (first: %s)", p.refused, p.refused > 1 ? "ies" : "y",
                         var_annuaire_publish_uri, p.first_refusal);
    ret = *err ? -1 : 0;
out:
    if (p.rec) {
        if (record_done(&p) < 0 || record_wait(&p) < 0)
            ret = -1;
        PQfinish(p.rec);
    }
    /* All in the tree, and recorded: nothing is pending (no run writes
     * annuaire_bal meanwhile, see connect_locked). */
    if (ret == 0 && pgu_exec(conn, "DELETE FROM annuaire_ldap_pending", err) < 0)
        ret = -1;
    for (int i = 0; i < NCONN; i++)
        lconn_close(&p.c[i]);
    out->written = p.written;
    out->deleted = p.deleted;
    out->refused = p.refused;
    buf_free(&p.done_addr);
    buf_free(&p.done_hash);
    buf_free(&p.done_attrs);
    free(p.first_refusal);
    free(sql);
    return ret;
}

/* check_ldap - compare the tree with PostgreSQL: counts and a sample */
int check_ldap(PGconn *conn, char **err)
{
    struct counts n = {0};
    struct buf sql = {0};
    PGresult *res;
    long missing, extra, differ;

    if (*var_annuaire_publish_uri == '\0' || *var_annuaire_publish_base == '\0') {
        *err = xstrdup("annuaire_publish_uri and annuaire_publish_base are not set");
        return -1;
    }
    if (pgu_exec(conn, "BEGIN", err) < 0 || stage_create(conn, NULL, &n, err) < 0 ||
        load_ldap(conn,
                  &(struct ldap_login){var_annuaire_publish_uri, var_annuaire_publish_bind_dn,
                                       var_annuaire_publish_bind_password},
                  var_annuaire_publish_base, "(objectClass=inetOrgPerson)", &n, err) < 0)
        return -1;
    progress(NULL, NULL);
    /* What each published entry must hold, beside what the tree holds (first values). */
    buf_printf(&sql,
               "WITH pub AS (SELECT b.address, %s AS sn, b.first_name, b.postcode, b.city,"
               " b.department, b.profession_label, b.org_name, b.service, b.national_id, b.bal_type"
               " FROM annuaire_bal b WHERE NOT b.liste_rouge),"
               " got AS (SELECT DISTINCT ON (address) * FROM sync_stage ORDER BY address, line DESC),"
               " j AS (SELECT coalesce(p.address, g.address) AS address, p.address IS NULL AS extra,"
               " g.address IS NULL AS missing,",
               attrs[1].sql);
    buf_puts(&sql, " (coalesce(p.sn, '') <> coalesce(g.last_name, '')");
    static const char *same[][2] = {
        {"first_name", "first_name"},
        {"postcode", "postcode"},
        {"city", "city"},
        {"department", "department"},
        {"profession_label", "profession_label"},
        {"org_name", "org_name"},
        {"service", "service"},
        {"national_id", "national_id"},
        {"bal_type", "bal_type"},
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        buf_printf(&sql, " OR coalesce(p.%s, '') <> coalesce(g.%s, '')", same[i][0], same[i][1]);
    buf_puts(
        &sql,
        ") AS differs FROM pub p FULL JOIN got g USING (address))"
        " SELECT count(*) FILTER (WHERE missing), count(*) FILTER (WHERE extra),"
        " count(*) FILTER (WHERE differs AND NOT missing AND NOT extra),"
        " (SELECT count(*) FROM annuaire_bal WHERE NOT liste_rouge),"
        " array_to_string((array_agg(address ORDER BY address) FILTER (WHERE missing OR extra OR differs))[1:5], ' ')"
        " FROM j");
    res = PQexec(conn, buf_str(&sql));
    buf_free(&sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *err = pgu_error(conn);
        PQclear(res);
        return -1;
    }
    missing = atol(PQgetvalue(res, 0, 0));
    extra = atol(PQgetvalue(res, 0, 1));
    differ = atol(PQgetvalue(res, 0, 2));
    printf("%s under %s: %ld entries read (%ld unusable); PostgreSQL: %s mailboxes to publish\n"
           "missing from LDAP: %ld; in LDAP but not to publish: %ld; different: %ld%s%s\n",
           var_annuaire_publish_uri, var_annuaire_publish_base, n.read, n.rejected, PQgetvalue(res, 0, 3),
           missing, extra, differ, *PQgetvalue(res, 0, 4) ? "; for example: " : "", PQgetvalue(res, 0, 4));
    PQclear(res);
    PQclear(PQexec(conn, "ROLLBACK"));
    return missing + extra + differ + n.rejected > 0 ? 1 : 0;
}

/* ldif_value - "attr: value", or "attr:: base64" when LDIF needs it (RFC 2849) */
static void ldif_value(FILE *fp, const char *attr, const char *v, size_t len)
{
    int safe = len > 0 && v[0] != ' ' && v[0] != ':' && v[0] != '<' && v[len - 1] != ' ';

    for (size_t i = 0; safe && i < len; i++)
        safe = (unsigned char) v[i] >= 0x20 && (unsigned char) v[i] < 0x7f;
    if (safe) {
        fprintf(fp, "%s: %.*s\n", attr, (int) len, v);
    } else {
        char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);

        EVP_EncodeBlock((unsigned char *) b64, (const unsigned char *) v, (int) len);
        fprintf(fp, "%s:: %s\n", attr, b64);
        free(b64);
    }
}

/* ldif_entry - one mailbox's entry, as publish_ldap would add it */
static void ldif_entry(FILE *fp, PGresult *row)
{
    char *dn = dn_of(PQgetvalue(row, 0, 0));
    int col = FIRST_ATTR_COL;

    ldif_value(fp, "dn", dn, strlen(dn));
    fputs("objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n"
          "objectClass: inetOrgPerson\n",
          fp);
    fprintf(fp, "uid: %.*s\n", UID_LEN, strchr(dn, '=') + 1);
    for (size_t i = 0; i < NATTRS; i++)
        for (int j = 0; j < (attrs[i].spellings ? 3 : 1); j++, col++)
            if (!PQgetisnull(row, 0, col) && *PQgetvalue(row, 0, col))
                ldif_value(fp, attrs[i].attr, PQgetvalue(row, 0, col), (size_t) PQgetlength(row, 0, col));
    fputc('\n', fp);
    free(dn);
}

/* publish_ldif - the whole address book as LDIF for slapadd into an empty tree */
int publish_ldif(PGconn *conn, const char *path, long *entries, char **err)
{
    char *tmp = xasprintf("%s.tmp", path), *sql = select_sql(SEL_ALL), *ou;
    FILE *fp = NULL;
    PGconn *rec = NULL;
    PGresult *res;
    struct buf line = {0};
    int ret = -1, copying = 0;

    *entries = 0;
    if (*var_annuaire_publish_base == '\0') {
        *err = xstrdup("annuaire_publish_base is not set");
        goto out;
    }
    if ((fp = fopen(tmp, "w")) == NULL) {
        *err = xasprintf("%s: %s", tmp, strerror(errno));
        goto out;
    }
    /* The record of what is published is replaced in one transaction, kept only with the file. */
    if ((rec = pgu_connect(var_database, var_db_connect_timeout, err)) == NULL ||
        pgu_exec(rec, "BEGIN", err) < 0 ||
        pgu_exec(rec, "DELETE FROM annuaire_ldap; DELETE FROM annuaire_ldap_pending", err) < 0)
        goto out;
    res = PQexec(rec, "COPY annuaire_ldap (address, row_hash, attrs) FROM STDIN");
    copying = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    if (!copying) {
        *err = pgu_error(rec);
        goto out;
    }
    if (strncasecmp(var_annuaire_publish_base, "ou=", 3) == 0) {
        ou = xstrndup(var_annuaire_publish_base + 3, strcspn(var_annuaire_publish_base + 3, ",+"));
        ldif_value(fp, "dn", var_annuaire_publish_base, strlen(var_annuaire_publish_base));
        fputs("objectClass: top\nobjectClass: organizationalUnit\n", fp);
        ldif_value(fp, "ou", ou, strlen(ou));
        fputc('\n', fp);
        free(ou);
    }
    if (!PQsendQuery(conn, sql) || !PQsetSingleRowMode(conn)) {
        *err = pgu_error(conn);
        goto out;
    }
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_SINGLE_TUPLE && *err == NULL) {
            ldif_entry(fp, res);
            line.len = 0;
            for (int c = 0; c < 4; c++) { /* address, hash, values: COPY text fields */
                if (c == 2)
                    continue;
                for (const char *v = PQgetvalue(res, 0, c); *v; v++)
                    buf_puts(&line, *v == '\\'   ? "\\\\"
                                    : *v == '\n' ? "\\n"
                                    : *v == '\t' ? "\\t"
                                    : *v == '\r' ? "\\r"
                                                 : (char[2]){*v, 0});
                buf_add(&line, c == 3 ? "\n" : "\t", 1);
            }
            if (PQputCopyData(rec, line.s, (int) line.len) != 1)
                *err = pgu_error(rec);
            ++*entries;
        } else if (PQresultStatus(res) != PGRES_SINGLE_TUPLE && PQresultStatus(res) != PGRES_TUPLES_OK &&
                   *err == NULL) {
            *err = pgu_error(conn);
        }
        PQclear(res);
    }
    if (*err)
        goto out;
    copying = 0;
    if (PQputCopyEnd(rec, NULL) != 1 || PQresultStatus(res = PQgetResult(rec)) != PGRES_COMMAND_OK) {
        *err = pgu_error(rec);
        goto out;
    }
    PQclear(res);
    while ((res = PQgetResult(rec)) != NULL)
        PQclear(res);
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0 || fclose(fp) != 0) {
        fp = NULL;
        *err = xasprintf("%s: %s", tmp, strerror(errno));
        goto out;
    }
    fp = NULL;
    if (rename(tmp, path) != 0) {
        *err = xasprintf("%s: %s", path, strerror(errno));
        goto out;
    }
    if (pgu_exec(rec, "COMMIT", err) < 0) {
        unlink(path);
        goto out;
    }
    ret = 0;
out:
    if (fp) {
        fclose(fp);
    }
    if (ret < 0)
        unlink(tmp);
    if (rec) {
        if (copying)
            PQputCopyEnd(rec, "failed");
        PQfinish(rec); /* without COMMIT: rolled back */
    }
    buf_free(&line);
    free(sql);
    free(tmp);
    return ret;
}
