-- 010_mail_maps.sql - what Postfix and Dovecot read (conf/postfix-pgsql/*.cf,
-- conf/dovecot-sql.conf.ext): three views, the only objects their read-only
-- role (mssante_mail in the README) is granted. A disabled BAL is in none.

-- quota_default - the quota of a BAL of each type when the BAL sets none.
CREATE TABLE quota_default (
    bal_type  text PRIMARY KEY CHECK (bal_type IN ('PER', 'ORG', 'APP', 'CAB')),
    quota_mb  integer NOT NULL CHECK (quota_mb > 0)
);
INSERT INTO quota_default VALUES ('PER', 500), ('ORG', 500), ('APP', 500), ('CAB', 500);

-- bal_alias - another address delivered to a BAL (a former address, a
-- shorter one); in one of our domains, never the address of a BAL.
CREATE TABLE bal_alias (
    alias      text PRIMARY KEY CHECK (alias = lower(alias) AND alias LIKE '%_@_%'),
    bal        text NOT NULL REFERENCES bal ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bal_alias_bal ON bal_alias (bal);

-- A lookup by domain (virtual_mailbox_domains) reads this index.
CREATE INDEX bal_domain ON bal (split_part(address, '@', 2)) WHERE state = 'active';

-- mail_domain - our domains: those with an active BAL.
CREATE VIEW mail_domain AS
    SELECT DISTINCT split_part(address, '@', 2) AS domain FROM bal WHERE state = 'active';

-- mail_box - the active BALs, with their quota in MB.
CREATE VIEW mail_box AS
    SELECT b.address, b.bal_type, coalesce(b.quota_mb, q.quota_mb, 500) AS quota_mb
    FROM bal b LEFT JOIN quota_default q ON q.bal_type = b.bal_type
    WHERE b.state = 'active';

-- mail_alias - the aliases of active BALs.
CREATE VIEW mail_alias AS
    SELECT a.alias, a.bal FROM bal_alias a JOIN bal b ON b.address = a.bal WHERE b.state = 'active';
