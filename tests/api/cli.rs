//! The `iro-advice` binary as an operator runs it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iro_advice_testkit::{free_port, https_client};

const BIN: &str = env!("CARGO_BIN_EXE_iro-advice");

/// The binary with a clean environment: only what the test gives it.
fn command(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    cmd
}

#[test]
fn production_without_a_certificate_refuses_to_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args(["serve"])
        .env("IRO_ADVICE_PROFILE", "production")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("IRO_ADVICE_TLS_CERT"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
    // Nothing was created on the way to refusing.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_bad_setting_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args(["migrate"])
        .env("DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("iro-advice: DATABASE_URL:"), "{stderr}");
}

#[test]
fn migrate_creates_the_database_under_the_data_dir_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).args(["migrate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sqlite"));
    let top: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(top, vec!["data".to_owned()]);
    assert!(dir.path().join("data/iro-advice.db").is_file());
    // A second run finds nothing to do and still succeeds.
    let again = command(dir.path()).args(["migrate"]).output().unwrap();
    assert!(again.status.success());
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn serve_answers_over_https_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics_port = free_port();
    let mut server = Running(
        command(dir.path())
            .args(["serve"])
            .env("IRO_ADVICE_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "IRO_ADVICE_METRICS_LISTEN",
                format!("127.0.0.1:{metrics_port}"),
            )
            .env("IRO_ADVICE_PUBLIC_URL", "https://advice.test")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let cert = dir.path().join("data/tls/dev-cert.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        assert!(Instant::now() < deadline, "the server did not come up");
        if cert.is_file() {
            let client = https_client(&cert);
            if let Ok(res) = client
                .get(format!("https://127.0.0.1:{port}/healthz"))
                .send()
                .await
            {
                break res.json::<serde_json::Value>().await.unwrap();
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(body["database"], "sqlite");
    let refused = https_client(&cert)
        .get(format!("https://127.0.0.1:{port}/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // The operator's metrics, in plain HTTP on their own port, count what was just asked.
    let metrics = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains(
            r#"iro_advice_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1"#
        ),
        "{metrics}"
    );

    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(35),
            "did not stop on SIGTERM"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    let mut log = String::new();
    use std::io::Read;
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("generated a self-signed development certificate"),
        "{log}"
    );
    assert!(log.contains("stopped"), "{log}");
    // The request was logged, without the client's address: the only addresses in the log
    // are the ones the server listens on.
    // Requests are logged by route; health checks only at DEBUG.
    assert!(log.contains("/api/v1/me"), "{log}");
    assert!(!log.contains("/healthz"), "{log}");
    assert_eq!(
        log.matches("127.0.0.1").count(),
        log.matches(&format!("127.0.0.1:{port}")).count()
            + log.matches(&format!("127.0.0.1:{metrics_port}")).count(),
        "{log}"
    );
    // Everything the server wrote is under ./data.
    let top: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(top, vec!["data".to_owned()]);
}

#[test]
fn admin_invite_prints_the_token_on_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args([
            "admin",
            "invite",
            "--role",
            "admin",
            "--email",
            "First.Admin@Example.org",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Both halves on the last line: the console is the operator's own channel.
    let whole = stdout.trim_end().lines().last().unwrap();
    let (token, code) = whole.split_once('.').unwrap();
    assert_eq!(token.len(), 43, "{stdout}");
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(code.len(), 11, "{stdout}");

    // The invitation is in the database, stored as its hash only, with no mail queued.
    let url = format!(
        "sqlite://{}",
        dir.path().join("data/iro-advice.db").display()
    );
    use diesel::prelude::*;
    let mut conn = diesel::SqliteConnection::establish(&url["sqlite://".len()..]).unwrap();
    use iro_advice_server::db::schema::{invitations, outbox};
    let (hash, role, email): (String, String, String) = invitations::table
        .select((
            invitations::token_hash,
            invitations::role,
            invitations::email,
        ))
        .first(&mut conn)
        .unwrap();
    assert_eq!(hash, iro_advice_server::keys::token_hash(token));
    assert_eq!(
        (role.as_str(), email.as_str()),
        ("admin", "first.admin@example.org")
    );
    let queued: i64 = outbox::table.count().get_result(&mut conn).unwrap();
    assert_eq!(queued, 0);

    // Bad arguments are refused with the argument named, and nothing is stored.
    for (args, named) in [
        (vec!["--role", "iro", "--email", "x@y.org"], "authority"),
        (
            vec![
                "--role",
                "iro",
                "--email",
                "x@y.org",
                "--authority",
                "E99999999",
            ],
            "--authority",
        ),
        (vec!["--role", "root", "--email", "x@y.org"], "root"),
        (vec!["--role", "admin", "--email", "nope"], "--email"),
    ] {
        let out = command(dir.path())
            .arg("admin")
            .arg("invite")
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    let count: i64 = invitations::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 1);
}

#[test]
fn a_log_keeps_the_origin_its_checkpoints_were_signed_under() {
    let dir = tempfile::tempdir().unwrap();
    let invite = |env: &[(&str, &str)]| {
        let mut cmd = command(dir.path());
        cmd.args([
            "admin",
            "invite",
            "--role",
            "admin",
            "--email",
            &format!("{}@admin.test", iro_advice_testkit::unique_name("o")),
        ]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // The first checkpoint is signed under the origin derived from the public URL.
    let first = invite(&[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // The same origin, spelled out, is accepted.
    assert!(invite(&[("IRO_ADVICE_LOG_ORIGIN", "127.0.0.1:8443/log")])
        .status
        .success());
    // Another origin, or a public URL that would derive another, is refused, by name.
    for env in [
        ("IRO_ADVICE_LOG_ORIGIN", "advice.example.org/log"),
        ("IRO_ADVICE_PUBLIC_URL", "https://advice.example.org"),
    ] {
        let out = invite(&[env]);
        assert!(!out.status.success(), "{env:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("iro-advice: IRO_ADVICE_LOG_ORIGIN:"),
            "{stderr}"
        );
        assert!(stderr.contains("127.0.0.1:8443/log"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
