/*
 * params - every key of /etc/mssante/mssante.conf, in one table.
 *
 * Like Postfix's mail_params, the table is shared by all programs so that
 * one file can configure every part, each program checks the whole file,
 * and "-n" prints the same effective settings everywhere. A component
 * adds its keys here, with a default, bounds and one line of help.
 */
#ifndef MSSANTE_PARAMS_H
#define MSSANTE_PARAMS_H

#include "cfg.h"

#ifndef MSSANTE_SYSCONFDIR
#define MSSANTE_SYSCONFDIR "/etc/mssante"
#endif
#ifndef MSSANTE_DATADIR
#define MSSANTE_DATADIR "/usr/local/share/mssante"
#endif
#ifndef MSSANTE_STATEDIR
#define MSSANTE_STATEDIR "/var/lib/mssante"
#endif
#ifndef MSSANTE_VERSION
#define MSSANTE_VERSION "0.1"
#endif

#define MSSANTE_DEFAULT_CONF MSSANTE_SYSCONFDIR "/mssante.conf"

extern char *var_database;
extern char *var_schema_directory;
extern char *var_syslog_facility;
extern long var_debug_level;
extern long var_db_connect_timeout;
extern char *var_whitelist_file;
extern char *var_whitelist_trust_anchors;
extern char *var_whitelist_url;
extern char *var_whitelist_https_ca;
extern long var_whitelist_fetch_timeout;
extern char *var_whitelist_socket;
extern char *var_whitelist_user;
extern char *var_our_domains;
extern char *var_whitelist_issuer_cns;
extern char *var_outbound_daemons;
extern char *var_local_exempt_senders;
extern long var_whitelist_check_interval;
extern long var_milter_idle_timeout;
extern long var_annuaire_max_delete_percent;
extern char *var_annuaire_fhir_api_key;
extern char *var_annuaire_fhir_ca;
extern long var_annuaire_fhir_rate;
extern char *var_annuaire_https_ca;
extern char *var_otp_key_file;
extern long var_otp_max_failures;
extern long var_otp_lockout_time;
extern long var_otp_login_max_failures;
extern long var_otp_login_window;
extern char *var_sasl_proxy_socket;
extern char *var_sasl_proxy_dovecot;
extern char *var_sasl_proxy_user;
extern char *var_portal_listen;
extern char *var_portal_user;
extern char *var_portal_url;
extern char *var_portal_auth_socket;
extern char *var_portal_trusted_proxies;
extern long var_portal_threads;
extern long var_portal_session_lifetime;
extern long var_portal_idle_timeout;
extern long var_portal_activation_validity;
extern long var_portal_reset_validity;
extern long var_portal_rate_limit;
extern long var_portal_mail_rate_limit;
extern long var_portal_password_min_length;
extern char *var_portal_terms_version;
extern char *var_portal_imap_server;
extern char *var_portal_submission_server;
extern char *var_otp_email_sender;
extern char *var_otp_sendmail;
extern char *var_sieve_app_senders_file;
extern char *var_admin_doveadm;
extern long var_otp_email_validity;
extern long var_otp_email_attempts;
extern char *var_annuaire_ldap_bind_dn;
extern char *var_annuaire_ldap_bind_password;
extern int var_annuaire_ldap_starttls;
extern char *var_annuaire_ldap_ca;
extern long var_annuaire_ldap_page_size;
extern long var_annuaire_ldap_timeout;
extern char *var_annuaire_publish_uri;
extern char *var_annuaire_publish_base;
extern char *var_annuaire_publish_bind_dn;
extern char *var_annuaire_publish_bind_password;
extern int var_annuaire_publish_transactions;
extern char *var_smime_socket;
extern char *var_smime_user;
extern char *var_smime_default_policy;
extern char *var_smime_sender_policies;
extern char *var_smime_recipient_policies;
extern char *var_smime_trust_anchors;
extern char *var_smime_crl_files;
extern int var_smime_harvest;
extern long var_smime_spool_threshold;
extern char *var_smime_spool_directory;
extern long var_smime_db_connections;

extern struct cfg_param mssante_params[];

/*
 * params_load - defaults, then the file (if path is NULL the default file,
 * which may be absent), then overrides; 0, or -1 with *err set.
 */
int params_load(const char *path, char **overrides, int noverrides, char **err);

#endif
