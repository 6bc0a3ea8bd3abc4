//! Statistics for NAIRO: counts by authority or region and period, under disclosure control.
//! (The report endpoint and the synthetic-data seed are still to come; see issue 6.)

pub mod disclosure;
