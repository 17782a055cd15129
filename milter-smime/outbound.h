/*
 * outbound - what milter-smime does to our users' outgoing message,
 * apart from the milter: decide from the policy and the recipients'
 * certificates, then sign and/or encrypt the MIME entity. The caller
 * applies the result (libmilter edits, or a test's own checks).
 */
#ifndef MSSANTE_OUTBOUND_H
#define MSSANTE_OUTBOUND_H

#include <openssl/x509.h>

#include "policy.h"
#include "smime.h"
#include "spool.h"

/* One recipient of the transaction, as the RCPT callback found it. */
struct rcpt {
    char *key; /* address key (local part as written, domain lower case) */
    char *domain;
    int local; /* one of our domains */
    enum policy policy;
    X509 *cert; /* a usable encryption certificate, or NULL */
};

struct outbound_msg {
    const char *qid;        /* for the log lines */
    const char *sender_key; /* NULL: null sender */
    const char *sender_domain;
    int local; /* non-SMTP submission */
    const struct rcpt *rcpts;
    size_t nrcpt;
    int any_required, any_local, any_missing;
    struct spool *entity;        /* Content-* fields, blank line, body; emptied when used */
    void (*progress)(void *arg); /* called between long steps, or NULL */
    void *progress_arg;
    /* The sender's certificate and key (1, 0 none, -1 *err): certstore's signer_load if NULL. */
    int (*signer_load)(const char *key, const char *domain, struct smime_signer *s, char **err);
};

enum outbound_verdict {
    OUT_UNCHANGED, /* leave the message as it is (text says why) */
    OUT_REPLACE,   /* new Content-* fields and body */
    OUT_FOREIGN,   /* sender outside our domains: refuse for good */
    OUT_TEMPFAIL,  /* try again later (text says why) */
};

struct outbound_result {
    enum outbound_verdict verdict;
    char *text;             /* the log line's end, or the failure's reason */
    const char *fields[10]; /* OUT_REPLACE: name, value, ..., NULL */
    char *sctype;           /* storage of the signed Content-Type value */
    struct spool body;      /* OUT_REPLACE: the new body */
};

/* outbound_protect - sign and/or encrypt as the policy says; fills r */
void outbound_protect(const struct outbound_msg *m, struct outbound_result *r);

/* outbound_result_free - what a result holds */
void outbound_result_free(struct outbound_result *r);

#endif
