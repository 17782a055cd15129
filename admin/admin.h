/*
 * admin - what the parts of mssante-admin share: the database connection,
 * the options, refusals, listings and audit rows.
 */
#ifndef MSSANTE_ADMIN_H
#define MSSANTE_ADMIN_H

#include <libpq-fe.h>

#include "form.h"

extern PGconn *db;
extern int opt_json, opt_generate, opt_default, opt_apply, opt_activation;
extern const char *opt_passwords;
extern struct form opt_form; /* the form fields given as --options */
extern struct form_rules rules;
extern const char *opt_days, *opt_notified_before, *opt_export, *opt_folder, *opt_format;
extern int opt_notify, opt_delete;

/* refuse - a decided refusal: say why, change nothing (the transaction dies with us), exit 1 */
void refuse(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/*
 * send_activation - a new activation link of a pending account to its
 * contact address, in the caller's transaction (refuses on failure)
 */
void send_activation(const char *login);

/* sql - a statement that must succeed (exits on a database error) */
PGresult *sql(const char *q, int n, const char *const *params);

/* sql_do - a statement whose result is not needed; the number of rows it touched */
long sql_do(const char *q, int n, const char *const *params);

/* audit - an audit_event row of this change (in the caller's transaction) */
void audit(const char *action, const char *target, const char *detail);

/*
 * print_rows - a query's rows: one (all columns, name and value), a table
 * (the first ntable columns) or, with --json, objects keyed by column name
 * (integers and booleans typed)
 */
void print_rows(PGresult *res, int one, int ntable);

/* print_rows_plus - print_rows, one row with nx more integer fields (< 0: unknown) */
void print_rows_plus(PGresult *res, int one, int ntable, int nx, const char *const *xname,
                     const long long *xval);

/* fetch_one - the row of a query ("select where", $1 the key), or refuse "key: none" */
PGresult *fetch_one(const char *select, const char *where, const char *key, const char *none);

/* change_one - a statement that must touch one row ($1 named, or refuse "$1: none"), audited, in a transaction */
void change_one(const char *q, int n, const char *const *params, const char *action, const char *none);

/* show_one - the row of a query ("select where", $1 the key), or refuse "key: none" */
void show_one(const char *select, const char *where, const char *key, const char *none);

/* list_all - every row of a query, the first ntable columns as a table */
void list_all(const char *select, const char *order, int ntable);

/* check_options - the --options of the form, checked (refuse on a bad one) */
void check_options(int bal_rules);

/*
 * doveadm - run admin_doveadm with these arguments (a NULL-terminated
 * list): its standard output (malloc'd), or NULL when it could not run or
 * failed (said on stderr after "what: "); doveadm's own errors reach stderr
 */
char *doveadm(const char *what, const char *const *args);

/*
 * bal_holder - who hears about a BAL: its notification address, else its
 * owner's contact address (malloc'd; NULL: none); *address (when asked) its
 * address as stored. Refuses when there is no such BAL.
 */
char *bal_holder(const char *bal, char **address);

/* The verbs. */
int bal_add(char **a);
int bal_set(char **a);
int bal_show(char **a);
int bal_list(char **a);
int bal_disable(char **a);
int bal_enable(char **a);
int bal_delete(char **a);
int owner_add(char **a);
int owner_remove(char **a);
int owner_list(char **a);
int delegate_add(char **a);
int delegate_remove(char **a);
int delegate_list(char **a);
int alias_add(char **a);
int alias_remove(char **a);
int alias_list(char **a);
int quota_default(char **a);
int quota_list(char **a);
int quota_warning(char **a);
int import_csv(char **a);
int expire(char **a);
int export(char **a);
int inactive(char **a);

#endif
