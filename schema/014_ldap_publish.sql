-- 014_ldap_publish.sql - the directory published as a read-only LDAP address
-- book for mail clients (annuaire-sync, annuaire_publish_* settings).
--
-- annuaire_ldap holds what the address book holds: one row per published
-- entry, with the row_hash of annuaire_bal at the time it was written and
-- the values written. The next publication writes only what differs (and
-- of a changed entry only the attributes that differ) (new or changed rows, rows gone
-- or put on the liste rouge), so a publication that failed half-way is
-- caught up by the next one.
CREATE TABLE annuaire_ldap (
    address   text PRIMARY KEY,
    row_hash  text NOT NULL,
    attrs     text[]           -- the values written, one element per attribute
);

-- The publication's outcome, beside the sync's own (NULL: not published).
ALTER TABLE sync_run
    ADD COLUMN ldap_status   text CHECK (ldap_status IN ('ok', 'failed')),
    ADD COLUMN ldap_written  bigint,
    ADD COLUMN ldap_deleted  bigint,
    ADD COLUMN ldap_error    text;

-- mssante_unaccent - lower case without accents, hyphens kept: the second
-- spelling of a name in the address book ("saint-etienne" for "SAINT-ÉTIENNE";
-- mssante_fold gives the third, "saint etienne").
CREATE FUNCTION mssante_unaccent(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT lower(public.unaccent('public.unaccent'::regdictionary, t))
$$;
