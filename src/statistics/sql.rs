//! The SQL behind a report: every measure as an aggregate the database computes, written
//! once for both backends (only date arithmetic and placeholders differ).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};

use super::model::{AccessRequest, By, ReportSettings, MIN_IROS_FOR_OWN_ROW};
use super::period::PeriodLength;
use crate::db::{Backend, DbConnection};
use crate::pressure::domain::PressureKind;
use crate::queries::domain::{Category, DeclineReason, Outcome, Stage};

/// The measures that are counts, each a table with its own columns.
pub(super) struct CountMeasure {
    pub(super) name: &'static str,
    /// FROM clause; its rows are the things counted.
    pub(super) from: &'static str,
    pub(super) authority: &'static str,
    pub(super) time: &'static str,
    pub(super) column: &'static str,
    pub(super) columns: Vec<&'static str>,
    /// An extra condition, built per request.
    pub(super) filter: Option<fn(&mut Sql, &ReportSettings, NaiveDateTime) -> String>,
}

pub(super) fn vocabulary<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

pub(super) fn count_measures() -> Vec<CountMeasure> {
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
pub(super) fn not_accepted_in_time(
    sql: &mut Sql,
    settings: &ReportSettings,
    now: NaiveDateTime,
) -> String {
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
                 (SELECT authority_code, created_at, ROW_NUMBER() OVER \
                 (PARTITION BY authority_code ORDER BY created_at, id) AS nth \
                 FROM accounts WHERE role = 'iro') r WHERE nth = {MIN_IROS_FOR_OWN_ROW}), \
                 areas AS MATERIALIZED (SELECT au.code, au.region, e.own_row_from \
                 FROM authorities au LEFT JOIN own_rows e ON e.authority_code = au.code), ",
                self.period("created_at")
            ),
        }
    }

    pub(super) fn statement(self, text: String) -> Statement {
        Statement {
            backend: self.backend,
            text,
            params: self.params,
        }
    }
}

/// A statement ready to run: its text and the values of its placeholders.
pub(super) struct Statement {
    pub(super) backend: Backend,
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

    /// The text with each placeholder replaced by its value as a literal. Every value is a
    /// timestamp or a number this module made, never text from a request.
    pub(super) fn literal(&self) -> String {
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

/// The statements behind one report: everything it asks the database.
pub(super) struct Plan {
    pub(super) registrations: Statement,
    pub(super) counts: Vec<(&'static str, Statement)>,
    pub(super) medians: Statement,
    pub(super) national_medians: Statement,
}

pub(super) fn plan(
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
}
