ALTER TABLE pressure_reports DROP COLUMN signature;
ALTER TABLE pressure_reports DROP COLUMN signed_at;
