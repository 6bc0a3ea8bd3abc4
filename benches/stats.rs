//! NAIRO's statistics releases over a large `demo seed` database, on SQLite and PostgreSQL:
//! the time to build a month's, a quarter's and a year's release (joint suppression and the
//! audit included), and the time to answer a report from the stored releases.
//!
//! `cargo bench --bench stats`. `STATS_BENCH_QUERIES` sets the size (default 1,000,000;
//! IROs are one for every 600 queries, at least 200); `BENCH_DATABASE_URL` a PostgreSQL
//! server to create a scratch database on (default postgres://postgres@127.0.0.1:5432/postgres;
//! skipped when unreachable). Also reported: how long the seed takes.

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use iro_advice_model::period::By;
use iro_advice_model::period::{Month, Period, PeriodLength};
use iro_advice_server::demo::{self, SeedOptions};
use iro_advice_server::log::Actor;
use iro_advice_server::statistics::store::{self, ReleaseSettings};

fn percentile(mut times: Vec<Duration>, p: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1]
}

fn run(name: &str, url: &str, queries: usize) {
    let data = tempfile::tempdir().unwrap();
    let settings = iro_advice_testkit::bench::settings(data.path(), url);
    let db = iro_advice_server::http::server::prepare_database(&settings).unwrap();
    let keys = iro_advice_server::keys::Keys::load_or_create(&settings.accounts.keys_dir).unwrap();
    let log_keys = iro_advice_server::http::server::log_keys(&settings, &keys).unwrap();
    let mut conn = db.get().unwrap();
    let today = chrono::Utc::now().date_naive();
    let from = Month::of(today - chrono::Duration::days(730));
    let options = SeedOptions {
        iros: (queries / 600).max(200),
        queries,
        from,
        until: None,
        seed: 7,
        reminder_routine_minutes: settings.queries.reminder_routine_minutes,
        reminder_urgent_minutes: settings.queries.reminder_urgent_minutes,
    };
    let started = Instant::now();
    let seeded = demo::seed(&mut conn, &log_keys, &options).unwrap();
    let took = started.elapsed().as_secs_f64();
    println!(
        "[{name}] demo seed: {} queries, {} IROs, {} log leaves in {took:.1} s ({:.0} leaves/s)",
        seeded.queries,
        seeded.iros,
        seeded.log_leaves,
        seeded.log_leaves as f64 / took
    );
    if name == "postgres" {
        diesel::sql_query("ANALYZE").execute(&mut *conn).unwrap();
    }
    let context = iro_advice_server::http::server::write_context(&settings).unwrap();
    let mut release = ReleaseSettings::from(&settings);
    release.follow_up_days = 0;
    let now = iro_advice_server::db::now();
    // The last calendar year the seed covers whole.
    let year: Period = format!(
        "{}",
        today.format("%Y").to_string().parse::<i32>().unwrap() - 1
    )
    .parse()
    .unwrap();
    let mut build = |period: &Period| {
        let started = Instant::now();
        let built = store::build(&mut conn, &context, &release, period, now, Actor::Operator)
            .unwrap()
            .unwrap();
        (started.elapsed(), built.suppressed)
    };
    let months: Vec<(Duration, usize)> = year
        .within(PeriodLength::Month)
        .iter()
        .map(&mut build)
        .collect();
    let quarters: Vec<(Duration, usize)> = year
        .within(PeriodLength::Quarter)
        .iter()
        .map(&mut build)
        .collect();
    let whole = build(&year);
    let show = |what: &str, runs: &[(Duration, usize)]| {
        let times: Vec<Duration> = runs.iter().map(|r| r.0).collect();
        println!(
            "[{name}] {what} release: median {:.2} s, slowest {:.2} s ({} withheld in the slowest)",
            percentile(times.clone(), 0.5).as_secs_f64(),
            percentile(times.clone(), 1.0).as_secs_f64(),
            runs.iter().max_by_key(|r| r.0).unwrap().1
        );
    };
    show("month", &months);
    show("quarter", &quarters);
    show("year", &[whole]);

    // Answering a report: the stored views of every month of the year, by authority.
    let keys: Vec<String> = year
        .within(PeriodLength::Month)
        .into_iter()
        .map(|p| p.key)
        .collect();
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..200 {
        let started = Instant::now();
        let views = store::views(&mut conn, &keys, By::Authority).unwrap();
        let parts: Vec<&serde_json::value::RawValue> = keys
            .iter()
            .map(|k| serde_json::from_str(&views[k]).unwrap())
            .collect();
        bytes = serde_json::to_string(&parts).unwrap().len();
        times.push(started.elapsed());
    }
    println!(
        "[{name}] report by authority, 12 months, from releases ({} KiB): p50 {:.2} ms, p99 {:.2} ms",
        bytes / 1024,
        percentile(times.clone(), 0.5).as_secs_f64() * 1000.0,
        percentile(times, 0.99).as_secs_f64() * 1000.0
    );
}

fn main() {
    let queries: usize = std::env::var("STATS_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.db");
    run("sqlite", &format!("sqlite://{}", path.display()), queries);

    iro_advice_testkit::bench::with_scratch_postgres("iro_advice_stats_bench", |url| {
        run("postgres", url, queries);
    });
}
