//! The attacks witnesses exist for, performed end to end with the real binary, a real
//! witness process and the real client: an operator restores yesterday's database to erase a
//! pressure report, and a log forked by two instances sharing keys but not a database. Each
//! must be caught: by the witness (it refuses and keeps the evidence), by the client (exit 3,
//! both checkpoints saved), by `receipt verify` and by `log verify`.

use std::path::{Path, PathBuf};

use diesel::RunQueryDsl;
use iro_advice_model::accounts::Role;
use serde_json::{json, Value};

use iro_advice_testkit::{binary, init, log_verify_against as log_verify, serve, WitnessProcess};
use iro_advice_testkit::{eventually, json, receipt_verify, spawn_app_with, Client, TestApp};

/// The served checkpoint once it is cosigned at `size` or more; its size and note.
async fn cosigned_at_least(app: &TestApp, size: u64) -> (u64, String) {
    eventually(20, "a cosigned checkpoint", || async {
        let res = app.get("/api/v1/log/checkpoint").await;
        if res.status() != 200 {
            return None;
        }
        let note = res.text().await.unwrap();
        let served: u64 = note.lines().nth(1).unwrap().parse().unwrap();
        (served >= size).then_some((served, note))
    })
    .await
}

async fn log_size(app: &TestApp) -> u64 {
    let db = app.database();
    let mut conn = db.get().unwrap();
    iro_advice_server::log::store::size(&mut conn).unwrap()
}

async fn readiness(app: &TestApp) -> Value {
    json(app.get("/readyz").await, 200).await
}

/// What `witness evidence` prints once it holds some.
async fn evidence(dir: &Path) -> String {
    eventually(20, "the witness's evidence", || async {
        let out = binary()
            .args(["witness", "evidence", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        printed.contains("== ").then_some(printed)
    })
    .await
}

/// The operator's backup and restore, as each database does it.
enum Backup {
    Sqlite(PathBuf),
    Postgres(String),
}

fn back_up(app: &TestApp, dir: &Path) -> Backup {
    back_up_as(app, dir, "backup")
}

/// A backup under its own name, for a test that keeps two.
fn back_up_as(app: &TestApp, dir: &Path, label: &str) -> Backup {
    match &app.pg {
        None => {
            let file = dir.join(format!("{label}.db"));
            let db = app.database();
            let mut conn = db.get().unwrap();
            diesel::sql_query(format!("VACUUM INTO '{}'", file.display()))
                .execute(&mut *conn)
                .unwrap();
            Backup::Sqlite(file)
        }
        Some(pg) => {
            let name = format!("{}_{label}", pg.name);
            // A template copy needs the source to itself: the service pauses for the backup.
            pg.admin(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                pg.name
            ));
            pg.admin(&format!("CREATE DATABASE {name} TEMPLATE {}", pg.name));
            Backup::Postgres(name)
        }
    }
}

/// With the service stopped: the live database replaced by the backup.
fn restore(app: &TestApp, backup: &Backup) {
    match (backup, &app.pg) {
        (Backup::Sqlite(file), None) => {
            let live = app.data_dir.path().join("test.db");
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", live.display()));
            }
            std::fs::copy(file, &live).unwrap();
        }
        (Backup::Postgres(name), Some(pg)) => {
            pg.admin(&format!("DROP DATABASE {} WITH (FORCE)", pg.name));
            pg.admin(&format!("CREATE DATABASE {} TEMPLATE {name}", pg.name));
            pg.admin(&format!("DROP DATABASE {name}"));
        }
        _ => unreachable!("a backup of the app's own database"),
    }
}

