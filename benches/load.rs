//! The service under a day's worst hour, compressed: 1,000 connections at once for 60 s,
//! each a client doing one thing over and over without pause — reading (its account, its
//! list of queries, a query with its messages, the log's checkpoint), asking a question,
//! replying on an accepted query (advisers and IROs both), or signing in with a fresh unknown
//! email and a wrong password (the login flood). The real release binary runs as its own
//! process on SQLite and on PostgreSQL, each without and then with NAIRO's witness; the
//! clients run in this process on the same cores.
//!
//! Reported per run: requests answered per second, p50 and p99 for each kind of request,
//! errors (a refusal or a failed connection on anything but the flood; the target is none),
//! how the flood's attempts were answered, the server's peak resident memory (VmHWM), and,
//! with a witness, how long after the load its cosignature covered the whole log.
//!
//! `cargo bench --bench load`; `LOAD_SECS` shortens the 60 s, `LOAD_CONNECTIONS` changes
//! the 1,000 (split in the same proportions). PostgreSQL runs on `BENCH_DATABASE_URL`
//! (default postgres://postgres@127.0.0.1:5432/postgres), skipped when nothing answers.

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

#[allow(dead_code, unused_imports, unused_macros)]
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use iro_advice_model::accounts::{AdviserKind, Role};
use iro_advice_testkit::{json, Backend, TestApp, User};
use serde_json::json as j;

const IROS: usize = 50;
const ADVISERS: usize = 10;
const AUTHORITY: &str = "E06000019";

/// What one connection does, over and over.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Read,
    Ask,
    Reply,
    Flood,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Read => "reads",
            Kind::Ask => "asks",
            Kind::Reply => "replies",
            Kind::Flood => "login flood",
        }
    }
}

/// The share of the connections of each kind, in thousandths: mostly reading, as people do.
const MIX: [(Kind, usize); 4] = [
    (Kind::Read, 550),
    (Kind::Ask, 150),
    (Kind::Reply, 200),
    (Kind::Flood, 100),
];

#[derive(Default)]
struct Tally {
    took: Vec<Duration>,
    /// The reads' times by route.
    by_route: BTreeMap<&'static str, Vec<Duration>>,
    answered: BTreeMap<u16, u64>,
    failed: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.took.extend(other.took);
        for (route, took) in other.by_route {
            self.by_route.entry(route).or_default().extend(took);
        }
        for (s, n) in other.answered {
            *self.answered.entry(s).or_default() += n;
        }
        self.failed += other.failed;
    }

    fn ok(&self) -> u64 {
        self.answered
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// Everything but a success: for the flood, the 401 it asks for and a refusal it is
    /// designed to get (429, 503) are not errors.
    fn errors(&self, kind: Kind) -> u64 {
        let expected = |s: u16| match kind {
            Kind::Flood => matches!(s, 401 | 429 | 503),
            _ => (200..300).contains(&s),
        };
        self.failed
            + self
                .answered
                .iter()
                .filter(|(s, _)| !expected(**s))
                .map(|(_, n)| n)
                .sum::<u64>()
    }
}

/// The people of the run and the queries they already share.
struct Cast {
    iros: Vec<(User, age::x25519::Recipient)>,
    advisers: Vec<(User, age::x25519::Recipient)>,
    /// One accepted query per IRO, with adviser `i % ADVISERS`.
    accepted: Vec<String>,
}

