/*
 * params - the settings table of mssante.conf.
 */
#include <stdlib.h>
#include <unistd.h>

#include "msg.h"
#include "mymalloc.h"
#include "params.h"

char *var_database;
char *var_schema_directory;
char *var_syslog_facility;
long var_debug_level;
long var_db_connect_timeout;
char *var_whitelist_file;
char *var_whitelist_trust_anchors;
char *var_whitelist_url;
char *var_whitelist_https_ca;
long var_whitelist_fetch_timeout;
char *var_whitelist_socket;
char *var_whitelist_user;
char *var_our_domains;
char *var_whitelist_issuer_cns;
char *var_outbound_daemons;
char *var_local_exempt_senders;
long var_whitelist_check_interval;
long var_milter_idle_timeout;
long var_annuaire_max_delete_percent;
char *var_annuaire_fhir_api_key;
char *var_annuaire_fhir_ca;
long var_annuaire_fhir_rate;
char *var_sieve_app_senders_file;
char *var_annuaire_https_ca;
char *var_otp_key_file;
long var_otp_max_failures;
long var_otp_lockout_time;
long var_otp_login_max_failures;
long var_otp_login_window;
char *var_sasl_proxy_socket;
char *var_sasl_proxy_dovecot;
char *var_sasl_proxy_user;
char *var_portal_listen;
char *var_portal_user;
char *var_portal_url;
char *var_portal_auth_socket;
char *var_portal_trusted_proxies;
long var_portal_threads;
long var_portal_session_lifetime;
long var_portal_idle_timeout;
long var_portal_activation_validity;
long var_portal_reset_validity;
long var_portal_rate_limit;
long var_portal_mail_rate_limit;
long var_portal_password_min_length;
char *var_portal_terms_version;
char *var_portal_imap_server;
char *var_portal_submission_server;
char *var_otp_email_sender;
char *var_otp_sendmail;
char *var_admin_doveadm;
long var_otp_email_validity;
long var_otp_email_attempts;
char *var_annuaire_ldap_bind_dn;
char *var_annuaire_ldap_bind_password;
int var_annuaire_ldap_starttls;
char *var_annuaire_ldap_ca;
long var_annuaire_ldap_page_size;
long var_annuaire_ldap_timeout;
char *var_annuaire_publish_uri;
char *var_annuaire_publish_base;
char *var_annuaire_publish_bind_dn;
char *var_annuaire_publish_bind_password;
int var_annuaire_publish_transactions;
char *var_smime_socket;
char *var_smime_user;
char *var_smime_default_policy;
char *var_smime_sender_policies;
char *var_smime_recipient_policies;
char *var_smime_trust_anchors;
char *var_smime_crl_files;
int var_smime_harvest;
long var_smime_spool_threshold;
char *var_smime_spool_directory;
long var_smime_db_connections;

