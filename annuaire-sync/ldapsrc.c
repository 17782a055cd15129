/*
 * ldapsrc.c - read MSSanté mailboxes from an LDAP directory (OpenLDAP client).
 *
 * Connection: the URI as given; StartTLS on ldap:// unless
 * annuaire_ldap_starttls = no; the server certificate is always verified
 * (annuaire_ldap_ca, else libldap's configuration). A bind password is
 * never sent without TLS (ldapi:// excepted). The search is paged (RFC
 * 2696), so trees larger than the server's size limit are read whole when
 * the account may page past it; a result cut short by any limit is an
 * error, never a smaller directory.
 *
 * Mapping (inetOrgPerson and cosine):
 *   mail             -> address (one row per value)
 *   employeeType     -> BAL type PER/ORG/APP/CAB (else PER when givenName
 *                       is present, ORG otherwise)
 *   employeeNumber   -> RPPS/ADELI (id_pp and national_id)
 *   personalTitle    -> civility      sn -> last name   givenName -> first name
 *   title            -> profession    o  -> organisation   ou -> service
 *   street, postalCode, l, st -> street, postcode, city, department
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ldap.h>

#include "addr.h"
#include "ldapsrc.h"
#include "staging.h"
#include "mymalloc.h"
#include "params.h"

/* The single-valued attributes and their column; mail is handled apart. */
static const struct {
    const char *attr;
    int col;
} map[] = {
    {"employeeType", ST_BAL_TYPE},
    {"employeeNumber", ST_ID_PP},
    {"personalTitle", ST_CIVILITY},
    {"sn", ST_LAST_NAME},
    {"givenName", ST_FIRST_NAME},
    {"title", ST_PROF_LABEL},
    {"o", ST_ORG_NAME},
    {"ou", ST_SERVICE},
    {"street", ST_L4_STREET},
    {"postalCode", ST_POSTCODE},
    {"st", ST_DEPARTMENT},
    {"l", ST_CITY},
};
#define NMAP (sizeof(map) / sizeof(map[0]))

/* ldapc_error - "what: the server's error - its diagnostic" */
char *ldapc_error(LDAP *ld, const char *what, int rc)
{
    char *diag = NULL, *s;

    if (ld)
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    s = xasprintf("%s: %s%s%s", what, ldap_err2string(rc), diag && *diag ? " - " : "",
                  diag && *diag ? diag : "");
    ldap_memfree(diag);
    return s;
}

/* value - the first value of an attribute as a string, or NULL when absent */
static char *value(LDAP *ld, LDAPMessage *e, const char *attr, const char **why)
{
    struct berval **v = ldap_get_values_len(ld, e, attr);
    char *s = NULL;

    if (v && v[0]) {
        if (memchr(v[0]->bv_val, 0, v[0]->bv_len) || !utf8_valid(v[0]->bv_val, v[0]->bv_len))
            *why = "a value is not UTF-8 text";
        else
            s = xstrndup(v[0]->bv_val, v[0]->bv_len);
    }
    ldap_value_free_len(v);
    return s;
}

/* entry_rows - the rows of one entry: one per mail value */
static int entry_rows(LDAP *ld, LDAPMessage *e, long entry, ldap_row_fn fn, void *ctx)
{
    char *dn = ldap_get_dn(ld, e), *own[NMAP] = {0};
    const char *v[ST_NCOLS], *why = NULL;
    struct berval **mails = ldap_get_values_len(ld, e, "mail");
    char type[4] = "", *mail = NULL;
    int ret = 0;

    for (int i = 0; i < ST_NCOLS; i++)
        v[i] = "";
    for (size_t i = 0; i < NMAP; i++)
        if ((own[i] = value(ld, e, map[i].attr, &why)) != NULL)
            v[map[i].col] = own[i];
    v[ST_NATIONAL_ID] = v[ST_ID_PP];
    v[ST_LISTE_ROUGE] = "f";
    if (*v[ST_BAL_TYPE]) {
        for (int i = 0; i < 3 && v[ST_BAL_TYPE][i]; i++)
            type[i] = (char) toupper((unsigned char) v[ST_BAL_TYPE][i]);
        if (strlen(v[ST_BAL_TYPE]) != 3)
            type[0] = 0; /* reported by the row check */
        v[ST_BAL_TYPE] = *type ? type : v[ST_BAL_TYPE];
    } else {
        v[ST_BAL_TYPE] = *v[ST_FIRST_NAME] ? "PER" : "ORG";
    }
    if (mails == NULL || mails[0] == NULL)
        why = why ? why : "no mail attribute";
    if (why) {
        ret = fn(ctx, dn ? dn : "(no DN)", entry, NULL, why);
    } else {
        for (int m = 0; mails[m] && ret >= 0; m++) {
            mail = xstrndup(mails[m]->bv_val, mails[m]->bv_len);
            v[ST_ADDRESS] = mail;
            ret = fn(ctx, dn, entry, v,
                     strlen(mail) == mails[m]->bv_len ? NULL : "a mail value holds a NUL byte");
            free(mail);
        }
    }
    ldap_value_free_len(mails);
    for (size_t i = 0; i < NMAP; i++)
        free(own[i]);
    ldap_memfree(dn);
    return ret;
}

