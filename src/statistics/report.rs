//! The access report: what NAIRO may see of how IROs get advice, by authority or region and
//! period, with every number computed by the database and every table put through
//! [`disclosure`](super::disclosure) before it leaves this module.
//!
//! An authority with fewer than 3 registered IROs at the end of a period has no row of its
//! own in that period: its numbers go into "Other authorities in <region>". The rule is the
//! same in SQL (an authority has its own row from the period its third IRO registered in)
//! and in the registered-IRO counts, which say the same thing.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::disclosure::{self, Cell, Controlled, Rounding};
use super::period::{Month, Period, PeriodLength};
use crate::db::{Backend, DbConnection};
use crate::pressure::domain::PressureKind;
use crate::queries::domain::{Category, DeclineReason, Outcome, Stage};
use crate::vocabulary::string_enum;

string_enum!(
    /// What the rows of a report are.
    By {
        Authority = "authority",
        Region = "region",
    }
);

/// Tables whose row totals are the same numbers (the queries submitted per area).
const SHARED_ROW_TOTALS: &[&str] = &[
    "queries_by_category",
    "queries_by_stage",
    "queries_by_outcome",
];

/// An authority needs this many registered IROs to have a row of its own.
pub const MIN_IROS_FOR_OWN_ROW: u64 = 3;
/// A median is published only when at least this many values stand behind it.
pub const MIN_VALUES_FOR_MEDIAN: i64 = 5;

pub const RULE_SMALL_AUTHORITIES: &str =
    "authorities with fewer than 3 registered IROs are shown only within their region";
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

/// The measures that are counts, each a table with its own columns.
struct CountMeasure {
    name: &'static str,
    /// FROM clause; its rows are the things counted.
    from: &'static str,
    authority: &'static str,
    time: &'static str,
    column: &'static str,
    columns: Vec<&'static str>,
    /// An extra condition, built per request.
    filter: Option<fn(&mut Sql, &ReportSettings, NaiveDateTime) -> String>,
}

fn vocabulary<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

fn count_measures() -> Vec<CountMeasure> {
    let queries = |name, column, columns| CountMeasure {
        name,
        from: "queries q",
        authority: "q.authority_code",
        time: "q.created_at",
        column,
        columns,
        filter: None,
    };
    let mut outcomes = vocabulary(Outcome::ALL, Outcome::as_str);
    outcomes.push("open");
    vec![
        queries(
            "queries_by_category",
            "q.category",
            vocabulary(Category::ALL, Category::as_str),
        ),
        queries(
            "queries_by_stage",
            "q.stage",
            vocabulary(Stage::ALL, Stage::as_str),
        ),
        queries(
            "queries_by_outcome",
            "COALESCE(q.outcome, 'open')",
            outcomes,
        ),
        CountMeasure {
            filter: Some(not_accepted_in_time),
            ..queries(
                "not_accepted_within_reminder_time",
                "'queries'",
                vec!["queries"],
            )
        },
        CountMeasure {
            name: "declines_by_reason",
            from: "query_declines d JOIN queries q ON q.id = d.query_id",
            authority: "q.authority_code",
            time: "d.declined_at",
            column: "d.reason",
            columns: vocabulary(DeclineReason::ALL, DeclineReason::as_str),
            filter: None,
        },
        CountMeasure {
            name: "pressure_reports_by_kind",
            from: "pressure_reports p",
            authority: "p.authority_code",
            time: "p.created_at",
            column: "p.kind",
            columns: vocabulary(PressureKind::ALL, PressureKind::as_str),
            filter: None,
        },
    ]
}

/// A query waited longer than its reminder time, from submission, for an adviser to accept
/// it: never accepted and still open past that time, or accepted (or closed) only after it.
fn not_accepted_in_time(sql: &mut Sql, settings: &ReportSettings, now: NaiveDateTime) -> String {
    let now = sql.param(Param::Timestamp(now));
    let waited = sql.hours(
        &format!("COALESCE(q.accepted_at, q.closed_at, {now})"),
        "q.created_at",
    );
    let urgent = sql.param(Param::Double(
        settings.reminder_urgent_minutes as f64 / 60.0,
    ));
    let routine = sql.param(Param::Double(
        settings.reminder_routine_minutes as f64 / 60.0,
    ));
    format!("{waited} > CASE q.urgency WHEN 'urgent' THEN {urgent} ELSE {routine} END")
}

