DROP TABLE outbox;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE invitations;
DROP TABLE adviser_conflicts;
DROP TABLE accounts;
