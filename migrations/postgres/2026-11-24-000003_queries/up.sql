-- A query: an IRO's question to one adviser at a time. Its text lives in messages, as age
-- ciphertext only; these columns are the metadata statistics need, nothing more.
CREATE TABLE queries (
    id TEXT PRIMARY KEY NOT NULL,
    iro_id TEXT NOT NULL REFERENCES accounts (id),
    adviser_id TEXT NOT NULL REFERENCES accounts (id),
    -- the IRO's employing authority when the query was asked
    authority_code TEXT NOT NULL REFERENCES authorities (code),
    category TEXT NOT NULL CHECK (category IN ('care_plan_drift', 'placement', 'contact', 'permanence',
        'legal_status', 'cafcass_referral', 'human_rights', 'dispute_resolution', 'other')),
    stage TEXT NOT NULL CHECK (stage IN ('none', 'informal', 'formal', 'senior_management', 'dcs', 'cafcass')),
    urgency TEXT NOT NULL CHECK (urgency IN ('routine', 'urgent')),
    status TEXT NOT NULL CHECK (status IN ('submitted', 'accepted', 'declined', 'closed')),
    outcome TEXT CHECK (outcome IN ('advice_given', 'resolved_informally', 'escalated',
        'referred_to_cafcass', 'withdrawn')),
    created_at TIMESTAMP NOT NULL,
    -- when the current adviser was asked; reminders count from here
    routed_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    first_reply_at TIMESTAMP,
    closed_at TIMESTAMP,
    reminded_at TIMESTAMP,
    -- content erased (retention or an erasure request); the row and its log leaves stay
    erased_at TIMESTAMP,
    CHECK ((status = 'closed') = (outcome IS NOT NULL))
);
CREATE INDEX queries_iro ON queries (iro_id, created_at);
CREATE INDEX queries_adviser ON queries (adviser_id, status);
CREATE INDEX queries_reminder ON queries (status, reminded_at, routed_at);
CREATE INDEX queries_stats ON queries (authority_code, created_at);

-- Every adviser who declined a query, so it is never routed back to them.
CREATE TABLE query_declines (
    query_id TEXT NOT NULL REFERENCES queries (id),
    adviser_id TEXT NOT NULL REFERENCES accounts (id),
    reason TEXT NOT NULL CHECK (reason IN ('conflict', 'capacity', 'expertise', 'other')),
    declined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (query_id, adviser_id)
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    query_id TEXT NOT NULL REFERENCES queries (id),
    sender_id TEXT NOT NULL REFERENCES accounts (id),
    sender_role TEXT NOT NULL CHECK (sender_role IN ('iro', 'adviser')),
    -- ASCII-armored age ciphertext; NULL once erased
    body TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_query ON messages (query_id, created_at);

-- Attachments are binary age streams kept in the database in chunks, so that every
-- instance serving one database can serve every attachment. No file name is stored.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY NOT NULL,
    query_id TEXT NOT NULL REFERENCES queries (id),
    uploader_id TEXT NOT NULL REFERENCES accounts (id),
    size BIGINT NOT NULL,
    -- uploading rows are invisible, and removed if the upload does not complete
    state TEXT NOT NULL CHECK (state IN ('uploading', 'complete', 'erased')),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_query ON attachments (query_id, state);

CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
