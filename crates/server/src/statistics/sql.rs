//! The SQL behind a report: every measure as an aggregate the database computes, written
//! once for both backends (only date arithmetic and placeholders differ).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};

use super::model::{By, ReportSettings, MIN_IROS_FOR_OWN_ROW};
use crate::db::{Backend, DbConnection};
use iro_advice_model::period::PeriodLength;
use iro_advice_model::pressure::PressureKind;
use iro_advice_model::queries::{Category, DeclineReason, Outcome, Stage};

/// The measures that are counts, each a table with its own columns.
pub(super) struct CountMeasure {
    pub(super) name: &'static str,
    /// FROM clause; its rows are the things counted.
    pub(super) from: &'static str,
    pub(super) authority: &'static str,
    pub(super) time: &'static str,
    /// The column each row is counted in.
    pub(super) column: fn(&mut Sql, &ReportSettings) -> String,
    pub(super) columns: Vec<&'static str>,
    /// An extra condition.
    pub(super) filter: Option<fn(&mut Sql, &ReportSettings) -> String>,
}

pub(super) fn vocabulary<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

/// What an IRO does counts only once the IRO is approved: at once for everyone an admin or
/// the operator invites, from an admin's approval for an IRO whom NAIRO nominated (null
/// until then, which no comparison passes). Judged per fact at its own time, so a quarter
/// stays the sum of its months whenever the approval comes.
const QUERIES_COUNTED: &str =
    "queries q JOIN accounts i ON i.id = q.iro_id AND i.approved_at <= q.created_at";
const DECLINES_COUNTED: &str = "query_declines d JOIN queries q ON q.id = d.query_id \
     JOIN accounts i ON i.id = q.iro_id AND i.approved_at <= q.created_at";
const PRESSURE_REPORTS_COUNTED: &str =
    "pressure_reports p JOIN accounts i ON i.id = p.iro_id AND i.approved_at <= p.created_at";

pub(super) fn count_measures() -> Vec<CountMeasure> {
    let queries = |name, column, columns| CountMeasure {
        name,
        from: QUERIES_COUNTED,
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
            |_, _| "q.category".into(),
            vocabulary(Category::ALL, Category::as_str),
        ),
        queries(
            "queries_by_stage",
            |_, _| "q.stage".into(),
            vocabulary(Stage::ALL, Stage::as_str),
        ),
        queries("queries_by_outcome", outcome_at_cutoff, outcomes),
        CountMeasure {
            filter: Some(not_accepted_in_time),
            ..queries(
                "not_accepted_within_reminder_time",
                |_, _| "'queries'".into(),
                vec!["queries"],
            )
        },
        CountMeasure {
            name: "declines_by_reason",
            from: DECLINES_COUNTED,
            authority: "q.authority_code",
            time: "d.declined_at",
            column: |_, _| "d.reason".into(),
            columns: vocabulary(DeclineReason::ALL, DeclineReason::as_str),
            filter: None,
        },
        CountMeasure {
            name: "pressure_reports_by_kind",
            from: PRESSURE_REPORTS_COUNTED,
            authority: "p.authority_code",
            time: "p.created_at",
            column: |_, _| "p.kind".into(),
            columns: vocabulary(PressureKind::ALL, PressureKind::as_str),
            filter: None,
        },
    ]
}

/// A query's outcome as it stood at its cutoff: closed later counts as open, for ever.
fn outcome_at_cutoff(sql: &mut Sql, _: &ReportSettings) -> String {
    let cutoff = sql.cutoff("q.created_at");
    format!(
        "CASE WHEN q.closed_at IS NOT NULL AND q.closed_at < {cutoff} \
         THEN COALESCE(q.outcome, 'open') ELSE 'open' END"
    )
}

