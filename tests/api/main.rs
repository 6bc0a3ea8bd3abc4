//! Integration tests: every test runs against SQLite and, when configured, PostgreSQL.

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

mod accounts;
mod audit;
mod authorization;
mod backup;
mod cli;
mod console;
mod foundation;
mod hardening;
mod keys;
mod log;
mod mail;
mod monitoring;
mod opaque;
mod passkeys;
mod queries;
mod releases;
mod rollback;
mod services;
mod sessions;
mod signing;
mod smuggling;
mod statistics;
mod uploads;
mod web;
mod witness;
mod witnessing;
