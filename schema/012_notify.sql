-- 012_notify.sql - new-mail notices (conf/dovecot-notify.conf): the BAL's
-- notification address reaches Dovecot's userdb, and whether the holder also
-- wants a notice for mail of our own users ("Notifier également pour les
-- messages non sécurisés"), not only for mail an MSSanté operator relayed.
ALTER TABLE bal ADD COLUMN notify_local boolean NOT NULL DEFAULT false;

CREATE OR REPLACE VIEW mail_box AS
    SELECT b.address, b.bal_type, coalesce(b.quota_mb, q.quota_mb, 500) AS quota_mb,
           b.notify_email, b.notify_local
    FROM bal b LEFT JOIN quota_default q ON q.bal_type = b.bal_type
    WHERE b.state = 'active';