/// A query waited longer than its reminder time, from submission, for an adviser to accept
/// it: not accepted (or closed) by then, judged as things stood at its cutoff.
pub(super) fn not_accepted_in_time(sql: &mut Sql, settings: &ReportSettings) -> String {
    let cutoff = sql.cutoff("q.created_at");
    let waited = sql.hours(
        &format!(
            "COALESCE(CASE WHEN q.accepted_at < {cutoff} THEN q.accepted_at END, \
             CASE WHEN q.closed_at < {cutoff} THEN q.closed_at END, {cutoff})"
        ),
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

pub(super) enum Param {
    Timestamp(NaiveDateTime),
    Double(f64),
}

/// Raw SQL for one backend: the few expressions that differ, and numbered placeholders
/// (`?1` on SQLite, `$1` on PostgreSQL) with their values, bound in order.
pub(super) struct Sql {
    pub(super) backend: Backend,
    pub(super) length: PeriodLength,
    pub(super) params: Vec<Param>,
    /// Days after the end of a query's month at which what is counted about it is frozen.
    pub(super) follow_up_days: u32,
}

impl Sql {
    pub(super) fn param(&mut self, p: Param) -> String {
        self.params.push(p);
        match self.backend {
            Backend::Sqlite => format!("?{}", self.params.len()),
            Backend::Postgres => format!("${}", self.params.len()),
        }
    }

    /// The period key of a timestamp, exactly as [`PeriodLength::periods`] names it.
    pub(super) fn period(&self, t: &str) -> String {
        match (self.backend, self.length) {
            (Backend::Sqlite, PeriodLength::Month) => format!("strftime('%Y-%m', {t})"),
            (Backend::Sqlite, PeriodLength::Quarter) => format!(
                "(strftime('%Y', {t}) || '-Q' || ((CAST(strftime('%m', {t}) AS INTEGER) + 2) / 3))"
            ),
            (Backend::Postgres, PeriodLength::Month) => format!("to_char({t}, 'YYYY-MM')"),
            (Backend::Postgres, PeriodLength::Quarter) => format!("to_char({t}, 'YYYY-\"Q\"Q')"),
            (Backend::Sqlite, PeriodLength::Year) => format!("strftime('%Y', {t})"),
            (Backend::Postgres, PeriodLength::Year) => format!("to_char({t}, 'YYYY')"),
        }
    }

    /// The moment at which what is counted about a fact at `t` is frozen: the end of its
    /// month plus the follow-up window. The same for every period containing the month, so
    /// that a quarter is exactly the sum of its months. The number of days is a setting,
    /// written in as a literal.
    pub(super) fn cutoff(&self, t: &str) -> String {
        let days = self.follow_up_days;
        match self.backend {
            Backend::Sqlite => {
                format!("datetime({t}, 'start of month', '+1 month', '+{days} days')")
            }
            Backend::Postgres => {
                format!("(date_trunc('month', {t}) + INTERVAL '1 month' + INTERVAL '{days} days')")
            }
        }
    }

    /// Hours from `earlier` to `later`, as a floating-point number.
    pub(super) fn hours(&self, later: &str, earlier: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("((julianday({later}) - julianday({earlier})) * 24.0)"),
            Backend::Postgres => format!(
                "CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0 AS DOUBLE PRECISION)"
            ),
        }
    }

    /// The row a fact about `authority` at `time` belongs to, and the join it needs.
    pub(super) fn area(&self, by: By, authority: &str, time: &str) -> (String, String) {
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
    pub(super) fn area_ctes(&self, by: By) -> String {
        match by {
            By::Region => String::new(),
            By::Authority => format!(
                "own_rows AS (SELECT authority_code, {} AS own_row_from FROM \
                 (SELECT authority_code, approved_at, ROW_NUMBER() OVER \
                 (PARTITION BY authority_code ORDER BY approved_at, id) AS nth \
                 FROM accounts WHERE role = 'iro' AND approved_at IS NOT NULL) r \
                 WHERE nth = {MIN_IROS_FOR_OWN_ROW}), \
                 areas AS MATERIALIZED (SELECT au.code, au.region, e.own_row_from \
                 FROM authorities au LEFT JOIN own_rows e ON e.authority_code = au.code), ",
                self.period("approved_at")
            ),
        }
    }

    pub(super) fn statement(self, text: String) -> Statement {
        Statement {
            text,
            params: self.params,
        }
    }
}

/// A statement ready to run: its text and the values of its placeholders.
pub(super) struct Statement {
    pub(super) text: String,
    pub(super) params: Vec<Param>,
}

impl Statement {
    pub(super) fn load<U>(self, conn: &mut DbConnection) -> QueryResult<Vec<U>>
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
}

#[derive(QueryableByName)]
pub(super) struct CountRow {
    #[diesel(sql_type = Text)]
    pub(super) area: String,
    #[diesel(sql_type = Text)]
    pub(super) period: String,
    #[diesel(sql_type = Text)]
    pub(super) col: String,
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
}

#[derive(QueryableByName)]
pub(super) struct MedianRowSql {
    #[diesel(sql_type = Text)]
    pub(super) area: String,
    #[diesel(sql_type = Text)]
    pub(super) period: String,
    #[diesel(sql_type = Double)]
    pub(super) median: f64,
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
}

#[derive(QueryableByName)]
pub(super) struct RegistrationRow {
    #[diesel(sql_type = Text)]
    pub(super) authority: String,
    #[diesel(sql_type = Text)]
    pub(super) registered: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(super) first_asked: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub(super) n: i64,
}

pub(super) fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).expect("midnight exists")
}

