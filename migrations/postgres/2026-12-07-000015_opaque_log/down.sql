ALTER TABLE accounts DROP COLUMN conflicts_changes;
DROP INDEX log_leaves_tag;
ALTER TABLE log_leaves DROP COLUMN tag;
DROP INDEX log_leaves_data;
DROP TABLE log_pending;
DROP TABLE log_openings;