async fn cast(app: &TestApp) -> Cast {
    let mut advisers = Vec::new();
    for _ in 0..ADVISERS {
        let a = app
            .console_user(Role::Adviser, None, Some(AdviserKind::Solicitor))
            .await;
        let key = app.register_key(&a).await.to_public();
        advisers.push((a, key));
    }
    let mut iros = Vec::new();
    for _ in 0..IROS {
        let i = app.console_user(Role::Iro, Some(AUTHORITY), None).await;
        let key = app.register_key(&i).await.to_public();
        iros.push((i, key));
    }
    let mut accepted = Vec::new();
    for (n, (iro, key)) in iros.iter().enumerate() {
        let (adviser, adviser_key) = &advisers[n % ADVISERS];
        let created = json(
            app.post_json(
                "/api/v1/queries",
                Some(&iro.access),
                &ask_body(&adviser.id, key, adviser_key, false),
            )
            .await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let res = app
            .post_json(
                &format!("/api/v1/queries/{id}/accept"),
                Some(&adviser.access),
                &j!({}),
            )
            .await;
        assert!(res.status().is_success(), "accept: {}", res.status());
        accepted.push(id);
    }
    Cast {
        iros,
        advisers,
        accepted,
    }
}

fn ask_body(
    adviser: &str,
    iro_key: &age::x25519::Recipient,
    adviser_key: &age::x25519::Recipient,
    urgent: bool,
) -> serde_json::Value {
    j!({"adviser_id": adviser, "category": "placement", "stage": "none",
        "urgency": if urgent { "urgent" } else { "routine" },
        "body": iro_advice_testkit::armored("Is a placement move without a review lawful here?", &[iro_key.clone(), adviser_key.clone()])})
}

/// One connection's loop until `until`: the request it makes is fixed when it starts
/// (bodies encrypted beforehand, so that the clients spend the shared cores on TLS, as
/// browsers would, rather than on encryption the server never sees).
async fn connection(
    http: reqwest::Client,
    base: String,
    kind: Kind,
    n: usize,
    cast: std::sync::Arc<Cast>,
    until: Instant,
) -> (Kind, Tally) {
    let mut tally = Tally::default();
    let iro_n = n % IROS;
    let (iro, iro_key) = &cast.iros[iro_n];
    let ask = {
        let (adviser, adviser_key) = &cast.advisers[n % ADVISERS];
        ask_body(&adviser.id, iro_key, adviser_key, n % 10 == 0)
    };
    // Repliers: even ones are the query's adviser, odd ones its IRO.
    let (reply_token, reply_query, reply) = {
        let (adviser, adviser_key) = &cast.advisers[iro_n % ADVISERS];
        let token = if n % 2 == 0 {
            &adviser.access
        } else {
            &iro.access
        };
        (
            token.clone(),
            cast.accepted[iro_n].clone(),
            j!({"body": iro_advice_testkit::armored("A reply on the placement.", &[iro_key.clone(), adviser_key.clone()])}),
        )
    };
    let reads = [
        ("GET /api/v1/me", "/api/v1/me".to_owned()),
        ("GET /api/v1/queries", "/api/v1/queries".to_owned()),
        (
            "GET /api/v1/queries/{id}",
            format!("/api/v1/queries/{}", cast.accepted[iro_n]),
        ),
        (
            "GET /api/v1/log/checkpoint",
            "/api/v1/log/checkpoint".to_owned(),
        ),
    ];
    let mut i = 0usize;
    while Instant::now() < until {
        i += 1;
        let req = match kind {
            Kind::Read => http
                .get(format!("{base}{}", reads[(n + i) % reads.len()].1))
                .bearer_auth(&iro.access),
            Kind::Ask => http
                .post(format!("{base}/api/v1/queries"))
                .bearer_auth(&iro.access)
                .json(&ask),
            Kind::Reply => http
                .post(format!("{base}/api/v1/queries/{reply_query}/messages"))
                .bearer_auth(&reply_token)
                .json(&reply),
            Kind::Flood => http.post(format!("{base}/api/v1/auth/login")).json(
                &j!({"email": format!("flood-{n}-{i}@nowhere.test"), "password": "a wrong guess"}),
            ),
        };
        let t = Instant::now();
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                // The whole body, as a client must read it before its next request.
                if res.bytes().await.is_err() {
                    tally.failed += 1;
                    continue;
                }
                tally.took.push(t.elapsed());
                if kind == Kind::Read {
                    let route = reads[(n + i) % reads.len()].0;
                    tally.by_route.entry(route).or_default().push(t.elapsed());
                }
                *tally.answered.entry(status).or_default() += 1;
            }
            Err(_) => tally.failed += 1,
        }
    }
    (kind, tally)
}

