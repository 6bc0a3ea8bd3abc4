//! NAIRO's access report over a large `demo seed` database, on SQLite and PostgreSQL, against
//! the very same aggregate SQL run by the `sqlite3` and `psql` command-line tools on the same
//! database. The ratio says what the service adds on top of the database's own work
//! (binding, loading rows, disclosure control, building the report).
//!
//! `cargo bench --bench stats`. `STATS_BENCH_QUERIES` sets the size (default 1,000,000;
//! IROs are one for every 600 queries, at least 200); `BENCH_DATABASE_URL` a PostgreSQL
//! server to create a scratch database on (default postgres://postgres@127.0.0.1:5432/postgres;
//! skipped when unreachable). Also reported: how long the seed takes.

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use iro_advice::db::{snapshot_transaction, Backend};
use iro_advice::demo::{self, SeedOptions};
use iro_advice::statistics::period::{Month, PeriodLength};
use iro_advice::statistics::report::{self, AccessRequest, By, ReportSettings};

const RUNS: usize = 3;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs a command-line tool over the script `RUNS` times; the median wall time, and the
/// number of lines it printed (the rows of every statement), to check it did the work.
fn tool(program: &str, args: &[&str], script: &std::path::Path) -> Option<(Duration, usize)> {
    let mut times = Vec::new();
    let mut lines = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = Command::new(program)
            .args(args)
            .stdin(std::fs::File::open(script).unwrap())
            .stderr(Stdio::inherit())
            .output()
            .ok()?;
        times.push(started.elapsed());
        assert!(out.status.success(), "{program} failed");
        lines = String::from_utf8_lossy(&out.stdout).lines().count();
    }
    Some((median(times), lines))
}

fn run(name: &str, url: &str, queries: usize, cli: (&str, Vec<String>)) {
    let data = tempfile::tempdir().unwrap();
    let settings = support::settings(data.path(), url);
    let db = iro_advice::server::prepare_database(&settings).unwrap();
    let keys = iro_advice::keys::Keys::load_or_create(&settings.accounts.keys_dir).unwrap();
    let log_keys = iro_advice::server::log_keys(&settings, &keys).unwrap();
    let mut conn = db.get().unwrap();
    let today = chrono::Utc::now().date_naive();
    let from = Month::of(today - chrono::Duration::days(730));
    let options = SeedOptions {
        iros: (queries / 600).max(200),
        queries,
        from,
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
    let report_settings = ReportSettings {
        round_totals_to: settings.statistics.round_totals_to,
        reminder_routine_minutes: settings.queries.reminder_routine_minutes,
        reminder_urgent_minutes: settings.queries.reminder_urgent_minutes,
    };
    let backend = if name == "sqlite" {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    for (by, length) in [
        (By::Authority, PeriodLength::Quarter),
        (By::Region, PeriodLength::Month),
    ] {
        let request = AccessRequest {
            by,
            length,
            from,
            to: Month::of(today),
        };
        let now = iro_advice::db::now();
        let mut times = Vec::new();
        let mut cells = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let built = snapshot_transaction(&mut conn, |c| {
                report::build(c, &request, &report_settings, now)
            })
            .unwrap();
            times.push(started.elapsed());
            cells = built
                .periods
                .iter()
                .flat_map(|p| &p.tables)
                .map(|t| t.rows.len() * (t.columns.len() + 1))
                .sum::<usize>();
        }
        let service = median(times);
        let script_path = data.path().join("report.sql");
        std::fs::write(
            &script_path,
            report::script(backend, &request, &report_settings, now),
        )
        .unwrap();
        let args: Vec<&str> = cli.1.iter().map(String::as_str).collect();
        let label = format!("by {by} per {length}");
        match tool(cli.0, &args, &script_path) {
            Some((direct, lines)) => println!(
                "[{name}] access report {label}: service {:.2} s ({cells} cells); \
                 same SQL in {} {:.2} s ({lines} rows); ratio {:.2}",
                service.as_secs_f64(),
                cli.0,
                direct.as_secs_f64(),
                service.as_secs_f64() / direct.as_secs_f64()
            ),
            None => println!(
                "[{name}] access report {label}: service {:.2} s; {} not installed, no ratio",
                service.as_secs_f64(),
                cli.0
            ),
        }
    }
}

fn main() {
    let queries: usize = std::env::var("STATS_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.db");
    run(
        "sqlite",
        &format!("sqlite://{}", path.display()),
        queries,
        ("sqlite3", vec![path.display().to_string()]),
    );

    support::with_scratch_postgres("iro_advice_stats_bench", |url| {
        let psql = vec!["-q".into(), "-A".into(), "-t".into(), url.to_owned()];
        run("postgres", url, queries, ("psql", psql));
    });
}
