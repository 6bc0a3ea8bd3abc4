ALTER TABLE accounts DROP COLUMN key_handover_signature;
ALTER TABLE accounts DROP COLUMN key_handover_signed_at;