async fn run(label: &str, backend: Backend, with_witness: bool, connections: usize, secs: u64) {
    let Some(mut app) = iro_advice_testkit::spawn_binary_app(
        backend,
        &[
            ("IRO_ADVICE_LOG_LEVEL", "warn"),
            ("IRO_ADVICE_WORKERS", "0"),
            // The production defaults, not the test harness's quick ones.
            ("IRO_ADVICE_MAIL_DIGEST_MINUTES", "180"),
            ("IRO_ADVICE_MAIL_POLL_MS", "2000"),
        ],
    )
    .await
    else {
        println!("{label}: skipped, no PostgreSQL at BENCH_DATABASE_URL");
        return;
    };
    let _witness = if with_witness {
        let dir = tempfile::tempdir().unwrap();
        let key = iro_advice_testkit::init(dir.path(), "nairo.test/witness");
        let w = iro_advice_testkit::serve(dir.path(), &app.log_key().await).await;
        app.stop();
        app.start(&[
            ("IRO_ADVICE_WITNESS_URL", &w.base),
            ("IRO_ADVICE_WITNESS_KEY", &key),
        ])
        .await;
        Some((w, dir))
    } else {
        None
    };
    let cast = std::sync::Arc::new(cast(&app).await);
    let pid = app.pid().unwrap();
    let (queries_before, messages_before, leaves_before) = (
        app.count("queries"),
        app.count("messages"),
        app.count("log_leaves"),
    );
    let idle_kib = iro_advice_testkit::bench::status_kib(pid, "VmRSS:");
    let cpu_before = cpu_secs(pid);

    let http = iro_advice_testkit::bench::https_client(&app.ca_path(), connections);
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut n = 0;
    for (kind, share) in MIX {
        for _ in 0..(connections * share).div_ceil(1000) {
            tasks.push(tokio::spawn(connection(
                http.clone(),
                app.base.clone(),
                kind,
                n,
                cast.clone(),
                until,
            )));
            n += 1;
        }
    }
    let mut by_kind: BTreeMap<Kind, Tally> = BTreeMap::new();
    for t in tasks {
        let (kind, tally) = t.await.unwrap();
        by_kind.entry(kind).or_default().merge(tally);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let peak_kib = iro_advice_testkit::bench::status_kib(pid, "VmHWM:");
    let cpu = cpu_secs(pid) - cpu_before;
    let acknowledged = |kind| by_kind.get(&kind).map_or(0, Tally::ok);
    let (asks_acknowledged, replies_acknowledged) =
        (acknowledged(Kind::Ask), acknowledged(Kind::Reply));

    println!("{label}: {n} connections for {secs} s");
    let mut all = Tally::default();
    let mut errors = 0;
    for (kind, tally) in &mut by_kind {
        tally.took.sort();
        let e = tally.errors(*kind);
        let answered: Vec<String> = tally
            .answered
            .iter()
            .map(|(s, c)| format!("{s} ×{c}"))
            .collect();
        println!(
            "  {:<12} {:>8.1} /s answered, p50 {:>7.2} ms, p99 {:>8.2} ms; {}{}; errors {e}",
            kind.label(),
            tally.took.len() as f64 / elapsed,
            iro_advice_testkit::bench::percentile(&tally.took, 0.5),
            iro_advice_testkit::bench::percentile(&tally.took, 0.99),
            answered.join(", "),
            if tally.failed > 0 {
                format!(", connection failed ×{}", tally.failed)
            } else {
                String::new()
            },
        );
        for (route, took) in &mut tally.by_route {
            took.sort();
            println!(
                "    {route:<28} p50 {:>7.2} ms, p99 {:>8.2} ms",
                iro_advice_testkit::bench::percentile(took, 0.5),
                iro_advice_testkit::bench::percentile(took, 0.99)
            );
        }
        if *kind != Kind::Flood {
            errors += e;
            all.merge(std::mem::take(tally));
        }
    }
    all.took.sort();
    println!(
        "  {:<12} {:>8.1} /s answered, p50 {:>7.2} ms, p99 {:>8.2} ms; errors {errors}",
        "all but flood",
        all.took.len() as f64 / elapsed,
        iro_advice_testkit::bench::percentile(&all.took, 0.5),
        iro_advice_testkit::bench::percentile(&all.took, 0.99),
    );
    // What was acknowledged is what was written: a check that the numbers mean what they say.
    // A question is its query's first message.
    let asked = app.count("queries") - queries_before;
    let replied = app.count("messages") - messages_before - asked;
    let leaves = app.count("log_leaves") - leaves_before;
    println!(
        "  written: {asked} queries and {replied} replies (acknowledged: {asks_acknowledged} and \
         {replies_acknowledged}), {leaves} log leaves"
    );
    println!(
        "  server: resident {} MiB before the load, peak (VmHWM) {} MiB; CPU {:.0}% of the \
         {} cores (the clients and PostgreSQL had the rest)",
        idle_kib / 1024,
        peak_kib / 1024,
        100.0 * cpu / elapsed / cores() as f64,
        cores()
    );
    if with_witness {
        let waited = Instant::now();
        iro_advice_testkit::cosigned_at(&app, app.count("log_leaves")).await;
        println!(
            "  the witness cosigned the whole log {:.2} s after the load ended",
            waited.elapsed().as_secs_f64()
        );
    }
}

/// User and system CPU time the process has had, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf reads a constant of the system.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // utime and stime are fields 14 and 15 of the line: the 12th and 13th after the name.
    (ticks(11) + ticks(12)) / per_sec
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() {
    iro_advice_testkit::bench::raise_open_files();
    // The harness makes its scratch databases on the server TEST_DATABASE_URL names (set
    // here, before any thread, or removed when that server does not answer).
    let admin = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if <diesel::PgConnection as diesel::Connection>::establish(&admin).is_ok() {
        std::env::set_var("TEST_DATABASE_URL", admin);
    } else {
        std::env::remove_var("TEST_DATABASE_URL");
    }
    let env_number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let secs = env_number("LOAD_SECS", 60);
    let connections = env_number("LOAD_CONNECTIONS", 1000) as usize;
    println!(
        "cores: {}; server: the release binary, one worker per core",
        cores()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (label, backend, witness) in [
            ("SQLite", Backend::Sqlite, false),
            ("SQLite, NAIRO's witness", Backend::Sqlite, true),
            ("PostgreSQL", Backend::Postgres, false),
            ("PostgreSQL, NAIRO's witness", Backend::Postgres, true),
        ] {
            run(label, backend, witness, connections, secs).await;
        }
    });
}
