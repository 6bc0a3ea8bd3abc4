CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('iro', 'adviser', 'nairo', 'admin')),
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    authority_code TEXT REFERENCES authorities (code),
    adviser_kind TEXT CHECK (adviser_kind IN ('solicitor', 'peer')),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    accepting BOOLEAN NOT NULL,
    notification_email TEXT,
    age_recipient TEXT,
    wrapped_identity TEXT,
    -- sealed with the TOTP key from the data directory, bound to the account id
    totp_secret BLOB,
    totp_enabled BOOLEAN NOT NULL,
    totp_last_step BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK ((role = 'adviser') = (adviser_kind IS NOT NULL)),
    CHECK (role <> 'iro' OR authority_code IS NOT NULL),
    CHECK (adviser_kind IS NULL OR adviser_kind <> 'peer' OR authority_code IS NOT NULL)
);
CREATE INDEX accounts_role ON accounts (role, status);

CREATE TABLE adviser_conflicts (
    adviser_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    authority_code TEXT NOT NULL REFERENCES authorities (code),
    PRIMARY KEY (adviser_id, authority_code)
);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('iro', 'adviser', 'nairo', 'admin')),
    email TEXT NOT NULL,
    authority_code TEXT REFERENCES authorities (code),
    adviser_kind TEXT CHECK (adviser_kind IN ('solicitor', 'peer')),
    invited_by TEXT REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

-- A session is one refresh-token family.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- subject is a hash of the normalised email, so unknown emails are throttled alike
-- without storing what was typed.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subject TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, failed_at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claim TEXT,
    claimed_until TIMESTAMP,
    sent_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);
