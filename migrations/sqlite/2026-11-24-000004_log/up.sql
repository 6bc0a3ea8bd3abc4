-- The request log: an append-only RFC 9162 Merkle tree. A leaf's data is the exact bytes
-- hashed into it; it holds pseudonyms, never names, emails, ids or content.
CREATE TABLE log_leaves (
    idx BIGINT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL,
    kind TEXT NOT NULL,
    -- the actor's pseudonym, as in the data, so an account can find its receipts
    actor BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX log_leaves_actor ON log_leaves (actor, idx);

-- Hashes of every perfect subtree: level 0 holds leaf hashes, level L the subtree of
-- leaves idx·2^L .. (idx+1)·2^L. Roots and proofs take O(log n) of them.
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Every signed checkpoint, by tree size.
CREATE TABLE log_checkpoints (
    size BIGINT PRIMARY KEY NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- One row whose lock serialises appends across instances.
CREATE TABLE log_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

CREATE TABLE pressure_reports (
    id TEXT PRIMARY KEY NOT NULL,
    iro_id TEXT NOT NULL REFERENCES accounts (id),
    authority_code TEXT NOT NULL REFERENCES authorities (code),
    kind TEXT NOT NULL CHECK (kind IN ('discouraged_from_advice', 'refused_funding',
        'threatened_discipline', 'told_to_use_authority_lawyers', 'escalation_blocked', 'other')),
    occurred_on DATE NOT NULL,
    -- armored age ciphertext, to the IRO (and NAIRO when shared); NULL when none or erased
    narrative TEXT,
    shared_with_nairo BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX pressure_reports_iro ON pressure_reports (iro_id, created_at);
CREATE INDEX pressure_reports_stats ON pressure_reports (authority_code, created_at);
