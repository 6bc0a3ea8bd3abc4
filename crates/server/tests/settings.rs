//! The settings as an operator sets them: every variable changes its setting, a bad value
//! names the variable, the files the operator reads are current.

// Tests stop at the first surprise.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use iro_advice_server::config::{
    default_file, reference, ConfigError, Settings, DECLARED, FILE_SELECTORS,
};

fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(|k| map.get(k).cloned())
}

#[test]
fn dev_profile_defaults_to_sqlite_and_a_generated_certificate() {
    let s = load(&[("IRO_ADVICE_CONFIG_DIR", "/nonexistent")]).unwrap();
    assert_eq!(s.profile, "dev");
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:8443");
    assert!(s.server.tls_cert.is_none() && s.server.dev_certificate);
    assert!(!s.database.url().is_postgres());
    assert!(s.server.allow_demo_data);
}

#[test]
fn a_development_service_listens_on_loopback_only() {
    for addr in ["0.0.0.0:8443", "192.168.1.20:8443", "[::]:8443"] {
        let err = load(&[("IRO_ADVICE_LISTEN", addr)]).unwrap_err();
        assert!(err.to_string().starts_with("IRO_ADVICE_LISTEN:"), "{err}");
    }
    for addr in ["127.0.0.1:8443", "[::1]:8443"] {
        assert!(load(&[("IRO_ADVICE_LISTEN", addr)]).is_ok(), "{addr}");
    }
}

#[test]
fn production_without_a_certificate_names_the_setting() {
    let err = load(&[("IRO_ADVICE_PROFILE", "production")]).unwrap_err();
    assert!(err.to_string().starts_with("IRO_ADVICE_TLS_CERT:"), "{err}");
}

#[test]
fn environment_overrides_profile_and_types_integers() {
    let s = load(&[
        ("IRO_ADVICE_LISTEN", "127.0.0.1:9000"),
        ("IRO_ADVICE_WORKERS", "3"),
        ("DATABASE_URL", "postgres://u@localhost/x"),
    ])
    .unwrap();
    assert_eq!(s.server.listen.port(), 9000);
    assert_eq!(s.server.workers, 3);
    assert!(s.database.url().is_postgres());
    let err = load(&[("IRO_ADVICE_WORKERS", "many")]).unwrap_err();
    assert!(err.to_string().starts_with("IRO_ADVICE_WORKERS:"));
}

const WITNESS_KEY: &str =
    "witness.example/test+41c3f85c+BCwt1i9i0AJH01H6/6TjZ8+9w6NRkF06kAfIdYq4Hj1A";

/// Settings with a `dev` profile file that lists more witnesses.
fn load_with_more(more: &str, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dev.toml"),
        format!("[server]\ndev_certificate = true\n\n[witnesses]\nmore = {more}\n"),
    )
    .unwrap();
    let dir_text = dir.path().display().to_string();
    let mut all = vars.to_vec();
    all.push(("IRO_ADVICE_CONFIG_DIR", &dir_text));
    load(&all)
}

