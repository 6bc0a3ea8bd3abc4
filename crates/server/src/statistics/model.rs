//! The access report's request and the rules that shaped it; its answer's shape is the
//! API's ([`iro_advice_api::statistics`]).

pub use iro_advice_api::statistics::{
    AccessReport, Area, Median, MedianRow, Medians, PeriodReport, Row, Table,
};
pub use iro_advice_model::period::By;
use iro_advice_model::period::{Month, PeriodLength};

/// Tables whose row totals are the same numbers (the queries submitted per area).
pub(super) const SHARED_ROW_TOTALS: &[&str] = &[
    "queries_by_category",
    "queries_by_stage",
    "queries_by_outcome",
];

/// An authority needs this many registered IROs to have a row of its own: as many as the
/// smallest count shown, so that standing alone never says its count is 3 or 4.
pub const MIN_IROS_FOR_OWN_ROW: u64 = 5;
/// A median is published only when at least this many values stand behind it.
pub const MIN_VALUES_FOR_MEDIAN: i64 = 5;

pub const RULE_SMALL_AUTHORITIES: &str =
    "authorities with fewer than 5 registered IROs are shown only within their region";
pub const RULE_MEDIANS: &str = "medians shown only where at least 5 values stand behind them";
pub const RULE_ENDED: &str = "only periods that have ended are reported";

/// A parsed request for a report.
#[derive(Debug, Clone)]
pub struct AccessRequest {
    pub by: By,
    pub length: PeriodLength,
    pub from: Month,
    pub to: Month,
}

/// What the report needs from the settings.
#[derive(Debug, Clone, Copy)]
pub struct ReportSettings {
    pub round_totals_to: u64,
    pub reminder_routine_minutes: i64,
    pub reminder_urgent_minutes: i64,
}
