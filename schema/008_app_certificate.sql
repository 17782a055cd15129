-- 008_app_certificate.sql - software BALs (APP: health software sending and
-- receiving without a person to type a code) log in with an IGC-Santé client
-- certificate instead of a password (dovecot-auth-otp, SASL EXTERNAL).

-- cert_name - the certificate's name as Dovecot reads it
-- (ssl_cert_username_field, commonName by default). Dovecot lowercases user
-- names, so a name is unique whatever its case: one BAL per certificate.
ALTER TABLE bal ADD COLUMN cert_name text
    CHECK (cert_name IS NULL OR (bal_type = 'APP' AND cert_name <> ''));
CREATE UNIQUE INDEX bal_cert_name ON bal (lower(cert_name));
