/*
 * privs - giving up root.
 */
#ifndef MSSANTE_PRIVS_H
#define MSSANTE_PRIVS_H

/* privs_drop - become user (by name) for good; refuses uid 0. 0, or -1 and *err */
int privs_drop(const char *user, char **err);

#endif