struct cfg_param mssante_params[] = {
    {"database", CFG_STR, "", 0, 0, &var_database,
     "PostgreSQL connection (libpq conninfo or URI); keep passwords in a passfile", 0},
    {"db_connect_timeout", CFG_TIME, "10s", 1, 300, &var_db_connect_timeout,
     "time allowed to connect to PostgreSQL", 0},
    {"schema_directory", CFG_STR, MSSANTE_DATADIR "/schema", 0, 0, &var_schema_directory,
     "directory of the numbered SQL migrations applied by mssante-db migrate", 0},
    {"syslog_facility", CFG_STR, "mail", 0, 0, &var_syslog_facility, "syslog facility of the daemons", 0},
    {"debug_level", CFG_INT, "0", 0, 3, &var_debug_level,
     "0 = normal logging, 1..3 = more detail (never secrets nor mail content)", 0},
    /* The site: read by both milters, mssante-admin and the Dovecot plugins' snippets. */
    {"our_domains", CFG_STR, "", 0, 0, &var_our_domains,
     "our own mail domains (space or comma separated): mail between them stays home, outbound"
     " mail may go there, and only they can hold our signing certificates",
     0},
    {"outbound_daemons", CFG_STR, "", 0, 0, &var_outbound_daemons,
     "Postfix milter_macro_daemon_name values whose mail is our users' outbound mail even"
     " without SMTP AUTH (e.g. ORIGINATING on submission)",
     0},
    {"local_exempt_senders", CFG_STR, "", 0, 0, &var_local_exempt_senders,
     "envelope senders of locally submitted mail that may leave the trust space unsigned"
     " (e.g. the sender of one-time codes)",
     0},
    {"whitelist_our_domains", CFG_ALIAS, "our_domains", 0, 0, NULL, NULL, 0},
    {"whitelist_outbound_daemons", CFG_ALIAS, "outbound_daemons", 0, 0, NULL, NULL, 0},
    {"whitelist_local_exempt_senders", CFG_ALIAS, "local_exempt_senders", 0, 0, NULL, NULL, 0},
    {"whitelist_file", CFG_STR, MSSANTE_STATEDIR "/listeblanche.xml", 0, 0, &var_whitelist_file,
     "the verified liste blanche, installed by \"liste-blanche fetch\", read by the milter", 0},
    {"whitelist_trust_anchors", CFG_STR, MSSANTE_SYSCONFDIR "/igc-sante-ca.pem", 0, 0,
     &var_whitelist_trust_anchors, "PEM CA certificates the list's signer must chain to (IGC-Santé)", 0},
    {"whitelist_url", CFG_STR, "https://espacedeconfiance.mssante.fr/listeblanchemssante.xml", 0, 0,
     &var_whitelist_url, "where \"liste-blanche fetch\" downloads the list", 0},
    {"whitelist_https_ca", CFG_STR, "", 0, 0, &var_whitelist_https_ca,
     "PEM CAs for the download's TLS server (empty: whitelist_trust_anchors)", 0},
    {"whitelist_fetch_timeout", CFG_TIME, "120s", 5, 3600, &var_whitelist_fetch_timeout,
     "time allowed for one download", 0},
    {"whitelist_socket", CFG_STR, "unix:/run/mssante/milter-whitelist.sock", 0, 0, &var_whitelist_socket,
     "milter-whitelist's socket (unix:/path or inet:port@host)", 0},
    {"whitelist_user", CFG_STR, "mssante", 0, 0, &var_whitelist_user,
     "account milter-whitelist runs as once its socket is open", 0},
    {"whitelist_issuer_cns", CFG_STR,
     "AC IGC-SANTE ELEMENTAIRE ORGANISATIONS, AC IGC-SANTE FORTE ORGANISATIONS", 0, 0,
     &var_whitelist_issuer_cns, "CNs of the CAs that may issue operator certificates (comma separated)", 0},
    {"milter_idle_timeout", CFG_TIME, "5m", 10, 7200, &var_milter_idle_timeout,
     "both milters: a connection silent this long is closed (libmilter looks every 10 min)", 0},
    {"whitelist_check_interval", CFG_TIME, "10s", 1, 3600, &var_whitelist_check_interval,
     "how often milter-whitelist looks for a newly installed list", 0},
    {"annuaire_max_delete_percent", CFG_INT, "10", 0, 100, &var_annuaire_max_delete_percent,
     "a full annuaire-sync deleting more than this share of a source's rows needs --force", 0},
    {"annuaire_fhir_api_key", CFG_STR, "", 0, 0, &var_annuaire_fhir_api_key,
     "the ESANTE-API-KEY of the Annuaire Santé FHIR API (never printed)", 0},
    {"annuaire_fhir_ca", CFG_STR, "", 0, 0, &var_annuaire_fhir_ca,
     "PEM CAs for the FHIR API's HTTPS server (empty: the system's)", 0},
    {"annuaire_fhir_rate", CFG_INT, "17", 1, 100, &var_annuaire_fhir_rate,
     "at most this many FHIR API requests per second", 0},
    {"sieve_app_senders_file", CFG_STR, "", 0, 0, &var_sieve_app_senders_file,
     "Sieve script of the APP BALs' addresses (ours and the directory's) that Dovecot's "
     "sieve_before runs: no automatic reply to them; rewritten by annuaire-sync and "
     "mssante-admin (empty: not written)",
     0},
    {"annuaire_https_ca", CFG_STR, "", 0, 0, &var_annuaire_https_ca,
     "PEM CAs for the server of an https:// extraction URL (empty: the system's)", 0},
    {"annuaire_ldap_bind_dn", CFG_STR, "", 0, 0, &var_annuaire_ldap_bind_dn,
     "annuaire-sync --ldap: simple bind as this DN (empty: anonymous)", 0},
    {"annuaire_ldap_bind_password", CFG_STR, "", 0, 0, &var_annuaire_ldap_bind_password,
     "its password (never printed; sent only over TLS)", 0},
    {"annuaire_ldap_starttls", CFG_BOOL, "yes", 0, 0, &var_annuaire_ldap_starttls,
     "annuaire-sync --ldap: StartTLS on ldap:// URIs (ldaps:// and ldapi:// need none)", 0},
    {"annuaire_ldap_ca", CFG_STR, "", 0, 0, &var_annuaire_ldap_ca,
     "PEM CAs for the LDAP server's certificate (empty: libldap's ldap.conf)", 0},
    {"annuaire_ldap_page_size", CFG_INT, "500", 1, 100000, &var_annuaire_ldap_page_size,
     "entries per page of the paged LDAP search", 0},
    {"annuaire_ldap_timeout", CFG_TIME, "60s", 1, 3600, &var_annuaire_ldap_timeout,
     "LDAP connect and per-request timeout", 0},
    {"annuaire_publish_uri", CFG_STR, "", 0, 0, &var_annuaire_publish_uri,
     "the read-only LDAP address book annuaire-sync publishes the directory into, after each "
     "sync (ldapi:///, ldap:// with StartTLS, ldaps://; empty: no publication)",
     0},
    {"annuaire_publish_base", CFG_STR, "", 0, 0, &var_annuaire_publish_base,
     "the entry under which the address book's entries are written (uid=HASH,BASE)", 0},
    {"annuaire_publish_bind_dn", CFG_STR, "", 0, 0, &var_annuaire_publish_bind_dn,
     "the DN annuaire-sync binds as to write the address book (empty: none, e.g. ldapi:// "
     "with EXTERNAL rights)",
     0},
    {"annuaire_publish_bind_password", CFG_STR, "", 0, 0, &var_annuaire_publish_bind_password,
     "its password (never printed; sent only over TLS or ldapi://)", 0},
    {"annuaire_publish_transactions", CFG_BOOL, "no", 0, 0, &var_annuaire_publish_transactions,
     "write the address book's changes in LDAP transactions of 1,000 entries (RFC 5805): less "
     "work for slapd, but a slapd older than 2.5.14 (Debian 12's 2.5.13, ITS#9892) keeps 1 to 2 "
     "KB of memory per entry so written until it restarts",
     0},
    {"otp_key_file", CFG_STR, MSSANTE_SYSCONFDIR "/otp.key", 0, 0, &var_otp_key_file,
     "the key sealing TOTP secrets: 64 hex digits, root-only (mssante-otp key creates it)", 0},
    {"otp_max_failures", CFG_INT, "10", 1, 1000, &var_otp_max_failures,
     "consecutive failed logins from one client address before it is locked out of the account", 0},
    {"otp_lockout_time", CFG_TIME, "60s", 1, 86400, &var_otp_lockout_time,
     "first lock-out of an address; it doubles with every further failure, up to a day", 0},
    {"otp_login_max_failures", CFG_INT, "100", 1, 1000000, &var_otp_login_max_failures,
     "failures of one login from all addresses within otp_login_window past which each failing"
     " address is locked at its first failure (the owner is never locked out)",
     0},
    {"otp_login_window", CFG_TIME, "1h", 60, 604800, &var_otp_login_window,
     "the window of otp_login_max_failures", 0},
    {"sasl_proxy_socket", CFG_STR, "/var/spool/postfix/private/mssante-sasl", 0, 0, &var_sasl_proxy_socket,
     "mssante-sasl-proxy's socket, Postfix's smtpd_sasl_path", 0},
    {"sasl_proxy_dovecot", CFG_STR, "/var/spool/postfix/private/auth", 0, 0, &var_sasl_proxy_dovecot,
     "Dovecot's auth client socket that mssante-sasl-proxy relays to", 0},
    {"sasl_proxy_user", CFG_STR, "postfix", 0, 0, &var_sasl_proxy_user,
     "account mssante-sasl-proxy runs as (it must be able to open the Dovecot socket)", 0},
    {"portal_listen", CFG_STR, "127.0.0.1:8091", 0, 0, &var_portal_listen,
     "mssante-portal's HTTP address (host:port), for the reverse proxy only", 0},
    {"portal_user", CFG_STR, "mssante-portal", 0, 0, &var_portal_user,
     "account mssante-portal runs as (it must be able to open portal_auth_socket)", 0},
    {"portal_url", CFG_STR, "", 0, 0, &var_portal_url,
     "the portal's public address, as users reach it through the proxy (https://...): the links"
     " mailed for activation and password reset start with it",
     0},
    {"portal_auth_socket", CFG_STR, "/run/dovecot/mssante-portal-auth", 0, 0, &var_portal_auth_socket,
     "Dovecot's auth client socket the portal checks credentials with", 0},
    {"portal_trusted_proxies", CFG_STR, "127.0.0.1, ::1", 0, 0, &var_portal_trusted_proxies,
     "addresses whose X-Real-IP header names the client (the reverse proxy)", 0},
    {"portal_threads", CFG_INT, "8", 1, 256, &var_portal_threads,
     "mssante-portal's worker threads (each with its own PostgreSQL connection)", 0},
    {"portal_session_lifetime", CFG_TIME, "8h", 10, 604800, &var_portal_session_lifetime,
     "a portal session ends this long after sign-in, used or not", 0},
    {"portal_idle_timeout", CFG_TIME, "15m", 5, 86400, &var_portal_idle_timeout,
     "a portal session unused this long ends", 0},
    {"portal_activation_validity", CFG_TIME, "48h", 600, 2592000, &var_portal_activation_validity,
     "how long an activation link is good", 0},
    {"portal_reset_validity", CFG_TIME, "30m", 300, 86400, &var_portal_reset_validity,
     "how long a password reset link is good", 0},
    {"portal_rate_limit", CFG_INT, "30", 1, 100000, &var_portal_rate_limit,
     "form submissions a client address may make per minute", 0},
    {"portal_mail_rate_limit", CFG_INT, "3", 1, 1000, &var_portal_mail_rate_limit,
     "messages (links, codes) the portal sends for one login per hour", 0},
    {"portal_password_min_length", CFG_INT, "12", 8, 128, &var_portal_password_min_length,
     "characters a password chosen on the portal has at least", 0},
    {"portal_terms_version", CFG_STR, "1", 0, 0, &var_portal_terms_version,
     "the version of the terms of use the portal records as accepted", 0},
    {"portal_imap_server", CFG_STR, "", 0, 0, &var_portal_imap_server,
     "IMAP server (host:port, TLS on connect) that client autoconfiguration announces", 0},
    {"portal_submission_server", CFG_STR, "", 0, 0, &var_portal_submission_server,
     "submission server (host:port, STARTTLS) that client autoconfiguration announces", 0},
    {"otp_email_sender", CFG_STR, "", 0, 0, &var_otp_email_sender,
     "envelope and From: address of e-mailed codes and quota warnings (list it in"
     " local_exempt_senders)",
     0},
    {"otp_sendmail", CFG_STR, "/usr/sbin/sendmail", 0, 0, &var_otp_sendmail,
     "the command that submits e-mailed codes (words separated by spaces)", 0},
    {"admin_doveadm", CFG_STR, "/usr/bin/doveadm", 0, 0, &var_admin_doveadm,
     "the doveadm command mssante-admin reads a BAL's usage with (words separated by spaces)", 0},
    {"otp_email_validity", CFG_TIME, "10m", 60, 3600, &var_otp_email_validity,
     "how long an e-mailed code is good", 0},
    {"otp_email_attempts", CFG_INT, "5", 1, 20, &var_otp_email_attempts,
     "wrong tries before an e-mailed code is void", 0},
    {"smime_socket", CFG_STR, "unix:/run/mssante/milter-smime.sock", 0, 0, &var_smime_socket,
     "milter-smime's socket (unix:/path or inet:port@host)", 0},
    {"smime_user", CFG_STR, "mssante", 0, 0, &var_smime_user,
     "account milter-smime runs as: the only one that may read our private keys", 0},
    {"smime_default_policy", CFG_STR, "sign", 0, 0, &var_smime_default_policy,
     "outbound policy: none, sign, sign+encrypt-when-possible or encrypt-required", 0},
    {"smime_sender_policies", CFG_STR, "", 0, 0, &var_smime_sender_policies,
     "per sender domain: \"domain=policy\" items, comma separated", 0},
    {"smime_recipient_policies", CFG_STR, "", 0, 0, &var_smime_recipient_policies,
     "per recipient domain: \"domain=policy\" items; they win over the sender's, "
     "except that encrypt-required is never lowered",
     0},
    {"smime_trust_anchors", CFG_STR, MSSANTE_SYSCONFDIR "/igc-sante-ca.pem", 0, 0, &var_smime_trust_anchors,
     "PEM CA certificates that signers and recipients' certificates must chain to", 0},
    {"smime_crl_files", CFG_STR, "", 0, 0, &var_smime_crl_files,
     "PEM CRL files (space or comma separated); when set, signers are checked against them", 0},
    {"smime_harvest", CFG_BOOL, "no", 0, 0, &var_smime_harvest,
     "store the certificates of verified signers of incoming mail for later encryption", 0},
    {"smime_spool_threshold", CFG_INT, "1048576", 65536, 1073741824, &var_smime_spool_threshold,
     "messages larger than this many bytes are worked on in a private temporary file", 0},
    {"smime_spool_directory", CFG_STR, "/var/tmp", 0, 0, &var_smime_spool_directory,
     "where those temporary files live (unnamed, mode 0600, gone on close)", 0},
    {"smime_db_connections", CFG_INT, "4", 1, 64, &var_smime_db_connections,
     "PostgreSQL connections kept open by milter-smime", 0},
    {0},
};

/* params_load - establish the effective settings of a program */
int params_load(const char *path, char **overrides, int noverrides, char **err)
{
    if (cfg_defaults(mssante_params, err) < 0)
        return -1;
    if (path != NULL) {
        if (cfg_load_file(mssante_params, path, err) < 0)
            return -1;
    } else if (access(MSSANTE_DEFAULT_CONF, F_OK) == 0) {
        if (cfg_load_file(mssante_params, MSSANTE_DEFAULT_CONF, err) < 0)
            return -1;
    }
    for (int i = 0; i < noverrides; i++)
        if (cfg_set(mssante_params, overrides[i], err) < 0)
            return -1;
    if (msg_set_facility(var_syslog_facility) < 0) {
        const char *where = cfg_lookup(mssante_params, "syslog_facility")->origin;

        *err = xasprintf("%s: key \"syslog_facility\": unknown facility \"%s\"",
                         where ? where : "built-in default", var_syslog_facility);
        return -1;
    }
    msg_verbose = (int) var_debug_level;
    return 0;
}
