DROP TABLE spent_challenges;
ALTER TABLE accounts DROP COLUMN passkey_enabled;
DROP TABLE passkeys;
