//! The access report as NAIRO receives it: its request, its tables and rows, and the rules
//! that shaped them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::disclosure::{self, Cell};
use super::period::{Month, PeriodLength};
use crate::vocabulary::string_enum;

string_enum!(
    /// What the rows of a report are.
    By {
        Authority = "authority",
        Region = "region",
    }
);

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

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessReport {
    pub by: By,
    pub period: PeriodLength,
    pub from: String,
    pub to: String,
    /// Every rule the service applies to this report.
    pub rules: Vec<String>,
    pub round_totals_to: u64,
    /// Periods asked for that have not ended yet, so are not reported.
    pub not_yet_ended: Vec<String>,
    /// Ended periods whose release is not built yet: listed, never computed on request.
    #[serde(default)]
    pub not_released: Vec<String>,
    pub periods: Vec<PeriodReport>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PeriodReport {
    pub period: String,
    pub start: String,
    /// The last day of the period.
    pub end: String,
    pub tables: Vec<Table>,
    pub median_hours_to_first_reply: Medians,
}

/// A row of a report: an authority, a region, or the authorities of a region too small to
/// show on their own.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Area {
    /// The ONS code of an authority; absent for a region or a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub name: String,
    pub region: String,
}

/// One measure for one period, after disclosure control.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Table {
    pub measure: String,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    /// National totals per column.
    #[schema(value_type = Vec<Object>)]
    pub totals: Vec<Cell>,
    #[schema(value_type = Object)]
    pub total: Cell,
    /// The rules that changed something in this table.
    pub rules_applied: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Row {
    #[serde(flatten)]
    pub area: Area,
    /// Counts, or `"c"` where withheld.
    #[schema(value_type = Vec<Object>)]
    pub cells: Vec<Cell>,
    #[schema(value_type = Object)]
    pub total: Cell,
}

/// A median in hours, or `"c"` where too few values stand behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Median {
    Hours(f64),
    Suppressed,
}

impl Serialize for Median {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Median::Hours(h) => s.serialize_f64(*h),
            Median::Suppressed => s.serialize_str("c"),
        }
    }
}

impl<'de> Deserialize<'de> for Median {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match disclosure::Published::<f64>::deserialize(d)? {
            disclosure::Published::Value(h) => Ok(Median::Hours(h)),
            disclosure::Published::Withheld(_) => Ok(Median::Suppressed),
        }
    }
}

impl std::fmt::Display for Median {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Median::Hours(h) => write!(f, "{h}"),
            Median::Suppressed => f.write_str("c"),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Medians {
    pub rows: Vec<MedianRow>,
    #[schema(value_type = Object)]
    pub national: Median,
    pub rules_applied: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MedianRow {
    #[serde(flatten)]
    pub area: Area,
    #[schema(value_type = Object)]
    pub median_hours: Median,
}
