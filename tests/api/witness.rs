//! The witness, run as the real binary against the real log: it cosigns consistent
//! checkpoints, answers each refusal as C2SP tlog-witness says, keeps evidence of a log that
//! shows two views, and remembers across restarts. Its cosignatures are checked here with
//! an implementation written from the C2SP tlog-cosignature text, not the witness's code.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;

use iro_advice_testkit::{json, spawn_app_with, Backend, TestApp};

use iro_advice_testkit::{binary, init, log_verify_against as log_verify, serve, WitnessProcess};

/// Sends an add-checkpoint body; returns the status, content type and body.
async fn add(app: &TestApp, witness: &WitnessProcess, body: String) -> (u16, String, String) {
    let res = app
        .client
        .post(&witness.url)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

async fn checkpoint(app: &TestApp) -> (u64, String) {
    let note = app
        .get("/api/v1/log/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    let size = note.lines().nth(1).unwrap().parse().unwrap();
    (size, note)
}

async fn proof(app: &TestApp, from: u64, to: u64) -> Vec<String> {
    let body: Value = json(
        app.get(&format!(
            "/api/v1/log/proof/consistency?from={from}&to={to}"
        ))
        .await,
        200,
    )
    .await;
    body["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect()
}

fn request(old: u64, proof: &[String], note: &str) -> String {
    let mut body = format!("old {old}\n");
    for hash in proof {
        body.push_str(hash);
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body
}

/// A `cosignature/v1` check written from c2sp.org/tlog-cosignature: the key ID is
/// SHA-256(name || "\n" || 0x04 || key)[:4], the signature is over "cosignature/v1\n",
/// "time <t>\n" and the checkpoint body, and the line carries key ID || u64 time || sig.
fn check_cosignature(vkey: &str, note: &str, line: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let mut parts = vkey.splitn(3, '+');
    let (name, id, key) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        B64.decode(parts.next().unwrap()).unwrap(),
    );
    assert_eq!(key[0], 0x04, "a cosignature/v1 key");
    let mut h = Sha256::new();
    h.update(format!("{name}\n").as_bytes());
    h.update([0x04]);
    h.update(&key[1..]);
    let expected_id: String = h.finalize()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(id, expected_id);

    let (line_name, sig) = line
        .strip_prefix("\u{2014} ")
        .and_then(|l| l.trim_end().split_once(' '))
        .expect("a note signature line");
    assert_eq!(line_name, name);
    let sig = B64.decode(sig).unwrap();
    assert_eq!(sig.len(), 4 + 8 + 64);
    assert_eq!(
        sig[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        id
    );
    let time = u64::from_be_bytes(sig[4..12].try_into().unwrap());
    let body = &note[..note.find("\n\n").unwrap() + 1];
    let message = format!("cosignature/v1\ntime {time}\n{body}");
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key[1..])
        .verify(message.as_bytes(), &sig[12..])
        .expect("the cosignature verifies");
    time
}

#[actix_web::test]
async fn the_witness_cosigns_only_a_consistent_log_and_keeps_evidence_of_a_fork() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await.unwrap();
    let log_key = app
        .get("/api/v1/log/key")
        .await
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let vkey = init(dir.path(), "nairo.test/witness");
    // Its key is kept for life.
    let again = binary()
        .args(["witness", "init", "--data-dir"])
        .arg(dir.path())
        .args(["--name", "another"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    let witness = serve(dir.path(), &log_key).await;

    // The first checkpoint, from the empty tree: cosigned, the cosignature as the spec says.
    app.admin().await;
    let (first, note) = checkpoint(&app).await;
    assert!(first >= 2);
    let (status, kind, body) = add(&app, &witness, request(0, &[], &note)).await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/plain; charset=utf-8"),
        "{body}"
    );
    let time = check_cosignature(&vkey, &note, &body);
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(time <= now && time + 60 > now);

    // A later one, with the consistency proof from the first.
    app.admin().await;
    let (second, note2) = checkpoint(&app).await;
    let hashes = proof(&app, first, second).await;
    let (status, _, body) = add(&app, &witness, request(first, &hashes, &note2)).await;
    assert_eq!(status, 200, "{body}");
    check_cosignature(&vkey, &note2, &body);

    // A client whose old size is stale learns the size the witness holds.
    let (status, kind, body) = add(&app, &witness, request(first, &hashes, &note2)).await;
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (409, "text/x.tlog.size", &*format!("{second}\n"))
    );

    // A proof that does not verify: 422, and nothing cosigned.
    app.admin().await;
    let (third, note3) = checkpoint(&app).await;
    let mut bad = proof(&app, second, third).await;
    bad[0] = B64.encode([7u8; 32]);
    let (status, _, _) = add(&app, &witness, request(second, &bad, &note3)).await;
    assert_eq!(status, 422);
    // Malformed, unsigned, an unknown log, an old size beyond the checkpoint's.
    let (status, _, _) = add(&app, &witness, "old 1\n".into()).await;
    assert_eq!(status, 400);
    let origin = note3.lines().next().unwrap();
    let unsigned = note3.replace(
        note3.lines().last().unwrap(),
        &format!("\u{2014} {origin} AAAAAA=="),
    );
    let (status, _, _) = add(&app, &witness, request(second, &[], &unsigned)).await;
    assert_eq!(status, 403);
    let other_log = note3.replacen(origin, "elsewhere.example/log", 1);
    let (status, _, _) = add(&app, &witness, request(second, &[], &other_log)).await;
    assert_eq!(status, 404);
    let (status, _, _) = add(&app, &witness, request(third + 1, &[], &note3)).await;
    assert_eq!(status, 400);

    // The witness remembers across a restart.
    drop(witness);
    let witness = serve(dir.path(), &log_key).await;
    let (status, _, body) = add(&app, &witness, request(first, &[], &note2)).await;
    assert_eq!((status, body), (409, format!("{second}\n")));
    let hashes3 = proof(&app, second, third).await;
    let (status, _, body) = add(&app, &witness, request(second, &hashes3, &note3)).await;
    assert_eq!(status, 200, "{body}");

    // A second instance with the same keys but its own database: a fork of the log. Its
    // checkpoint at a size the witness cosigned has another root, and is kept as evidence.
    let keys = app.settings.accounts.keys_dir.to_str().unwrap().to_owned();
    let fork = spawn_app_with(Backend::Sqlite, &[("IRO_ADVICE_KEYS_DIR", &keys)])
        .await
        .unwrap();
    while checkpoint(&fork).await.0 < first {
        fork.admin().await;
    }
    let (size, forked) = checkpoint(&fork).await;
    assert_eq!(size, first, "the fork reaches a size the witness cosigned");
    assert_ne!(forked, note, "with another root");
    // Sent with the witness's own size as the old one, it is not even a valid request
    // (400), but it is log-signed and contradicts a cosigned checkpoint: kept all the same.
    let (status, _, body) = add(&fork, &witness, request(third, &[], &forked)).await;
    assert_eq!(status, 400, "{body}");
    let out = binary()
        .args(["witness", "evidence", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains(&forked),
        "the refused checkpoint is kept whole: {printed}"
    );
    assert!(printed.contains("two views"), "{printed}");
    // The bad proof earlier is evidence too, and the witness never cosigned the fork.
    assert!(printed.contains(&note3) || printed.contains("does not verify"));
    // From the empty tree, the old size is stale whatever the root: the witness's size.
    let (status, kind, body) = add(&fork, &witness, request(0, &[], &forked)).await;
    assert_eq!(
        (status, kind.as_str(), body),
        (409, "text/x.tlog.size", format!("{third}\n"))
    );
    // At the size the witness holds, with another root: 409 without a size, as the spec says.
    while checkpoint(&fork).await.0 < third {
        fork.admin().await;
    }
    let (size, forked_third) = checkpoint(&fork).await;
    assert_eq!(size, third);
    let (status, kind, body) = add(&fork, &witness, request(third, &[], &forked_third)).await;
    assert_eq!(
        (status, kind.as_str()),
        (409, "text/plain; charset=utf-8"),
        "{body}"
    );
}

#[actix_web::test]
async fn log_verify_against_outside_checkpoints_catches_a_restore_and_a_fork() {
    use diesel::RunQueryDsl;
    let app = spawn_app_with(Backend::Sqlite, &[]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let live = app.settings.server.data_dir.join("test.db");
    let live_url = format!("sqlite://{}", live.display());
    app.admin().await;
    let (_, early) = checkpoint(&app).await;
    let early_file = dir.path().join("early.checkpoint");
    std::fs::write(&early_file, &early).unwrap();
    // The operator's backup, taken now.
    let backup = dir.path().join("backup.db");
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::sql_query(format!("VACUUM INTO '{}'", backup.display()))
            .execute(&mut *conn)
            .unwrap();
    }
    // Later acts; a client, or a witness, keeps the newer checkpoint.
    app.admin().await;
    let (later_size, later) = checkpoint(&app).await;
    let later_file = dir.path().join("later.checkpoint");
    std::fs::write(&later_file, &later).unwrap();

    let (ok, text) = log_verify(&app, &live_url, &[&early_file, &later_file]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("extends it (size {later_size})")),
        "{text}"
    );

    // The database restored from the backup: its own checkpoints are whole, but it is
    // behind the checkpoint held outside it.
    let restored_url = format!("sqlite://{}", backup.display());
    let (ok, text) = log_verify(&app, &restored_url, &[&early_file]);
    assert!(ok, "{text}");
    let (ok, text) = log_verify(&app, &restored_url, &[&later_file]);
    assert!(!ok);
    assert!(text.contains("rolled back"), "{text}");

    // New acts on the restored database reach the same size with other leaves: a fork.
    let keys = app.settings.accounts.keys_dir.to_str().unwrap().to_owned();
    let restored = spawn_app_with(
        Backend::Sqlite,
        &[
            ("DATABASE_URL", &restored_url),
            ("IRO_ADVICE_KEYS_DIR", &keys),
        ],
    )
    .await
    .unwrap();
    restored.admin().await;
    assert_eq!(checkpoint(&restored).await.0, later_size);
    drop(restored);
    let (ok, text) = log_verify(&app, &restored_url, &[&later_file]);
    assert!(!ok);
    assert!(text.contains("rewritten or forked"), "{text}");
    // A checkpoint of another log is not evidence about this one.
    let foreign = dir.path().join("foreign.checkpoint");
    std::fs::write(
        &foreign,
        later.replacen("127.0.0.1:8443/log", "other.example/log", 1),
    )
    .unwrap();
    let (ok, text) = log_verify(&app, &live_url, &[&foreign]);
    assert!(!ok);
    assert!(
        text.contains("not a checkpoint signed by this log's key"),
        "{text}"
    );
}
