ALTER TABLE sessions DROP COLUMN last_active_at;
ALTER TABLE sessions DROP COLUMN client;
