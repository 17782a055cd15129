-- 006_login_guard.sql - failed logins counted per client address, so that
-- a stranger who guesses at a login locks out their own address and never
-- the account's owner (dovecot-auth-otp, mssante-otp unlock).
--
-- Before: otp_state.failures and locked_until locked the whole account,
-- device passwords included, whoever failed.

-- login_failure - consecutive failures of one account from one client
-- address ('' when the service gave none); locked_until is that
-- address's back-off. A success from the address deletes its row.
CREATE TABLE login_failure (
    account_id     bigint NOT NULL REFERENCES account ON DELETE CASCADE,
    client         text NOT NULL,
    failures       integer NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    last_failure   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, client)
);

-- The per-login ceiling: failures from every address within a window;
-- past it the login is under attack and each failing address is locked
-- at once. Successes do not reset it (an owner's client logging in every
-- few minutes must not reopen the window for a guesser).
ALTER TABLE otp_state DROP COLUMN failures;
ALTER TABLE otp_state DROP COLUMN locked_until;
ALTER TABLE otp_state ADD COLUMN window_start timestamptz;
ALTER TABLE otp_state ADD COLUMN window_failures integer NOT NULL DEFAULT 0;
