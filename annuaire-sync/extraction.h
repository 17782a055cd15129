/*
 * extraction - the "Extraction_Correspondance_MSSante" file, row by row.
 *
 * 31 columns separated by '|', one header line. Tolerated: a UTF-8 BOM,
 * CRLF, a trailing '|', fields in double quotes (with "" inside), empty
 * fields. Memory does not grow with the file: one line at a time.
 */
#ifndef MSSANTE_EXTRACTION_H
#define MSSANTE_EXTRACTION_H

#include <stdio.h>

#define EX_COLUMNS 31

enum {
    EX_TYPE_BAL,
    EX_ADDRESS,
    EX_ID_TYPE,
    EX_ID_PP,
    EX_NATIONAL_ID,
    EX_STRUCT_ID_TYPE,
    EX_STRUCT_ID,
    EX_SERVICE,
    EX_CIVILITY,
    EX_LAST_NAME,
    EX_FIRST_NAME,
    EX_PROF_CAT,
    EX_PROF_CAT_LABEL,
    EX_PROF_CODE,
    EX_PROF_LABEL,
    EX_SPEC_CODE,
    EX_SPEC_LABEL,
    EX_DIGITIZATION,
    EX_ORG_NAME,
    EX_ORG_TRADE,
    EX_L2,
    EX_L3,
    EX_L4_NUMBER,
    EX_L4_COMPL,
    EX_L4_TYPE,
    EX_L4_STREET,
    EX_L5,
    EX_L6,
    EX_POSTCODE,
    EX_DEPARTMENT,
    EX_COUNTRY,
};

extern const char *const ex_header_names[EX_COLUMNS];

struct ex_reader {
    FILE *fp;
    const char *path;
    char *line;
    size_t cap;
    long lineno;
    char *fields[EX_COLUMNS + 1];
    char *buf; /* unquoted copy of the current line */
    size_t bufcap;
};

/* ex_open - start reading; checks the header. 0, or -1 and *err; ex_close either way */
int ex_open(struct ex_reader *r, FILE *fp, const char *path, char **err);

/*
 * ex_next - the next row: 1 with r->fields set, 0 at end of file, -1 on
 * a read error (*err). A row that is not 31 fields, or not UTF-8, gives 2
 * with *err naming the problem (the caller counts it as rejected).
 */
int ex_next(struct ex_reader *r, char **err);

void ex_close(struct ex_reader *r);

/* ex_city - the city of an L6 line "33000 BORDEAUX" (after the postcode) */
const char *ex_city(const char *l6);

#endif