enum Param {
    Timestamp(NaiveDateTime),
    Double(f64),
}

/// Raw SQL for one backend: the few expressions that differ, and numbered placeholders
/// (`?1` on SQLite, `$1` on PostgreSQL) with their values, bound in order.
struct Sql {
    backend: Backend,
    length: PeriodLength,
    params: Vec<Param>,
}

impl Sql {
    fn param(&mut self, p: Param) -> String {
        self.params.push(p);
        match self.backend {
            Backend::Sqlite => format!("?{}", self.params.len()),
            Backend::Postgres => format!("${}", self.params.len()),
        }
    }

    /// The period key of a timestamp, exactly as [`PeriodLength::periods`] names it.
    fn period(&self, t: &str) -> String {
        match (self.backend, self.length) {
            (Backend::Sqlite, PeriodLength::Month) => format!("strftime('%Y-%m', {t})"),
            (Backend::Sqlite, PeriodLength::Quarter) => format!(
                "(strftime('%Y', {t}) || '-Q' || ((CAST(strftime('%m', {t}) AS INTEGER) + 2) / 3))"
            ),
            (Backend::Postgres, PeriodLength::Month) => format!("to_char({t}, 'YYYY-MM')"),
            (Backend::Postgres, PeriodLength::Quarter) => format!("to_char({t}, 'YYYY-\"Q\"Q')"),
        }
    }

    /// Hours from `earlier` to `later`, as a floating-point number.
    fn hours(&self, later: &str, earlier: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("((julianday({later}) - julianday({earlier})) * 24.0)"),
            Backend::Postgres => format!(
                "CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0 AS DOUBLE PRECISION)"
            ),
        }
    }

    /// The row a fact about `authority` at `time` belongs to, and the join it needs.
    fn area(&self, by: By, authority: &str, time: &str) -> (String, String) {
        let area = match by {
            By::Region => "a.region".to_owned(),
            By::Authority => format!(
                "CASE WHEN a.own_row_from IS NOT NULL AND a.own_row_from <= {} \
                 THEN a.code ELSE 'region:' || a.region END",
                self.period(time)
            ),
        };
        let table = match by {
            By::Region => "authorities",
            By::Authority => "areas",
        };
        (area, format!("JOIN {table} a ON a.code = {authority}"))
    }

    /// For a report by authority, the table [`Sql::area`] joins: each authority with its
    /// region and the period from which it has its own row (the one its third IRO registered
    /// in). Materialised, so that both databases look each fact's authority up in 175 rows
    /// rather than recomputing the ranking per fact.
    fn area_ctes(&self, by: By) -> String {
        match by {
            By::Region => String::new(),
            By::Authority => format!(
                "own_rows AS (SELECT authority_code, {} AS own_row_from FROM \
                 (SELECT authority_code, created_at, ROW_NUMBER() OVER \
                 (PARTITION BY authority_code ORDER BY created_at, id) AS nth \
                 FROM accounts WHERE role = 'iro') r WHERE nth = {MIN_IROS_FOR_OWN_ROW}), \
                 areas AS MATERIALIZED (SELECT au.code, au.region, e.own_row_from \
                 FROM authorities au LEFT JOIN own_rows e ON e.authority_code = au.code), ",
                self.period("created_at")
            ),
        }
    }

    fn statement(self, text: String) -> Statement {
        Statement {
            backend: self.backend,
            text,
            params: self.params,
        }
    }
}

/// A statement ready to run: its text and the values of its placeholders.
struct Statement {
    backend: Backend,
    text: String,
    params: Vec<Param>,
}

impl Statement {
    fn load<U>(self, conn: &mut DbConnection) -> QueryResult<Vec<U>>
    where
        U: QueryableByName<<DbConnection as diesel::Connection>::Backend> + 'static,
    {
        let mut query = diesel::sql_query(self.text).into_boxed();
        for p in self.params {
            query = match p {
                Param::Timestamp(t) => query.bind::<Timestamp, _>(t),
                Param::Double(d) => query.bind::<Double, _>(d),
            };
        }
        query.load(conn)
    }

