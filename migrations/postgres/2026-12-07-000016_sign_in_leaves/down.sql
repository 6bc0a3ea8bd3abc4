ALTER TABLE accounts DROP COLUMN sign_ins;
