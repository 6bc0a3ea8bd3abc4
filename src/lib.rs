//! iro-advice: a secure portal through which Independent Reviewing Officers (IROs) put
//! end-to-end encrypted case questions to independent advisers, with every request for
//! advice and every report of pressure recorded in a tamper-evident log.

pub mod access;
pub mod accounts;
pub mod app;
pub mod authorities;
pub mod backup;
pub mod ciphertext;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod fsutil;
pub mod health;
pub mod keys;
pub mod log;
pub mod mail;
pub mod monitoring;
pub mod openapi;
pub mod pressure;
pub mod queries;
pub mod routes;
pub mod server;
pub mod statistics;
pub mod telemetry;
pub mod tls;
pub mod vocabulary;
pub mod web;
pub mod wire;
pub mod witness;
