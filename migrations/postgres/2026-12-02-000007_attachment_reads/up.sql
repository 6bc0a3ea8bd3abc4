-- When an attachment's stream first went to an account other than its uploader. From then
-- on the stream is what that reader had, so it may no longer be replaced in place: the IRO
-- adds a re-encrypted copy instead, and the replaced-in-place case is a leaf in the log.
ALTER TABLE attachments ADD COLUMN first_read_at TIMESTAMP;
