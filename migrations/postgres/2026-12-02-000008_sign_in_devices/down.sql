ALTER TABLE accounts DROP COLUMN failed_sign_ins;
DROP INDEX login_failures_time;
DROP TABLE login_devices;
