DROP INDEX accounts_approved;
ALTER TABLE invitations DROP COLUMN nominated;
ALTER TABLE accounts DROP COLUMN approved_by;
ALTER TABLE accounts DROP COLUMN approved_at;
