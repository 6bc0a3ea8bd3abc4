//! PostgreSQL stopped and started again under load, the service left running: while the
//! database is away every request is a 503 with `Retry-After` (never a 500, never a hang
//! past the pool's timeout), and afterwards the same process serves again, having lost
//! nothing it acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use iro_advice_testkit::{eventually, json, log_verify, spawn_binary_app, Backend};

const CLIENTS: usize = 40;

/// `pg_ctlcluster` on the one local cluster the test database lives in.
fn cluster(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("the PostgreSQL fault test runs against a local Debian cluster (/etc/postgresql)")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
        .expect("a PostgreSQL version under /etc/postgresql");
    let mut args = vec!["--skip-systemctl-redirect", &version, "main", action];
    if action != "start" {
        args.extend(["-m", "fast"]);
    }
    let status = std::process::Command::new("pg_ctlcluster")
        .args(&args)
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster {action}: {status}");
}

/// Starts the cluster again if the test fails while it is stopped, so that later tests
/// (and the next run) find it running.
struct Restarts;
impl Drop for Restarts {
    fn drop(&mut self) {
        let running = std::process::Command::new("pg_isready")
            .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
            .status()
            .is_ok_and(|s| s.success());
        if !running {
            cluster("start");
        }
    }
}

#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn postgres_stopped_and_started_under_load() {
    let _serial = crate::serial().await;
    let app = spawn_binary_app(Backend::Postgres, &[])
        .await
        .expect("TEST_DATABASE_URL names a PostgreSQL server");
    let iros = crate::iros(&app, 4).await;
    let (reports_before, leaves_before) = (app.count("pressure_reports"), app.count("log_leaves"));

    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url("/api/v1/pressure-reports");
            let token = iros[i % iros.len()].access.clone();
            let stop = stop.clone();
            actix_web::rt::spawn(async move {
                let mut acknowledged: Vec<Value> = Vec::new();
                // (status, had Retry-After) of every refusal.
                let mut refused: Vec<(u16, bool)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&crate::report())
                        .send()
                        .await
                        .expect("the service itself stays up");
                    if res.status().is_success() {
                        acknowledged.push(res.json().await.unwrap());
                    } else {
                        let retry = res.headers().contains_key("retry-after");
                        refused.push((res.status().as_u16(), retry));
                        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();

    let guard = Restarts;
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    // A restart in passing, then a longer absence: the pool waits at most its connect
    // timeout (10 s) for a connection before it answers 503.
    cluster("restart");
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    cluster("stop");
    // Alive, and saying it is not ready.
    let live = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.headers().contains_key("retry-after"));
    actix_web::rt::time::sleep(Duration::from_secs(12)).await;
    cluster("start");
    drop(guard);
    // The same process serves again without being restarted.
    let probe = &iros[0].access;
    eventually(
        60,
        "a report accepted after the database returned",
        || async {
            let res = app
                .post_json("/api/v1/pressure-reports", Some(probe), &crate::report())
                .await;
            (res.status() == 201).then_some(())
        },
    )
    .await;
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        let (a, r) = task.await.unwrap();
        acknowledged.extend(a);
        refused.extend(r);
    }
    assert!(
        !refused.is_empty(),
        "no request was refused while the database was away"
    );
    let wrong: Vec<&(u16, bool)> = refused.iter().filter(|r| **r != (503, true)).collect();
    assert!(
        wrong.is_empty(),
        "refusals other than 503 with Retry-After: {wrong:?} of {}; the service said:\n{}",
        refused.len(),
        app.server_log_lines("internal error")
    );

    // Nothing acknowledged is lost; nothing is half there.
    let reports = app.count("pressure_reports") - reports_before;
    let leaves = app.count("log_leaves") - leaves_before;
    assert_eq!(reports, leaves, "a report without its leaf, or the reverse");
    assert!(
        reports > acknowledged.len() as i64,
        "{reports} reports for {} acknowledged (and the probe's)",
        acknowledged.len()
    );
    let mut listed = std::collections::HashSet::new();
    for iro in &iros {
        let list = json(
            app.get_auth("/api/v1/pressure-reports", &iro.access).await,
            200,
        )
        .await;
        listed.extend(
            list.as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
    }
    for body in &acknowledged {
        let id = body["id"].as_str().unwrap();
        assert!(listed.contains(id), "acknowledged report {id} is gone");
    }
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");
}
