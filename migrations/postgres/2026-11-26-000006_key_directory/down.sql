ALTER TABLE accounts DROP COLUMN key_leaf;
ALTER TABLE accounts DROP COLUMN key_version;
