//! Backups that restore: a copy taken while the service runs comes back in a fresh
//! deployment and verifies; an older copy over a newer log, or behind what a witness has
//! cosigned, is refused unless the operator says so; PostgreSQL, dumped and restored with its
//! own tools, agrees with the witness or is caught by it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use iro_advice_model::accounts::Role;
use serde_json::json;

use iro_advice_testkit::{free_port, json, spawn_app, spawn_app_with, Backend, TestApp};

/// The binary against `database` (a SQLite file), with the app's keys.
fn run(app: &TestApp, database: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iro-advice"));
    cmd.args(args)
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}", database.display()))
        .env("IRO_ADVICE_PROFILE", "dev")
        .env("IRO_ADVICE_DATA_DIR", database.parent().unwrap())
        .env("IRO_ADVICE_KEYS_DIR", &app.settings.accounts.keys_dir)
        .env("IRO_ADVICE_PUBLIC_URL", &app.settings.server.public_url);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn leaves(database: &Path) -> i64 {
    use diesel::prelude::*;
    let mut conn = diesel::SqliteConnection::establish(database.to_str().unwrap()).unwrap();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT COUNT(*) AS n FROM log_leaves")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

/// `backup --out to`, which must succeed: what it said, and the leaves the copy holds.
fn backup_to(app: &TestApp, live: &Path, to: &Path) -> (Output, i64) {
    let out = run(app, live, &["backup", "--out", to.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let n = leaves(to);
    (out, n)
}

async fn report_pressure(app: &TestApp, access: &str) {
    json(
        app.post_json(
            "/api/v1/pressure-reports",
            Some(access),
            &json!({"kind": "refused_funding", "occurred_on": "2026-11-02", "share_with_nairo": false}),
        )
        .await,
        201,
    )
    .await;
}

#[actix_web::test]
async fn a_backup_taken_while_serving_restores_and_an_older_one_is_refused_over_a_newer_log() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let live = app.data_dir.path().join("test.db");
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    report_pressure(&app, &iro.access).await;

    let store = tempfile::tempdir().unwrap();
    let older = store.path().join("older.db");
    let (out, at_older) = backup_to(&app, &live, &older);
    assert!(at_older > 0);
    assert!(
        text(&out).contains(&format!("{at_older} log leaves")),
        "{}",
        text(&out)
    );
    let mode = std::fs::metadata(&older).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy is owner-only");
    // Never from a database that is not there (none is made), never over an existing file.
    let missing = store.path().join("missing.db");
    let nowhere = store.path().join("nowhere.db");
    let out = run(
        &app,
        &missing,
        &["backup", "--out", nowhere.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!missing.exists() && !nowhere.exists(), "{}", text(&out));
    let again = run(
        &app,
        &live,
        &["backup", "--out", older.to_str().unwrap()],
        &[],
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));
    assert_eq!(leaves(&older), at_older);

    // The service goes on; a newer copy holds more.
    report_pressure(&app, &iro.access).await;
    let newer = store.path().join("newer.db");
    let (_, at_newer) = backup_to(&app, &live, &newer);
    assert!(at_newer > at_older);

    // A fresh deployment: the newer copy restores, and the log verifies there.
    let fresh = tempfile::tempdir().unwrap();
    let target = fresh.path().join("restored.db");
    let out = run(
        &app,
        &target,
        &["restore", "--from", newer.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&app, &target, &["log", "verify"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{at_newer} leaves")),
        "{}",
        text(&out)
    );

    // The older copy over it would erase the second report: refused, nothing changed.
    let out = run(
        &app,
        &target,
        &["restore", "--from", older.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("would roll the request log back"), "{said}");
    assert!(
        said.contains(&format!(
            "holds {at_newer} leaves and the backup {at_older}"
        )),
        "{said}"
    );
    assert_eq!(leaves(&target), at_newer);
    // Said explicitly, it is done.
    let out = run(
        &app,
        &target,
        &[
            "restore",
            "--from",
            older.to_str().unwrap(),
            "--accept-rollback",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(leaves(&target), at_older);

    // A damaged copy is refused and leaves nothing behind.
    let damaged = store.path().join("damaged.db");
    let mut bytes = std::fs::read(&newer).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4096] {
        *b = 0xA5;
    }
    std::fs::write(&damaged, bytes).unwrap();
    let out = run(
        &app,
        &target,
        &[
            "restore",
            "--from",
            damaged.to_str().unwrap(),
            "--accept-rollback",
        ],
        &[],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(leaves(&target), at_older);
    let left: Vec<_> = std::fs::read_dir(fresh.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[actix_web::test]
async fn a_restore_behind_what_the_witness_cosigned_is_refused_with_its_evidence() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let log_key = app.log_key().await;
    let dir = tempfile::tempdir().unwrap();
    let vkey = iro_advice_testkit::init(dir.path(), "nairo.test/witness");
    let port = free_port();
    let _witness = iro_advice_testkit::serve_with(dir.path(), &log_key, port, &[]).await;
    let url = format!("http://127.0.0.1:{port}");
    let keys = app.settings.accounts.keys_dir.to_str().unwrap().to_owned();
    let database = app.database_url();
    let data = app.data_dir.path().to_str().unwrap().to_owned();
    let witnessing = [
        ("IRO_ADVICE_WITNESS_URL", url.as_str()),
        ("IRO_ADVICE_WITNESS_KEY", vkey.as_str()),
    ];
    let witnessed = spawn_app_with(
        Backend::Sqlite,
        &[
            ("IRO_ADVICE_DATA_DIR", &data),
            ("DATABASE_URL", &database),
            ("IRO_ADVICE_KEYS_DIR", &keys),
            witnessing[0],
            witnessing[1],
        ],
    )
    .await
    .unwrap();
    let live = app.data_dir.path().join("test.db");
    let admin = witnessed.admin().await;
    let iro = witnessed
        .user(&admin, Role::Iro, Some("E06000019"), None)
        .await;
    let store = tempfile::tempdir().unwrap();
    let older = store.path().join("older.db");
    let (_, at_older) = backup_to(&app, &live, &older);

    // A pressure report after the backup, cosigned by the witness.
    report_pressure(&witnessed, &iro.access).await;
    let size = leaves(&live);
    iro_advice_testkit::eventually(20, "the witness to cosign the report", || {
        let metrics = crate::monitoring::scrape(&witnessed);
        let cosigned = crate::monitoring::sample(
            &metrics,
            "iro_advice_witness_cosigned_size{witness=\"nairo.test/witness\"}",
        );
        std::future::ready(cosigned.filter(|c| *c >= size as f64))
    })
    .await;

    // The database is lost; the older backup, into a fresh deployment, would erase the
    // report. Only the witness knows: it is asked, and the restore is refused.
    let fresh = tempfile::tempdir().unwrap();
    let target = fresh.path().join("restored.db");
    let out = run(
        &app,
        &target,
        &["restore", "--from", older.to_str().unwrap()],
        &witnessing,
    );
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("the witness nairo.test/witness has cosigned a tree of"),
        "{said}"
    );
    assert!(
        said.contains(&format!("the backup holds {at_older}")),
        "{said}"
    );
    assert!(!target.exists(), "nothing was put in place");
}

#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn postgres_is_backed_up_with_pg_dump() {
    let app = spawn_app(Backend::Postgres).await.unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["backup", "--out", "/nonexistent/never-written.db"])
        .env_clear()
        .env("DATABASE_URL", app.database_url())
        .env("IRO_ADVICE_PROFILE", "dev")
        .env("IRO_ADVICE_DATA_DIR", app.data_dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("pg_dump"), "{}", text(&out));
}

/// `pg_dump`, then `pg_restore` into a fresh database, as the book's backups chapter does.
fn dump_and_restore(from: &str, into: &iro_advice_testkit::PgTestDb, file: &Path) {
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(file)
        .arg(from)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &into.url])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// PostgreSQL backed up with `pg_dump` and restored with `pg_restore` into fresh databases:
/// the latest dump verifies and the witness cosigns it as the same log; an older one, which
/// would erase a pressure report, verifies on its own but the witness refuses it, and the
/// service says so on `/readyz`.
#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn postgres_restored_from_pg_dump_agrees_with_the_witness_or_is_caught() {
    let mut app = iro_advice_testkit::spawn_binary_app(Backend::Postgres, &[])
        .await
        .unwrap();
    let log_key = app.log_key().await;
    let witness_dir = tempfile::tempdir().unwrap();
    let vkey = iro_advice_testkit::init(witness_dir.path(), "nairo.test/witness");
    let _witness = iro_advice_testkit::serve(witness_dir.path(), &log_key).await;
    app.stop();
    app.start(&[
        ("IRO_ADVICE_WITNESS_URL", &_witness.base),
        ("IRO_ADVICE_WITNESS_KEY", &vkey),
    ])
    .await;
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    report_pressure(&app, &iro.access).await;
    let older_size = app.count("log_leaves");
    iro_advice_testkit::cosigned_at(&app, older_size).await;
    let dumps = tempfile::tempdir().unwrap();
    let live = app.database_url();
    let older = iro_advice_testkit::PgTestDb::create().unwrap();
    dump_and_restore(&live, &older, &dumps.path().join("older.dump"));

    // A pressure report after the older dump, which the witness cosigns.
    report_pressure(&app, &iro.access).await;
    let size = app.count("log_leaves");
    assert!(size > older_size);
    iro_advice_testkit::cosigned_at(&app, size).await;
    let latest = iro_advice_testkit::PgTestDb::create().unwrap();
    dump_and_restore(&live, &latest, &dumps.path().join("latest.dump"));

    // Each restored database verifies on its own (with the keys kept apart).
    for db in [&older, &latest] {
        let out = Command::new(env!("CARGO_BIN_EXE_iro-advice"))
            .args(["log", "verify"])
            .env_clear()
            .env("DATABASE_URL", &db.url)
            .env("IRO_ADVICE_DATA_DIR", app.data_dir.path())
            .env("IRO_ADVICE_PUBLIC_URL", &app.settings.server.public_url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }

    // The service on the latest dump: the witness cosigns it as the log it knows.
    app.stop();
    app.start(&[("DATABASE_URL", &latest.url)]).await;
    iro_advice_testkit::cosigned_at(&app, size).await;
    assert_eq!(
        json(
            app.get_auth("/api/v1/pressure-reports", &iro.access).await,
            200
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        2
    );

    // On the older dump: a log behind what the witness cosigned. A new act there is taken,
    // but the witness never cosigns the branch: the newest cosigned checkpoint stays the old
    // one (which a client that saw the later one rejects as a rollback), and /readyz says
    // the witness refused.
    app.stop();
    app.start(&[("DATABASE_URL", &older.url)]).await;
    report_pressure(&app, &iro.access).await;
    iro_advice_testkit::eventually(30, "the witness's refusal on /readyz", || async {
        let ready = json(app.get("/readyz").await, 200).await;
        (ready["witnesses"][0]["refused_as_inconsistent"] == true).then_some(())
    })
    .await;
    let note = app
        .get("/api/v1/log/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    let served: i64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(served, older_size, "{note}");
}
