-- The previous key's signature on the current one, when it was handed over from a device that held
-- the old key: shown to correspondents beside the change.
ALTER TABLE accounts ADD COLUMN key_handover_signed_at BIGINT;
ALTER TABLE accounts ADD COLUMN key_handover_signature TEXT;
