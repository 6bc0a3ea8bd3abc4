//! The client encrypting and uploading a 256 MiB file, and downloading and decrypting it,
//! against the `age` command-line tool encrypting and decrypting the same file on the same
//! machine; with the peak memory of the client and of the server.
//!
//! Run with `cargo bench --bench transfer` (needs Debian's `age` package). The server runs as
//! its own process, over real TLS, on SQLite.

// Tests and benchmarks stop at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_iro-advice");
const SIZE: usize = 256 * 1024 * 1024;
const PASSWORD: &str = "benchmark passphrase";

/// Runs a command to completion; its wall time and peak resident memory (KiB).
// The child is reaped with wait4, which std's wait cannot do, to read its own rusage.
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command) -> (Duration, i64) {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 gives this one child's own peak memory, not the maximum over all children.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    (started.elapsed(), usage.ru_maxrss)
}

fn best_of(n: usize, mut run: impl FnMut() -> (Duration, i64)) -> (Duration, i64) {
    let mut results: Vec<_> = (0..n).map(|_| run()).collect();
    results.sort();
    let peak = results.iter().map(|r| r.1).max().unwrap();
    (results[0].0, peak)
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn server_peak_kib(pid: u32) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn mib_per_s(d: Duration) -> f64 {
    SIZE as f64 / 1024.0 / 1024.0 / d.as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("https://127.0.0.1:{port}");
    let env = |cmd: &mut Command| {
        cmd.env("IRO_ADVICE_DATA_DIR", &data)
            .env("IRO_ADVICE_LISTEN", format!("127.0.0.1:{port}"))
            .env("IRO_ADVICE_METRICS_LISTEN", "")
            .env("IRO_ADVICE_MAX_ATTACHMENT_MB", "512")
            .env("IRO_ADVICE_LOG_LEVEL", "warn");
    };
    let invite = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        env(&mut cmd);
        run_ok(cmd.arg("admin").arg("invite").args(args))
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    };
    let iro_token = invite(&[
        "--role",
        "iro",
        "--email",
        "iro@bench.test",
        "--authority",
        "E06000019",
    ]);
    let adviser_token = invite(&[
        "--role",
        "adviser",
        "--email",
        "adviser@bench.test",
        "--adviser-kind",
        "solicitor",
    ]);

    let mut server_cmd = Command::new(BIN);
    env(&mut server_cmd);
    let mut server = server_cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ca = data.join("tls/dev-cert.pem");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let adviser_secret = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ca.is_file() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let http = {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls::pki_types::CertificateDer::pem_file_iter(&ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let tls = rustls::ClientConfig::builder_with_provider(iro_advice_tlog::https::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            reqwest::Client::builder().use_preconfigured_tls(tls).build().unwrap()
        };
        while http.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for token in [&iro_token, &adviser_token] {
            let res = http
                .post(format!("{base}/api/v1/accounts"))
                .json(&serde_json::json!({"invitation": token, "password": PASSWORD, "display_name": "Bench"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
        }
        // The adviser must enrol in TOTP before registering a key.
        let tokens: serde_json::Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "adviser@bench.test", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        let enrol: serde_json::Value = http
            .post(format!("{base}/api/v1/me/totp"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = totp_rs::Secret::Encoded(enrol["secret"].as_str().unwrap().to_owned()).to_bytes().unwrap();
        let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret.clone(), None, String::new());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let res = http
            .post(format!("{base}/api/v1/me/totp/confirm"))
            .bearer_auth(access)
            .json(&serde_json::json!({"code": totp.generate(now)}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        totp.generate(now + 30)
    });

    let client = |profile: &Path, args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("client")
            .args(args)
            .arg("--profile-dir")
            .arg(profile)
            .env("IRO_ADVICE_PASSWORD", PASSWORD);
        cmd
    };
    let iro_profile = dir.path().join("iro");
    let adviser_profile = dir.path().join("adviser");
    let server_url = base.as_str();
    let ca_str = ca.to_str().unwrap();
    run_ok(&mut client(
        &iro_profile,
        &[
            "login",
            "--server",
            server_url,
            "--email",
            "iro@bench.test",
            "--ca",
            ca_str,
        ],
    ));
    run_ok(&mut client(&iro_profile, &["keygen"]));
    run_ok(&mut client(
        &adviser_profile,
        &[
            "login",
            "--server",
            server_url,
            "--email",
            "adviser@bench.test",
            "--ca",
            ca_str,
            "--totp",
            &adviser_secret,
        ],
    ));
    run_ok(&mut client(&adviser_profile, &["keygen"]));
    let advisers: serde_json::Value =
        serde_json::from_str(&run_ok(&mut client(&iro_profile, &["advisers", "--json"]))).unwrap();
    let adviser_id = advisers[0]["id"].as_str().unwrap().to_owned();
    let question = dir.path().join("q.txt");
    std::fs::write(&question, "benchmark question").unwrap();
    let asked = run_ok(&mut client(
        &iro_profile,
        &[
            "ask",
            "--adviser",
            &adviser_id,
            "--category",
            "other",
            "--stage",
            "none",
            "--urgency",
            "routine",
            "--body",
            question.to_str().unwrap(),
        ],
    ));
    let query = asked.trim_end().lines().last().unwrap().to_owned();

    // 256 MiB of random bytes, so nothing compresses.
    let file = dir.path().join("big.bin");
    {
        use ring::rand::SecureRandom;
        use std::io::Write;
        let rng = ring::rand::SystemRandom::new();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let mut block = vec![0u8; 1024 * 1024];
        for _ in 0..SIZE / block.len() {
            rng.fill(&mut block).unwrap();
            out.write_all(&block).unwrap();
        }
    }
    let identity_file = iro_profile.join("identity.txt");
    let recipients: Vec<String> = [&iro_profile, &adviser_profile]
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p.join("identity.txt")).unwrap();
            text.lines()
                .nth(1)
                .unwrap()
                .trim_start_matches("# public key: ")
                .to_owned()
        })
        .collect();

    let encrypted = dir.path().join("big.age");
    let (age_enc, age_enc_mem) = best_of(3, || {
        measure(
            Command::new("age")
                .args(["-r", &recipients[0], "-r", &recipients[1], "-o"])
                .arg(&encrypted)
                .arg(&file),
        )
    });
    let decrypted = dir.path().join("big.out");
    let (age_dec, age_dec_mem) = best_of(3, || {
        measure(
            Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&identity_file)
                .arg("-o")
                .arg(&decrypted)
                .arg(&encrypted),
        )
    });

    let mut attachment = String::new();
    let (up, up_mem) = best_of(3, || {
        let mut cmd = client(&iro_profile, &["attach", &query, file.to_str().unwrap()]);
        let m = measure(&mut cmd);
        attachment = run_ok(&mut client(&iro_profile, &["show", &query, "--json"]))
            .parse::<serde_json::Value>()
            .map(|v| {
                v["attachments"].as_array().unwrap().last().unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .unwrap();
        m
    });
    let fetched = dir.path().join("fetched.bin");
    let (down, down_mem) = best_of(3, || {
        let _ = std::fs::remove_file(&fetched);
        measure(&mut client(
            &iro_profile,
            &["fetch", &attachment, "--out", fetched.to_str().unwrap()],
        ))
    });
    assert_eq!(std::fs::metadata(&fetched).unwrap().len(), SIZE as u64);
    let server_peak = server_peak_kib(server.id());
    let _ = server.kill();
    let _ = server.wait();

    println!(
        "file: {} MiB of random bytes, 2 recipients; best of 3",
        SIZE / 1024 / 1024
    );
    println!(
        "encrypt: age CLI {:.2} s ({:.0} MiB/s, peak {} MiB); client encrypt+upload {:.2} s ({:.0} MiB/s, peak {} MiB); ratio client/age {:.2}",
        age_enc.as_secs_f64(), mib_per_s(age_enc), age_enc_mem / 1024,
        up.as_secs_f64(), mib_per_s(up), up_mem / 1024,
        up.as_secs_f64() / age_enc.as_secs_f64()
    );
    println!(
        "decrypt: age CLI {:.2} s ({:.0} MiB/s, peak {} MiB); client download+decrypt {:.2} s ({:.0} MiB/s, peak {} MiB); ratio client/age {:.2}",
        age_dec.as_secs_f64(), mib_per_s(age_dec), age_dec_mem / 1024,
        down.as_secs_f64(), mib_per_s(down), down_mem / 1024,
        down.as_secs_f64() / age_dec.as_secs_f64()
    );
    println!(
        "server peak resident memory over all transfers: {} MiB",
        server_peak / 1024
    );
}
