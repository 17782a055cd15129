/*
 * form - the request form's fields and their checks (see form.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "form.h"
#include "mymalloc.h"
#include "strlist.h"

const struct form_def form_defs[FF_COUNT] = {
    [FF_LOGIN] = {"login", NULL, "prenom.nom"},
    [FF_CIVILITY] = {"civilite", "civility", "M., Mme, Dr, Pr"},
    [FF_LAST_NAME] = {"nom", "last-name", "family name"},
    [FF_FIRST_NAME] = {"prenom", "first-name", "given name"},
    [FF_CONTACT] = {"email_contact", "contact", "the person's address outside MSSante"},
    [FF_PHONE] = {"telephone", "phone", "phone number"},
    [FF_BAL] = {"bal", NULL, "the BAL's address"},
    [FF_TYPE] = {"type", "type", "PER, ORG, APP or CAB (default PER)"},
    [FF_ROLE] = {"role", NULL, "titulaire (default) or delegue"},
    [FF_ID_NAT] = {"rpps_adeli", "rpps-adeli", "the holder's RPPS (11 digits) or ADELI (9)"},
    [FF_FINESS] = {"finess", "finess", "the structure's FINESS (9 characters)"},
    [FF_SERVICE] = {"service", "service", "service de rattachement"},
    [FF_DESCRIPTION] = {"description", "description", "free text"},
    [FF_LISTE_ROUGE] = {"liste_rouge", "liste-rouge", "oui or non: never published"},
    [FF_NOTIFY] = {"notification", "notification", "where new-mail notices go"},
    [FF_QUOTA] = {"quota_mo", "quota", "quota in MB (default: of its type)"},
    [FF_CERT_NAME] = {"certificat", "cert-name", "APP: the name in its client certificate"},
    [FF_NOTIFY_LOCAL] = {"notif_locaux", "notify-local", "oui or non: notices for local mail too"},
};

/* form_field_by_column - the field whose CSV column name is name, or -1 */
int form_field_by_column(const char *name)
{
    for (int i = 0; i < FF_COUNT; i++)
        if (strcasecmp(name, form_defs[i].column) == 0)
            return i;
    return -1;
}

/* login_ok - prenom.nom: lower-case letters, digits, '.', '-', '_' */
static int login_ok(const char *login)
{
    if (*login == 0 || strlen(login) > 64 || *login == '.' || *login == '-')
        return 0;
    for (const char *p = login; *p; p++)
        if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || strchr(".-_", *p)))
            return 0;
    return 1;
}

/* all_of - whether s has n characters, each in set */
static int all_of(const char *s, size_t n, const char *set)
{
    return strlen(s) == n && strspn(s, set) == n;
}

#define DIGITS   "0123456789"
#define ALNUM_UP DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* id_nat - "8" + RPPS or "0" + ADELI, from either form; NULL if neither */
static char *id_nat(const char *s)
{
    char *up = xstrdup(s), *ret = NULL;

    for (char *p = up; *p; p++)
        *p = (char) toupper((unsigned char) *p);
    if (all_of(up, 11, DIGITS))
        ret = xasprintf("8%s", up);
    else if (*up == '8' && all_of(up + 1, 11, DIGITS))
        ret = xstrdup(up);
    else if (all_of(up, 9, ALNUM_UP))
        ret = xasprintf("0%s", up);
    else if (*up == '0' && all_of(up + 1, 9, ALNUM_UP))
        ret = xstrdup(up);
    free(up);
    return ret;
}

/* word_in - the canonical word of a list of synonyms ("canon|syn|syn;canon|..."), or NULL */
static char *word_in(const char *s, const char *const *groups)
{
    for (; *groups; groups++) {
        char **w = strlist_split(*groups, "|");
        char *ret = strlist_has(w, s) ? xstrdup(w[0]) : NULL;

        strlist_free(w);
        if (ret)
            return ret;
    }
    return NULL;
}

