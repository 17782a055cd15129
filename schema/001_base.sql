-- 001_base: sync runs and the audit trail.
--
-- Every migration runs in one transaction applied by "mssante-db migrate";
-- a file must not contain BEGIN/COMMIT of its own. Never edit a migration
-- that has shipped: add a new numbered file.

-- One row per run of a synchronisation job (annuaire-sync, liste-blanche
-- fetch). A run that fails or is refused keeps its row with the reason.
CREATE TABLE sync_run (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL,                -- extraction, fhir, ldap, liste-blanche
    source_ref    text,                         -- file name or URL, never a key
    mode          text NOT NULL DEFAULT 'full'
                  CHECK (mode IN ('full', 'delta')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    rows_read     bigint NOT NULL DEFAULT 0,
    rows_inserted bigint NOT NULL DEFAULT 0,
    rows_updated  bigint NOT NULL DEFAULT 0,
    rows_deleted  bigint NOT NULL DEFAULT 0,
    rows_rejected bigint NOT NULL DEFAULT 0,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'ok', 'failed', 'refused', 'dry-run')),
    error         text
);
CREATE INDEX sync_run_source_started ON sync_run (source, started_at DESC);

-- The trace of every significant action on a mailbox (PGSSI-S): who, when,
-- from where, what was asked and what came of it. Never a password, a
-- one-time code or any part of a message. Kept six months (audit_purge).
CREATE TABLE audit_event (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,                    -- login, or the component acting
    bal       text,                             -- mailbox acted on, if any
    action    text NOT NULL,                    -- login, send, delete, otp-enroll, ...
    service   text,                             -- imap, submission, lmtp, admin, ...
    remote_ip inet,
    request   text,                             -- what was asked (method, target)
    result    text NOT NULL,                    -- ok, fail, tempfail, locked, ...
    detail    text
);
CREATE INDEX audit_event_at ON audit_event (at);
CREATE INDEX audit_event_actor_at ON audit_event (actor, at DESC);
CREATE INDEX audit_event_bal_at ON audit_event (bal, at DESC) WHERE bal IS NOT NULL;

-- audit_purge - delete trace rows older than the retention; returns the count.
CREATE FUNCTION audit_purge(keep interval DEFAULT interval '6 months')
RETURNS bigint LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM audit_event WHERE at < now() - keep RETURNING 1)
    SELECT count(*) FROM gone;
$$;
