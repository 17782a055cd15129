/*
 * migrate - numbered SQL migrations (schema/NNN_name.sql).
 */
#ifndef MSSANTE_MIGRATE_H
#define MSSANTE_MIGRATE_H

#include <stdio.h>
#include <libpq-fe.h>

struct migration {
    int version;
    char *name;        /* file name without ".sql" */
    char *sql;         /* file content */
    char checksum[65]; /* SHA-256 of the content, hex */
};

/* mig_list - read a directory of migrations, sorted; 0, or -1 and *err */
int mig_list(const char *dir, struct migration **out, size_t *count, char **err);
void mig_free(struct migration *m, size_t count);

/*
 * mig_migrate - apply the missing migrations, one transaction each;
 * report each to fp. Returns the number applied, or -1 with *err.
 */
int mig_migrate(PGconn *conn, const struct migration *m, size_t count, FILE *fp, char **err);

/* mig_status - print applied and pending migrations; 0, or -1 and *err */
int mig_status(PGconn *conn, const struct migration *m, size_t count, FILE *fp, char **err);

#endif
