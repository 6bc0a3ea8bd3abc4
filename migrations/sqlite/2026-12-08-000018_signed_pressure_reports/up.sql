-- The IRO's signature on a pressure report, for their own client to check (never shown to NAIRO).
ALTER TABLE pressure_reports ADD COLUMN signed_at BIGINT;
ALTER TABLE pressure_reports ADD COLUMN signature TEXT;
