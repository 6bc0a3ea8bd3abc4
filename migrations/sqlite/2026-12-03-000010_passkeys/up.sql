-- Passkeys (WebAuthn credentials) as a second factor. The public key is stored as the
-- authenticator gave it (uncompressed P-256 point or Ed25519 key) with its COSE algorithm.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    algorithm INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    sign_count BIGINT NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX passkeys_account ON passkeys (account_id);
ALTER TABLE accounts ADD COLUMN passkey_enabled BOOLEAN NOT NULL DEFAULT FALSE;
-- WebAuthn challenges are sealed by the service and need no row until they are used;
-- a used one is kept until it expires, so that an assertion cannot be replayed.
CREATE TABLE spent_challenges (
    digest TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
