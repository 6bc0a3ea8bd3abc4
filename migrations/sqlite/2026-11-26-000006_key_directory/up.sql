-- The key directory: each registration of an account's age recipient is a key event in the
-- witnessed log, with a version per account. The leaf lets the service prove to a sender,
-- with an inclusion proof, which key the log holds for the account; the column is only
-- where that leaf is, never trusted by a client on its own.
ALTER TABLE accounts ADD COLUMN key_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN key_leaf BIGINT;
