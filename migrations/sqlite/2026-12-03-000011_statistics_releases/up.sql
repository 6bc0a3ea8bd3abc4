-- Statistics releases: each period's tables, built once when the period and its follow-up
-- window have passed, protected and audited, then frozen. The SHA-256 of the header and the
-- two views (as stored, joined by newlines) is a leaf of the log, at leaf_index.
CREATE TABLE statistics_releases (
    period TEXT PRIMARY KEY NOT NULL,
    length TEXT NOT NULL,
    version INTEGER NOT NULL,
    built_at TIMESTAMP NOT NULL,
    meta TEXT NOT NULL,
    by_authority TEXT NOT NULL,
    by_region TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    leaf_index BIGINT NOT NULL
);
