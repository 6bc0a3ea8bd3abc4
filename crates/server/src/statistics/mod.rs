//! Statistics for NAIRO: counts by authority or region and period, released once per
//! period under disclosure control.
//!
//! A release is built in [`release`] (cells, joint suppression, the [`audit`]), stored and
//! logged in [`store`]; `GET /api/v1/stats/access` and `GET /api/v1/stats/releases` are in
//! [`handlers`] and answer from stored releases only.

pub mod audit;
pub mod disclosure;
pub mod handlers;
pub mod model;

pub mod release;
pub mod report;
mod sql;
pub mod store;

/// What the statistics services refuse.
#[derive(Debug, thiserror::Error)]
pub enum StatisticsError {
    /// A report asked for in a way it cannot be given.
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
}
