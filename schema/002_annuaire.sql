-- 002_annuaire: the national directory of MSSanté mailboxes (BAL).
--
-- One row per mailbox; the address is the key (the national files have no
-- stable id). "source" says which feed owns the row: a full sync of a source
-- deletes only that source's vanished rows. row_hash lets a re-sync write
-- only the rows whose content changed; last_changed is when that happened.
-- That a row is still present is told by the source's latest successful run
-- in sync_run (view annuaire_bal_seen).

CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE annuaire_bal (
    address            text PRIMARY KEY,           -- lower case
    bal_type           text NOT NULL CHECK (bal_type IN ('PER', 'ORG', 'APP', 'CAB')),
    id_type            text,                       -- 8 = RPPS, 0 = ADELI
    id_pp              text,                       -- RPPS or ADELI number
    national_id        text,                       -- "8" + RPPS or "0" + ADELI
    structure_id_type  text,
    structure_id       text,
    service            text,
    civility           text,
    last_name          text,
    first_name         text,
    profession_category       text,
    profession_category_label text,
    profession_code    text,
    profession_label   text,
    specialty_code     text,                       -- savoir-faire
    specialty_label    text,
    digitization       text,                       -- Dématérialisation
    org_name           text,                       -- Raison sociale
    org_trade_name     text,                       -- Enseigne commerciale
    addr_complement    text,                       -- L2
    addr_distribution  text,                       -- L3
    addr_number        text,                       -- L4 numéro
    addr_number_compl  text,                       -- L4 complément
    addr_street_type   text,                       -- L4 type de voie
    addr_street        text,                       -- L4 libellé
    addr_locality      text,                       -- L5 lieu-dit
    addr_line6         text,                       -- L6 "code postal VILLE"
    postcode           text,
    city               text,                       -- from L6, after the postcode
    department         text,
    country            text,
    liste_rouge        boolean NOT NULL DEFAULT false,   -- never published when true
    source             text NOT NULL,              -- extraction, fhir, ldap
    first_seen         timestamptz NOT NULL DEFAULT now(),
    last_changed       timestamptz NOT NULL DEFAULT now(),
    row_hash           text NOT NULL
);
CREATE INDEX annuaire_bal_source ON annuaire_bal (source);

-- annuaire_bal_seen - each row with the time its source last confirmed it.
CREATE VIEW annuaire_bal_seen AS
SELECT b.*, r.last_seen
FROM annuaire_bal b
LEFT JOIN (SELECT source, max(finished_at) AS last_seen FROM sync_run
           WHERE status = 'ok' AND mode = 'full' GROUP BY source) r USING (source);