/// New acts (invitations) until the log holds more than `size` leaves: on a restored
/// database, they take an erased act's place in the tree and go past it.
async fn grow_past(app: &TestApp, admin: &iro_advice_testkit::User, size: u64) {
    while log_size(app).await <= size {
        let res = app
            .post_json(
                "/api/v1/invitations",
                Some(&admin.access),
                &json!({"role": "nairo", "email": format!("{}@nairo.test", uuid::Uuid::new_v4())}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
}

/// The operator's backup (PostgreSQL's taken with the service paused), then the IRO's
/// pressure report through the client: what a restore of the backup will erase.
async fn backed_up_then_reported(app: &mut TestApp, client: &Client, dir: &Path) -> Backup {
    if app.pg.is_some() {
        app.stop();
    }
    let backup = back_up(app, dir);
    if app.pg.is_some() {
        app.start(&[]).await;
    }
    let out = client.ok(&[
        "pressure",
        "--kind",
        "discouraged_from_advice",
        "--date",
        "2026-11-20",
    ]);
    assert!(out.contains("Recorded in the log as leaf"), "{out}");
    backup
}

/// The client's next command stops with status 3, saying an act of the user's was erased,
/// and keeps the pressure report's receipt as evidence.
fn raised_with_the_reports_receipt(client: &Client) {
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("an act of yours has been erased"),
        "{}",
        ran.stderr
    );
    let folder = std::fs::read_dir(client.profile.path().join("evidence"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("receipt.json").exists())
        .expect("the receipt kept as evidence");
    let receipt: iro_advice_server::log::Receipt =
        serde_json::from_slice(&std::fs::read(folder.join("receipt.json")).unwrap()).unwrap();
    assert_eq!(
        receipt.read().unwrap().kind,
        iro_advice_server::log::Kind::PressureReported
    );
}

/// Starts a witness for the app's log and restarts the app submitting to it.
async fn witnessed(app: &mut TestApp, dir: &Path) -> (WitnessProcess, String) {
    let key = app.log_key().await;
    let vkey = init(dir, "nairo.test/witness");
    let witness = serve(dir, &key).await;
    app.stop();
    app.start(&[
        ("IRO_ADVICE_WITNESS_URL", &witness.base),
        ("IRO_ADVICE_WITNESS_KEY", &vkey),
    ])
    .await;
    (witness, vkey)
}

async fn a_restored_backup_is_caught_by_the_witness_the_client_and_the_verifiers(mut app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let witness_dir = tempfile::tempdir().unwrap();
    let (_witness, witness_key) = witnessed(&mut app, witness_dir.path()).await;
    let key = app.log_key().await;

    // The witness cosigns what the log holds; the service serves it with the cosignature.
    let (first, note) = cosigned_at_least(&app, log_size(&app).await).await;
    assert!(note.contains("\n\u{2014} nairo.test/witness "), "{note}");
    let ready = readiness(&app).await;
    assert_eq!(ready["witness_quorum"], 1);
    assert_eq!(ready["witnesses"][0]["key"], witness_key.as_str());

    // The IRO's client pins the keys the server advertises on first use, and says so.
    let (client, said) = Client::login(&app, &iro, &[]);
    assert!(said.contains("Pinned, on first use"), "{said}");
    assert!(said.contains(&key), "{said}");
    client.ok(&["keygen"]);

    // The operator's backup, taken before the IRO reports pressure.
    let backups = tempfile::tempdir().unwrap();
    let backup = backed_up_then_reported(&mut app, &client, backups.path()).await;
    let (erased_size, _) = cosigned_at_least(&app, log_size(&app).await).await;
    assert!(erased_size > first);
    let receipts = client.profile.path().join("receipts");
    let out = client.ok(&["receipts", "--out", receipts.to_str().unwrap()]);
    assert!(!out.contains("await"), "every receipt is cosigned: {out}");
    let receipt = std::fs::read_dir(&receipts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let Ok(r) = serde_json::from_slice::<iro_advice_server::log::Receipt>(
                &std::fs::read(p).unwrap(),
            ) else {
                return false;
            };
            r.read().unwrap().kind == iro_advice_server::log::Kind::PressureReported
        })
        .expect("the pressure report's receipt");
    let receipt = receipt.to_str().unwrap().to_owned();
    // Before the attack, the receipt verifies with the witness, and against the server.
    let ca = app.data_dir.path().join("tls/dev-cert.pem");
    let ca = ca.to_str().unwrap();
    let (ok, text) = receipt_verify(&[
        &receipt,
        "--key",
        &key,
        "--witness",
        &witness_key,
        "--server",
        &app.base,
        "--ca",
        ca,
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("a pressure_reported event at"), "{text}");
    assert!(text.contains("for authority E06000019"), "{text}");
    assert!(
        text.contains("cosigned by the witness nairo.test/witness"),
        "{text}"
    );
    assert!(text.contains("still in the log"), "{text}");
    client.ok(&["inbox"]);
    let held = std::fs::read_to_string(client.profile.path().join("checkpoint.txt")).unwrap();
    assert!(held.contains(&format!("\n{erased_size}\n")), "{held}");

    // The attack: stop, restore the backup, start again. The pressure report is gone.
    app.stop();
    restore(&app, &backup);
    app.start(&[]).await;
    assert_eq!(app.count("pressure_reports"), 0);
    // New acts take the erased report's place in the tree, and go past it.
    grow_past(&app, &admin, erased_size).await;

    // The witness refuses the rewritten log and keeps its checkpoint as evidence.
    let kept = evidence(witness_dir.path()).await;
    assert!(kept.contains("-- refused, as the log signed it:"), "{kept}");
    let ready = readiness(&app).await;
    assert_eq!(
        ready["witnesses"][0]["refused_as_inconsistent"], true,
        "{ready}"
    );
    // Clients are served nothing newer than what was cosigned before the attack.
    let (served_size, served) = cosigned_at_least(&app, 0).await;
    assert!(served_size < erased_size, "{served}");

    // The IRO's client, which saw the report's checkpoint, stops with status 3.
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("has been rewritten"), "{}", ran.stderr);
    assert!(ran.stderr.contains("tell NAIRO"), "{}", ran.stderr);
    let evidence_dir = client.profile.path().join("evidence");
    let folders: Vec<PathBuf> = std::fs::read_dir(&evidence_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1);
    let saved_held = std::fs::read_to_string(folders[0].join("held-checkpoint.txt")).unwrap();
    let saved_served = std::fs::read_to_string(folders[0].join("served-checkpoint.txt")).unwrap();
    assert_eq!(saved_held, held);
    assert_eq!(saved_served, served);
    // Again: a second folder, nothing overwritten, and the profile still holds the newer one.
    assert_eq!(client.run(&["inbox"]).code, 3);
    assert_eq!(std::fs::read_dir(&evidence_dir).unwrap().count(), 2);
    assert_eq!(
        std::fs::read_to_string(client.profile.path().join("checkpoint.txt")).unwrap(),
        held
    );

    // The erased report's receipt still verifies on its own, but not against the log now.
    let served_file = folders[0].join("served-checkpoint.txt");
    let (ok, text) = receipt_verify(&[
        &receipt,
        "--key",
        &key,
        "--witness",
        &witness_key,
        "--checkpoint",
        served_file.to_str().unwrap(),
    ]);
    assert!(!ok, "{text}");
    assert!(text.contains("FAILED"), "{text}");
    let (ok, text) = receipt_verify(&[
        &receipt,
        "--key",
        &key,
        "--witness",
        &witness_key,
        "--server",
        &app.base,
        "--ca",
        ca,
    ]);
    assert!(!ok, "{text}");
    // And the operator cannot prove the log whole against the client's checkpoint.
    let held_file = client.profile.path().join("checkpoint.txt");
    let (ok, text) = log_verify(&app, &app.database_url(), &[&held_file]);
    assert!(!ok, "{text}");
    assert!(text.contains("FAILED"), "{text}");
}

iro_advice_testkit::both_binary_databases!(
    a_restored_backup_is_caught_by_the_witness_the_client_and_the_verifiers
);

async fn a_forked_log_is_cosigned_on_one_branch_only(app: TestApp) {
    let witness_dir = tempfile::tempdir().unwrap();
    let key = app.log_key().await;
    let vkey = init(witness_dir.path(), "nairo.test/witness");
    let witness = serve(witness_dir.path(), &key).await;
    let witness_env = [
        ("IRO_ADVICE_WITNESS_URL", witness.base.as_str()),
        ("IRO_ADVICE_WITNESS_KEY", vkey.as_str()),
    ];
    let keys = app.settings.accounts.keys_dir.to_str().unwrap().to_owned();
    let mut env = witness_env.to_vec();
    env.push(("IRO_ADVICE_KEYS_DIR", &keys));
    // Two instances with the same keys, each its own database: one branch each.
    let one = spawn_app_with(app.backend, &env).await.unwrap();
    one.admin().await;
    let (size, _) = cosigned_at_least(&one, log_size(&one).await).await;
    let two = spawn_app_with(app.backend, &env).await.unwrap();
    while log_size(&two).await <= size {
        two.admin().await;
    }
    let kept = evidence(witness_dir.path()).await;
    assert!(kept.contains("-- refused, as the log signed it:"), "{kept}");
    // The second branch never gets a cosignature: its clients are served nothing.
    let res = two.get("/api/v1/log/checkpoint").await;
    iro_advice_testkit::assert_problem(res, 503, "log-not-witnessed").await;
    let ready = readiness(&two).await;
    assert_eq!(
        ready["witnesses"][0]["refused_as_inconsistent"], true,
        "{ready}"
    );
    // The first goes on being cosigned.
    one.admin().await;
    cosigned_at_least(&one, log_size(&one).await).await;
    let ready = readiness(&one).await;
    assert_eq!(ready["witnesses"][0]["problem"], Value::Null, "{ready}");
}

iro_advice_testkit::both_databases!(a_forked_log_is_cosigned_on_one_branch_only);

/// The gap the witness alone leaves: an act whose receipt the client got but whose
/// checkpoint it never checked. The operator restores the database from before the act and
/// lets new acts fill its place; the log then extends everything the client held, so only
/// the receipt the client kept can show what was erased. Then the witness is dropped
/// altogether: a checkpoint without the pinned cosignature is an alarm too.
async fn an_erased_act_the_client_never_saw_witnessed_is_raised_from_its_receipt(mut app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let (client, _) = Client::login(&app, &iro, &[]);
    client.ok(&["keygen"]);
    client.ok(&["inbox"]);
    let held = std::fs::read_to_string(client.profile.path().join("checkpoint.txt")).unwrap();

    let backups = tempfile::tempdir().unwrap();
    let backup = backed_up_then_reported(&mut app, &client, backups.path()).await;
    let kept = client.profile.path().join("kept-receipts.json");
    assert!(kept.exists(), "the act's receipt is kept");

    app.stop();
    restore(&app, &backup);
    app.start(&[]).await;
    assert_eq!(app.count("pressure_reports"), 0);
    let erased_at = log_size(&app).await;
    grow_past(&app, &admin, erased_at + 1).await;
    // The log extends the checkpoint the client held: that check alone passes...
    assert_eq!(
        std::fs::read_to_string(client.profile.path().join("checkpoint.txt")).unwrap(),
        held
    );
    // ... but the receipt's leaf is not where the service put it: status 3, with evidence.
    raised_with_the_reports_receipt(&client);
    // It does not go away: the next command says the same.
    assert_eq!(client.run(&["inbox"]).code, 3);

    // A receipt never published is raised once its time is up (two hours).
    let mut waiting: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    assert_eq!(waiting.len(), 1);
    waiting[0]["receipt"]["leaf_index"] = serde_json::Value::Null;
    std::fs::write(&kept, serde_json::to_vec(&waiting).unwrap()).unwrap();
    client.ok(&["inbox"]);
    waiting[0]["kept_at"] = json!(chrono::Utc::now().timestamp() - 3 * 3600);
    std::fs::write(&kept, serde_json::to_vec(&waiting).unwrap()).unwrap();
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("2 hours after"), "{}", ran.stderr);
}

iro_advice_testkit::both_binary_databases!(
    an_erased_act_the_client_never_saw_witnessed_is_raised_from_its_receipt
);

/// Two branches of one log, one database copy each: the operator routes the IRO to a copy
/// (a fork the witness will not cosign), takes its pressure report there, then routes it
/// back to the main branch, which extends every checkpoint the IRO's client held. Only the
/// receipt the client kept can show the report is gone, and it does.
async fn a_report_made_on_a_fork_is_raised_when_the_iro_is_routed_back(mut app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let witness_dir = tempfile::tempdir().unwrap();
    let (_witness, _) = witnessed(&mut app, witness_dir.path()).await;
    cosigned_at_least(&app, log_size(&app).await).await;
    let (client, _) = Client::login(&app, &iro, &[]);
    client.ok(&["keygen"]);
    client.ok(&["inbox"]);

    // The fork point: a copy of the database as it stands.
    let backups = tempfile::tempdir().unwrap();
    // PostgreSQL's copy needs the service paused, as for a backup.
    let paused = app.pg.is_some();
    if paused {
        app.stop();
    }
    let fork = back_up_as(&app, backups.path(), "fork");
    if paused {
        app.start(&[]).await;
    }
    // The main branch goes on, cosigned.
    let forked_at = log_size(&app).await;
    grow_past(&app, &admin, forked_at + 3).await;
    cosigned_at_least(&app, log_size(&app).await).await;
    app.stop();
    let main = back_up_as(&app, backups.path(), "main");

    // The IRO is routed to the fork: the report is recorded there, and never cosigned.
    restore(&app, &fork);
    app.start(&[]).await;
    let out = client.ok(&[
        "pressure",
        "--kind",
        "discouraged_from_advice",
        "--date",
        "2026-11-20",
    ]);
    assert!(out.contains("Recorded in the log as leaf"), "{out}");
    assert_eq!(app.count("pressure_reports"), 1);
    let kept: Vec<Value> = serde_json::from_slice(
        &std::fs::read(client.profile.path().join("kept-receipts.json")).unwrap(),
    )
    .unwrap();
    let index = kept[0]["receipt"]["leaf_index"].as_u64().unwrap();
    // The witness, holding the main branch, never cosigns a checkpoint that includes it;
    // the fork serves the last one cosigned before the copy, and nothing is amiss yet.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (served, _) = cosigned_at_least(&app, 0).await;
    assert!(served <= index, "served {served}, the report at {index}");
    client.ok(&["inbox"]);

    // Routed back: the main branch extends what the client holds, and has no report.
    app.stop();
    restore(&app, &main);
    app.start(&[]).await;
    assert_eq!(app.count("pressure_reports"), 0);
    grow_past(&app, &admin, index + 1).await;
    cosigned_at_least(&app, index + 1).await;
    raised_with_the_reports_receipt(&client);
}

iro_advice_testkit::both_binary_databases!(
    a_report_made_on_a_fork_is_raised_when_the_iro_is_routed_back
);

/// A restore with the witness dropped: the service serves checkpoints signed by the log
/// alone. A client that pinned the witness raises the alarm rather than trusting less.
async fn a_dropped_witness_is_an_alarm_for_the_client(mut app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let witness_dir = tempfile::tempdir().unwrap();
    let (_witness, _) = witnessed(&mut app, witness_dir.path()).await;
    cosigned_at_least(&app, log_size(&app).await).await;
    let (client, said) = Client::login(&app, &iro, &[]);
    assert!(said.contains("Pinned, on first use"), "{said}");
    client.ok(&["inbox"]);
    app.stop();
    app.start(&[
        ("IRO_ADVICE_WITNESS_URL", ""),
        ("IRO_ADVICE_WITNESS_KEY", ""),
    ])
    .await;
    let trust = json(app.get("/api/v1/log/trust").await, 200).await;
    assert_eq!(trust["quorum"], 0, "{trust}");
    let ran = client.run(&["inbox"]);
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr
            .contains("no longer witnessed as this profile pinned it"),
        "{}",
        ran.stderr
    );
    assert!(client.profile.path().join("evidence").exists());
}

iro_advice_testkit::both_binary_databases!(a_dropped_witness_is_an_alarm_for_the_client);
