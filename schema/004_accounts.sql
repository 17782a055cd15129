-- 004_accounts.sql - local accounts, the BALs they open, their second factor
-- and device passwords (dovecot-auth-otp, mssante-otp).
--
-- Nothing secret is stored in clear: passwords and device passwords are
-- Dovecot scheme hashes ({ARGON2ID}, {BLF-CRYPT}, {SHA512-CRYPT}); TOTP
-- secrets are AES-256-GCM ciphertexts under a key kept in a root-only file
-- outside the database; e-mail codes are stored hashed.

-- account - one person (or service) who logs in, by "prenom.nom".
CREATE TABLE account (
    id             bigserial PRIMARY KEY,
    login          text NOT NULL UNIQUE CHECK (login = lower(login) AND login <> ''),
    password       text NOT NULL,                 -- {SCHEME}hash
    contact_email  text,                          -- outside MSSanté: e-mail codes, notices
    otp_method     text NOT NULL DEFAULT 'none' CHECK (otp_method IN ('none', 'totp', 'email')),
    state          text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);

-- bal - a mailbox of ours; home is where Dovecot keeps its mail.
CREATE TABLE bal (
    address        text PRIMARY KEY CHECK (address = lower(address) AND address LIKE '%_@_%'),
    bal_type       text NOT NULL DEFAULT 'PER' CHECK (bal_type IN ('PER', 'ORG', 'APP', 'CAB')),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- bal_access - who may open which BAL: its owner, and the delegates of an
-- ORG BAL (with their own credentials and second factor).
CREATE TABLE bal_access (
    account_id     bigint NOT NULL REFERENCES account ON DELETE CASCADE,
    bal            text NOT NULL REFERENCES bal ON DELETE CASCADE,
    role           text NOT NULL CHECK (role IN ('owner', 'delegate')),
    PRIMARY KEY (account_id, bal)
);
CREATE INDEX bal_access_bal ON bal_access (bal);
-- One owner per BAL at most.
CREATE UNIQUE INDEX bal_access_one_owner ON bal_access (bal) WHERE role = 'owner';

-- otp_secret - the TOTP seed: nonce || ciphertext || tag (AES-256-GCM,
-- additional data: the login). confirmed once a first code was verified.
CREATE TABLE otp_secret (
    account_id     bigint PRIMARY KEY REFERENCES account ON DELETE CASCADE,
    secret_enc     bytea NOT NULL,
    confirmed      boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- otp_state - replay and lock-out state of an account.
CREATE TABLE otp_state (
    account_id     bigint PRIMARY KEY REFERENCES account ON DELETE CASCADE,
    last_step      bigint NOT NULL DEFAULT 0,     -- last accepted TOTP time step
    failures       integer NOT NULL DEFAULT 0,    -- consecutive failures
    locked_until   timestamptz
);

-- email_code - the pending code sent to the contact address (hashed).
CREATE TABLE email_code (
    account_id     bigint PRIMARY KEY REFERENCES account ON DELETE CASCADE,
    code_hash      text NOT NULL,
    expires_at     timestamptz NOT NULL,
    attempts       integer NOT NULL DEFAULT 0
);

-- device_password - one per mail client or device, shown once at creation.
CREATE TABLE device_password (
    id             bigserial PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES account ON DELETE CASCADE,
    name           text NOT NULL,
    hash           text NOT NULL,                 -- {SCHEME}hash
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    UNIQUE (account_id, name)
);
CREATE INDEX device_password_live ON device_password (account_id) WHERE revoked_at IS NULL;
