DROP TABLE attachment_chunks;
DROP TABLE attachments;
DROP TABLE messages;
DROP TABLE query_declines;
DROP TABLE queries;
