-- 009_bal_metadata.sql - what mssante-admin records of a person and of a BAL:
-- the request form's fields (civilité, nom, prénom, phone) and the national
-- metadata the Annuaire Santé publishes for a BAL (MSSANTE.md 2.1, 2.2).
-- The owner of an ORG BAL (bal_access role 'owner') is its responsible.

ALTER TABLE account
    ADD COLUMN civility   text CHECK (civility IS NULL OR length(civility) <= 16),
    ADD COLUMN last_name  text,
    ADD COLUMN first_name text,
    ADD COLUMN phone      text;

-- state: a disabled BAL receives nothing (550 5.1.1) and nobody opens it.
-- id_nat: the holder's national identifier, "8" + RPPS or "0" + ADELI (PER).
-- structure_id: the structure's FINESS (ORG, APP; PER and CAB: the place of practice).
-- liste_rouge: never published in any directory.
-- notify_email: where new-mail notices go (outside MSSanté, no health data).
-- quota_mb: this BAL's quota; NULL means the default of its type (mssante.conf).
-- last_login_at: the last login that opened this BAL (inactive BALs).
ALTER TABLE bal
    ADD COLUMN state         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    ADD COLUMN id_nat        text CHECK (id_nat IS NULL OR id_nat ~ '^(8[0-9]{11}|0[0-9A-Z]{9})$'),
    ADD COLUMN structure_id  text CHECK (structure_id IS NULL OR structure_id ~ '^[0-9][0-9AB][0-9]{7}$'),
    ADD COLUMN service       text,
    ADD COLUMN description   text,
    ADD COLUMN liste_rouge   boolean NOT NULL DEFAULT false,
    ADD COLUMN notify_email  text,
    ADD COLUMN quota_mb      integer CHECK (quota_mb IS NULL OR quota_mb > 0),
    ADD COLUMN last_login_at timestamptz;
