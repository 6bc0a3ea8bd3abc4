-- Each sign-in is a leaf tagged for its owner by its number: how many an account has had.
ALTER TABLE accounts ADD COLUMN sign_ins BIGINT NOT NULL DEFAULT 0;
