/*
 * source - where an extraction file comes from: a plain file, a ZIP
 * holding it (as published), or an https:// URL of either.
 */
#ifndef MSSANTE_SOURCE_H
#define MSSANTE_SOURCE_H

#include <stdio.h>

/*
 * source_open - a stream of the extraction's text: a URL is downloaded
 * first into an unnamed temporary file; a ZIP is read through its single
 * .txt member, inflated as it is read (memory does not grow with the file).
 * Returns NULL with *err naming the source and the problem.
 */
FILE *source_open(const char *src, const char *ca, char **err);

#endif
