ALTER TABLE accounts DROP COLUMN availability_changes;
