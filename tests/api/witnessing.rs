//! The service's side of witnessing, and what anyone can read of the log: checkpoints served
//! only once cosigned, receipts completed when the witness catches up, a witness that is down
//! reported in `/readyz`, keys pinned by the client and never silently changed, and the log
//! as C2SP tlog-tiles that rebuild the signed root.

use iro_advice_model::accounts::Role;
use iro_advice_server::log::merkle::{self, Hash};
use iro_advice_server::log::note::{open_checkpoint, Verifier};
use iro_advice_server::log::store::{append_batch, BatchLeaf};
use iro_advice_server::log::{Actor, Event, Kind, Receipt, Subject};
use serde_json::Value;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, eventually, free_port, json, spawn_app_with, TestApp};
use iro_advice_testkit::{init, serve, serve_with};

both_databases!(
    the_log_is_served_as_tiles_that_rebuild_the_signed_root,
    nothing_is_served_until_a_witness_cosigns_and_receipts_are_completed_later,
);

async fn checkpoint_of(app: &TestApp) -> iro_advice_server::log::note::Checkpoint {
    let key = app.get("/api/v1/log/key").await.text().await.unwrap();
    let note = app
        .get("/api/v1/log/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    open_checkpoint(&Verifier::parse(&key).unwrap(), &note).unwrap()
}

async fn tile(app: &TestApp, path: &str) -> (u16, Vec<u8>, String) {
    let res = app.get(&format!("/api/v1/log/tile/{path}")).await;
    let status = res.status().as_u16();
    let cache = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, res.bytes().await.unwrap().to_vec(), cache)
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    assert_eq!(bytes.len() % 32, 0);
    bytes.chunks(32).map(|c| c.try_into().unwrap()).collect()
}

/// RFC 9162's MTH, from leaf hashes.
fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => merkle::empty_root(),
        1 => leaves[0],
        n => {
            let k = merkle::split(n as u64) as usize;
            merkle::node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

async fn the_log_is_served_as_tiles_that_rebuild_the_signed_root(app: TestApp) {
    // 300 acts: one full tile of leaves and a partial one, and a first level-1 hash.
    let keys = app.log_keys();
    let batch: Vec<BatchLeaf> = (0..300)
        .map(|i| {
            let id = format!("account-{i}");
            let event = Event {
                details: iro_advice_server::log::Details::None,
                kind: Kind::AccountCreated,
                authority: None,
                actor: Actor::Operator,
                subject: Subject::Account(&id),
            };
            let written = keys.write(&event, 1_700_000_000 + i);
            BatchLeaf {
                kind: Kind::AccountCreated,
                data: written.data,
                opening: written.opening,
                actor: keys.actor_pseudonym(Actor::Operator).to_vec(),
                at: chrono::Utc::now().naive_utc(),
            }
        })
        .collect();
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        iro_advice_server::db::write_transaction(&mut conn, |conn| {
            append_batch(conn, &keys, &batch)
        })
        .unwrap();
    }
    let checkpoint = checkpoint_of(&app).await;
    let size = checkpoint.size;
    assert!(size >= 300);
    let partial = size - 256;

    let (status, full, cache) = tile(&app, "0/000").await;
    assert_eq!(status, 200);
    assert!(cache.contains("immutable"), "{cache}");
    let (status, rest, _) = tile(&app, &format!("0/001.p/{partial}")).await;
    assert_eq!(status, 200);
    let mut leaves = hashes(&full);
    leaves.extend(hashes(&rest));
    assert_eq!(leaves.len() as u64, size);
    // The tiles give the root the log signed.
    assert_eq!(root(&leaves), checkpoint.root);
    // A level-1 tile holds the hashes of whole 256-leaf subtrees.
    let (status, upper, _) = tile(&app, "1/000.p/1").await;
    assert_eq!(status, 200);
    assert_eq!(hashes(&upper), vec![root(&leaves[..256])]);

    // Entry bundles: each leaf's exact bytes, length-prefixed, hashing to the leaf hashes.
    let (status, bundle, _) = tile(&app, "entries/000").await;
    assert_eq!(status, 200);
    let mut entries = Vec::new();
    let mut rest = &bundle[..];
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        entries.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    assert_eq!(entries.len(), 256);
    for (entry, leaf) in entries.iter().zip(&leaves) {
        assert_eq!(&merkle::leaf_hash(entry), leaf);
    }

    // Tiles the log does not hold yet, and names that are not tiles.
    for path in [
        "0/002",
        &format!("0/001.p/{}", partial + 1),
        "1/000",
        "entries/001",
        "0/0",
        "0/x000/001",
        "9/000",
    ] {
        let (status, _, _) = tile(&app, path).await;
        assert_eq!(status, 404, "{path}");
    }
    let res = app.get("/api/v1/log/tile/0/002").await;
    assert_problem(res, 404, "not-found").await;
}

