-- Each act that sets a query's status is its next numbered status act in the log, under a keyed
-- tag; the service reads the status only as the latest one says: how many a query has had.
ALTER TABLE queries ADD COLUMN status_changes BIGINT NOT NULL DEFAULT 0;