    /// The text with each placeholder replaced by its value as a literal. Every value is a
    /// timestamp or a number this module made, never text from a request.
    fn literal(&self) -> String {
        let mut text = self.text.clone();
        // Highest first, so that `?1` does not match the start of `?12`.
        for (i, p) in self.params.iter().enumerate().rev() {
            let placeholder = match self.backend {
                Backend::Sqlite => format!("?{}", i + 1),
                Backend::Postgres => format!("${}", i + 1),
            };
            let value = match (p, self.backend) {
                (Param::Timestamp(t), Backend::Sqlite) => {
                    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.f"))
                }
                (Param::Timestamp(t), Backend::Postgres) => {
                    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.f"))
                }
                (Param::Double(d), _) => format!("{d:?}"),
            };
            text = text.replace(&placeholder, &value);
        }
        text
    }
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Text)]
    area: String,
    #[diesel(sql_type = Text)]
    period: String,
    #[diesel(sql_type = Text)]
    col: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct MedianRowSql {
    #[diesel(sql_type = Text)]
    area: String,
    #[diesel(sql_type = Text)]
    period: String,
    #[diesel(sql_type = Double)]
    median: f64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct RegistrationRow {
    #[diesel(sql_type = Text)]
    authority: String,
    #[diesel(sql_type = Text)]
    registered: String,
    #[diesel(sql_type = Nullable<Text>)]
    first_asked: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).expect("midnight exists")
}

