/*
 * download - FHIR pages: a saved file, or an https:// URL (the API key
 * header, the request rate), and the delta parameter of a search URL.
 */
#include <stdlib.h>
#include <string.h>

#include "https.h"
#include "mymalloc.h"
#include "params.h"
#include "sync.h"

#define FHIR_MAX_PAGE (32L * 1024 * 1024)

struct membuf {
    char *data;
    size_t len, cap;
};

/* mem_write - libcurl write callback: append to a memory buffer */
static size_t mem_write(char *p, size_t size, size_t nm, void *ctx)
{
    struct membuf *m = ctx;

    if (m->len + size * nm > (size_t) FHIR_MAX_PAGE)
        return 0;
    m->data = xgrow(m->data, &m->cap, m->len + size * nm + 1, 1);
    memcpy(m->data + m->len, p, size * nm);
    m->len += size * nm;
    m->data[m->len] = 0;
    return size * nm;
}

/* http_get - one page of the API, at most annuaire_fhir_rate per second */
char *http_get(const char *url, size_t *len, char **err)
{
    static struct timespec last;
    struct timespec now;
    struct membuf m = {NULL, 0, 0};
    struct curl_slist *hdr = NULL;
    char cerr[CURL_ERROR_SIZE] = "", *key;
    CURL *c;
    CURLcode rc;
    double gap = 1.0 / (double) var_annuaire_fhir_rate, since;

    clock_gettime(CLOCK_MONOTONIC, &now);
    since = (double) (now.tv_sec - last.tv_sec) + (double) (now.tv_nsec - last.tv_nsec) / 1e9;
    if (last.tv_sec && since < gap) {
        struct timespec w = {0, (long) ((gap - since) * 1e9)};

        nanosleep(&w, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &last);
    key = xasprintf("ESANTE-API-KEY: %s", var_annuaire_fhir_api_key);
    hdr = curl_slist_append(hdr, key);
    hdr = curl_slist_append(hdr, "Accept: application/fhir+json");
    if ((c = https_handle(url, var_annuaire_fhir_ca, cerr)) == NULL) {
        *err = xasprintf("%s: cannot start libcurl", url);
        curl_slist_free_all(hdr);
        free(key);
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
    rc = curl_easy_perform(c);
    curl_slist_free_all(hdr);
    free(key); /* the API key is never logged */
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        *err = xasprintf("%s: %s", url, *cerr ? cerr : curl_easy_strerror(rc));
        free(m.data);
        return NULL;
    }
    *len = m.len;
    return m.data ? m.data : xstrdup("");
}

/* read_source - a saved Bundle file, whole */
char *read_source(const char *path, size_t *len, char **err)
{
    FILE *fp = fopen(path, "r");
    struct membuf m = {NULL, 0, 0};
    char buf[65536];
    size_t got;

    if (fp == NULL) {
        *err = xasprintf("%s: cannot open: %m", path);
        return NULL;
    }
    while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
        if (mem_write(buf, 1, got, &m) != got) {
            *err = xasprintf("%s: larger than %ld bytes", path, FHIR_MAX_PAGE);
            fclose(fp);
            free(m.data);
            return NULL;
        }
    fclose(fp);
    *len = m.len;
    return m.data ? m.data : xstrdup("");
}

/* with_since - a search URL restricted to resources updated since a date */
char *with_since(const char *url, const char *since)
{
    return since ? xasprintf("%s%c_lastUpdated=ge%s", url, strchr(url, '?') ? '&' : '?', since)
                 : xstrdup(url);
}
