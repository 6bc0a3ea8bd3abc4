//! The iro-advice service: a secure portal through which Independent Reviewing Officers
//! (IROs) put end-to-end encrypted case questions to independent advisers, with every request
//! for advice and every report of pressure recorded in a tamper-evident log.
//!
//! Modules by what the service does (accounts, queries, pressure, statistics, log, mail,
//! web), each owning its data access and services, on small shared plumbing (config, db,
//! keys, tls, telemetry, tx); [`http`] sits on top: the state handlers reach, the one
//! authorisation mechanism, the route table, the problem answers and the server itself.
//! `tests/structure.rs` checks that no module imports from a layer above its own.

pub mod accounts;
pub mod authorities;
pub mod backup;
pub mod config;
pub mod db;
#[cfg(feature = "demo")]
pub mod demo;
pub mod http;
pub mod keys;
pub mod log;
pub mod mail;
pub mod pressure;
pub mod queries;
pub mod statistics;
pub mod telemetry;
pub mod tls;
pub mod tx;
pub mod web;
