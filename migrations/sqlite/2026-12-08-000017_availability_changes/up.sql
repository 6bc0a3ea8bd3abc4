-- Each change of an adviser's availability is a leaf tagged by its number, so that the service
-- reads availability only as the latest logged change says: how many an adviser has made.
ALTER TABLE accounts ADD COLUMN availability_changes BIGINT NOT NULL DEFAULT 0;
