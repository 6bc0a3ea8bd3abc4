//! NAIRO's access report over `demo seed` data, on both databases: chosen cells checked
//! against counts this test makes itself from the rows, disclosure rules visible in the
//! output, no unfinished period, CSV, bad requests, and the seed's refusals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::{Command, Output};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use iro_advice_model::accounts::Role;
use iro_advice_server::db::schema::{accounts, authorities, queries};
use serde_json::Value;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::Client;
use iro_advice_testkit::{assert_problem, json, TestApp, User};

both_databases!(
    regional_quarters_match_independent_counts,
    authorities_with_few_iros_appear_only_within_their_region,
    csv_carries_the_same_numbers_and_the_rules,
    bad_requests_are_refused_with_a_problem,
    demo_seed_refuses_a_database_in_use_and_production,
);

fn cli(app: &TestApp, args: &[&str], profile: &str) -> Output {
    let url = match &app.pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", app.data_dir.path().join("test.db").display()),
    };
    Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", url)
        .env("IRO_ADVICE_PROFILE", profile)
        .env("IRO_ADVICE_DATA_DIR", app.data_dir.path())
        .env("IRO_ADVICE_PUBLIC_URL", &app.settings.server.public_url)
        // Releases as soon as a month ends, so that the test's seed has some to read.
        .env("IRO_ADVICE_STATS_FOLLOW_UP_DAYS", "0")
        .env(
            "IRO_ADVICE_TLS_CERT",
            app.data_dir.path().join("tls/dev-cert.pem"),
        )
        .env(
            "IRO_ADVICE_TLS_KEY",
            app.data_dir.path().join("tls/dev-key.pem"),
        )
        .output()
        .unwrap()
}

fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// Seeds about seven months of activity and returns (first month, current month).
pub fn seed(app: &TestApp, iros: &str, queries: &str) -> (String, String) {
    let today = Utc::now().date_naive();
    let from = month_of(today - Duration::days(200));
    seed_args(
        app,
        &["--iros", iros, "--queries", queries, "--from", &from],
    );
    (from, month_of(today))
}

/// `demo seed` with the given options, then every due release.
pub fn seed_args(app: &TestApp, args: &[&str]) {
    let out = cli(app, &[&["demo", "seed"][..], args].concat(), "dev");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    release(app);
}

/// The operator's command line, with the test's settings.
pub fn stats_cli(app: &TestApp, args: &[&str]) -> Output {
    cli(app, args, "dev")
}

