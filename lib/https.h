/*
 * https - the libcurl handle every download of ours starts from.
 */
#ifndef MSSANTE_HTTPS_H
#define MSSANTE_HTTPS_H

#include <curl/curl.h>

/*
 * https_handle - a handle for url: HTTPS only (redirects too), TLS 1.2 at
 * least, the server verified against ca (PEM file; empty or NULL: the
 * system's CAs), HTTP errors as failures, reasons in errbuf
 * (CURL_ERROR_SIZE bytes). NULL when libcurl cannot start.
 */
CURL *https_handle(const char *url, const char *ca, char *errbuf);

#endif
