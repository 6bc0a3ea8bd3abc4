//! The request log at scale: appends per second up to a million leaves on SQLite and
//! PostgreSQL (each in its own transaction, signed, with its receipt, as in real use); the
//! time to build an inclusion proof at that size; and `log verify` over the whole log against
//! the bare SHA-256 rate of this machine.
//!
//! `cargo bench --bench log`; `LOG_BENCH_LEAVES` sets the size (default 1,000,000) and
//! `BENCH_DATABASE_URL` a PostgreSQL server to create a scratch database on (default
//! postgres://postgres@127.0.0.1:5432/postgres; skipped when unreachable).

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use iro_advice_server::db::write_transaction;
use iro_advice_server::log::{self, merkle, note::Verifier, Actor, Event, Kind, Subject};

fn run(name: &str, url: &str, leaves: u64, bare_rate: f64) {
    let data = tempfile::tempdir().unwrap();
    let settings = iro_advice_testkit::bench::settings(data.path(), url);
    let db = iro_advice_server::http::server::prepare_database(&settings).unwrap();
    let keys = iro_advice_server::keys::Keys::load_or_create(&settings.accounts.keys_dir).unwrap();
    let log_keys = iro_advice_server::http::server::log_keys(&settings, &keys).unwrap();
    let mut conn = db.get().unwrap();
    let step = (leaves / 10).max(1);
    let started = Instant::now();
    let mut last = Instant::now();
    let mut rates = Vec::new();
    for i in 0..leaves {
        let id = format!("query-{i}");
        write_transaction(&mut conn, |c| {
            log::record(
                c,
                &log_keys,
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
        if (i + 1) % step == 0 {
            rates.push((i + 1, step as f64 / last.elapsed().as_secs_f64()));
            last = Instant::now();
        }
    }
    let total = started.elapsed();
    println!(
        "[{name}] {leaves} appends in {:.1} s: {:.0} appends/s overall",
        total.as_secs_f64(),
        leaves as f64 / total.as_secs_f64()
    );
    for (upto, rate) in &rates {
        println!("[{name}]   up to {upto:>8}: {rate:.0} appends/s");
    }

    // Inclusion proofs at full size, for random leaves.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let proofs = 1000;
    let t = Instant::now();
    for _ in 0..proofs {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let proof = log::store::inclusion(&mut conn, seed % leaves, leaves).unwrap();
        assert!(!proof.is_empty() || leaves == 1);
    }
    let per_proof = t.elapsed() / proofs;
    println!(
        "[{name}] inclusion proof at {leaves} leaves: {:.3} ms each ({} hashes)",
        per_proof.as_secs_f64() * 1000.0,
        64 - (leaves - 1).leading_zeros()
    );

    // log verify over everything; it hashes every leaf and every interior node once.
    let verifier = Verifier::parse(&log_keys.signer.verifier_key()).unwrap();
    let t = Instant::now();
    let report = log::verify::verify(&mut conn, &verifier).unwrap();
    let took = t.elapsed();
    let hashes_needed = 2 * leaves - 1;
    let verify_rate = hashes_needed as f64 / took.as_secs_f64();
    println!(
        "[{name}] log verify: {} leaves and {} checkpoints in {:.1} s = {:.0} hashes/s, {:.3} of the bare SHA-256 rate",
        report.leaves,
        report.checkpoints,
        took.as_secs_f64(),
        verify_rate,
        verify_rate / bare_rate
    );
    drop(conn);
    drop(db);
}

/// Leaf and node hashes of the log's sizes, on one core, in memory.
fn bare_sha256_rate() -> f64 {
    let leaf = [7u8; 100];
    let mut h = merkle::leaf_hash(&leaf);
    let n = 2_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        h = if i % 2 == 0 {
            merkle::leaf_hash(&leaf)
        } else {
            merkle::node_hash(&h, &h)
        };
    }
    std::hint::black_box(h);
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let leaves: u64 = std::env::var("LOG_BENCH_LEAVES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let bare = bare_sha256_rate();
    println!("bare SHA-256 (100-byte leaves and 64-byte nodes alternately, one core): {bare:.0} hashes/s");

    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", sqlite_dir.path().join("log.db").display());
    run("sqlite", &sqlite, leaves, bare);

    iro_advice_testkit::bench::with_scratch_postgres("iro_advice_log_bench", |url| {
        run("postgres", url, leaves, bare)
    });
}
