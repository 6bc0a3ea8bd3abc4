//! A login flood against the real binary: `N` connections, each signing in over and over
//! with a fresh unknown email (so that no throttle applies), for ten seconds. Reports the
//! server process's peak resident memory (VmHWM), how the attempts were answered, and the
//! p50/p99 of an IRO's `GET /api/v1/me` during the flood against the same measured idle,
//! for N = 64 and N = 1,000, and N = 64 again with a made-up second-factor code in every
//! guess, on SQLite and (when `BENCH_DATABASE_URL` answers) PostgreSQL.
//!
//! `cargo bench --bench login_flood`. The flood's clients run in this process, on the same
//! cores as the server, at the lowest scheduling priority so that they stand in for a flood
//! from elsewhere; `BENCH_FLOOD_SAME_PRIORITY=1` runs them at the server's, as wrk on
//! loopback would.

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark passphrase";
/// Long enough for the p99 of `/me`, sampled every 10 ms, to rest on some ten requests
/// rather than the three or four of a few seconds, whose p99 moved twofold between runs.
const FLOOD_SECS: u64 = 10;
const IDLE_SECS: u64 = 10;

struct Server {
    child: Child,
    base: String,
    cert: std::path::PathBuf,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iro-advice"))
}

fn start(database_url: Option<&str>) -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = |c: &mut Command| {
        c.env("IRO_ADVICE_DATA_DIR", data.path())
            .env("IRO_ADVICE_LISTEN", format!("127.0.0.1:{port}"))
            .env("IRO_ADVICE_METRICS_LISTEN", "")
            .env("IRO_ADVICE_LOG_LEVEL", "warn")
            .env("IRO_ADVICE_PROFILE", "dev");
        if let Some(url) = database_url {
            c.env("DATABASE_URL", url);
        }
    };
    let mut serve = binary();
    serve
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    env(&mut serve);
    let child = serve.spawn().unwrap();
    let cert = data.path().join("tls/dev-cert.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cert.is_file() || std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut invite = binary();
    invite.args([
        "admin",
        "invite",
        "--role",
        "iro",
        "--email",
        "bench@iro.test",
        "--authority",
        "E06000019",
    ]);
    env(&mut invite);
    let out = invite.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    std::fs::write(data.path().join("invitation"), token).unwrap();
    Server {
        child,
        base: format!("https://127.0.0.1:{port}"),
        cert,
        _data: data,
    }
}

/// `GET /api/v1/me` one after another until `until`: p50 and p99 in ms, and in which
/// second of the run the slowest 1% fell (to tell the flood's connections being opened
/// from the flood itself). Measured from a
/// thread and runtime of its own: on the flood's single-threaded runtime, each request would
/// also wait its turn behind a thousand flooding tasks, which is the load generator's delay,
/// not the service's.
fn me_latencies_apart(
    cert: &std::path::Path,
    base: &str,
    access: &str,
    until: Instant,
) -> std::thread::JoinHandle<(f64, f64, String)> {
    let (cert, base, access) = (cert.to_owned(), base.to_owned(), access.to_owned());
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let http = iro_advice_testkit::bench::https_client(&cert, 1);
            me_latencies(&http, &base, &access, until).await
        })
    })
}