/// Builds every release that is due, as the operator's command does.
pub fn release(app: &TestApp) {
    let out = cli(app, &["stats", "release"], "dev");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// When what is counted about a query is frozen: the end of its month (the tests release
/// with no follow-up window).
fn cutoff(created: NaiveDateTime) -> NaiveDateTime {
    let first = NaiveDate::from_ymd_opt(created.year(), created.month(), 1).unwrap();
    let next = if created.month() == 12 {
        NaiveDate::from_ymd_opt(created.year() + 1, 1, 1).unwrap()
    } else {
        NaiveDate::from_ymd_opt(created.year(), created.month() + 1, 1).unwrap()
    };
    debug_assert!(first <= created.date());
    next.and_hms_opt(0, 0, 0).unwrap()
}

/// A query's outcome as its release counts it: open unless closed before its cutoff.
fn outcome_at_cutoff(q: &Q) -> &str {
    match q.closed {
        Some(c) if c < cutoff(q.created) => q.outcome.as_deref().unwrap_or("open"),
        _ => "open",
    }
}

struct Q {
    authority: String,
    category: String,
    outcome: Option<String>,
    urgency: String,
    created: NaiveDateTime,
    accepted: Option<NaiveDateTime>,
    closed: Option<NaiveDateTime>,
    first_reply: Option<NaiveDateTime>,
}

type QueryTuple = (
    String,
    String,
    Option<String>,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// The rows, read plainly: the test's own counts come from these, not from the service's SQL.
struct Rows {
    queries: Vec<Q>,
    iros: Vec<(String, NaiveDateTime)>,
    region: HashMap<String, String>,
}

fn rows(app: &TestApp) -> Rows {
    let db = app.database();
    let mut conn = db.get().unwrap();
    let qs: Vec<QueryTuple> = queries::table
        .select((
            queries::authority_code,
            queries::category,
            queries::outcome,
            queries::urgency,
            queries::created_at,
            queries::accepted_at,
            queries::closed_at,
            queries::first_reply_at,
        ))
        .load(&mut *conn)
        .unwrap();
    let iros: Vec<(Option<String>, NaiveDateTime)> = accounts::table
        .filter(accounts::role.eq("iro"))
        .select((accounts::authority_code, accounts::created_at))
        .load(&mut *conn)
        .unwrap();
    let region: Vec<(String, String)> = authorities::table
        .select((authorities::code, authorities::region))
        .load(&mut *conn)
        .unwrap();
    Rows {
        queries: qs
            .into_iter()
            .map(|q| Q {
                authority: q.0,
                category: q.1,
                outcome: q.2,
                urgency: q.3,
                created: q.4,
                accepted: q.5,
                closed: q.6,
                first_reply: q.7,
            })
            .collect(),
        iros: iros.into_iter().map(|(a, t)| (a.unwrap(), t)).collect(),
        region: region.into_iter().collect(),
    }
}

/// A period's bounds as the report states them: [start, day after end).
fn bounds(period: &Value) -> (NaiveDateTime, NaiveDateTime) {
    let day = |k: &str| NaiveDate::parse_from_str(period[k].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let (start, end) = (day("start"), day("end") + Duration::days(1));
    (
        start.and_hms_opt(0, 0, 0).unwrap(),
        end.and_hms_opt(0, 0, 0).unwrap(),
    )
}

pub fn table<'a>(period: &'a Value, measure: &str) -> &'a Value {
    period["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["measure"] == measure)
        .unwrap_or_else(|| panic!("no {measure} table"))
}

fn columns_of(t: &Value) -> Vec<&str> {
    t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect()
}

/// A published value as text: a number, or `c`.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        n => n.to_string(),
    }
}

/// Every number the report publishes: none may be 1 to 4.
fn assert_no_small_numbers(report: &Value) {
    fn walk(v: &Value, path: &str) {
        match v {
            Value::Number(n) => {
                if let Some(n) = n.as_u64() {
                    assert!(!(1..=4).contains(&n), "{path} publishes {n}");
                }
            }
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(x, &format!("{path}[{i}]"))),
            Value::Object(o) => o
                .iter()
                .filter(|(k, _)| {
                    !["round_totals_to", "median_hours", "national"].contains(&k.as_str())
                })
                .for_each(|(k, x)| walk(x, &format!("{path}.{k}"))),
            _ => {}
        }
    }
    for p in report["periods"].as_array().unwrap() {
        for t in p["tables"].as_array().unwrap() {
            walk(t, &format!("{}.{}", p["period"], t["measure"]));
        }
    }
}

/// The three tables of queries publish the same row totals, or withhold them alike: one
/// must not give back a total another withholds to protect its cells.
fn assert_shared_totals_agree(p: &Value) {
    let t = table(p, "queries_by_category");
    for name in ["queries_by_stage", "queries_by_outcome"] {
        let other = table(p, name);
        let pairs = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .zip(other["rows"].as_array().unwrap());
        for (a, b) in pairs {
            assert_eq!(a["name"], b["name"]);
            assert_eq!(
                a["total"], b["total"],
                "{} {} total in {name}",
                p["period"], a["name"]
            );
        }
    }
}