/// The statements behind one report: everything it asks the database.
struct Plan {
    registrations: Statement,
    counts: Vec<(&'static str, Statement)>,
    medians: Statement,
    national_medians: Statement,
}

fn plan(
    backend: Backend,
    request: &AccessRequest,
    settings: &ReportSettings,
    now: NaiveDateTime,
    (start, end): (NaiveDateTime, NaiveDateTime),
) -> Plan {
    let new_sql = || Sql {
        backend,
        length: request.length,
        params: Vec::new(),
    };

    // Registered IROs, per authority, by the period they registered in and the period they
    // first asked in: enough to count, for every period, who was registered and who had
    // never asked, and so which authorities have a row of their own.
    let registrations = {
        let mut sql = new_sql();
        let end_param = sql.param(Param::Timestamp(end));
        let text = format!(
            "WITH firsts AS (SELECT iro_id, MIN(created_at) AS first_at FROM queries GROUP BY iro_id) \
             SELECT a.authority_code AS authority, {registered} AS registered, \
             {first_asked} AS first_asked, COUNT(*) AS n \
             FROM accounts a LEFT JOIN firsts f ON f.iro_id = a.id \
             WHERE a.role = 'iro' AND a.created_at < {end_param} \
             GROUP BY a.authority_code, {registered}, {first_asked}",
            registered = sql.period("a.created_at"),
            first_asked = sql.period("f.first_at"),
        );
        sql.statement(text)
    };

    let mut counts = Vec::new();
    for m in &count_measures() {
        let mut sql = new_sql();
        let (area, joins) = sql.area(request.by, m.authority, m.time);
        let (s, e) = (
            sql.param(Param::Timestamp(start)),
            sql.param(Param::Timestamp(end)),
        );
        let extra = match m.filter {
            Some(f) => format!("AND {}", f(&mut sql, settings, now)),
            None => String::new(),
        };
        let with = match request.by {
            By::Authority => format!("WITH {} ", sql.area_ctes(request.by).trim_end_matches(", ")),
            By::Region => String::new(),
        };
        let text = format!(
            "{with}SELECT {area} AS area, {period} AS period, {column} AS col, COUNT(*) AS n \
             FROM {from} {joins} \
             WHERE {time} >= {s} AND {time} < {e} {extra} \
             GROUP BY 1, 2, 3",
            period = sql.period(m.time),
            column = m.column,
            from = m.from,
            time = m.time,
        );
        counts.push((m.name, sql.statement(text)));
    }

    let median_sql = |national: bool| {
        let mut sql = new_sql();
        let (area, joins) = if national {
            ("'national'".to_owned(), String::new())
        } else {
            sql.area(request.by, "q.authority_code", "q.created_at")
        };
        let (s, e) = (
            sql.param(Param::Timestamp(start)),
            sql.param(Param::Timestamp(end)),
        );
        let own_rows = match national {
            false => sql.area_ctes(request.by),
            true => String::new(),
        };
        // The middle value, or the mean of the middle two: the same on both databases
        // (PostgreSQL's percentile_cont has no SQLite counterpart).
        let text = format!(
            "WITH {own_rows}d AS (SELECT {area} AS area, {period} AS period, {hours} AS h \
             FROM queries q {joins} \
             WHERE q.first_reply_at IS NOT NULL AND q.created_at >= {s} AND q.created_at < {e}), \
             r AS (SELECT area, period, h, \
             ROW_NUMBER() OVER (PARTITION BY area, period ORDER BY h) AS nth, \
             COUNT(*) OVER (PARTITION BY area, period) AS n FROM d) \
             SELECT area, period, AVG(h) AS median, MAX(n) AS n FROM r \
             WHERE nth IN ((n + 1) / 2, (n + 2) / 2) GROUP BY area, period",
            period = sql.period("q.created_at"),
            hours = sql.hours("q.first_reply_at", "q.created_at"),
        );
        sql.statement(text)
    };
    Plan {
        registrations,
        counts,
        medians: median_sql(false),
        national_medians: median_sql(true),
    }
}

/// The periods asked for, split into those that have ended and those that have not.
fn split_periods(request: &AccessRequest, now: NaiveDateTime) -> (Vec<Period>, Vec<Period>) {
    request
        .length
        .periods(request.from, request.to)
        .into_iter()
        .partition(|p| midnight(p.end) <= now)
}

/// The report's statements as one script of plain SQL with the values written in, for
/// running the same aggregates through `sqlite3` or `psql` (the benchmark's comparison).
pub fn script(
    backend: Backend,
    request: &AccessRequest,
    settings: &ReportSettings,
    now: NaiveDateTime,
) -> String {
    let (ended, _) = split_periods(request, now);
    let (Some(first), Some(last)) = (ended.first(), ended.last()) else {
        return String::new();
    };
    let plan = plan(
        backend,
        request,
        settings,
        now,
        (midnight(first.start), midnight(last.end)),
    );
    std::iter::once(&plan.registrations)
        .chain(plan.counts.iter().map(|(_, s)| s))
        .chain([&plan.medians, &plan.national_medians])
        .map(|s| format!("{};\n", s.literal()))
        .collect()
}

/// Builds the report; run it on one snapshot of the database.
pub fn build(
    conn: &mut DbConnection,
    request: &AccessRequest,
    settings: &ReportSettings,
    now: NaiveDateTime,
) -> QueryResult<AccessReport> {
    let backend = conn.backend();
    let (ended, not_yet) = split_periods(request, now);
    let mut rules = vec![
        RULE_ENDED,
        disclosure::RULE_PRIMARY,
        disclosure::RULE_SECONDARY,
    ];
    if settings.round_totals_to > 1 {
        rules.push(disclosure::RULE_ROUNDING);
    }
    if request.by == By::Authority {
        rules.push(RULE_SMALL_AUTHORITIES);
    }
    rules.push(RULE_MEDIANS);
    let mut report = AccessReport {
        by: request.by,
        period: request.length,
        from: request.from.to_string(),
        to: request.to.to_string(),
        rules: rules.into_iter().map(str::to_owned).collect(),
        round_totals_to: settings.round_totals_to,
        not_yet_ended: not_yet.into_iter().map(|p| p.key).collect(),
        periods: Vec::new(),
    };
    let (Some(first), Some(last)) = (ended.first(), ended.last()) else {
        return Ok(report);
    };
    let (start, end) = (midnight(first.start), midnight(last.end));
    let plan = plan(backend, request, settings, now, (start, end));
    let registrations: Vec<RegistrationRow> = plan.registrations.load(conn)?;
    let mut counts: HashMap<&'static str, Vec<CountRow>> = HashMap::new();
    for (name, statement) in plan.counts {
        counts.insert(name, statement.load(conn)?);
    }
    let medians: Vec<MedianRowSql> = plan.medians.load(conn)?;
    let national_medians: Vec<MedianRowSql> = plan.national_medians.load(conn)?;
    let measures = count_measures();

    // The reference list the authorities table is synced from at every start.
    let authorities: Vec<(&str, &str, &str)> = crate::authorities::all()
        .iter()
        .map(|a| (a.code.as_str(), a.name.as_str(), a.region.as_str()))
        .collect();
    let region_of: HashMap<&str, &str> = authorities
        .iter()
        .map(|(code, _, region)| (*code, *region))
        .collect();

    for period in &ended {
        // Registered and never-asked IROs per authority at the period's end.
        let mut registered: HashMap<&str, u64> = HashMap::new();
        let mut never_asked: HashMap<&str, u64> = HashMap::new();
        for r in &registrations {
            if r.registered <= period.key {
                *registered.entry(&r.authority).or_default() += r.n as u64;
                if r.first_asked
                    .as_deref()
                    .is_none_or(|f| f > period.key.as_str())
                {
                    *never_asked.entry(&r.authority).or_default() += r.n as u64;
                }
            }
        }
        let areas = areas_for(request.by, &authorities, &registered);
        let index: HashMap<&str, usize> = areas
            .iter()
            .enumerate()
            .map(|(i, (key, _))| (key.as_str(), i))
            .collect();
        let area_of_authority = |code: &str| {
            let region = region_of.get(code).copied().unwrap_or_default();
            area_key(request.by, code, region, &registered)
        };
        let row_rounding = match request.by {
            By::Region => settings.round_totals_to,
            By::Authority => 1,
        };
        let rounding = Rounding {
            rows: row_rounding,
            columns: settings.round_totals_to,
        };

        let mut counted: Vec<(&CountMeasure, Vec<Vec<u64>>)> = Vec::new();
        for m in &measures {
            let mut cells = vec![vec![0u64; m.columns.len()]; areas.len()];
            for row in counts[m.name].iter().filter(|r| r.period == period.key) {
                let (Some(&i), Some(j)) = (
                    index.get(row.area.as_str()),
                    m.columns.iter().position(|c| *c == row.col),
                ) else {
                    return Err(diesel::result::Error::DeserializationError(
                        format!("{} row for an unknown area or column", m.name).into(),
                    ));
                };
                cells[i][j] += row.n as u64;
            }
            counted.push((m, cells));
        }
        // The tables of queries share their row totals (queries per area): each withholds
        // every total that any of them must, until they agree.
        let shares = |m: &CountMeasure| SHARED_ROW_TOTALS.contains(&m.name);
        let mut forced = vec![false; areas.len()];
        let shared: Vec<Controlled> = loop {
            let controlled: Vec<Controlled> = counted
                .iter()
                .filter(|(m, _)| shares(m))
                .map(|(_, cells)| disclosure::control_with_hidden_rows(cells, rounding, &forced))
                .collect();
            let union: Vec<bool> = (0..areas.len())
                .map(|r| {
                    controlled
                        .iter()
                        .any(|c| c.row_totals[r] == Cell::Suppressed)
                })
                .collect();
            if union == forced {
                break controlled;
            }
            forced = union;
        };
        let mut shared = shared.into_iter();
        let mut tables = Vec::new();
        for (m, cells) in &counted {
            let controlled = if shares(m) {
                shared.next().expect("one per shared table")
            } else {
                disclosure::control(cells, rounding)
            };
            tables.push(table(m.name, m.columns.clone(), &areas, controlled));
        }
        for (name, per_authority) in [
            ("registered_iros", &registered),
            ("registered_iros_never_asked", &never_asked),
        ] {
            let mut cells = vec![vec![0u64; 1]; areas.len()];
            for (code, n) in per_authority.iter() {
                let key = area_of_authority(code);
                let Some(&i) = index.get(key.as_str()) else {
                    continue;
                };
                cells[i][0] += *n;
            }
            let controlled = disclosure::control(&cells, rounding);
            tables.push(table(name, vec!["iros"], &areas, controlled));
        }

        let median = |m: Option<&MedianRowSql>| match m {
            Some(m) if m.n >= MIN_VALUES_FOR_MEDIAN => {
                Median::Hours((m.median * 10.0).round() / 10.0)
            }
            _ => Median::Suppressed,
        };
        let by_area: HashMap<&str, &MedianRowSql> = medians
            .iter()
            .filter(|m| m.period == period.key)
            .map(|m| (m.area.as_str(), m))
            .collect();
        let rows: Vec<MedianRow> = areas
            .iter()
            .map(|(key, area)| MedianRow {
                area: area.clone(),
                median_hours: median(by_area.get(key.as_str()).copied()),
            })
            .collect();
        let national = median(national_medians.iter().find(|m| m.period == period.key));
        let withheld = rows.iter().any(|r| r.median_hours == Median::Suppressed)
            || national == Median::Suppressed;
        report.periods.push(PeriodReport {
            period: period.key.clone(),
            start: period.start.to_string(),
            end: period
                .end
                .pred_opt()
                .expect("a period ends after it starts")
                .to_string(),
            tables,
            median_hours_to_first_reply: Medians {
                rows,
                national,
                rules_applied: if withheld {
                    vec![RULE_MEDIANS.to_owned()]
                } else {
                    Vec::new()
                },
            },
        });
    }
    Ok(report)
}

/// The row an authority's facts go into in one period: the rule the SQL's `areas` table
/// applies too.
fn area_key(by: By, code: &str, region: &str, registered: &HashMap<&str, u64>) -> String {
    match by {
        By::Region => region.to_owned(),
        By::Authority if registered.get(code).copied().unwrap_or(0) >= MIN_IROS_FOR_OWN_ROW => {
            code.to_owned()
        }
        By::Authority => format!("region:{region}"),
    }
}

/// The rows of one period: every region, or every authority with its own row grouped by
/// region and followed by the region's other authorities together.
fn areas_for(
    by: By,
    authorities: &[(&str, &str, &str)],
    registered: &HashMap<&str, u64>,
) -> Vec<(String, Area)> {
    let mut regions: BTreeMap<&str, Vec<&(&str, &str, &str)>> = BTreeMap::new();
    for a in authorities {
        regions.entry(a.2).or_default().push(a);
    }
    let mut out = Vec::new();
    for (region, mut members) in regions {
        match by {
            By::Region => out.push((
                region.to_owned(),
                Area {
                    code: None,
                    name: region.to_owned(),
                    region: region.to_owned(),
                },
            )),
            By::Authority => {
                members.sort_by_key(|a| a.1);
                let (own, rest): (Vec<_>, Vec<_>) = members
                    .into_iter()
                    .partition(|(code, _, region)| area_key(by, code, region, registered) == *code);
                for (code, name, region) in own {
                    out.push((
                        code.to_string(),
                        Area {
                            code: Some(code.to_string()),
                            name: name.to_string(),
                            region: region.to_string(),
                        },
                    ));
                }
                if !rest.is_empty() {
                    out.push((
                        format!("region:{region}"),
                        Area {
                            code: None,
                            name: format!("Other authorities in {region}"),
                            region: region.to_owned(),
                        },
                    ));
                }
            }
        }
    }
    out
}

fn table(
    measure: &'static str,
    columns: Vec<&'static str>,
    areas: &[(String, Area)],
    controlled: Controlled,
) -> Table {
    Table {
        measure: measure.to_owned(),
        columns: columns.into_iter().map(str::to_owned).collect(),
        rows: areas
            .iter()
            .zip(controlled.cells)
            .zip(controlled.row_totals)
            .map(|(((_, area), cells), total)| Row {
                area: area.clone(),
                cells,
                total,
            })
            .collect(),
        totals: controlled.column_totals,
        total: controlled.total,
        rules_applied: controlled.applied.into_iter().map(str::to_owned).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_sql_replaces_each_placeholder_with_its_own_value() {
        let t = |d: u32| midnight(NaiveDate::from_ymd_opt(2026, 1, d).unwrap());
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut sql = Sql {
                backend,
                length: PeriodLength::Month,
                params: Vec::new(),
            };
            let names: Vec<String> = (1..=12)
                .map(|d| sql.param(Param::Timestamp(t(d))))
                .collect();
            let rate = sql.param(Param::Double(2.5));
            let text = format!("SELECT {} {} {rate}", names[0], names[11]);
            let literal = sql.statement(text).literal();
            let expected = match backend {
                Backend::Sqlite => "SELECT '2026-01-01 00:00:00' '2026-01-12 00:00:00' 2.5",
                Backend::Postgres => {
                    "SELECT TIMESTAMP '2026-01-01 00:00:00' TIMESTAMP '2026-01-12 00:00:00' 2.5"
                }
            };
            assert_eq!(literal, expected);
        }
    }

    #[test]
    fn small_authorities_are_grouped_within_their_region() {
        let authorities = [
            ("E1", "Bigtown", "North"),
            ("E2", "Smallville", "North"),
            ("E3", "Midcity", "South"),
        ];
        let registered: HashMap<&str, u64> = [("E1", 3), ("E2", 2), ("E3", 7)].into();
        let areas = areas_for(By::Authority, &authorities, &registered);
        let names: Vec<&str> = areas.iter().map(|(_, a)| a.name.as_str()).collect();
        assert_eq!(names, ["Bigtown", "Other authorities in North", "Midcity"]);
        assert_eq!(areas[1].0, "region:North");
        let regions = areas_for(By::Region, &authorities, &registered);
        assert_eq!(regions.len(), 2);
    }
}
