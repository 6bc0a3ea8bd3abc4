//! Statistics for NAIRO: counts by authority or region and period, under disclosure control.
//!
//! `GET /api/v1/stats/access` is [`access::access`]; the numbers are computed in
//! [`report`], and every table passes through [`disclosure`] before it is returned.

pub mod access;
pub mod disclosure;
pub mod model;
pub mod period;
pub mod report;
mod sql;