/// A published cell agrees with the test's own count: the same number, or `c`.
fn check(cell: &Value, expected: u64, what: &str) -> bool {
    match cell {
        Value::String(c) if c == "c" => false,
        Value::Number(n) => {
            assert_eq!(n.as_u64().unwrap(), expected, "{what}");
            true
        }
        other => panic!("{what}: {other}"),
    }
}

/// A rounded total lies within half the rounding step of the true one.
fn check_rounded(cell: &Value, expected: u64, what: &str) -> bool {
    match cell.as_u64() {
        Some(n) => {
            assert_eq!(n % 5, 0, "{what}: {n} is not rounded");
            assert!(n.abs_diff(expected) <= 2, "{what}: {n} vs {expected}");
            true
        }
        None => {
            assert_eq!(cell, "c", "{what}");
            false
        }
    }
}

async fn nairo_user(app: &TestApp) -> User {
    let admin = app.admin().await;
    app.user(&admin, Role::Nairo, None, None).await
}

pub async fn nairo(app: &TestApp) -> String {
    nairo_user(app).await.access
}

async fn regional_quarters_match_independent_counts(app: TestApp) {
    let (from, to) = seed(&app, "160", "3000");
    let verify = cli(&app, &["log", "verify"], "dev");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let token = nairo(&app).await;
    let report = json(
        app.get_auth(
            &format!("/api/v1/stats/access?by=region&period=quarter&from={from}&to={to}"),
            &token,
        )
        .await,
        200,
    )
    .await;
    let rows = rows(&app);
    let now = Utc::now().naive_utc();

    // The current quarter has not ended: it is named as left out, and never reported.
    let today = now.date();
    let current = format!(
        "{}-Q{}",
        today.format("%Y"),
        (today.format("%m").to_string().parse::<u32>().unwrap() - 1) / 3 + 1
    );
    assert!(report["not_yet_ended"]
        .as_array()
        .unwrap()
        .contains(&Value::from(current.clone())));
    let periods = report["periods"].as_array().unwrap();
    assert!(!periods.is_empty(), "{report}");
    for p in periods {
        assert_ne!(p["period"], current.as_str());
        assert!(bounds(p).1 <= now, "{} has not ended", p["period"]);
    }
    assert_no_small_numbers(&report);
    assert!(
        report["rules"].as_array().unwrap().len() >= 4,
        "{}",
        report["rules"]
    );

    let mut compared = 0;
    for p in periods {
        let (start, end) = bounds(p);
        let in_period: Vec<&Q> = rows
            .queries
            .iter()
            .filter(|q| q.created >= start && q.created < end)
            .collect();

        // Queries by category, per region, per category.
        let t = table(p, "queries_by_category");
        let columns = columns_of(t);
        for row in t["rows"].as_array().unwrap() {
            let region = row["name"].as_str().unwrap();
            let mine: Vec<&&Q> = in_period
                .iter()
                .filter(|q| rows.region[&q.authority] == region)
                .collect();
            for (i, column) in columns.iter().enumerate() {
                let n = mine.iter().filter(|q| q.category == *column).count() as u64;
                compared += check(
                    &row["cells"][i],
                    n,
                    &format!("{} {region} {column}", p["period"]),
                ) as usize;
            }
            // A regional total is rounded to 5.
            check_rounded(
                &row["total"],
                mine.len() as u64,
                &format!("{} {region} total", p["period"]),
            );
        }
        // National totals, rounded too.
        for (i, column) in columns.iter().enumerate() {
            let n = in_period.iter().filter(|q| q.category == *column).count() as u64;
            check_rounded(
                &t["totals"][i],
                n,
                &format!("{} national {column}", p["period"]),
            );
        }
        // Shown when nothing needs it withheld; either way never a wrong number.
        check_rounded(&t["total"], in_period.len() as u64, "grand total");

        assert_shared_totals_agree(p);

        // Outcomes: a query without one is still open.
        let t = table(p, "queries_by_outcome");
        let columns = columns_of(t);
        for row in t["rows"].as_array().unwrap() {
            let region = row["name"].as_str().unwrap();
            for (i, column) in columns.iter().enumerate() {
                let n = in_period
                    .iter()
                    .filter(|q| rows.region[&q.authority] == region)
                    .filter(|q| outcome_at_cutoff(q) == *column)
                    .count() as u64;
                compared += check(&row["cells"][i], n, &format!("{region} {column}")) as usize;
            }
        }

        // Waiting longer than the reminder time for an adviser to accept.
        let t = table(p, "not_accepted_within_reminder_time");
        for row in t["rows"].as_array().unwrap() {
            let region = row["name"].as_str().unwrap();
            let n = in_period
                .iter()
                .filter(|q| rows.region[&q.authority] == region)
                .filter(|q| {
                    let limit = if q.urgency == "urgent" { 240 } else { 2880 };
                    let cut = cutoff(q.created);
                    let until = q
                        .accepted
                        .filter(|a| *a < cut)
                        .or(q.closed.filter(|c| *c < cut))
                        .unwrap_or(cut);
                    until - q.created > Duration::minutes(limit)
                })
                .count() as u64;
            compared += check(
                &row["cells"][0],
                n,
                &format!("{region} not accepted in time"),
            ) as usize;
        }

        // Registered IROs at the period's end.
        let t = table(p, "registered_iros");
        for row in t["rows"].as_array().unwrap() {
            let region = row["name"].as_str().unwrap();
            let n = rows
                .iros
                .iter()
                .filter(|(a, at)| rows.region[a] == region && *at < end)
                .count() as u64;
            compared += check(&row["cells"][0], n, &format!("{region} IROs")) as usize;
        }

        // The national median, from the hours themselves.
        let mut hours: Vec<f64> = in_period
            .iter()
            .filter_map(|q| {
                q.first_reply
                    .filter(|r| *r < cutoff(q.created))
                    .map(|r| (r - q.created).num_milliseconds() as f64 / 3_600_000.0)
            })
            .collect();
        hours.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let published = &p["median_hours_to_first_reply"]["national"];
        if hours.len() >= 5 {
            let n = hours.len();
            let median = (hours[(n - 1) / 2] + hours[n / 2]) / 2.0;
            let got = published.as_f64().unwrap();
            assert!((got - median).abs() <= 0.051, "median {got} vs {median}");
            compared += 1;
        } else {
            assert_eq!(published, "c");
        }
    }
    assert!(compared > 50, "only {compared} cells could be compared");
}

