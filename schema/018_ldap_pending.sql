-- 018_ldap_pending: the LDAP publication reads only what changed.
--
-- A publication compared the whole of annuaire_bal with annuaire_ldap to
-- find a day's few thousand changes: two joins of the national directory
-- (more processor time on the database than slapd spent writing). Every
-- write to annuaire_bal now notes its address in annuaire_ldap_pending,
-- once a tree has been published (annuaire_ldap not empty), in the
-- transaction that writes it; a publication compares only those, and
-- empties the table when the tree holds them all (a failed or refused
-- write leaves them for the next run). The address '*' asks the next
-- publication to compare everything, as annuaire-sync --publish --full
-- does: a first load over a published tree writes it.
CREATE TABLE annuaire_ldap_pending (
    address text COLLATE "C" PRIMARY KEY
);

CREATE FUNCTION annuaire_ldap_note() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM annuaire_ldap) THEN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO annuaire_ldap_pending VALUES (OLD.address) ON CONFLICT DO NOTHING;
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.address <> OLD.address) THEN
            INSERT INTO annuaire_ldap_pending VALUES (NEW.address) ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- A first load (COPY into the empty table) disables it for its own rows.
CREATE TRIGGER annuaire_bal_ldap_pending AFTER INSERT OR UPDATE OR DELETE ON annuaire_bal
    FOR EACH ROW EXECUTE FUNCTION annuaire_ldap_note();

-- The record's addresses in the order of annuaire_bal's: a pending address
-- is looked up in both through their primary keys.
ALTER TABLE annuaire_ldap ALTER COLUMN address TYPE text COLLATE "C";

-- What a tree published before this migration lacks is not known: its next
-- publication compares everything.
INSERT INTO annuaire_ldap_pending SELECT '*' WHERE EXISTS (SELECT FROM annuaire_ldap);