/// The statements behind one release: everything it asks the database.
pub(super) struct Plan {
    /// Registered IROs per authority, by the month they registered in and the month they
    /// first asked in.
    pub(super) registrations: Statement,
    /// Per measure: counts per authority, month and column.
    pub(super) counts: Vec<(&'static str, Statement)>,
    /// Medians over the whole period, per area of a report by authority, by region, and
    /// nationally.
    pub(super) medians: Vec<(Option<By>, Statement)>,
}

pub(super) fn plan(
    backend: Backend,
    length: PeriodLength,
    settings: &ReportSettings,
    follow_up_days: u32,
    (start, end): (NaiveDateTime, NaiveDateTime),
) -> Plan {
    let new_sql = |length| Sql {
        backend,
        length,
        params: Vec::new(),
        follow_up_days,
    };

    let registrations = {
        let mut sql = new_sql(PeriodLength::Month);
        let end_param = sql.param(Param::Timestamp(end));
        let text = format!(
            "WITH firsts AS (SELECT q.iro_id, MIN(q.created_at) AS first_at \
             FROM {QUERIES_COUNTED} GROUP BY q.iro_id) \
             SELECT a.authority_code AS authority, {registered} AS registered, \
             {first_asked} AS first_asked, COUNT(*) AS n \
             FROM accounts a LEFT JOIN firsts f ON f.iro_id = a.id \
             WHERE a.role = 'iro' AND a.approved_at < {end_param} \
             GROUP BY a.authority_code, {registered}, {first_asked}",
            registered = sql.period("a.approved_at"),
            first_asked = sql.period("f.first_at"),
        );
        sql.statement(text)
    };

    let mut counts = Vec::new();
    for m in &count_measures() {
        let mut sql = new_sql(PeriodLength::Month);
        let (s, e) = (
            sql.param(Param::Timestamp(start)),
            sql.param(Param::Timestamp(end)),
        );
        let column = (m.column)(&mut sql, settings);
        let extra = match m.filter {
            Some(f) => format!("AND {}", f(&mut sql, settings)),
            None => String::new(),
        };
        let text = format!(
            "SELECT {authority} AS area, {period} AS period, {column} AS col, COUNT(*) AS n \
             FROM {from} WHERE {time} >= {s} AND {time} < {e} {extra} GROUP BY 1, 2, 3",
            authority = m.authority,
            period = sql.period(m.time),
            from = m.from,
            time = m.time,
        );
        counts.push((m.name, sql.statement(text)));
    }

    let median_sql = |by: Option<By>| {
        let mut sql = new_sql(length);
        let (area, joins) = match by {
            None => ("'national'".to_owned(), String::new()),
            Some(by) => sql.area(by, "q.authority_code", "q.created_at"),
        };
        let (s, e) = (
            sql.param(Param::Timestamp(start)),
            sql.param(Param::Timestamp(end)),
        );
        let own_rows = by.map(|by| sql.area_ctes(by)).unwrap_or_default();
        let cutoff = sql.cutoff("q.created_at");
        // The middle value, or the mean of the middle two: the same on both databases
        // (PostgreSQL's percentile_cont has no SQLite counterpart).
        let text = format!(
            "WITH {own_rows}d AS (SELECT {area} AS area, {period} AS period, {hours} AS h \
             FROM {QUERIES_COUNTED} {joins} \
             WHERE q.first_reply_at IS NOT NULL AND q.first_reply_at < {cutoff} \
             AND q.created_at >= {s} AND q.created_at < {e}), \
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
        medians: [Some(By::Authority), Some(By::Region), None]
            .into_iter()
            .map(|by| (by, median_sql(by)))
            .collect(),
    }
}