async fn authorities_with_few_iros_appear_only_within_their_region(app: TestApp) {
    let (from, to) = seed(&app, "160", "2000");
    let token = nairo(&app).await;
    let report = json(
        app.get_auth(
            &format!("/api/v1/stats/access?by=authority&period=month&from={from}&to={to}"),
            &token,
        )
        .await,
        200,
    )
    .await;
    let rows = rows(&app);
    assert!(report["not_yet_ended"]
        .as_array()
        .unwrap()
        .contains(&Value::from(to.clone())));
    assert_no_small_numbers(&report);
    let periods = report["periods"].as_array().unwrap();
    assert!(periods.len() >= 5, "{}", periods.len());
    let mut compared = 0;
    let mut grouped_somewhere = false;
    for p in periods {
        assert_ne!(p["period"], to.as_str());
        let (start, end) = bounds(p);
        let mut registered: HashMap<&str, usize> = HashMap::new();
        for (a, at) in &rows.iros {
            if *at < end {
                *registered.entry(a.as_str()).or_default() += 1;
            }
        }
        let own: HashSet<&str> = registered
            .iter()
            .filter(|(_, n)| **n >= 5)
            .map(|(a, _)| *a)
            .collect();
        assert_shared_totals_agree(p);
        let t = table(p, "queries_by_category");
        let columns = columns_of(t);
        let shown: HashSet<&str> = t["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["code"].as_str())
            .collect();
        assert_eq!(
            shown, own,
            "{}: the authorities with rows of their own",
            p["period"]
        );

        let in_period: Vec<&Q> = rows
            .queries
            .iter()
            .filter(|q| q.created >= start && q.created < end)
            .collect();
        for row in t["rows"].as_array().unwrap() {
            let region = row["region"].as_str().unwrap();
            let belongs = |q: &&&Q| match row["code"].as_str() {
                Some(code) => q.authority == code,
                None => {
                    assert_eq!(row["name"], format!("Other authorities in {region}"));
                    rows.region[&q.authority] == region && !own.contains(q.authority.as_str())
                }
            };
            let mine: Vec<&&Q> = in_period.iter().filter(belongs).collect();
            if row["code"].is_null() && !mine.is_empty() {
                grouped_somewhere = true;
            }
            for (i, column) in columns.iter().enumerate() {
                let n = mine.iter().filter(|q| q.category == *column).count() as u64;
                compared += check(
                    &row["cells"][i],
                    n,
                    &format!("{} {} {column}", p["period"], row["name"]),
                ) as usize;
            }
            // An authority's own total is exact, not rounded.
            if row["code"].is_string() {
                if let Some(total) = row["total"].as_u64() {
                    assert_eq!(total, mine.len() as u64);
                }
            }
        }
        let t = table(p, "registered_iros");
        for row in t["rows"].as_array().unwrap() {
            if let Some(code) = row["code"].as_str() {
                compared += check(&row["cells"][0], registered[code] as u64, code) as usize;
            }
        }
    }
    assert!(
        grouped_somewhere,
        "no small authority's queries were grouped"
    );
    assert!(compared > 50, "only {compared} cells could be compared");
}

async fn csv_carries_the_same_numbers_and_the_rules(app: TestApp) {
    let (from, to) = seed(&app, "80", "800");
    let user = nairo_user(&app).await;
    let token = user.access.clone();
    let path = format!("/api/v1/stats/access?by=region&period=quarter&from={from}&to={to}");
    let report = json(app.get_auth(&path, &token).await, 200).await;
    let res = app.get_auth(&format!("{path}&format=csv"), &token).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "period",
            "measure",
            "area_code",
            "area",
            "region",
            "column",
            "value",
            "rules_applied"
        ]
    );
    let lines: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut expected = 0;
    let mut values: BTreeMap<(String, String, String, String), String> = BTreeMap::new();
    for l in &lines {
        values.insert(
            (l[0].into(), l[1].into(), l[3].into(), l[5].into()),
            l[6].into(),
        );
    }
    for p in report["periods"].as_array().unwrap() {
        for t in p["tables"].as_array().unwrap() {
            let columns = t["columns"].as_array().unwrap();
            let rows = t["rows"].as_array().unwrap();
            expected += rows.len() * (columns.len() + 1) + columns.len() + 1;
            for row in rows {
                for (i, c) in columns.iter().enumerate() {
                    let key = (
                        p["period"].as_str().unwrap().to_owned(),
                        t["measure"].as_str().unwrap().to_owned(),
                        row["name"].as_str().unwrap().to_owned(),
                        c.as_str().unwrap().to_owned(),
                    );
                    let json_cell = shown(&row["cells"][i]);
                    assert_eq!(values[&key], json_cell, "{key:?}");
                }
            }
        }
        expected += p["median_hours_to_first_reply"]["rows"]
            .as_array()
            .unwrap()
            .len()
            + 1;
    }
    assert_eq!(lines.len(), expected);
    // Where a table had cells withheld, its lines say so.
    let suppressed: Vec<_> = lines
        .iter()
        .filter(|l| &l[6] == "c" && !l[1].starts_with("median"))
        .collect();
    assert!(!suppressed.is_empty(), "a small seed has small cells");
    assert!(suppressed.iter().all(|l| l[7].contains("shown as c")));

    // The command-line client prints the same report and writes the same CSV.
    let client = Client::setup(&app, &user);
    let file = tempfile::NamedTempFile::new().unwrap();
    let printed = client.ok(&[
        "stats",
        "--by",
        "region",
        "--period",
        "quarter",
        "--from",
        &from,
        "--to",
        &to,
        "--csv",
        file.path().to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(file.path()).unwrap(), text);
    assert!(
        printed.contains("Rules: only periods that have ended are reported"),
        "{printed}"
    );
    let first = &report["periods"][0];
    assert!(
        printed.contains(&format!("== {}", first["period"].as_str().unwrap())),
        "{printed}"
    );
    let london = table(first, "queries_by_category")["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "London")
        .unwrap()
        .clone();
    let line = printed
        .lines()
        .find(|l| l.starts_with("London "))
        .expect("a London row");
    let printed_cells: Vec<&str> = line.split_whitespace().skip(1).collect();
    let json_cells: Vec<String> = london["cells"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&london["total"]])
        .map(shown)
        .collect();
    assert_eq!(printed_cells, json_cells);
}

