//! The front door cannot drift: every shell block of the README and of the book's
//! installation chapter is run here, in order, as a reader would type it, and the first
//! administrator each makes is created from the link and code printed and signs in.
//!
//! What stands in for the reader's machine: `cargo run --release --` and `cargo build
//! --release` are this test build's binary (`serve` started as a second terminal would hold
//! it, and waited for); `cargo test` is what `.ci/run` runs; the installation chapter's
//! `/usr/local/bin`, `/etc/iro-advice` and `/var/lib/iro-advice` are under a temporary
//! directory, `advice.example.org` and `0.0.0.0:443` are `localhost` and a free port, and the
//! CA's certificate is one made here for `localhost`.
//!
//! Both run in one test, one after the other: each serves on a fixed port of its own and on
//! the default metrics port, as a reader's would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

const READY: &str = "FRONT-DOOR: every block ran";

/// The fenced `sh` blocks of a Markdown file, in order.
fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed code block");
    blocks
}

/// `cargo` as the documents use it, standing for this build. Anything else they might say
/// fails, so a new command in the README cannot go unrun.
const PRELUDE: &str = r#"set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT
cargo() {
  case "$*" in
    "run --release -- serve")
      # The reader's first terminal: started, and waited for until it answers.
      "$FRONT_DOOR_BIN" serve >>"$FRONT_DOOR_LOG" 2>&1 &
      for _ in $(seq 1 100); do
        if [ -f data/tls/dev-cert.pem ] && (exec 3<>/dev/tcp/127.0.0.1/8443) 2>/dev/null; then return 0; fi
        sleep 0.1
      done
      echo "serve did not answer on 127.0.0.1:8443; its log:" >&2; cat "$FRONT_DOOR_LOG" >&2; return 1 ;;
    "run --release -- "*) shift 3; "$FRONT_DOOR_BIN" "$@" ;;
    "build --release --locked") mkdir -p target/release && ln -sf "$FRONT_DOOR_BIN" target/release/iro-advice ;;
    "test") echo "(cargo test: what .ci/run runs)" ;;
    *) echo "the documents run 'cargo $*', which tests/front_door.rs does not stand in for" >&2; return 1 ;;
  esac
}
"#;

struct Run {
    /// Everything the blocks printed.
    printed: String,
    child: std::process::Child,
}

