ALTER TABLE invitations DROP COLUMN code_failures;
ALTER TABLE invitations DROP COLUMN code_hash;
ALTER TABLE outbox DROP COLUMN digest;
