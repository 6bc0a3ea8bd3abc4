ALTER TABLE outbox DROP COLUMN language;
ALTER TABLE invitations DROP COLUMN language;
ALTER TABLE accounts DROP COLUMN language;
ALTER TABLE accounts DROP COLUMN verified_by;
ALTER TABLE accounts DROP COLUMN verified_at;
ALTER TABLE accounts DROP COLUMN sra_number;
