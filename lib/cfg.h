/*
 * cfg - the mssante.conf reader, driven by a typed table.
 *
 * Format (as Postfix's main.cf): "key = value" lines, '#' comments and
 * blank lines ignored, a line starting with white space continues the
 * previous value, a later assignment overrides an earlier one.
 *
 * A file is read completely and checked before any setting changes, so a
 * bad file leaves the running settings as they were. Every error names
 * the file, the line and the key.
 */
#ifndef MSSANTE_CFG_H
#define MSSANTE_CFG_H

#include <stdio.h>

enum cfg_type {
    CFG_STR,   /* char ** */
    CFG_INT,   /* long *, bounded by min..max */
    CFG_BOOL,  /* int *: yes/no, true/false, on/off, 1/0 */
    CFG_TIME,  /* long * seconds; suffix s, m, h, d; bounded */
    CFG_ALIAS, /* a former name of the key named by defval: accepted,
                                 * with a warning; never printed */
};

struct cfg_param {
    const char *name;
    enum cfg_type type;
    const char *defval; /* default, written as in the file */
    long min, max;      /* CFG_INT, CFG_TIME */
    void *target;
    const char *help;   /* one line, for --help and printing */
    const char *origin; /* set by cfg: "FILE:LINE" or "-o" or NULL */
};

/* cfg_defaults - give every parameter its default; 0, or -1 and *err */
int cfg_defaults(struct cfg_param *table, char **err);

/* cfg_load_file - read FILE over the current settings; 0, or -1 and *err */
int cfg_load_file(struct cfg_param *table, const char *path, char **err);

/* cfg_set - apply one "key=value" (a -o command-line override) */
int cfg_set(struct cfg_param *table, const char *assignment, char **err);

/* cfg_print - write "key = value" lines; only explicit ones if asked */
void cfg_print(FILE *fp, const struct cfg_param *table, int explicit_only);

/* cfg_lookup - find a parameter by name (a former name gives the current one), or NULL */
struct cfg_param *cfg_lookup(struct cfg_param *table, const char *name);

#endif