/* ldapc_connect - a bound connection to an LDAP server */
LDAP *ldapc_connect(const struct ldap_login *login, char **err)
{
    const char *uri = login->uri;
    LDAP *ld = NULL;
    int rc, version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
    struct timeval tv = {var_annuaire_ldap_timeout, 0};
    int ldapi = strncasecmp(uri, "ldapi:", 6) == 0, ldaps = strncasecmp(uri, "ldaps:", 6) == 0;
    int tls = ldaps;
    struct berval cred;

    if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
        *err = ldapc_error(NULL, uri, rc);
        return NULL;
    }
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (*var_annuaire_ldap_ca)
        ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, var_annuaire_ldap_ca);
    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
    if (!ldaps && !ldapi && var_annuaire_ldap_starttls) {
        if ((rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
            char *what = xasprintf("%s: StartTLS", uri);

            *err = ldapc_error(ld, what, rc);
            free(what);
            ldap_unbind_ext_s(ld, NULL, NULL);
            return NULL;
        }
        tls = 1;
    }
    if (login->bind_dn && *login->bind_dn) {
        if (!tls && !ldapi) {
            *err = xasprintf("%s: refusing to send the bind password without TLS "
                             "(annuaire_ldap_starttls = no on an ldap:// URI)",
                             uri);
            ldap_unbind_ext_s(ld, NULL, NULL);
            return NULL;
        }
        cred.bv_val = (char *) (login->password ? login->password : "");
        cred.bv_len = strlen(cred.bv_val);
        rc = ldap_sasl_bind_s(ld, login->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            char *what = xasprintf("%s: bind as %s", uri, login->bind_dn);

            *err = ldapc_error(ld, what, rc);
            free(what);
            ldap_unbind_ext_s(ld, NULL, NULL);
            return NULL;
        }
    }
    return ld;
}

/* ldap_load - every entry of a search, paged, as staging rows */
int ldap_load(const struct ldap_login *login, const char *base, const char *filter, ldap_row_fn fn, void *ctx,
              long *entries, char **err)
{
    const char *uri = login->uri;
    static char *attrs[NMAP + 2];
    struct berval cookie = {0, NULL};
    struct timeval tv = {var_annuaire_ldap_timeout, 0};
    LDAP *ld;
    int ret = -1;

    attrs[0] = "mail";
    for (size_t i = 0; i < NMAP; i++)
        attrs[i + 1] = (char *) map[i].attr;
    *entries = 0;
    if ((ld = ldapc_connect(login, err)) == NULL)
        return -1;
    for (;;) {
        LDAPControl *page = NULL, *ctrls[2] = {NULL, NULL}, **sctrls = NULL, *pr;
        LDAPMessage *res = NULL;
        char *msg = NULL;
        int rc, code = LDAP_SUCCESS;
        ber_int_t total;

        if ((rc = ldap_create_page_control(ld, (ber_int_t) var_annuaire_ldap_page_size, &cookie, 1, &page)) !=
            LDAP_SUCCESS) {
            *err = ldapc_error(ld, "paged results control", rc);
            break;
        }
        ctrls[0] = page;
        rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL, &tv,
                               LDAP_NO_LIMIT, &res);
        ldap_control_free(page);
        if (rc != LDAP_SUCCESS && res == NULL) {
            char *what = xasprintf("%s: search %s under %s", uri, filter, base);

            *err = ldapc_error(ld, what, rc);
            free(what);
            break;
        }
        for (LDAPMessage *e = ldap_first_entry(ld, res); e && ret != -2; e = ldap_next_entry(ld, e))
            if (entry_rows(ld, e, ++*entries, fn, ctx) < 0)
                ret = -2; /* the sink failed: *err is set */
        rc = ldap_parse_result(ld, res, &code, NULL, &msg, NULL, &sctrls, 1);
        if (ret == -2) {
            ldap_memfree(msg);
            ldap_controls_free(sctrls);
            ret = -1;
            break;
        }
        if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS) {
            *err = code == LDAP_SIZELIMIT_EXCEEDED || code == LDAP_ADMINLIMIT_EXCEEDED
                       ? xasprintf("%s: the server stopped after %ld entries (%s): let the sync account "
                                   "page past the size limit (slapd: limits ... size.prtotal=unlimited)",
                                   uri, *entries, ldap_err2string(code))
                       : xasprintf("%s: search %s under %s: %s%s%s", uri, filter, base,
                                   ldap_err2string(rc != LDAP_SUCCESS ? rc : code), msg && *msg ? " - " : "",
                                   msg ? msg : "");
            ldap_memfree(msg);
            ldap_controls_free(sctrls);
            break;
        }
        ldap_memfree(msg);
        pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, NULL);
        ber_memfree(cookie.bv_val);
        cookie.bv_val = NULL;
        cookie.bv_len = 0;
        if (pr && ldap_parse_pageresponse_control(ld, pr, &total, &cookie) != LDAP_SUCCESS) {
            *err = xasprintf("%s: unreadable paged results response", uri);
            ldap_controls_free(sctrls);
            break;
        }
        ldap_controls_free(sctrls);
        if (cookie.bv_len == 0) { /* last page, or a server without paging */
            ret = 0;
            break;
        }
    }
    ber_memfree(cookie.bv_val);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return ret;
}
