ALTER TABLE attachments DROP COLUMN first_read_at;
