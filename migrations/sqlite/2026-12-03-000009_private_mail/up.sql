-- Routine notices wait for a digest at a jittered time, so that the employer's mail server
-- cannot time a notice against an act; urgent ones go at once and make a pending digest
-- redundant.
ALTER TABLE outbox ADD COLUMN digest BOOLEAN NOT NULL DEFAULT FALSE;
-- An invitation has two halves: the link mailed to the invitee (token_hash) and a short code
-- the inviter passes on another channel, so whoever reads the invitee's mail cannot redeem
-- it. Wrong codes are counted and void the invitation after a few.
ALTER TABLE invitations ADD COLUMN code_hash TEXT;
ALTER TABLE invitations ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
