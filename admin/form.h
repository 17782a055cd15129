/*
 * form - the fields of the operator's request form (one person, one BAL),
 * as mssante-admin's options and as the columns of an import file, and
 * their checks. One table names each field for both; one function checks a
 * filled form, so the command line and the import say the same things.
 */
#ifndef MSSANTE_FORM_H
#define MSSANTE_FORM_H

enum form_field {
    FF_LOGIN,
    FF_CIVILITY,
    FF_LAST_NAME,
    FF_FIRST_NAME,
    FF_CONTACT,
    FF_PHONE, /* the person */
    FF_BAL,
    FF_ROLE,
    FF_TYPE,
    FF_ID_NAT,
    FF_FINESS,
    FF_SERVICE,
    FF_DESCRIPTION,
    FF_LISTE_ROUGE,
    FF_NOTIFY,
    FF_QUOTA,
    FF_CERT_NAME,
    FF_NOTIFY_LOCAL, /* the BAL */
    FF_COUNT
};
#define FF_PERSON_FIRST FF_CIVILITY
#define FF_PERSON_LAST  FF_PHONE
#define FF_BAL_FIRST    FF_TYPE

/* column: its name in an import file's header; option: mssante-admin's --option (or NULL) */
struct form_def {
    const char *column, *option, *help;
};
extern const struct form_def form_defs[FF_COUNT];

/* A form: each field as given (NULL or "" when absent), then as checked. */
struct form {
    const char *in[FF_COUNT];
    char *val[FF_COUNT]; /* canonical; NULL when absent */
};

/* What the checks need from the configuration. */
struct form_rules {
    char **our_domains; /* our_domains, canonical */
};

/*
 * form_check - check and canonicalise the fields present; with bal_rules,
 * also what a BAL of its type needs (PER: RPPS/ADELI; ORG, APP: FINESS).
 * 0, or -1 with *field and *why (malloc'd) naming the first problem.
 */
int form_check(struct form *f, const struct form_rules *r, int bal_rules, enum form_field *field, char **why);

/* form_role_owner - whether a checked role says owner ("titulaire", default) */
int form_role_owner(const struct form *f);

void form_free(struct form *f);

/* form_field_by_column - the field of a header name, or -1 */
int form_field_by_column(const char *name);

#endif