async fn bad_requests_are_refused_with_a_problem(app: TestApp) {
    let token = nairo(&app).await;
    for query in [
        "by=region&period=quarter&from=2026-05&to=2026-01",
        "by=region&period=quarter&from=2026-5&to=2026-06",
        "by=county&period=quarter&from=2026-01&to=2026-06",
        "by=region&period=week&from=2026-01&to=2026-06",
        "by=region&period=quarter&to=2026-06",
        "by=region&period=month&from=2000-01&to=2026-06",
        "by=region&period=month&from=2026-01&to=2026-06&format=xlsx",
    ] {
        let res = app
            .get_auth(&format!("/api/v1/stats/access?{query}"), &token)
            .await;
        let problem = assert_problem(res, 400, "invalid-statistics-request").await;
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{query}: {problem}"
        );
    }
    // A range wholly in the future is not an error: it has no ended period yet.
    let next_year = Utc::now().date_naive() + Duration::days(400);
    let m = month_of(next_year);
    let report = json(
        app.get_auth(&format!("/api/v1/stats/access?from={m}&to={m}"), &token)
            .await,
        200,
    )
    .await;
    assert_eq!(report["periods"], serde_json::json!([]));
    assert_eq!(report["not_yet_ended"].as_array().unwrap().len(), 1);
}

