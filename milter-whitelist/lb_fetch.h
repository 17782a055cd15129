/*
 * lb_fetch - download, verify and install the liste blanche.
 */
#ifndef MSSANTE_LB_FETCH_H
#define MSSANTE_LB_FETCH_H

#include "lb.h"

/*
 * lb_fetch - fetch url (only if newer than the installed file, unless
 * force), verify with opt, install as dest. Prints what happened; returns
 * the exit status: 0 installed or unchanged, 1 refused or failed.
 */
int lb_fetch(const char *url, const char *dest, const char *https_ca, const struct lb_options *opt,
             int force);

#endif
