-- What kind of client holds a session ('web' keeps its refresh token in a cookie the page
-- cannot read; 'api' holds it itself), and when it last refreshed: what a person needs to
-- recognise their own sessions in the list, and nothing that identifies a device or place.
ALTER TABLE sessions ADD COLUMN client TEXT NOT NULL DEFAULT 'api';
ALTER TABLE sessions ADD COLUMN last_active_at TIMESTAMP;