async fn demo_seed_refuses_a_database_in_use_and_production(app: TestApp) {
    let admin = app.admin().await;
    let before = (app.count("accounts"), app.count("log_leaves"));
    let out = cli(
        &app,
        &["demo", "seed", "--iros", "10", "--queries", "50"],
        "dev",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already holds accounts"), "{stderr}");
    assert_eq!((app.count("accounts"), app.count("log_leaves")), before);
    assert_eq!(app.count("queries"), 0);

    let out = cli(
        &app,
        &["demo", "seed", "--iros", "10", "--queries", "50"],
        "production",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused under the production profile"),
        "{stderr}"
    );
    assert_eq!((app.count("accounts"), app.count("log_leaves")), before);

    // Sizes and months out of range are refused before anything is read or written.
    let next_month = month_of(Utc::now().date_naive() + Duration::days(32));
    for (args, says) in [
        (vec!["--queries", "1000001"], "at most 1,000,000"),
        (vec!["--iros", "0"], "at least 1"),
        (
            vec!["--from", next_month.as_str()],
            "before the current one",
        ),
        (vec!["--from", "2026-13"], "YYYY-MM"),
    ] {
        let out = cli(&app, &[&["demo", "seed"][..], &args].concat(), "dev");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!((app.count("accounts"), app.count("log_leaves")), before);

    // The service still answers as before.
    let res = app.get_auth("/api/v1/me", &admin.access).await;
    assert_eq!(res.status(), 200);
}
