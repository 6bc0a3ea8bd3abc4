//! Login and authenticated-request throughput, as ratios against bare baselines measured on
//! the same machine in the same run:
//!
//! - login/s against the bare argon2 rate (cores ÷ one hash's time);
//! - `GET /api/v1/me` throughput and p99 against `GET /healthz` (no authentication, no
//!   database) on the same server.
//!
//! Run with `cargo bench --bench auth`. The server runs in-process over real TLS on SQLite.

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use iro_advice_model::accounts::{Email, Password, Role};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_server::accounts::invitations::{self, Invitee};
use iro_advice_server::accounts::passwords;
use iro_advice_server::config::Settings;
use iro_advice_server::http::server::Application;

const PASSWORD: &str = "benchmark passphrase";
const LOAD_SECS: u64 = 5;

struct Load {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `concurrency` loops of `make_request` for LOAD_SECS and reports the rate and latencies.
async fn load<F, Fut>(concurrency: usize, make_request: F) -> Load
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECS);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let make_request = make_request.clone();
        tasks.push(actix_web::rt::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                assert!(make_request().await, "a request failed");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Load {
        per_sec: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The bare argon2 rate: one hash's time, on every core at once.
    let password = Password::new(PASSWORD.into()).unwrap();
    let hash = passwords::hash(&password);
    let _warm = passwords::verify(&password, &hash);
    let mut times = Vec::new();
    for _ in 0..31 {
        let t = Instant::now();
        assert!(passwords::verify(&password, &hash));
        times.push(t.elapsed());
    }
    times.sort();
    let one_hash = times[times.len() / 2].as_secs_f64();
    let bare_rate = cores as f64 / one_hash;
    // The same, measured: one hashing thread per core for three seconds.
    let started = Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (password, hash) = (password.clone(), hash.clone());
            std::thread::spawn(move || {
                let mut n = 0u32;
                while started.elapsed() < Duration::from_secs(3) {
                    assert!(passwords::verify(&password, &hash));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let hashed: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let parallel_rate = hashed as f64 / started.elapsed().as_secs_f64();

    let data = tempfile::tempdir().unwrap();
    let vars = [
        ("IRO_ADVICE_DATA_DIR", data.path().display().to_string()),
        ("IRO_ADVICE_LISTEN", "127.0.0.1:0".to_owned()),
        ("IRO_ADVICE_METRICS_LISTEN", String::new()),
        ("IRO_ADVICE_LOG_LEVEL", "warn".to_owned()),
    ];
    let settings =
        Settings::load(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();

    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings.clone()).await.unwrap();
        let base = format!("https://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let http = iro_advice_testkit::bench::https_client(&data.path().join("tls/dev-cert.pem"), 16);

        let db = iro_advice_server::db::Database::connect(&settings.database).unwrap();
        let email = "bench@iro.test";
        let invitee = Invitee::new(
            Role::Iro,
            Email::parse(email).unwrap(),
            Some(AuthorityCode::parse("E06000019").unwrap()),
            None,
        )
        .unwrap();
        let context = iro_advice_server::http::server::write_context(&settings).unwrap();
        let token = invitations::create_from_cli(&mut db.get().unwrap(), &context, &invitee, 7)
            .unwrap()
            .whole();
        let res = http
            .post(format!("{base}/api/v1/accounts"))
            .json(&serde_json::json!({"invitation": token, "password": PASSWORD, "display_name": "Bench"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);

        let login_body = serde_json::json!({"email": email, "password": PASSWORD});
        let (h, b, l) = (http.clone(), base.clone(), login_body.clone());
        let logins = load(cores * 2, move || {
            let (h, b, l) = (h.clone(), b.clone(), l.clone());
            async move {
                // A client told 503 (every hashing slot busy) tries again, as a real one would.
                loop {
                    match h.post(format!("{b}/api/v1/auth/login")).json(&l).send().await.unwrap().status().as_u16() {
                        200 => break true,
                        503 => actix_web::rt::time::sleep(Duration::from_millis(5)).await,
                        _ => break false,
                    }
                }
            }
        })
        .await;

        let tokens: serde_json::Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&login_body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = tokens["access_token"].as_str().unwrap().to_owned();

        let (h, b) = (http.clone(), base.clone());
        let hello = load(16, move || {
            let (h, b) = (h.clone(), b.clone());
            async move { h.get(format!("{b}/healthz")).send().await.unwrap().status() == 200 }
        })
        .await;
        let (h, b, a) = (http.clone(), base.clone(), access.clone());
        let me = load(16, move || {
            let (h, b, a) = (h.clone(), b.clone(), a.clone());
            async move {
                h.get(format!("{b}/api/v1/me")).bearer_auth(&a).send().await.unwrap().status() == 200
            }
        })
        .await;

        println!("cores: {cores}");
        println!(
            "argon2id (19 MiB, t=2, p=1) one hash: {:.1} ms; bare rate (cores / one hash) {:.1}/s; \
             measured on {cores} threads {:.1}/s",
            one_hash * 1000.0,
            bare_rate,
            parallel_rate
        );
        println!(
            "login: {:.1}/s (p50 {:.1} ms, p99 {:.1} ms) = {:.2} of the bare argon2 rate, {:.2} of the measured one",
            logins.per_sec,
            logins.p50_ms,
            logins.p99_ms,
            logins.per_sec / bare_rate,
            logins.per_sec / parallel_rate
        );
        println!("GET /healthz: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms", hello.per_sec, hello.p50_ms, hello.p99_ms);
        println!("GET /api/v1/me: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms", me.per_sec, me.p50_ms, me.p99_ms);
        println!(
            "GET /api/v1/me vs /healthz: throughput {:.2}x, p99 {:.2}x",
            me.per_sec / hello.per_sec,
            me.p99_ms / hello.p99_ms
        );
    });
}
