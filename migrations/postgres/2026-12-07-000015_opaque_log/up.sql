-- Opaque leaves: every act but a statistics release and a web-app build is logged as a
-- commitment; its opening (salt, body, details) stays here, for the act's causer, a
-- correspondent proving a key, and NAIRO's auditor.
CREATE TABLE log_openings (
    idx BIGINT PRIMARY KEY NOT NULL REFERENCES log_leaves (idx),
    salt BYTEA NOT NULL,
    body BYTEA NOT NULL,
    details TEXT NOT NULL
);

-- Acts recorded but not yet published: the publisher appends them in a shuffled batch and
-- signs one checkpoint, so that the tree's growth dates no act more finely than the
-- publication interval.
CREATE TABLE log_pending (
    id BIGSERIAL PRIMARY KEY,
    data BYTEA NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    actor BYTEA NOT NULL,
    salt BYTEA,
    body BYTEA,
    details TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX log_pending_actor ON log_pending (actor);
CREATE INDEX log_leaves_data ON log_leaves (data);
-- An opaque leaf's tag, as in its data: an account finds its key events and changes of
-- conflicts by the tags it can compute.
ALTER TABLE log_leaves ADD COLUMN tag BYTEA;
CREATE INDEX log_leaves_tag ON log_leaves (tag);

-- How many times an adviser's declared conflicts have changed: each change's leaf is tagged
-- with its number, so that the adviser's own client can find every one.
ALTER TABLE accounts ADD COLUMN conflicts_changes BIGINT NOT NULL DEFAULT 0;
