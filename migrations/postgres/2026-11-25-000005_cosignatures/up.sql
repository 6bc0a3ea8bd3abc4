-- Witnesses' cosignatures (C2SP tlog-cosignature) of the log's checkpoints: one line per
-- witness and tree size, exactly as the witness returned it. A checkpoint is served to
-- clients, and put in receipts, once a quorum of the configured witnesses has cosigned it.
CREATE TABLE log_cosignatures (
    size BIGINT NOT NULL,
    -- the witness's verifier key: a renamed or re-keyed witness is another witness
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (size, witness)
);
CREATE INDEX log_cosignatures_witness ON log_cosignatures (witness, size);
