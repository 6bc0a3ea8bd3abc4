//! What witnessing costs: appends per second through the log's write path with the
//! service's witness submitter running against a real witness on loopback, versus with no
//! witness (run alternately, twice each); and the time from an append's commit until a
//! checkpoint covering it is cosigned and stored (the receipt's completion), for appends
//! spaced out so that each is its own submission.
//!
//! `cargo bench --bench witness`; `WITNESS_BENCH_LEAVES` sets the appends per run (default
//! 20,000), `BENCH_DATABASE_URL` the PostgreSQL server (skipped when unreachable).

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use iro_advice_server::config::WitnessEndpoint;
use iro_advice_server::db::{write_transaction, Database};
use iro_advice_server::log::witnessing::{cosigned_checkpoint, Witnessing};
use iro_advice_server::log::{self, Actor, Event, Kind, LogKeys, Subject};

/// A witness in this process, on its own thread and runtime, as `witness serve` runs.
fn start_witness(log_key: &str) -> (String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let vkey = iro_advice_witness::init(dir.path(), "bench.test/witness").unwrap();
    let witness = iro_advice_witness::Witness::open(dir.path(), &[log_key.to_owned()]).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_web::rt::System::new()
            .block_on(iro_advice_witness::http::serve(witness, listener, None))
            .unwrap();
    });
    (base, vkey, dir)
}

/// The service's submitters, on their own thread and runtime, as `serve` runs them.
fn start_submitter(
    db: Database,
    keys: Arc<LogKeys>,
    endpoints: Vec<WitnessEndpoint>,
) -> Arc<Witnessing> {
    let witnessing = Arc::new(Witnessing::of(endpoints, 1));
    let for_thread = witnessing.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let http = iro_advice_tlog::https::client(None, Duration::from_secs(5)).unwrap();
            log::witnessing::spawn(db, keys, for_thread, http);
            std::future::pending::<()>().await
        })
    });
    witnessing
}

fn append(db: &Database, keys: &LogKeys, i: u64) {
    let id = format!("query-{i}");
    let mut conn = db.get().unwrap();
    write_transaction(&mut conn, |c| {
        log::record(
            c,
            keys,
            Event {
                details: iro_advice_server::log::Details::None,
                kind: Kind::QuerySubmitted,
                actor: Actor::Account("bench-iro"),
                subject: Subject::Query(&id),
                authority: Some("E06000019"),
            },
        )
    })
    .unwrap();
}

fn cosigned_size(db: &Database, keys: &LogKeys, witness: &str) -> u64 {
    let mut conn = db.get().unwrap();
    cosigned_checkpoint(&mut conn, keys, &[witness.to_owned()], 1)
        .unwrap()
        .map_or(0, |c| c.size)
}

fn run(name: &str, url: &str, leaves: u64, with_witness: bool) -> f64 {
    let data = tempfile::tempdir().unwrap();
    let settings = iro_advice_testkit::bench::settings(data.path(), url);
    let db = iro_advice_server::http::server::prepare_database(&settings).unwrap();
    let keys = iro_advice_server::keys::Keys::load_or_create(&settings.accounts.keys_dir).unwrap();
    let log_keys = Arc::new(iro_advice_server::http::server::log_keys(&settings, &keys).unwrap());
    let mut witness = None;
    let witnessing = if with_witness {
        let (base, vkey, dir) = start_witness(&log_keys.signer.verifier_key());
        let endpoint = WitnessEndpoint {
            url: url::Url::parse(&format!("{base}/add-checkpoint")).unwrap(),
            key: vkey.clone(),
        };
        witness = Some((vkey, dir));
        Some(start_submitter(
            db.clone(),
            log_keys.clone(),
            vec![endpoint],
        ))
    } else {
        None
    };
    let started = Instant::now();
    for i in 0..leaves {
        append(&db, &log_keys, i);
        if let Some(w) = &witnessing {
            w.appended();
        }
    }
    let took = started.elapsed();
    let rate = leaves as f64 / took.as_secs_f64();
    let label = if with_witness {
        "with a witness"
    } else {
        "no witness"
    };
    println!(
        "[{name}] {label}: {leaves} appends in {:.1} s = {rate:.0} appends/s",
        took.as_secs_f64()
    );

    if let Some((vkey, _dir)) = &witness {
        // The backlog: how long until the last append is cosigned.
        let t = Instant::now();
        while cosigned_size(&db, &log_keys, vkey) < leaves {
            std::thread::sleep(Duration::from_millis(1));
        }
        println!(
            "[{name}]   after the last append, its checkpoint was cosigned within {:.1} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
        // Appends spaced out (as in real use), each its own round: the latency from commit
        // to a stored cosignature covering it.
        let mut latencies = Vec::new();
        for i in 0..50u64 {
            append(&db, &log_keys, leaves + i);
            let t = Instant::now();
            witnessing.as_ref().unwrap().appended();
            while cosigned_size(&db, &log_keys, vkey) < leaves + i + 1 {
                std::thread::sleep(Duration::from_micros(200));
            }
            latencies.push(t.elapsed());
            std::thread::sleep(Duration::from_millis(150));
        }
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "[{name}]   commit → cosigned and stored, 50 appends 150 ms apart: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms",
            ms(latencies[25]),
            ms(latencies[45]),
            ms(latencies[49])
        );
    }
    rate
}

/// Runs without and with a witness twice, alternately, on fresh databases from `url`, so
/// that drift in the machine or the database falls on both; prints the ratio of the means.
fn compare(name: &str, leaves: u64, url: &mut dyn FnMut() -> String) {
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..2 {
        without.push(run(name, &url(), leaves, false));
        with.push(run(name, &url(), leaves, true));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&with) / mean(&without);
    println!(
        "[{name}] mean appends/s: {:.0} without, {:.0} with a witness; with ÷ without {ratio:.3} ({:+.1}%)",
        mean(&without),
        mean(&with),
        (ratio - 1.0) * 100.0
    );
}

fn main() {
    let leaves: u64 = std::env::var("WITNESS_BENCH_LEAVES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    compare("sqlite", leaves, &mut || {
        n += 1;
        format!(
            "sqlite://{}",
            dir.path().join(format!("log-{n}.db")).display()
        )
    });
    let mut n = 0;
    let mut scratch = Vec::new();
    iro_advice_testkit::bench::with_scratch_postgres("iro_advice_witness_bench", |admin_db| {
        let admin = admin_db.rsplit_once('/').unwrap().0.to_owned();
        compare("postgres", leaves, &mut || {
            n += 1;
            let name = format!("iro_advice_witness_bench_{}_{n}", std::process::id());
            iro_advice_testkit::bench::create_database(admin_db, &name);
            scratch.push(name.clone());
            format!("{admin}/{name}")
        });
        for name in &scratch {
            iro_advice_testkit::bench::drop_database(admin_db, name);
        }
    });
}
