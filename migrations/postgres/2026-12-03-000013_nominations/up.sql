-- An IRO whom NAIRO nominates counts in the statistics only from the moment an admin
-- approves the nomination, so that one NAIRO account cannot add IROs (and their requests)
-- to an authority's numbers to lift it over a threshold or to plant counts it knows.
-- Everyone else is approved as their account is made; accounts made before this change keep
-- counting from their creation, so that no published number moves.
ALTER TABLE accounts ADD COLUMN approved_at TIMESTAMP;
ALTER TABLE accounts ADD COLUMN approved_by TEXT REFERENCES accounts (id);
UPDATE accounts SET approved_at = created_at;
ALTER TABLE invitations ADD COLUMN nominated BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE invitations SET nominated = TRUE
    WHERE used_at IS NULL AND invited_by IN (SELECT id FROM accounts WHERE role = 'nairo');
CREATE INDEX accounts_approved ON accounts (id, approved_at);
