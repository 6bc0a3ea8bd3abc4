//! NAIRO's statistics as the API serves them: the access report's tables and rows, the
//! published form of a count (`c` where withheld), the report's CSV form, and the list of
//! frozen releases.

use iro_advice_model::period::{By, PeriodLength};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// A published value's schema: a `kind` of number, or the text `c` where it is withheld.
fn published(kind: Type, what: &str) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(kind))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["c"])),
        )
        .description(Some(format!("{what}, or `c` where it is withheld.")))
        .into()
}

impl PartialSchema for Cell {
    fn schema() -> RefOr<Schema> {
        published(Type::Integer, "A count")
    }
}
impl ToSchema for Cell {}

impl PartialSchema for Median {
    fn schema() -> RefOr<Schema> {
        published(Type::Number, "A median in hours")
    }
}
impl ToSchema for Median {}

/// A published value: a count, or `c` where it is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Count(u64),
    Suppressed,
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Count(n) => s.serialize_u64(*n),
            Cell::Suppressed => s.serialize_str("c"),
        }
    }
}

/// A published value as it reads in JSON: a number, or `"c"` where withheld.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Published<T> {
    Value(T),
    Withheld(Withheld),
}

/// The one word a withheld value is written as.
#[derive(Deserialize)]
pub enum Withheld {
    #[serde(rename = "c")]
    C,
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Published::<u64>::deserialize(d)? {
            Published::Value(n) => Ok(Cell::Count(n)),
            Published::Withheld(_) => Ok(Cell::Suppressed),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Count(n) => write!(f, "{n}"),
            Cell::Suppressed => f.write_str("c"),
        }
    }
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
    pub totals: Vec<Cell>,
    pub total: Cell,
    /// The rules that changed something in this table.
    pub rules_applied: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Row {
    #[serde(flatten)]
    pub area: Area,
    /// Counts, or `"c"` where withheld.
    pub cells: Vec<Cell>,
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
        match Published::<f64>::deserialize(d)? {
            Published::Value(h) => Ok(Median::Hours(h)),
            Published::Withheld(_) => Ok(Median::Suppressed),
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
    pub national: Median,
    pub rules_applied: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MedianRow {
    #[serde(flatten)]
    pub area: Area,
    pub median_hours: Median,
}

/// One release as `GET /api/v1/stats/releases` lists it.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ReleaseListing {
    pub period: String,
    #[schema(value_type = String)]
    pub length: PeriodLength,
    pub version: u32,
    /// When it was built (UTC); it is never rebuilt.
    pub built_at: String,
    pub follow_up_days: u32,
    pub rules: Vec<String>,
    /// How many published numbers it withholds.
    pub suppressed: usize,
    /// The fewest values any withheld number keeps apart at its ends, given everything
    /// published (at least 3); absent when none is bounded.
    pub narrowest_width: Option<i64>,
    /// SHA-256 (hex) of the release as stored: its header and tables.
    pub sha256: String,
    /// The log leaf that carries that hash.
    pub leaf_index: u64,
}

/// One line per published number: tidy, so that a spreadsheet or R reads it as it is. Each
/// line carries the rules that changed something in its table.
pub fn to_csv(report: &AccessReport) -> String {
    const NATIONAL: Area = Area {
        code: None,
        name: String::new(),
        region: String::new(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "period",
        "measure",
        "area_code",
        "area",
        "region",
        "column",
        "value",
        "rules_applied",
    ])
    .expect("writing to memory");
    for p in &report.periods {
        let mut line = |measure: &str, area: &Area, column: &str, value: String, rules: &str| {
            let name = if area.name.is_empty() {
                "England and Wales"
            } else {
                &area.name
            };
            let code = area.code.as_deref().unwrap_or("");
            w.write_record([
                &p.period,
                measure,
                code,
                name,
                &area.region,
                column,
                &value,
                rules,
            ])
            .expect("writing to memory");
        };
        for t in &p.tables {
            let rules = t.rules_applied.join("; ");
            let columns = t.columns.iter().map(String::as_str).chain(["total"]);
            for row in &t.rows {
                for (column, cell) in columns.clone().zip(row.cells.iter().chain([&row.total])) {
                    line(&t.measure, &row.area, column, cell.to_string(), &rules);
                }
            }
            for (column, cell) in columns.zip(t.totals.iter().chain([&t.total])) {
                line(&t.measure, &NATIONAL, column, cell.to_string(), &rules);
            }
        }
        let m = &p.median_hours_to_first_reply;
        let rules = m.rules_applied.join("; ");
        let national = MedianRow {
            area: NATIONAL,
            median_hours: m.national,
        };
        for row in m.rows.iter().chain([&national]) {
            let value = row.median_hours.to_string();
            line(
                "median_hours_to_first_reply",
                &row.area,
                "median_hours",
                value,
                &rules,
            );
        }
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV of UTF-8 text")
}
