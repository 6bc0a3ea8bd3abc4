//! Integration tests: every test runs against SQLite and, when configured, PostgreSQL.

mod helpers;

mod accounts;
mod authorization;
mod cli;
mod foundation;
mod log;
mod mail;
mod queries;
mod smtp;
mod statistics;
