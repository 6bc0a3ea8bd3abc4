DROP TABLE pressure_reports;
DROP TABLE log_head;
DROP TABLE log_checkpoints;
DROP TABLE log_nodes;
DROP TABLE log_leaves;