#[test]
fn witnesses_come_from_the_environment_and_the_file_and_the_quorum_defaults_to_all() {
    let one = load(&[
        ("IRO_ADVICE_WITNESS_URL", "https://nairo.example/witness/"),
        ("IRO_ADVICE_WITNESS_KEY", WITNESS_KEY),
    ])
    .unwrap();
    assert_eq!(one.witnesses.required(), 1);
    assert_eq!(
        one.witnesses.list()[0].url.as_str(),
        "https://nairo.example/witness/add-checkpoint"
    );
    assert_eq!(load(&[]).unwrap().witnesses.required(), 0);

    let first = [
        ("IRO_ADVICE_WITNESS_URL", "http://127.0.0.1:7380"),
        ("IRO_ADVICE_WITNESS_KEY", WITNESS_KEY),
    ];
    // The second key's ID is wrong on purpose: every listed key is checked.
    let second = r#"[{ url = "http://127.0.0.1:7381", key = "other.example/w+5e7a4f5b+BAYs5GBi9YzCmpcJRRIk0GL1gaXE4M9IeMdz/CAGVnCA" }]"#;
    let err = load_with_more(second, &first).unwrap_err();
    assert!(err.to_string().starts_with("witnesses.more:"), "{err}");
    let same = format!(r#"[{{ url = "http://127.0.0.1:7381", key = "{WITNESS_KEY}" }}]"#);
    let err = load_with_more(&same, &first).unwrap_err();
    assert!(err.to_string().contains("two witnesses"), "{err}");
    let listed = load_with_more(&same, &[]).unwrap();
    assert_eq!(listed.witnesses.list().len(), 1);
    let mut quorum = first.to_vec();
    quorum.push(("IRO_ADVICE_WITNESS_QUORUM", "2"));
    let err = load(&quorum).unwrap_err();
    assert!(
        err.to_string().starts_with("IRO_ADVICE_WITNESS_QUORUM:"),
        "{err}"
    );
    let err = load(&[("IRO_ADVICE_WITNESS_URL", "http://w")]).unwrap_err();
    assert!(
        err.to_string().starts_with("IRO_ADVICE_WITNESS_KEY:"),
        "{err}"
    );
}

/// A value for every variable that differs from its default and is valid, and one that
/// is not. Files that must exist are this source file.
fn values(var: &str) -> (&'static str, Option<&'static str>) {
    let here = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    match var {
        "IRO_ADVICE_LISTEN" => ("127.0.0.2:9443", Some("0.0.0.0:9443")),
        "IRO_ADVICE_PUBLIC_URL" => ("https://advice.example.org", Some("http://plain")),
        "IRO_ADVICE_DATA_DIR" => ("/srv/iro", Some("")),
        "IRO_ADVICE_TLS_CERT" | "IRO_ADVICE_TLS_KEY" => (here, Some("/nonexistent/cert.pem")),
        "IRO_ADVICE_WORKERS" => ("3", Some("many")),
        "IRO_ADVICE_METRICS_LISTEN" => ("10.0.0.5:9100", Some("everywhere")),
        // Checked at start, where a missing file is named.
        "IRO_ADVICE_WEB_DIR" => ("/srv/web", None),
        "DATABASE_URL" => ("postgres://u@db/x", Some("mysql://x")),
        "IRO_ADVICE_LOG_FORMAT" => ("json", Some("xml")),
        "IRO_ADVICE_LOG_LEVEL" => ("debug", Some("[[[")),
        // Any path will do; an empty one means the default.
        "IRO_ADVICE_KEYS_DIR" => ("/srv/keys", None),
        "IRO_ADVICE_MAX_ATTACHMENT_MB" => ("10", Some("0")),
        "IRO_ADVICE_ATTACHMENT_QUOTA_MB" => ("4000", Some("1")),
        "IRO_ADVICE_UPLOAD_IDLE_SECS" => ("5", Some("0")),
        "IRO_ADVICE_REMINDER_ROUTINE_MINUTES" | "IRO_ADVICE_REMINDER_URGENT_MINUTES" => {
            ("7", Some("-1"))
        }
        "IRO_ADVICE_REMINDER_CHECK_SECS" => ("5", Some("-5")),
        "IRO_ADVICE_RETENTION_DAYS" => ("30", Some("-5")),
        "IRO_ADVICE_LOG_ORIGIN" => ("advice.example.org/log", Some("a + b")),
        "IRO_ADVICE_LOG_PUBLISH_SECONDS" => ("60", Some("4000")),
        "IRO_ADVICE_WITNESS_URL" => ("http://127.0.0.1:7380", Some("ftp://w")),
        "IRO_ADVICE_WITNESS_KEY" => (WITNESS_KEY, Some("w+00000000+AAAA")),
        "IRO_ADVICE_WITNESS_QUORUM" => ("1", Some("2")),
        "IRO_ADVICE_WITNESS_CA" => (here, Some("/nonexistent/ca.pem")),
        "IRO_ADVICE_SMTP_URL" => ("smtps://mail:465", Some("ftp://x")),
        "IRO_ADVICE_SMTP_CA" => (here, Some("/nonexistent/ca.pem")),
        "IRO_ADVICE_MAIL_FROM" => ("Advice <a@example.org>", Some("not a mailbox")),
        "IRO_ADVICE_MAIL_RETRY_BASE_SECS" | "IRO_ADVICE_MAIL_POLL_MS" => ("77", Some("soon")),
        "IRO_ADVICE_MAIL_SUBJECT" => ("Your account", Some("")),
        "IRO_ADVICE_MAIL_SUBJECT_CY" => ("Eich cyfrif", Some("")),
        "IRO_ADVICE_MAIL_DIGEST_MINUTES" => ("60", Some("2000")),
        "IRO_ADVICE_MAIL_FILE_HOURS" => ("2", Some("-2")),
        "IRO_ADVICE_NAIRO_RECIPIENT" => (
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            Some("not-a-key"),
        ),
        "IRO_ADVICE_STATS_ROUND_TO" => ("10", Some("0")),
        "IRO_ADVICE_STATS_FOLLOW_UP_DAYS" => ("30", Some("400")),
        "IRO_ADVICE_SESSION_HOURS" => ("8", Some("0")),
        "IRO_ADVICE_PASSWORD_HASH_SLOTS" => ("4", Some("some")),
        "IRO_ADVICE_LOGIN_FAILURES_PER_MINUTE" => ("50", Some("0")),
        "IRO_ADVICE_SHED_DELAY_MS" => ("250", Some("60000")),
        "IRO_ADVICE_ALLOW_DEMO_DATA" => ("false", Some("maybe")),
        other => panic!("no test values for {other}: add them here"),
    }
}

#[test]
fn every_variable_changes_its_setting_and_a_bad_value_names_it() {
    let base = format!("{:?}", load(&[]).unwrap());
    for d in DECLARED {
        let Some(var) = d.env else { continue };
        let (good, bad) = values(var);
        // The key and certificate are only taken in pairs, as are a witness's URL and
        // key; a quorum needs a witness.
        let pair: Vec<(&str, &str)> = match var {
            "IRO_ADVICE_TLS_CERT" => vec![("IRO_ADVICE_TLS_KEY", good)],
            "IRO_ADVICE_TLS_KEY" => vec![("IRO_ADVICE_TLS_CERT", good)],
            "IRO_ADVICE_WITNESS_URL" => vec![("IRO_ADVICE_WITNESS_KEY", WITNESS_KEY)],
            "IRO_ADVICE_WITNESS_KEY" => {
                vec![("IRO_ADVICE_WITNESS_URL", "http://127.0.0.1:7380")]
            }
            "IRO_ADVICE_WITNESS_QUORUM" => vec![
                ("IRO_ADVICE_WITNESS_URL", "http://127.0.0.1:7380"),
                ("IRO_ADVICE_WITNESS_KEY", WITNESS_KEY),
            ],
            _ => Vec::new(),
        };
        let mut vars = vec![(var, good)];
        vars.extend(pair.iter().copied());
        let changed = format!(
            "{:?}",
            load(&vars).unwrap_or_else(|e| panic!("{var}={good}: {e}"))
        );
        assert_ne!(changed, base, "{var} changed nothing");

        let Some(bad) = bad else { continue };
        let mut vars = vec![(var, bad)];
        vars.extend(pair.iter().copied());
        let err = load(&vars)
            .expect_err(&format!("{var}={bad:?} was accepted"))
            .to_string();
        assert!(err.starts_with(&format!("{var}:")), "{var}={bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn retention_and_origin_come_from_the_environment() {
    let s = load(&[
        ("IRO_ADVICE_RETENTION_DAYS", "30"),
        ("IRO_ADVICE_LOG_ORIGIN", "advice.example.org/log"),
    ])
    .unwrap();
    assert_eq!(s.queries.retention_days, 30);
    assert_eq!(s.request_log.origin, "advice.example.org/log");
}

/// The generated files are the ones committed: `iro-advice config defaults` and
/// `iro-advice config reference` write them anew.
#[test]
fn the_default_file_and_the_reference_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (file, expected, command) in [
        ("config/default.toml", default_file(), "defaults"),
        (
            "book/src/operating/configuration.md",
            reference(),
            "reference",
        ),
    ] {
        let committed = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        assert!(
            committed == expected,
            "{file} is stale: run `cargo run -- config {command} > {file}`"
        );
    }
}

#[test]
fn the_default_file_holds_every_setting_and_reads_back_as_the_defaults() {
    let file: toml::Table = default_file().parse().unwrap();
    for d in DECLARED {
        assert_eq!(
            file[d.section][d.key],
            (d.default)(),
            "{}.{}",
            d.section,
            d.key
        );
    }
    let keys: usize = file.values().map(|t| t.as_table().unwrap().len()).sum();
    assert_eq!(keys, DECLARED.len());
}

#[test]
fn every_variable_is_in_the_reference_once() {
    let reference = reference();
    let vars: Vec<&str> = DECLARED
        .iter()
        .filter_map(|d| d.env)
        .chain(FILE_SELECTORS.iter().map(|(v, _)| *v))
        .collect();
    for var in &vars {
        let rows = reference
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains(&format!("`{var}`")))
            .count();
        assert_eq!(rows, 1, "{var}");
    }
    let distinct: std::collections::BTreeSet<_> = vars.iter().collect();
    assert_eq!(distinct.len(), vars.len(), "a variable is declared twice");
}

#[test]
fn file_only_settings_are_named_by_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = "[server]\ndev_certificate = true\n[database]\npool_size = 0\n";
    std::fs::write(dir.path().join("dev.toml"), file).unwrap();
    let dir = dir.path().display().to_string();
    let err = load(&[("IRO_ADVICE_CONFIG_DIR", &dir)])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "database.pool_size: must be at least 1");
}

#[test]
fn secrets_do_not_print_themselves() {
    let s = load(&[
        ("DATABASE_URL", "postgres://user:hunter2@db/x"),
        ("IRO_ADVICE_SMTP_URL", "smtps://mailer:swordfish@mail:465"),
    ])
    .unwrap();
    let printed = format!("{s:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(!printed.contains("swordfish"), "{printed}");
}
