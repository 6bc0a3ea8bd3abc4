ALTER TABLE queries DROP COLUMN status_changes;
