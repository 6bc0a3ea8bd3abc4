-- An adviser as the operator checked them: a solicitor's SRA number, and who marked the
-- adviser checked and when (so that an IRO can see that the person they ask is who they say,
-- and an audit can see who vouched for them).
ALTER TABLE accounts ADD COLUMN sra_number TEXT;
ALTER TABLE accounts ADD COLUMN verified_at TIMESTAMP;
ALTER TABLE accounts ADD COLUMN verified_by TEXT REFERENCES accounts (id);
-- The language an account reads the service in, its notices included; an invitation's
-- language is the one its mail is written in.
ALTER TABLE accounts ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE invitations ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE outbox ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
