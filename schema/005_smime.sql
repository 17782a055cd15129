-- 005_smime.sql - the S/MIME certificate store of milter-smime and
-- mssante-smime.
--
-- Two uses: "own" certificates are ours (we sign with them and decrypt
-- what is encrypted to them); their private key stays in a file readable
-- only by the milter's user, the database keeps its path. "peer"
-- certificates are our correspondents' (we encrypt to them); they come
-- from the administrator or, when smime_harvest = yes, from verified
-- signed mail. Each belongs to one address or to a whole domain; a
-- mailbox certificate is preferred to its domain's.

CREATE TABLE smime_cert (
    id           bigserial PRIMARY KEY,
    usage        text NOT NULL CHECK (usage IN ('own', 'peer')),
    scope        text NOT NULL CHECK (scope IN ('address', 'domain')),
    owner        text NOT NULL CHECK (owner = lower(owner) AND owner <> ''),
    fingerprint  text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),  -- SHA-256 of the DER
    subject      text NOT NULL,
    issuer       text NOT NULL,
    serial       text NOT NULL,
    not_before   timestamptz NOT NULL,
    not_after    timestamptz NOT NULL,
    cert_pem     text NOT NULL,
    key_file     text,
    source       text NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'harvested')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK ((usage = 'own') = (key_file IS NOT NULL)),
    CHECK ((scope = 'address') = (owner LIKE '%_@_%')),
    UNIQUE (usage, owner, fingerprint)
);

CREATE INDEX smime_cert_lookup ON smime_cert (owner, usage) WHERE revoked_at IS NULL;
