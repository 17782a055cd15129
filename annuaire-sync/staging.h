/*
 * staging - the one definition of a staging row: the columns every source
 * (extraction file, FHIR, LDAP) fills and annuaire-sync COPYs into the
 * temporary table sync_stage, in that order. Each source writes the row as
 * an array of ST_NCOLS strings indexed by these names; the SQL (the table,
 * the COPY column list, the row hash) is generated from the same list.
 */
#ifndef MSSANTE_STAGING_H
#define MSSANTE_STAGING_H

/* clang-format off */
/* STAGE_LIST(X): X(NAME, "sql_column", "sql_type") for each column, in COPY order. */
#define STAGE_LIST(X) \
    X(ADDRESS, "address", "text") X(BAL_TYPE, "bal_type", "text") X(ID_TYPE, "id_type", "text") \
    X(ID_PP, "id_pp", "text") X(NATIONAL_ID, "national_id", "text") \
    X(STRUCT_ID_TYPE, "structure_id_type", "text") X(STRUCT_ID, "structure_id", "text") \
    X(SERVICE, "service", "text") X(CIVILITY, "civility", "text") \
    X(LAST_NAME, "last_name", "text") X(FIRST_NAME, "first_name", "text") \
    X(PROF_CAT, "profession_category", "text") \
    X(PROF_CAT_LABEL, "profession_category_label", "text") \
    X(PROF_CODE, "profession_code", "text") X(PROF_LABEL, "profession_label", "text") \
    X(SPEC_CODE, "specialty_code", "text") X(SPEC_LABEL, "specialty_label", "text") \
    X(DIGITIZATION, "digitization", "text") X(ORG_NAME, "org_name", "text") \
    X(ORG_TRADE, "org_trade_name", "text") X(L2, "addr_complement", "text") \
    X(L3, "addr_distribution", "text") X(L4_NUMBER, "addr_number", "text") \
    X(L4_COMPL, "addr_number_compl", "text") X(L4_TYPE, "addr_street_type", "text") \
    X(L4_STREET, "addr_street", "text") X(L5, "addr_locality", "text") \
    X(L6, "addr_line6", "text") X(POSTCODE, "postcode", "text") \
    X(DEPARTMENT, "department", "text") X(COUNTRY, "country", "text") \
    X(CITY, "city", "text") X(LISTE_ROUGE, "liste_rouge", "boolean")

/*
 * FOLD_LIST(X): X(NAME, "sql_column") for each search form annuaire-sync
 * writes beside the row (fold.c: mssante_fold of the ST_NAME column), after
 * the columns above.
 */
#define FOLD_LIST(X) \
    X(LAST_NAME, "last_name_f") X(FIRST_NAME, "first_name_f") X(CITY, "city_f") \
    X(ORG_NAME, "org_name_f") X(PROF_LABEL, "profession_f")
/* clang-format on */

#define STAGE_ENUM(name, col, type) ST_##name,
enum { STAGE_LIST(STAGE_ENUM) ST_NCOLS };
#undef STAGE_ENUM

#endif