async fn nothing_is_served_until_a_witness_cosigns_and_receipts_are_completed_later(app: TestApp) {
    let log_key = app.log_key().await;
    let dir = tempfile::tempdir().unwrap();
    let vkey = init(dir.path(), "nairo.test/witness");
    // The witness will listen here, but is not started yet.
    let port = free_port();
    let keys = app.settings.accounts.keys_dir.to_str().unwrap().to_owned();
    let url = format!("http://127.0.0.1:{port}");
    let database = app.database_url();
    let data = app.data_dir.path().to_str().unwrap().to_owned();
    // The same database, keys and data (where mail lands), now with a witness configured.
    let witnessed = spawn_app_with(
        app.backend,
        &[
            ("IRO_ADVICE_DATA_DIR", &data),
            ("DATABASE_URL", &database),
            ("IRO_ADVICE_KEYS_DIR", &keys),
            ("IRO_ADVICE_WITNESS_URL", &url),
            ("IRO_ADVICE_WITNESS_KEY", &vkey),
        ],
    )
    .await
    .unwrap();
    let admin = witnessed.admin().await;
    let iro = witnessed
        .user(&admin, Role::Iro, Some("E06000019"), None)
        .await;
    let created = json(
        witnessed
            .post_json(
                "/api/v1/pressure-reports",
                Some(&iro.access),
                &serde_json::json!({"kind": "refused_funding", "occurred_on": "2026-11-02", "share_with_nairo": false}),
            )
            .await,
        201,
    )
    .await;
    // At the act, the receipt carries the log's own signature only.
    let at_act: Receipt = serde_json::from_value(created["receipt"].clone()).unwrap();
    assert!(!at_act
        .checkpoint
        .as_deref()
        .unwrap()
        .contains("nairo.test/witness"));

    // With the witness down: no checkpoint is served, and /readyz says why.
    let res = witnessed.get("/api/v1/log/checkpoint").await;
    assert_problem(res, 503, "log-not-witnessed").await;
    let ready = witness_problem(&witnessed).await;
    assert_eq!(ready["status"], "ready");
    assert!(
        ready["witnesses"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("cannot reach the witness"),
        "{ready}"
    );
    assert_eq!(ready["witnesses"][0]["refused_as_inconsistent"], false);
    // The operator's console reads the same.
    let operations = json(
        witnessed
            .get_auth("/api/v1/operations", &admin.access)
            .await,
        200,
    )
    .await;
    assert_eq!(operations["quorum"], 1, "{operations}");
    assert_eq!(operations["served_size"], 0, "{operations}");
    let w = &operations["witnesses"][0];
    assert_eq!(
        (
            w["name"].as_str(),
            w["key"].as_str(),
            w["failing"].as_bool()
        ),
        (Some("nairo.test/witness"), Some(vkey.as_str()), Some(true)),
        "{operations}"
    );
    assert!(w["problem"]
        .as_str()
        .is_some_and(|p| p.contains("cannot reach the witness")));
    // The operator's metrics say the same: the witness failing, nothing served yet.
    let metrics = crate::monitoring::scrape(&witnessed);
    let gauge = |text: &str, name: &str| {
        crate::monitoring::sample(text, &format!("{name}{{witness=\"nairo.test/witness\"}}"))
    };
    assert_eq!(
        gauge(&metrics, "iro_advice_witness_failing"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        gauge(&metrics, "iro_advice_witness_cosigned_size"),
        Some(0.0)
    );
    assert_eq!(
        crate::monitoring::sample(&metrics, "iro_advice_log_served_size"),
        Some(0.0)
    );
    let leaves = crate::monitoring::sample(&metrics, "iro_advice_log_leaves").unwrap();
    assert_eq!(
        gauge(&metrics, "iro_advice_witness_lag_leaves"),
        Some(leaves)
    );
    let receipts: Vec<Receipt> = serde_json::from_value(
        json(
            witnessed.get_auth("/api/v1/me/receipts", &iro.access).await,
            200,
        )
        .await,
    )
    .unwrap();
    assert!(receipts.iter().all(|r| !r
        .checkpoint
        .as_deref()
        .unwrap()
        .contains("nairo.test/witness")));

    // Nor is the web application's manifest: no proof of it exists under a witness yet.
    let res = witnessed
        .get("/.well-known/iro-advice/web-manifest.json")
        .await;
    assert_problem(res, 503, "log-not-witnessed").await;

    // The witness comes up: the backlog is cosigned in one submission, and served.
    let _witness = serve_with(dir.path(), &log_key, port, &[]).await;
    let note = served_checkpoint(&witnessed).await;
    assert!(note.contains("\n\u{2014} nairo.test/witness "), "{note}");
    let served_size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert!(served_size > at_act.leaf_index.unwrap());
    // The same act's receipt, now against the cosigned checkpoint, verifies with the
    // witness's key as well as the log's.
    let receipts: Vec<Receipt> = serde_json::from_value(
        json(
            witnessed.get_auth("/api/v1/me/receipts", &iro.access).await,
            200,
        )
        .await,
    )
    .unwrap();
    let completed = receipts
        .iter()
        .find(|r| r.leaf_data == at_act.leaf_data)
        .unwrap();
    assert_eq!(completed.checkpoint.as_deref(), Some(note.as_str()));
    completed.verify(&log_key).unwrap();
    let trust =
        iro_advice_tlog::trust::Trust::new(&log_key, std::slice::from_ref(&vkey), 1).unwrap();
    trust
        .open(completed.checkpoint.as_deref().unwrap())
        .unwrap();
    let ready = json(witnessed.get("/readyz").await, 200).await;
    assert_eq!(ready["witnesses"][0]["problem"], Value::Null, "{ready}");
    let operations = json(
        witnessed
            .get_auth("/api/v1/operations", &admin.access)
            .await,
        200,
    )
    .await;
    let w = &operations["witnesses"][0];
    assert_eq!(w["failing"], false, "{operations}");
    assert!(w.get("problem").is_none(), "{operations}");
    assert!(w["cosigned_size"].as_u64().unwrap() >= served_size);
    assert!(operations["served_size"].as_u64().unwrap() >= served_size);
    assert_eq!(ready["witnesses"][0]["cosigned_size"], served_size);
    let metrics = crate::monitoring::scrape(&witnessed);
    assert_eq!(
        gauge(&metrics, "iro_advice_witness_failing"),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        gauge(&metrics, "iro_advice_witness_cosigned_size").unwrap() >= served_size as f64,
        "{metrics}"
    );
    // The web application's manifest is now proven in the cosigned checkpoint.
    let published: iro_advice_api::WebAppProof = serde_json::from_value(
        json(
            witnessed
                .get("/.well-known/iro-advice/web-manifest.json")
                .await,
            200,
        )
        .await,
    )
    .unwrap();
    published.receipt.verify(&log_key).unwrap();
    let trust =
        iro_advice_tlog::trust::Trust::new(&log_key, std::slice::from_ref(&vkey), 1).unwrap();
    assert_eq!(
        trust
            .open(published.receipt.checkpoint.as_deref().unwrap())
            .unwrap()
            .1
            .len(),
        1
    );
    // The keys a client should pin are advertised.
    let trust = json(witnessed.get("/api/v1/log/trust").await, 200).await;
    assert_eq!(trust["log_key"], log_key.as_str());
    assert_eq!(trust["witnesses"][0], vkey.as_str());
    assert_eq!(trust["quorum"], 1);
}

/// `/readyz` once it reports a problem with the first witness.
async fn witness_problem(app: &TestApp) -> Value {
    eventually(10, "a witness problem in /readyz", || async {
        let ready = json(app.get("/readyz").await, 200).await;
        (!ready["witnesses"][0]["problem"].is_null()).then_some(ready)
    })
    .await
}

/// The first checkpoint the service serves (once a quorum has cosigned one). A witness that
/// was down is retried with a backoff that doubles to a minute, so under a loaded machine the
/// next attempt may be that far off.
async fn served_checkpoint(app: &TestApp) -> String {
    eventually(70, "a cosigned checkpoint", || async {
        let res = app.get("/api/v1/log/checkpoint").await;
        match res.status().as_u16() {
            200 => Some(res.text().await.unwrap()),
            _ => None,
        }
    })
    .await
}

#[actix_web::test]
async fn the_client_pins_keys_and_refuses_a_change() {
    let app = spawn_app_with(iro_advice_testkit::Backend::Sqlite, &[])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log_key = app.log_key().await;
    let witness_key = init(dir.path(), "nairo.test/witness");
    let _witness = serve(dir.path(), &log_key).await;
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let ca = app.data_dir.path().join("tls/dev-cert.pem");
    let profile = tempfile::tempdir().unwrap();
    let client = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
            .arg("client")
            .args(args)
            .arg("--profile-dir")
            .arg(profile.path())
            .env("IRO_ADVICE_PASSWORD", iro_advice_testkit::PASSWORD)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let login = |extra: &[&str]| {
        let code = app.fresh_totp(&iro);
        let mut args = vec![
            "login",
            "--server",
            &app.base,
            "--email",
            &iro.email,
            "--ca",
            ca.to_str().unwrap(),
            "--totp",
            &code,
        ];
        args.extend_from_slice(extra);
        client(&args)
    };
    // Told to require a witness this service does not use: its checkpoints are not trusted.
    let (code, _, err) = login(&["--log-key", &log_key, "--witness", &witness_key]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cosignatures from 0 of the witnesses"),
        "{err}"
    );
    // Nothing was kept, and no password was sent.
    assert!(!profile.path().join("tokens.json").exists());
    assert!(!profile.path().join("trust.json").exists());
    // A malformed key is refused before anything is sent.
    let (code, _, err) = login(&["--log-key", "not-a-key"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a log verifier key"), "{err}");

    // A fresh profile with the right log key pins it, and a later change is refused.
    std::fs::remove_dir_all(profile.path()).unwrap();
    let (code, out, err) = login(&["--log-key", &log_key]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Pinned the log key and 0 witness key(s) you gave"),
        "{out}"
    );
    let (code, _, err) = login(&["--log-key", &log_key, "--witness", &witness_key]);
    assert_eq!(code, 1);
    assert!(err.contains("refused: this profile pinned"), "{err}");
    let other = iro_advice_server::log::note::Signer::new(
        "127.0.0.1:8443/log",
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap()
    .verifier_key();
    let (code, _, err) = login(&["--log-key", &other]);
    assert_eq!(code, 1);
    assert!(err.contains("refused: this profile pinned"), "{err}");
    // The same keys again are fine, and so is trusting what was pinned.
    let (code, _, err) = login(&[]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = client(&["receipts"]);
    assert_eq!(code, 0, "{err}");
}

#[actix_web::test]
async fn a_witness_over_https_is_trusted_through_the_configured_ca_only() {
    let app = spawn_app_with(iro_advice_testkit::Backend::Sqlite, &[])
        .await
        .unwrap();
    let log_key = app.log_key().await;
    let dir = tempfile::tempdir().unwrap();
    let vkey = init(&dir.path().join("state"), "nairo.test/witness");
    let tls = iro_advice_server::tls::ensure_dev_certificate(dir.path()).unwrap();
    let port = free_port();
    let _witness = serve_with(
        &dir.path().join("state"),
        &log_key,
        port,
        &[
            "--tls-cert".as_ref(),
            tls.cert.as_os_str(),
            "--tls-key".as_ref(),
            tls.key.as_os_str(),
        ],
    )
    .await;
    let keys = app.settings.accounts.keys_dir.to_str().unwrap().to_owned();
    let url = format!("https://127.0.0.1:{port}");
    let witnessed = |ca: Option<String>| {
        let (keys, url, vkey) = (keys.clone(), url.clone(), vkey.clone());
        async move {
            let mut env = vec![
                ("IRO_ADVICE_KEYS_DIR".to_owned(), keys),
                ("IRO_ADVICE_WITNESS_URL".to_owned(), url),
                ("IRO_ADVICE_WITNESS_KEY".to_owned(), vkey),
            ];
            if let Some(ca) = ca {
                env.push(("IRO_ADVICE_WITNESS_CA".to_owned(), ca));
            }
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            spawn_app_with(iro_advice_testkit::Backend::Sqlite, &env)
                .await
                .unwrap()
        }
    };
    // Without the CA, the witness's certificate is not trusted: nothing is cosigned.
    let untrusting = witnessed(None).await;
    let ready = witness_problem(&untrusting).await;
    assert!(
        ready["witnesses"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{ready}"
    );
    let res = untrusting.get("/api/v1/log/checkpoint").await;
    assert_problem(res, 503, "log-not-witnessed").await;
    // With it, the checkpoint is cosigned over HTTPS.
    let trusting = witnessed(Some(tls.cert.display().to_string())).await;
    let note = served_checkpoint(&trusting).await;
    assert!(note.contains("\n\u{2014} nairo.test/witness "), "{note}");
}