/* text_ok - printable UTF-8 of at most max bytes */
static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n > max || !utf8_valid(s, n))
        return 0;
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* one - check one field into f->val; NULL or the reason (malloc'd) */
static char *one(struct form *f, enum form_field i, const struct form_rules *r)
{
    static const char *const types[] = {"PER", "ORG", "APP", "CAB", NULL};
    static const char *const roles[] = {"owner|titulaire|responsable",
                                        "delegate|delegue|d\xc3\xa9l\xc3\xa9gu\xc3\xa9", NULL};
    static const char *const yesno[] = {"t|oui|yes|true|1|o|y", "f|non|no|false|0|n", NULL};
    const char *s = f->in[i], *why = NULL;
    char *v = NULL;

    if (!text_ok(s, i == FF_DESCRIPTION ? 1024 : 256))
        return xstrdup("control characters, bad UTF-8 or too long");
    switch (i) {
    case FF_LOGIN:
        if (!login_ok(s))
            return xasprintf("\"%s\" is not a login (prenom.nom: lower-case letters, digits,"
                             " '.', '-', '_')",
                             s);
        v = xstrdup(s);
        break;
    case FF_CONTACT:
    case FF_NOTIFY:
        if ((v = address_canon(s, &why)) == NULL)
            return xasprintf("\"%s\" is not an e-mail address: %s", s, why);
        break;
    case FF_BAL:
        if ((v = address_canon(s, &why)) == NULL)
            return xasprintf("\"%s\" is not an e-mail address: %s", s, why);
        if (!strlist_has(r->our_domains, strrchr(v, '@') + 1)) {
            char *ret = xasprintf("%s is not in one of our domains (our_domains)", v);

            free(v);
            return ret;
        }
        break;
    case FF_TYPE:
        if ((v = word_in(s, types)) == NULL)
            return xasprintf("\"%s\" is not a BAL type (PER, ORG, APP, CAB)", s);
        break;
    case FF_ROLE:
        if ((v = word_in(s, roles)) == NULL)
            return xasprintf("\"%s\" is not a role (titulaire, delegue)", s);
        break;
    case FF_ID_NAT:
        if ((v = id_nat(s)) == NULL)
            return xasprintf("\"%s\" is neither an RPPS (11 digits) nor an ADELI (9 characters)", s);
        break;
    case FF_FINESS:
        v = xstrdup(s);
        for (char *p = v; *p; p++)
            *p = (char) toupper((unsigned char) *p);
        if (strlen(v) != 9 || !isdigit((unsigned char) v[0]) || !strchr(DIGITS "AB", v[1]) ||
            strspn(v + 2, DIGITS) != 7) {
            free(v);
            return xasprintf("\"%s\" is not a FINESS number (9 characters)", s);
        }
        break;
    case FF_LISTE_ROUGE:
    case FF_NOTIFY_LOCAL:
        if ((v = word_in(s, yesno)) == NULL)
            return xasprintf("\"%s\" is neither oui nor non", s);
        break;
    case FF_QUOTA: {
        char *end;
        long mb = strtol(s, &end, 10);

        if (*end || end == s || mb < 1 || mb > 1048576)
            return xasprintf("\"%s\" is not a quota in MB (1 to 1048576)", s);
        v = xasprintf("%ld", mb);
        break;
    }
    case FF_PHONE:
        if (strspn(s, DIGITS " +.()-") != strlen(s) || strcspn(s, DIGITS) == strlen(s))
            return xasprintf("\"%s\" is not a phone number", s);
        v = xstrdup(s);
        break;
    default:
        v = xstrdup(s);
        break;
    }
    f->val[i] = v;
    return NULL;
}

/* trimmed - the given value without surrounding blanks, or NULL when empty */
static const char *trimmed(const char *s, char **buf)
{
    size_t n;

    if (s == NULL)
        return NULL;
    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return NULL;
    *buf = xstrndup(s, n);
    return *buf;
}

/* form_check - the first problem of a form, or 0 when it is complete */
int form_check(struct form *f, const struct form_rules *r, int bal_rules, enum form_field *field, char **why)
{
    const char *type;

    for (int i = 0; i < FF_COUNT; i++) {
        char *buf = NULL;
        const char *orig = f->in[i];

        free(f->val[i]);
        f->val[i] = NULL;
        if ((f->in[i] = trimmed(orig, &buf)) != NULL)
            *why = one(f, (enum form_field) i, r);
        else
            *why = NULL;
        f->in[i] = orig;
        free(buf);
        if (*why) {
            *field = (enum form_field) i;
            return -1;
        }
    }
    if (!bal_rules)
        return 0;
    if (f->val[FF_TYPE] == NULL)
        f->val[FF_TYPE] = xstrdup("PER");
    type = f->val[FF_TYPE];
    if (strcmp(type, "PER") == 0 && f->val[FF_ID_NAT] == NULL) {
        *field = FF_ID_NAT;
        *why = xstrdup("a PER BAL needs its holder's RPPS or ADELI");
        return -1;
    }
    if ((strcmp(type, "ORG") == 0 || strcmp(type, "APP") == 0) && f->val[FF_FINESS] == NULL) {
        *field = FF_FINESS;
        *why = xasprintf("an %s BAL needs its structure's FINESS", type);
        return -1;
    }
    if (strcmp(type, "APP") != 0 && f->val[FF_CERT_NAME] != NULL) {
        *field = FF_CERT_NAME;
        *why = xstrdup("only an APP BAL logs in with a certificate");
        return -1;
    }
    return 0;
}

/* form_role_owner - whether a form's role is owner (the default) */
int form_role_owner(const struct form *f)
{
    return f->val[FF_ROLE] == NULL || strcmp(f->val[FF_ROLE], "owner") == 0;
}

/* form_free - free the values of a form */
void form_free(struct form *f)
{
    for (int i = 0; i < FF_COUNT; i++) {
        free(f->val[i]);
        f->val[i] = NULL;
    }
}
