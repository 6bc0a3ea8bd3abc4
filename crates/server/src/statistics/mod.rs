//! Statistics for NAIRO: counts by authority or region and period, released once per
//! period under disclosure control.
//!
//! A release is built in [`release`] (cells, joint suppression, the [`audit`]), stored and
//! logged in [`store`]; `GET /api/v1/stats/access` and `GET /api/v1/stats/releases` are in
//! [`access`] and answer from stored releases only.

pub mod access;
pub mod audit;
pub mod disclosure;
pub mod model;

pub mod release;
pub mod report;
mod sql;
pub mod store;
