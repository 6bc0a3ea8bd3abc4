-- A device token is given to a client at each successful sign-in and kept by it. Attempts
-- that present one for the account count against that device's own limit, so whoever knows
-- an IRO's email cannot lock the IRO's own devices out. Only a hash is stored.
CREATE TABLE login_devices (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL
);
CREATE INDEX login_devices_account ON login_devices (account_id);
-- The service-wide ceiling counts recent failures of every subject.
CREATE INDEX login_failures_time ON login_failures (failed_at);
-- Failed sign-ins since the last successful one, told to the account holder at the next.
ALTER TABLE accounts ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
