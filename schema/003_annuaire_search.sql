-- 003_annuaire_search: the recipient search of the webmails, as SQL.
--
-- Matching is by prefix, case- and accent-insensitive, hyphens and
-- apostrophes counted as spaces ("saint-etienne" finds "SAINT-ÉTIENNE").
-- The folded forms are stored columns in the "C" collation, computed once
-- when a row is written: one btree then serves both the prefix LIKE and the
-- ordering, and a search evaluates no function per row. Mailboxes on the
-- liste rouge are never returned.

-- mssante_fold - the comparison form of a name (immutable, so storable).
CREATE FUNCTION mssante_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT translate(lower(public.unaccent('public.unaccent'::regdictionary, t)), '-''', '  ')
$$;

-- mssante_prefix - a LIKE pattern matching what starts with t, taken literally.
CREATE FUNCTION mssante_prefix(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT replace(replace(replace(t, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

ALTER TABLE annuaire_bal
    ADD COLUMN last_name_f  text COLLATE "C" GENERATED ALWAYS AS (mssante_fold(last_name)) STORED,
    ADD COLUMN first_name_f text COLLATE "C" GENERATED ALWAYS AS (mssante_fold(first_name)) STORED,
    ADD COLUMN city_f       text COLLATE "C" GENERATED ALWAYS AS (mssante_fold(city)) STORED,
    ADD COLUMN org_name_f   text COLLATE "C" GENERATED ALWAYS AS (mssante_fold(org_name)) STORED,
    ADD COLUMN profession_f text COLLATE "C" GENERATED ALWAYS AS (mssante_fold(profession_label)) STORED;

CREATE INDEX annuaire_bal_name ON annuaire_bal (last_name_f, first_name_f, (address COLLATE "C"));
CREATE INDEX annuaire_bal_first_name ON annuaire_bal (first_name_f);
CREATE INDEX annuaire_bal_city ON annuaire_bal (city_f);
CREATE INDEX annuaire_bal_org ON annuaire_bal (org_name_f);
CREATE INDEX annuaire_bal_profession ON annuaire_bal (profession_f);
CREATE INDEX annuaire_bal_postcode ON annuaire_bal (postcode COLLATE "C");
CREATE INDEX annuaire_bal_department ON annuaire_bal (department);
CREATE INDEX annuaire_bal_address_prefix ON annuaire_bal ((address COLLATE "C"));
CREATE INDEX annuaire_bal_id_pp ON annuaire_bal (id_pp);
CREATE INDEX annuaire_bal_national_id ON annuaire_bal (national_id);

-- annuaire_search - any combination of criteria (NULL = not used), by prefix.
CREATE FUNCTION annuaire_search(
    nom text DEFAULT NULL, prenom text DEFAULT NULL, cp text DEFAULT NULL,
    ville text DEFAULT NULL, departement text DEFAULT NULL, profession text DEFAULT NULL,
    structure text DEFAULT NULL, email text DEFAULT NULL, rpps text DEFAULT NULL,
    max_rows integer DEFAULT 50)
RETURNS TABLE (last_name text, first_name text, address text, postcode text,
               department text, city text, org_name text, profession_label text,
               national_id text, bal_type text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT b.last_name, b.first_name, b.address, b.postcode, b.department, b.city,
           b.org_name, b.profession_label, b.national_id, b.bal_type
    FROM annuaire_bal b
    WHERE NOT b.liste_rouge
      AND (nom IS NULL OR b.last_name_f LIKE mssante_prefix(mssante_fold(nom)))
      AND (prenom IS NULL OR b.first_name_f LIKE mssante_prefix(mssante_fold(prenom)))
      AND (cp IS NULL OR b.postcode COLLATE "C" LIKE mssante_prefix(cp))
      AND (ville IS NULL OR b.city_f LIKE mssante_prefix(mssante_fold(ville)))
      AND (departement IS NULL OR b.department = departement)
      AND (profession IS NULL OR b.profession_f LIKE mssante_prefix(mssante_fold(profession)))
      AND (structure IS NULL OR b.org_name_f LIKE mssante_prefix(mssante_fold(structure)))
      AND (email IS NULL OR b.address COLLATE "C" LIKE mssante_prefix(lower(email)))
      AND (rpps IS NULL OR b.id_pp = rpps OR b.national_id = rpps)
    ORDER BY b.last_name_f, b.first_name_f, b.address COLLATE "C"
    LIMIT max_rows
$$;