async fn me_latencies(
    http: &reqwest::Client,
    base: &str,
    access: &str,
    until: Instant,
) -> (f64, f64, String) {
    let mut took = Vec::new();
    let mut when = Vec::new();
    let start = Instant::now();
    while Instant::now() < until {
        let t = Instant::now();
        let res = http
            .get(format!("{base}/api/v1/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        took.push(t.elapsed());
        when.push((t.elapsed(), (t - start).as_secs()));
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    took.sort();
    when.sort();
    let mut slowest: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, second) in when.iter().rev().take(when.len().div_ceil(100)) {
        *slowest.entry(*second).or_default() += 1;
    }
    let mut slowest: Vec<String> = slowest
        .iter()
        .map(|(s, n)| format!("{n} in second {s}"))
        .collect();
    let mut later: Vec<Duration> = when
        .iter()
        .filter(|(_, second)| *second >= 1)
        .map(|(took, _)| *took)
        .collect();
    later.sort();
    slowest.push(format!(
        "p99 from second 1 on {:.2} ms",
        iro_advice_testkit::bench::percentile(&later, 0.99)
    ));
    (
        iro_advice_testkit::bench::percentile(&took, 0.5),
        iro_advice_testkit::bench::percentile(&took, 0.99),
        slowest.join(", "),
    )
}

/// Whether the flood's clients run at the lowest scheduling priority (the default) or
/// beside the server's threads at the same one (`BENCH_FLOOD_SAME_PRIORITY=1`, as wrk on
/// loopback would). A real flood comes from elsewhere: on two cores shared with the
/// server, a client's thousand TLS handshakes and its parsing of the answers take the CPU
/// the service would give `/me`, and measure the load generator as much as the service.
fn flood_at_lowest_priority() -> bool {
    std::env::var_os("BENCH_FLOOD_SAME_PRIORITY").is_none()
}

/// `connections` clients signing in over and over with fresh unknown emails until `until`,
/// on a thread and runtime of their own: how the attempts were answered (0: no answer).
fn flood_apart(
    cert: &std::path::Path,
    base: &str,
    connections: usize,
    with_code: bool,
    until: Instant,
) -> std::thread::JoinHandle<BTreeMap<u16, u64>> {
    let (cert, base) = (cert.to_owned(), base.to_owned());
    std::thread::spawn(move || {
        if flood_at_lowest_priority() {
            let param = libc::sched_param { sched_priority: 0 };
            // SAFETY: reads `param` only during the call; pid 0 is this thread.
            let idle = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
            assert_eq!(idle, 0, "the flood's thread cannot run at SCHED_IDLE");
        }
        actix_web::rt::System::new().block_on(async move {
            let http = iro_advice_testkit::bench::https_client(&cert, connections);
            let mut tasks = Vec::new();
            for c in 0..connections {
                let (h, base) = (http.clone(), base.clone());
                tasks.push(actix_web::rt::spawn(async move {
                    let mut answers: BTreeMap<u16, u64> = BTreeMap::new();
                    let mut i = 0u64;
                    while Instant::now() < until {
                        i += 1;
                        let email = format!("flood-{connections}-{with_code}-{c}-{i}@nowhere.test");
                        let mut attempt =
                            serde_json::json!({"email": email, "password": "a wrong guess"});
                        if with_code {
                            attempt["totp_code"] = "123456".into();
                        }
                        let status = match h
                            .post(format!("{base}/api/v1/auth/login"))
                            .json(&attempt)
                            .send()
                            .await
                        {
                            Ok(res) => res.status().as_u16(),
                            Err(_) => 0,
                        };
                        *answers.entry(status).or_default() += 1;
                    }
                    answers
                }));
            }
            let mut answers: BTreeMap<u16, u64> = BTreeMap::new();
            for t in tasks {
                for (status, n) in t.await.unwrap() {
                    *answers.entry(status).or_default() += n;
                }
            }
            answers
        })
    })
}

async fn run(label: &str, server: &Server) {
    let token = std::fs::read_to_string(server._data.path().join("invitation")).unwrap();
    let http = iro_advice_testkit::bench::https_client(&server.cert, 4);
    let res = http
        .post(format!("{}/api/v1/accounts", server.base))
        .json(&serde_json::json!({"invitation": token, "password": PASSWORD, "display_name": "Bench"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let tokens: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"email": "bench@iro.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let pid = server.child.id();
    let idle = me_latencies_apart(
        &server.cert,
        &server.base,
        &access,
        Instant::now() + Duration::from_secs(IDLE_SECS),
    )
    .join()
    .unwrap();
    println!(
        "{label}: idle: GET /api/v1/me p50 {:.2} ms, p99 {:.2} ms; resident {} MiB",
        idle.0,
        idle.1,
        iro_advice_testkit::bench::status_kib(pid, "VmRSS:") / 1024
    );
    // The third flood offers a made-up second-factor code with every guess: the right
    // password with a valid code must always get in, so the ceiling cannot refuse such an
    // attempt unheard; once locked, it holds a hashing slot for a hash's time, unhashed.
    for (connections, with_code) in [(64usize, false), (1000, false), (64, true)] {
        let until = Instant::now() + Duration::from_secs(FLOOD_SECS);
        let prober = me_latencies_apart(&server.cert, &server.base, &access, until);
        let flood = flood_apart(&server.cert, &server.base, connections, with_code, until);
        // Both waited for off this runtime, which has nothing else to do meanwhile.
        let (during, answers) = actix_web::rt::task::spawn_blocking(move || {
            (prober.join().unwrap(), flood.join().unwrap())
        })
        .await
        .unwrap();
        let answered: Vec<String> = answers
            .iter()
            .map(|(s, n)| {
                format!(
                    "{} {n}",
                    if *s == 0 {
                        "failed".into()
                    } else {
                        s.to_string()
                    }
                )
            })
            .collect();
        println!(
            "{label}: {connections} connections{}: peak resident {} MiB; attempts answered {}; \
             GET /api/v1/me p50 {:.2} ms, p99 {:.2} ms ({:.2}x idle p99; slowest 1%: {})",
            if with_code {
                " with a made-up code"
            } else {
                ""
            },
            iro_advice_testkit::bench::status_kib(pid, "VmHWM:") / 1024,
            answered.join(", "),
            during.0,
            during.1,
            during.1 / idle.1,
            during.2
        );
        actix_web::rt::time::sleep(Duration::from_secs(4)).await;
    }
    println!(
        "{label}: afterwards resident {} MiB",
        iro_advice_testkit::bench::status_kib(pid, "VmRSS:") / 1024
    );
}

fn main() {
    iro_advice_testkit::bench::raise_open_files();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "cores: {cores}; server: the release binary, {} password-hashing slot(s) (the default); \
         the flood's clients at {}",
        iro_advice_server::accounts::passwords::default_slots(),
        if flood_at_lowest_priority() {
            "the lowest priority (SCHED_IDLE)"
        } else {
            "the server's priority"
        }
    );
    actix_web::rt::System::new().block_on(async {
        let sqlite = start(None);
        run("SQLite", &sqlite).await;
    });
    iro_advice_testkit::bench::with_scratch_postgres("login_flood", |url| {
        actix_web::rt::System::new().block_on(async {
            let pg = start(Some(url));
            run("PostgreSQL", &pg).await;
        });
    });
}
