-- 017_search_tails: the slowest searches, made as fast as the others.
--
-- The e-mail prefix becomes a range of the primary key. As a LIKE, it was
-- estimated from the histogram's bounds, which a 10-character prefix
-- seldom matches: the planner expected a few dozen mailboxes where there
-- were thousands, read them all through a bitmap and sorted them (30 ms
-- when the rows do not lie in address order on disk). As a range of the
-- address (COLLATE "C": byte order, so the range holds exactly the
-- addresses that start with the prefix, and no character of the pattern is
-- special) the estimate follows the histogram, and the first 50 are read
-- in order from the primary key.
--
-- The name index also carries the city, the postcode and the profession.
-- A search on a first name and a city (or a postcode and a profession)
-- walks it in name order; each entry is now tested on the index itself,
-- and only the mailboxes that match are read from the table, where every
-- entry of the first name was (hundreds of reads for 50 answers). The
-- address comes before them: it is unique, so the order stays the
-- search's.
DROP INDEX annuaire_bal_name;
CREATE INDEX annuaire_bal_name ON annuaire_bal
    (last_name_f, first_name_f, address, city_f, (postcode COLLATE "C"), profession_f);

CREATE OR REPLACE FUNCTION annuaire_search(
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
      -- U+10FFFF, the last character: after every address with the prefix
      AND (email IS NULL OR (b.address >= lower(email) AND b.address < lower(email) || chr(1114111)))
      AND (rpps IS NULL OR (b.id_pp IN (rpps, substr(rpps, 2))
                            AND (b.id_pp = rpps OR b.national_id = rpps)))
    ORDER BY CASE WHEN email IS NULL THEN b.last_name_f END,
             CASE WHEN email IS NULL THEN b.first_name_f END,
             b.address
    LIMIT max_rows
$$;
