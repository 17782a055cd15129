-- 013_portal.sql - what mssante-portal keeps: accounts waiting for their
-- holder's activation, the single-use links it mails, the acceptance of the
-- terms of use.

-- state 'pending': made by mssante-admin with --activation; no password
-- yet, every login refused until the holder follows the link.
ALTER TABLE account DROP CONSTRAINT account_state_check;
ALTER TABLE account ADD CONSTRAINT account_state_check
    CHECK (state IN ('active', 'disabled', 'pending'));
ALTER TABLE account
    ADD COLUMN terms_accepted_at timestamptz,
    ADD COLUMN terms_version     text,
    ADD COLUMN password_changed_at timestamptz;

-- portal_token - a link mailed to the contact address: activation (48 h),
-- password reset (30 min). Only the SHA-256 of the token is kept; used_at
-- is set as it is spent, so a link works once.
CREATE TABLE portal_token (
    token_hash   text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    account_id   bigint NOT NULL REFERENCES account ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('activation', 'reset')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX portal_token_account ON portal_token (account_id, kind);