/// Runs `blocks` in `dir` with bash and waits until all have run; the processes they
/// started keep running until the returned run is finished.
fn run_blocks(blocks: &[String], dir: &Path, env: &[(&str, String)]) -> Run {
    let mut script = String::from(PRELUDE);
    for block in blocks {
        script.push_str(block);
    }
    script.push_str(&format!("echo '{READY}'\nread -r _ || true\n"));
    let log = dir.join("serve.log");
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .env("FRONT_DOOR_BIN", env!("CARGO_BIN_EXE_iro-advice"))
        .env("FRONT_DOOR_LOG", &log)
        .env_remove("DATABASE_URL")
        .env_remove("IRO_ADVICE_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if line == READY {
            return Run { printed, child };
        }
        printed.push_str(&line);
        printed.push('\n');
    }
    let output = child.wait_with_output().unwrap();
    panic!(
        "a block failed ({}):\n{printed}\n{}\nserve's log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

impl Run {
    fn finish(mut self) {
        // Closing stdin ends the script, whose trap stops what it started.
        drop(self.child.stdin.take());
        let output = self.child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
    }

    /// The link and code `admin invite` printed.
    fn invitation(&self) -> (String, String, String) {
        let line = self
            .printed
            .lines()
            .find(|l| l.starts_with("open https://"))
            .unwrap_or_else(|| panic!("admin invite printed no link:\n{}", self.printed));
        let words: Vec<&str> = line.split_whitespace().collect();
        let link = words[1];
        let code =
            words[words.iter().position(|w| *w == "code").unwrap() + 1].trim_end_matches(',');
        let (base, token) = link.split_once("/open#").unwrap();
        (base.to_owned(), token.to_owned(), code.to_owned())
    }
}

/// The first administrator, from what `admin invite` printed: the web console is served at
/// the link's origin, the account is created with the link's token and the code, and signs
/// in (to enrolment, as a new account must first enrol a second factor).
async fn first_admin(run: &Run, ca: &Path) {
    let (base, token, code) = run.invitation();
    let http = iro_advice_testkit::bench::https_client(ca, 1);
    let console = http.get(format!("{base}/open")).send().await.unwrap();
    assert_eq!(console.status(), 200);
    assert!(console.text().await.unwrap().contains("app.js"));
    let created = http
        .post(format!("{base}/api/v1/accounts"))
        .json(&json!({"invitation": token, "code": code, "password": "a long passphrase for the door", "display_name": "First Admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(body["role"], "admin");
    let login = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "you@example.org", "password": "a long passphrase for the door"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "{}", login.text().await.unwrap());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_and_the_installation_chapter_work_as_written() {
    // The README, from a fresh directory, as after a clone.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = shell_blocks(&readme);
    assert!(blocks.len() >= 3, "the README's commands: {blocks:?}");
    assert!(blocks.iter().any(|b| b.contains("admin invite")));
    let dir = tempfile::tempdir().unwrap();
    let run = run_blocks(&blocks, dir.path(), &[]);
    assert!(
        run.printed.contains(r#""status":"ok""#),
        "the README's health check: {}",
        run.printed
    );
    first_admin(&run, &dir.path().join("data/tls/dev-cert.pem")).await;
    run.finish();

    // The installation chapter, on a machine of its own under a temporary directory.
    let chapter = std::fs::read_to_string(root().join("book/src/operating/install.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let machine = dir.path().join("machine");
    let port = free_port();
    let put = |block: &str| {
        block
            .replace(
                "/usr/local/bin",
                &format!("{}/usr/local/bin", machine.display()),
            )
            .replace(
                "/etc/iro-advice",
                &format!("{}/etc/iro-advice", machine.display()),
            )
            .replace(
                "/var/lib/iro-advice",
                &format!("{}/var/lib/iro-advice", machine.display()),
            )
            .replace("advice.example.org", &format!("localhost:{port}"))
            .replace("0.0.0.0:443", &format!("127.0.0.1:{port}"))
    };
    let blocks: Vec<String> = shell_blocks(&chapter).iter().map(|b| put(b)).collect();
    assert!(blocks.iter().any(|b| b.contains("config check")));
    // A machine's own directories, and what the chapter asks the reader to bring: the CA's
    // certificate for the name.
    for d in ["usr/local/bin", "var/lib", "etc"] {
        std::fs::create_dir_all(machine.join(d)).unwrap();
    }
    let tls = machine.join("etc/iro-advice/tls");
    std::fs::create_dir_all(&tls).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(tls.join("fullchain.pem"), certified.cert.pem()).unwrap();
    std::fs::write(
        tls.join("privkey.pem"),
        certified.signing_key.serialize_pem(),
    )
    .unwrap();
    let work = dir.path().join("checkout");
    std::fs::create_dir_all(&work).unwrap();
    let path = format!(
        "{}/usr/local/bin:{}",
        machine.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = run_blocks(
        &blocks,
        &work,
        &[
            ("PATH", path),
            (
                "CURL_CA_BUNDLE",
                tls.join("fullchain.pem").display().to_string(),
            ),
        ],
    );
    assert!(
        run.printed.contains("the settings are valid"),
        "{}",
        run.printed
    );
    assert!(
        run.printed.contains(r#""database":"sqlite""#),
        "{}",
        run.printed
    );
    first_admin(&run, &tls.join("fullchain.pem")).await;
    run.finish();
}

#[test]
fn shell_blocks_are_found_in_order_and_other_languages_are_left_alone() {
    let text = "intro\n```sh\na\nb\n```\n```text\nnot run\n```\n```sh\nc\n```\n";
    assert_eq!(shell_blocks(text), vec!["a\nb\n", "c\n"]);
}

#[test]
fn config_check_names_a_misspelt_variable_and_a_missing_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let check = |env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iro-advice"));
        command
            .args(["config", "check"])
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("IRO_ADVICE_PROFILE");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let fine = check(&[]);
    assert!(fine.status.success(), "{fine:?}");
    assert!(String::from_utf8_lossy(&fine.stdout).contains("SQLite"));
    let misspelt = check(&[("IRO_ADVICE_TLS_KEYS", "/etc/key.pem")]);
    assert!(!misspelt.status.success());
    assert!(
        String::from_utf8_lossy(&misspelt.stderr).contains("IRO_ADVICE_TLS_KEYS is not a setting")
    );
    let production = check(&[("IRO_ADVICE_PROFILE", "production")]);
    assert!(!production.status.success());
    assert!(String::from_utf8_lossy(&production.stderr).contains("IRO_ADVICE_TLS_CERT"));
    // Nothing was written: a check is not a start.
    assert!(!dir.path().join("data").exists());
}
