//! The request log over HTTPS, on both databases: one leaf per act and none for a refusal,
//! receipts that verify offline, proofs, `log verify` catching tampering, erasure keeping the
//! log whole, and pressure reports.

use std::process::Command;

use iro_advice_model::accounts::{AdviserKind, Role};
use iro_advice_server::log::merkle;
use iro_advice_server::log::note::{open_checkpoint, Verifier};
use serde_json::{json, Value};

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{armored, decrypt, encrypt};
use iro_advice_testkit::{assert_problem, json, log_verify, TestApp};

both_databases!(
    account_acts_add_one_leaf_each_and_refusals_none,
    query_acts_add_one_leaf_each_and_refusals_none,
    leaves_name_nobody_and_openings_the_iro_by_pseudonym,
    receipts_verify_offline_and_proofs_check_out,
    log_verify_finds_tampering_and_survives_erasure,
    pressure_reports_reach_nairo_only_when_shared,
    concurrent_appends_from_many_connections_extend_one_tree,
    an_attachment_is_replaced_with_a_leaf_only_until_the_other_party_has_it,
);

fn leaves(app: &TestApp) -> i64 {
    app.count("log_leaves")
}

fn last_kind(app: &TestApp) -> String {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::log_leaves;
    let db = app.database();
    let mut conn = db.get().unwrap();
    log_leaves::table
        .order(log_leaves::idx.desc())
        .select(log_leaves::kind)
        .first(&mut *conn)
        .unwrap()
}

/// Runs `f`, then checks it added exactly one leaf, of `kind`.
macro_rules! one_leaf {
    ($app:expr, $kind:expr, $act:expr) => {{
        let before = leaves(&$app);
        let out = $act;
        assert_eq!(
            leaves(&$app),
            before + 1,
            "{} added {} leaves",
            $kind,
            leaves(&$app) - before
        );
        assert_eq!(last_kind(&$app), $kind);
        out
    }};
}

/// Runs `f`, then checks it added no leaf.
macro_rules! no_leaf {
    ($app:expr, $act:expr) => {{
        let before = leaves(&$app);
        let out = $act;
        assert_eq!(leaves(&$app), before, "a refused act added a leaf");
        out
    }};
}

async fn account_acts_add_one_leaf_each_and_refusals_none(app: TestApp) {
    // The web application's manifest at start; then the CLI invitation, the account
    // created, its sign-in and its second factor enrolled.
    let admin = app.admin().await;
    assert_eq!(leaves(&app), 5);
    let email = format!("{}@iro.test", iro_advice_testkit::unique_name("iro"));
    let invitation = one_leaf!(
        app,
        "account_invited",
        app.invite(
            &admin.access,
            &json!({"role": "iro", "email": email, "authority_code": "E06000019"})
        )
        .await
    );
    let created = one_leaf!(app, "account_created", {
        let created = app.sign_up(&invitation, iro_advice_testkit::PASSWORD).await;
        assert!(created["receipt"]["leaf_index"].as_u64().is_some());
        created
    });
    // Every sign-in is a leaf of its own, tagged for the account's owner.
    let tokens = one_leaf!(app, "signed_in", {
        json(
            app.login(&email, iro_advice_testkit::PASSWORD, None).await,
            200,
        )
        .await
    });
    let (iro_id, iro_access) = (
        created["id"].as_str().unwrap().to_owned(),
        tokens["access_token"].as_str().unwrap().to_owned(),
    );
    let iro_secret = one_leaf!(
        app,
        "second_factor_enrolled",
        app.enrol_totp(&iro_access).await
    );
    no_leaf!(
        app,
        assert_problem(
            app.post_json(
                "/api/v1/invitations",
                Some(&admin.access),
                &json!({"role": "iro", "email": "x@y.test"})
            )
            .await,
            422,
            "invalid-invitation"
        )
        .await
    );
    one_leaf!(
        app,
        "account_suspended",
        assert_eq!(
            app.post_json(
                &format!("/api/v1/accounts/{iro_id}/suspend"),
                Some(&admin.access),
                &json!({})
            )
            .await
            .status(),
            204
        )
    );
    one_leaf!(
        app,
        "account_reactivated",
        assert_eq!(
            app.post_json(
                &format!("/api/v1/accounts/{iro_id}/reactivate"),
                Some(&admin.access),
                &json!({})
            )
            .await
            .status(),
            204
        )
    );
    no_leaf!(
        app,
        assert_problem(
            app.post_json(
                "/api/v1/accounts/nobody/suspend",
                Some(&admin.access),
                &json!({})
            )
            .await,
            404,
            "not-found"
        )
        .await
    );
    let tokens = json(
        app.login(
            &iro_access_email(&app, &iro_id),
            iro_advice_testkit::PASSWORD,
            Some(&iro_advice_testkit::totp_code(&iro_secret, 1)),
        )
        .await,
        200,
    )
    .await;
    let iro_access = tokens["access_token"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().date_naive();
    one_leaf!(app, "pressure_reported", json(app.post_json("/api/v1/pressure-reports", Some(&iro_access), &json!({"kind": "discouraged_from_advice", "occurred_on": today.to_string(), "share_with_nairo": false})).await, 201).await);
    no_leaf!(app, assert_problem(app.post_json("/api/v1/pressure-reports", Some(&iro_access), &json!({"kind": "other", "occurred_on": (today + chrono::Duration::days(2)).to_string()})).await, 422, "invalid-date").await);
    no_leaf!(
        app,
        assert_eq!(
            app.post_json(
                "/api/v1/pressure-reports",
                Some(&iro_access),
                &json!({"kind": "made_up", "occurred_on": today.to_string()})
            )
            .await
            .status(),
            400
        )
    );
}

/// An admin, an IRO and two solicitors with keys: who the query tests need.
struct People {
    admin: iro_advice_testkit::User,
    iro_id: String,
    iro_access: String,
    iro_key: age::x25519::Identity,
    adviser: iro_advice_testkit::User,
    a_key: age::x25519::Identity,
    other: iro_advice_testkit::User,
    o_key: age::x25519::Identity,
}

async fn people(app: &TestApp) -> People {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let other = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    People {
        iro_key: app.register_key(&iro).await,
        a_key: app.register_key(&adviser).await,
        o_key: app.register_key(&other).await,
        iro_id: iro.id,
        iro_access: iro.access,
        admin,
        adviser,
        other,
    }
}

async fn query_acts_add_one_leaf_each_and_refusals_none(app: TestApp) {
    let People {
        iro_id,
        iro_access,
        iro_key,
        adviser,
        a_key,
        other,
        o_key,
        ..
    } = people(&app).await;
    let to_adviser = [iro_key.to_public(), a_key.to_public()];
    // Refusals: nothing in the log.
    no_leaf!(app, assert_problem(app.post_json("/api/v1/queries", Some(&iro_access), &json!({"adviser_id": iro_id, "category": "other", "stage": "none", "urgency": "routine", "body": armored("q", &to_adviser)})).await, 422, "adviser-not-eligible").await);
    no_leaf!(app, assert_eq!(app.post_json("/api/v1/queries", Some(&iro_access), &json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "routine", "body": "plain"})).await.status(), 400));
    let asked = one_leaf!(app, "query_submitted", json(app.post_json("/api/v1/queries", Some(&iro_access), &json!({"adviser_id": adviser.id, "category": "placement", "stage": "formal", "urgency": "routine", "body": armored("q", &to_adviser)})).await, 201).await);
    let id = asked["id"].as_str().unwrap().to_owned();
    assert!(asked["receipt"]["checkpoint"]
        .as_str()
        .unwrap()
        .contains("\n\n\u{2014} "));
    no_leaf!(
        app,
        assert_problem(
            app.post_json(
                &format!("/api/v1/queries/{id}/messages"),
                Some(&adviser.access),
                &json!({"body": armored("early", &to_adviser)})
            )
            .await,
            409,
            "query-state"
        )
        .await
    );
    one_leaf!(
        app,
        "message_sent",
        json(
            app.post_json(
                &format!("/api/v1/queries/{id}/messages"),
                Some(&iro_access),
                &json!({"body": armored("more", &to_adviser)})
            )
            .await,
            201
        )
        .await
    );
    one_leaf!(
        app,
        "query_declined",
        json(
            app.post_json(
                &format!("/api/v1/queries/{id}/decline"),
                Some(&adviser.access),
                &json!({"reason": "capacity"})
            )
            .await,
            200
        )
        .await
    );
    let shown = json(
        app.get_auth(&format!("/api/v1/queries/{id}"), &iro_access)
            .await,
        200,
    )
    .await;
    let to_other = [iro_key.to_public(), o_key.to_public()];
    let messages: Vec<Value> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| json!({"id": m["id"], "body": armored("again", &to_other)}))
        .collect();
    no_leaf!(
        app,
        assert_problem(
            app.post_json(
                &format!("/api/v1/queries/{id}/route"),
                Some(&iro_access),
                &json!({"adviser_id": other.id, "messages": []})
            )
            .await,
            422,
            "messages-mismatch"
        )
        .await
    );
    one_leaf!(
        app,
        "query_routed",
        json(
            app.post_json(
                &format!("/api/v1/queries/{id}/route"),
                Some(&iro_access),
                &json!({"adviser_id": other.id, "messages": messages})
            )
            .await,
            200
        )
        .await
    );
    one_leaf!(
        app,
        "query_accepted",
        json(
            app.post_json(
                &format!("/api/v1/queries/{id}/accept"),
                Some(&other.access),
                &json!({})
            )
            .await,
            200
        )
        .await
    );
    let attached = one_leaf!(app, "attachment_added", {
        let upload = app
            .client
            .post(app.url(&format!("/api/v1/queries/{id}/attachments")))
            .bearer_auth(&other.access)
            .body(encrypt(b"doc", &to_other, false))
            .send()
            .await
            .unwrap();
        json(upload, 201).await
    });
    assert!(attached["receipt"].is_object());
    no_leaf!(
        app,
        assert_eq!(
            app.client
                .post(app.url(&format!("/api/v1/queries/{id}/attachments")))
                .bearer_auth(&other.access)
                .body(b"plain".to_vec())
                .send()
                .await
                .unwrap()
                .status(),
            400
        )
    );
    one_leaf!(
        app,
        "query_closed",
        json(
            app.post_json(
                &format!("/api/v1/queries/{id}/close"),
                Some(&iro_access),
                &json!({"outcome": "escalated"})
            )
            .await,
            200
        )
        .await
    );
    no_leaf!(
        app,
        assert_problem(
            app.post_json(
                &format!("/api/v1/queries/{id}/close"),
                Some(&iro_access),
                &json!({"outcome": "escalated"})
            )
            .await,
            409,
            "query-state"
        )
        .await
    );
}

async fn leaves_name_nobody_and_openings_the_iro_by_pseudonym(app: TestApp) {
    let People {
        admin,
        iro_id,
        iro_access,
        iro_key,
        adviser,
        a_key,
        other,
        ..
    } = people(&app).await;
    let to_adviser = [iro_key.to_public(), a_key.to_public()];
    let asked = json(app.post_json("/api/v1/queries", Some(&iro_access), &json!({"adviser_id": adviser.id, "category": "placement", "stage": "formal", "urgency": "routine", "body": armored("q", &to_adviser)})).await, 201).await;
    let id = asked["id"].as_str().unwrap().to_owned();
    json(
        app.post_json(
            &format!("/api/v1/queries/{id}/decline"),
            Some(&adviser.access),
            &json!({"reason": "capacity"}),
        )
        .await,
        200,
    )
    .await;
    let today = chrono::Utc::now().date_naive().to_string();
    json(
        app.post_json(
            "/api/v1/pressure-reports",
            Some(&iro_access),
            &json!({"kind": "other", "occurred_on": today, "share_with_nairo": false}),
        )
        .await,
        201,
    )
    .await;

    // The leaf data names nobody: no id, email, authority or pseudonym appears in any leaf;
    // the IRO's pseudonym and authority code are only in the openings the service keeps.
    use diesel::prelude::*;
    use iro_advice_server::db::schema::{log_leaves, log_openings};
    let db = app.database();
    let mut conn = db.get().unwrap();
    let all: Vec<Vec<u8>> = log_leaves::table
        .select(log_leaves::data)
        .load(&mut *conn)
        .unwrap();
    let pseudonym = app
        .log_keys()
        .actor_pseudonym(iro_advice_server::log::Actor::Account(&iro_id));
    for data in &all {
        let text = String::from_utf8_lossy(data);
        for id in [&iro_id, &adviser.id, &other.id, &admin.id, &id] {
            assert!(!text.contains(id.as_str()));
        }
        assert!(!text.contains('@') || !text.contains(".test"));
        assert!(!text.contains("Herefordshire"));
        assert!(!data.windows(9).any(|w| w == b"E06000019"));
        assert!(!data.windows(32).any(|w| w == pseudonym));
    }
    assert!(all.len() >= 5, "only {} leaves", all.len());
    let bodies: Vec<Vec<u8>> = log_openings::table
        .select(log_openings::body)
        .load(&mut *conn)
        .unwrap();
    assert!(bodies
        .iter()
        .any(|d| d.windows(32).any(|w| w == pseudonym) && d.windows(9).any(|w| w == b"E06000019")));
}

fn iro_access_email(app: &TestApp, id: &str) -> String {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::accounts;
    let db = app.database();
    let mut conn = db.get().unwrap();
    accounts::table
        .find(id)
        .select(accounts::email)
        .first(&mut *conn)
        .unwrap()
}

async fn receipts_verify_offline_and_proofs_check_out(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let recipients = [
        app.register_key(&iro).await.to_public(),
        app.register_key(&adviser).await.to_public(),
    ];
    let asked = json(app.post_json("/api/v1/queries", Some(&iro.access), &json!({"adviser_id": adviser.id, "category": "contact", "stage": "none", "urgency": "urgent", "body": armored("q", &recipients)})).await, 201).await;
    let key = app.get("/api/v1/log/key").await.text().await.unwrap();
    let key = key.trim();
    let verifier = Verifier::parse(key).unwrap();

    // The receipt in the answer verifies offline with the command.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receipt.json");
    std::fs::write(&file, serde_json::to_vec(&asked["receipt"]).unwrap()).unwrap();
    let verify = |file: &std::path::Path, key: &str| {
        Command::new(env!("CARGO_BIN_EXE_iro-advice"))
            .args(["receipt", "verify"])
            .arg(file)
            .args(["--key", key])
            .env_clear()
            .output()
            .unwrap()
    };
    let out = verify(&file, key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("receipt verified"));
    // The key may also come from a file.
    let key_file = dir.path().join("log.vkey");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    assert!(verify(&file, key_file.to_str().unwrap()).status.success());

    // A changed leaf, index, proof or key fails.
    let mut bad = asked["receipt"].clone();
    bad["leaf_data"] = json!(base64_flip(bad["leaf_data"].as_str().unwrap()));
    let mut moved = asked["receipt"].clone();
    moved["leaf_index"] = json!(moved["leaf_index"].as_u64().unwrap() + 1);
    let mut forged = asked["receipt"].clone();
    forged["checkpoint"] = json!(forged["checkpoint"]
        .as_str()
        .unwrap()
        .replacen("\n", "\n9", 1));
    for (what, r) in [("leaf", bad), ("index", moved), ("checkpoint", forged)] {
        std::fs::write(&file, serde_json::to_vec(&r).unwrap()).unwrap();
        let out = verify(&file, key);
        assert!(!out.status.success(), "a changed {what} verified");
    }
    let other_key = iro_advice_server::log::note::Signer::new(
        verifier.name(),
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap()
    .verifier_key();
    std::fs::write(&file, serde_json::to_vec(&asked["receipt"]).unwrap()).unwrap();
    assert!(!verify(&file, &other_key).status.success());

    // More acts, then every receipt of the IRO's, against the latest checkpoint.
    let id = asked["id"].as_str().unwrap();
    json(
        app.post_json(
            &format!("/api/v1/queries/{id}/messages"),
            Some(&iro.access),
            &json!({"body": armored("m", &recipients)}),
        )
        .await,
        201,
    )
    .await;
    json(
        app.post_json(
            &format!("/api/v1/queries/{id}/accept"),
            Some(&adviser.access),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let receipts = json(app.get_auth("/api/v1/me/receipts", &iro.access).await, 200).await;
    let receipts = receipts.as_array().unwrap();
    // account created, signed in, second factor enrolled, key registered, query submitted,
    // message sent; the acceptance was the adviser's.
    assert_eq!(receipts.len(), 6, "{receipts:?}");
    let size = leaves(&app) as u64;
    for r in receipts {
        let receipt: iro_advice_server::log::Receipt = serde_json::from_value(r.clone()).unwrap();
        let cp = receipt.verify(key).unwrap();
        assert_eq!(cp.size, size);
    }
    let adviser_receipts = json(
        app.get_auth("/api/v1/me/receipts", &adviser.access).await,
        200,
    )
    .await;
    assert_eq!(
        adviser_receipts.as_array().unwrap().len(),
        5,
        "account created, signed in, second factor enrolled, key registered, query accepted"
    );

    // The public checkpoint and proofs agree with each other.
    let note = app
        .get("/api/v1/log/checkpoint")
        .await
        .text()
        .await
        .unwrap();
    let cp = open_checkpoint(&verifier, &note).unwrap();
    assert_eq!(cp.size, size);
    let first = receipts[0]["leaf_index"].as_u64().unwrap();
    let proof = json(
        app.get(&format!(
            "/api/v1/log/proof/inclusion?index={first}&size={size}"
        ))
        .await,
        200,
    )
    .await;
    let hashes = decode(&proof["hashes"]);
    let data = base64_decode(receipts[0]["leaf_data"].as_str().unwrap());
    assert!(merkle::verify_inclusion(
        &merkle::leaf_hash(&data),
        first,
        size,
        &hashes,
        &cp.root
    ));
    let old: iro_advice_server::log::Receipt =
        serde_json::from_value(asked["receipt"].clone()).unwrap();
    let old_cp = old.verify(key).unwrap();
    let consistency = json(
        app.get(&format!(
            "/api/v1/log/proof/consistency?from={}&to={size}",
            old_cp.size
        ))
        .await,
        200,
    )
    .await;
    assert!(merkle::verify_consistency(
        old_cp.size,
        size,
        &old_cp.root,
        &cp.root,
        &decode(&consistency["hashes"])
    ));
    assert_problem(
        app.get(&format!(
            "/api/v1/log/proof/inclusion?index={size}&size={size}"
        ))
        .await,
        400,
        "invalid-proof-request",
    )
    .await;
    assert_problem(
        app.get(&format!(
            "/api/v1/log/proof/consistency?from=1&to={}",
            size + 1
        ))
        .await,
        400,
        "invalid-proof-request",
    )
    .await;
    assert_problem(
        app.get("/api/v1/log/proof/inclusion?index=x").await,
        400,
        "bad-request",
    )
    .await;
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_flip(s: &str) -> String {
    use base64::Engine;
    let mut bytes = base64_decode(s);
    bytes[1] ^= 1;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(hashes: &Value) -> Vec<merkle::Hash> {
    hashes
        .as_array()
        .unwrap()
        .iter()
        .map(|h| base64_decode(h.as_str().unwrap()).try_into().unwrap())
        .collect()
}

fn sql(app: &TestApp, statement: &str) {
    use diesel::prelude::*;
    let db = app.database();
    let mut conn = db.get().unwrap();
    diesel::sql_query(statement).execute(&mut *conn).unwrap();
}

fn leaf_data(app: &TestApp, idx: i64) -> Vec<u8> {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::log_leaves;
    let db = app.database();
    let mut conn = db.get().unwrap();
    log_leaves::table
        .find(idx)
        .select(log_leaves::data)
        .first(&mut *conn)
        .unwrap()
}

fn set_leaf_data(app: &TestApp, idx: i64, data: &[u8]) {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::log_leaves;
    let db = app.database();
    let mut conn = db.get().unwrap();
    diesel::update(log_leaves::table.find(idx))
        .set(log_leaves::data.eq(data))
        .execute(&mut *conn)
        .unwrap();
}

fn set_leaf_hash(app: &TestApp, idx: i64, hash: &[u8]) {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::log_nodes;
    let db = app.database();
    let mut conn = db.get().unwrap();
    diesel::update(log_nodes::table.find((0, idx)))
        .set(log_nodes::hash.eq(hash))
        .execute(&mut *conn)
        .unwrap();
}

async fn log_verify_finds_tampering_and_survives_erasure(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let recipients = [
        app.register_key(&iro).await.to_public(),
        app.register_key(&adviser).await.to_public(),
    ];
    let mut ids = Vec::new();
    for i in 0..3 {
        let asked = json(app.post_json("/api/v1/queries", Some(&iro.access), &json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "routine", "body": armored(&format!("q{i}"), &recipients)})).await, 201).await;
        ids.push(asked["id"].as_str().unwrap().to_owned());
    }
    let n = leaves(&app);
    assert!(n >= 9, "{n}");
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("{n} leaves")), "{text}");

    // Editing a leaf's data.
    let original = leaf_data(&app, 3);
    let mut edited = original.clone();
    edited[12] ^= 0x20;
    set_leaf_data(&app, 3, &edited);
    let (ok, text) = log_verify(&app);
    assert!(!ok && text.contains("at index 3"), "{text}");
    // Editing the data and its stored hash together: the signed checkpoints still catch it.
    set_leaf_hash(&app, 3, &merkle::leaf_hash(&edited));
    let (ok, text) = log_verify(&app);
    assert!(!ok && text.contains("at index 3"), "{text}");
    set_leaf_hash(&app, 3, &merkle::leaf_hash(&original));
    set_leaf_data(&app, 3, &original);
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");

    // Reordering two leaves.
    let (five, six) = (leaf_data(&app, 5), leaf_data(&app, 6));
    set_leaf_data(&app, 5, &six);
    set_leaf_data(&app, 6, &five);
    let (ok, text) = log_verify(&app);
    assert!(!ok && text.contains("at index 5"), "{text}");
    set_leaf_data(&app, 5, &five);
    set_leaf_data(&app, 6, &six);
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");

    // Altering an opening (the leaf's details), then withholding it.
    let opening: (i64, Vec<u8>, Vec<u8>, String) = {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::log_openings;
        let db = app.database();
        let mut conn = db.get().unwrap();
        log_openings::table.find(7i64).first(&mut *conn).unwrap()
    };
    sql(
        &app,
        "UPDATE log_openings SET details = 'category=other;stage=formal' WHERE idx = 7",
    );
    let (ok, text) = log_verify(&app);
    assert!(
        !ok && text.contains("opening of leaf 7") && text.contains("at index 7"),
        "{text}"
    );
    sql(&app, "DELETE FROM log_openings WHERE idx = 7");
    let (ok, text) = log_verify(&app);
    assert!(
        !ok && text.contains("leaf 7 has no stored opening"),
        "{text}"
    );
    {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::log_openings;
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::insert_into(log_openings::table)
            .values((
                log_openings::idx.eq(opening.0),
                log_openings::salt.eq(&opening.1),
                log_openings::body.eq(&opening.2),
                log_openings::details.eq(&opening.3),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");

    // Erasure deletes ciphertext, keeps every leaf, and adds one: the log still verifies.
    let out = Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["admin", "erase", "--query", &ids[0]])
        .env_clear()
        .env(
            "DATABASE_URL",
            match &app.pg {
                Some(pg) => pg.url.clone(),
                None => format!("sqlite://{}", app.data_dir.path().join("test.db").display()),
            },
        )
        .env("IRO_ADVICE_DATA_DIR", app.data_dir.path())
        .env("IRO_ADVICE_PUBLIC_URL", &app.settings.server.public_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leaves(&app), n + 1);
    assert_eq!(last_kind(&app), "content_erased");
    let shown = json(
        app.get_auth(&format!("/api/v1/queries/{}", ids[0]), &iro.access)
            .await,
        200,
    )
    .await;
    assert!(shown["messages"][0].get("body").is_none(), "{shown}");
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");
    // Routing and the server's own appends go on from the erased state.
    json(app.post_json("/api/v1/queries", Some(&iro.access), &json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "routine", "body": armored("after", &recipients)})).await, 201).await;

    // Deleting a leaf.
    sql(&app, "DELETE FROM log_openings WHERE idx = 4");
    sql(&app, "DELETE FROM log_leaves WHERE idx = 4");
    let (ok, text) = log_verify(&app);
    assert!(!ok && text.contains("at index 4"), "{text}");
    // And the server refuses to sign on top of a tree that no longer matches its last
    // checkpoint: here the largest stored subtree, which every root is built from.
    let size = leaves(&app) as u64 + 1;
    let top = 63 - size.leading_zeros();
    {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::log_nodes;
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::update(log_nodes::table.find((top as i32, 0i64)))
            .set(log_nodes::hash.eq(vec![0u8; 32]))
            .execute(&mut *conn)
            .unwrap();
    }
    let res = app.post_json("/api/v1/queries", Some(&iro.access), &json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "routine", "body": armored("refused", &recipients)})).await;
    assert_eq!(res.status(), 500);
    assert_eq!(app.count("queries"), 4, "no act without its leaf");
}

async fn pressure_reports_reach_nairo_only_when_shared(app: TestApp) {
    let nairo_identity = age::x25519::Identity::generate();
    let nairo_recipient = nairo_identity.to_public().to_string();
    let app = iro_advice_testkit::spawn_app_with(
        app.backend,
        &[("IRO_ADVICE_NAIRO_RECIPIENT", &nairo_recipient)],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let nairo = app.user(&admin, Role::Nairo, None, None).await;
    let iro = app.user(&admin, Role::Iro, Some("E08000025"), None).await;
    let other_iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let iro_key = app.register_key(&iro).await;
    let served = json(
        app.get_auth("/api/v1/nairo/recipient", &iro.access).await,
        200,
    )
    .await;
    assert_eq!(served["age_recipient"], nairo_recipient.as_str());
    let nairo_key: age::x25519::Recipient =
        served["age_recipient"].as_str().unwrap().parse().unwrap();

    let today = chrono::Utc::now().date_naive().to_string();
    let shared_text = "I was told a disciplinary would follow if I called a solicitor.";
    let shared = json(app.post_json("/api/v1/pressure-reports", Some(&iro.access), &json!({"kind": "threatened_discipline", "occurred_on": today, "narrative": armored(shared_text, &[iro_key.to_public(), nairo_key]), "share_with_nairo": true})).await, 201).await;
    let private = json(app.post_json("/api/v1/pressure-reports", Some(&iro.access), &json!({"kind": "refused_funding", "occurred_on": today, "narrative": armored("private", &[iro_key.to_public()]), "share_with_nairo": false})).await, 201).await;
    assert!(shared["receipt"].is_object() && private["receipt"].is_object());

    let mine = json(
        app.get_auth("/api/v1/pressure-reports", &iro.access).await,
        200,
    )
    .await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    let seen = json(
        app.get_auth("/api/v1/pressure-reports", &nairo.access)
            .await,
        200,
    )
    .await;
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], shared["id"]);
    assert_eq!(seen[0]["authority_code"], "E08000025");
    assert_eq!(seen[0]["kind"], "threatened_discipline");
    assert_eq!(
        decrypt(seen[0]["narrative"].as_str().unwrap(), &nairo_identity),
        shared_text
    );
    let theirs = json(
        app.get_auth("/api/v1/pressure-reports", &other_iro.access)
            .await,
        200,
    )
    .await;
    assert_eq!(theirs, json!([]));
    assert_problem(
        app.get_auth("/api/v1/pressure-reports", &admin.access)
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_json(
            "/api/v1/pressure-reports",
            Some(&nairo.access),
            &json!({"kind": "other", "occurred_on": today}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    // Without a NAIRO key, sharing is refused and nothing is recorded.
    let plain = iro_advice_testkit::spawn_app(app.backend).await.unwrap();
    let admin = plain.admin().await;
    let iro = plain.user(&admin, Role::Iro, Some("E06000019"), None).await;
    assert_problem(
        plain.get_auth("/api/v1/nairo/recipient", &iro.access).await,
        404,
        "not-found",
    )
    .await;
    let before = plain.count("log_leaves");
    let res = plain
        .post_json(
            "/api/v1/pressure-reports",
            Some(&iro.access),
            &json!({"kind": "other", "occurred_on": today, "share_with_nairo": true}),
        )
        .await;
    assert_problem(res, 422, "nairo-recipient-unset").await;
    assert_eq!(plain.count("log_leaves"), before);
    assert_eq!(plain.count("pressure_reports"), 0);
}

#[actix_web::test]
async fn the_client_records_pressure_and_keeps_receipts() {
    let nairo_identity = age::x25519::Identity::generate();
    let recipient = nairo_identity.to_public().to_string();
    let app = iro_advice_testkit::spawn_app_with(
        iro_advice_testkit::Backend::Sqlite,
        &[("IRO_ADVICE_NAIRO_RECIPIENT", &recipient)],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let nairo = app.user(&admin, Role::Nairo, None, None).await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let profile = tempfile::tempdir().unwrap();
    let client = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_iro-advice"))
            .arg("client")
            .args(args)
            .arg("--profile-dir")
            .arg(profile.path())
            .env("IRO_ADVICE_PASSWORD", iro_advice_testkit::PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let ca = app.data_dir.path().join("tls/dev-cert.pem");
    client(&[
        "login",
        "--server",
        &app.base,
        "--email",
        &iro.email,
        "--ca",
        ca.to_str().unwrap(),
        "--totp",
        &app.fresh_totp(&iro),
    ]);
    client(&["keygen"]);
    let narrative = profile.path().join("what-happened.txt");
    std::fs::write(
        &narrative,
        "My manager said the authority's lawyers are the only advice I may take.",
    )
    .unwrap();
    let out = client(&[
        "pressure",
        "--kind",
        "told_to_use_authority_lawyers",
        "--date",
        "2026-11-02",
        "--narrative",
        narrative.to_str().unwrap(),
        "--share-with-nairo",
    ]);
    assert!(out.contains("Recorded in the log as leaf"), "{out}");

    let shared = json(
        app.get_auth("/api/v1/pressure-reports", &nairo.access)
            .await,
        200,
    )
    .await;
    assert_eq!(shared[0]["kind"], "told_to_use_authority_lawyers");
    assert_eq!(shared[0]["occurred_on"], "2026-11-02");
    assert!(
        decrypt(shared[0]["narrative"].as_str().unwrap(), &nairo_identity)
            .contains("authority's lawyers")
    );

    let dir = profile.path().join("receipts");
    let out = client(&["receipts", "--out", dir.to_str().unwrap()]);
    // Account created, signed in (the test's session, then the client's), second factor
    // enrolled, key registered, pressure reported.
    assert!(out.starts_with("6 receipt(s). 6 new"), "{out}");
    let key = app.get("/api/v1/log/key").await.text().await.unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Six receipts, named by their leaves' hashes, and the newest checkpoint.
    let (receipts, checkpoints): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| {
        f.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("receipt-")
    });
    assert_eq!((receipts.len(), checkpoints.len()), (6, 1));
    let newest = std::fs::read_to_string(&checkpoints[0]).unwrap();
    assert!(
        newest.starts_with(key.split('+').next().unwrap()),
        "{newest}"
    );
    for file in &receipts {
        let receipt: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD
            .decode(receipt["leaf_data"].as_str().unwrap())
            .unwrap();
        let hash: String = iro_advice_server::log::merkle::leaf_hash(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            file.file_name().unwrap().to_str().unwrap(),
            format!("receipt-{hash}.json")
        );
    }
    // A second fetch writes nothing new and overwrites nothing.
    let before: Vec<_> = receipts.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let out = client(&["receipts", "--out", dir.to_str().unwrap()]);
    assert!(out.starts_with("6 receipt(s). 0 new"), "{out}");
    let after: Vec<_> = receipts.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(before, after);
    for file in receipts {
        let out = Command::new(env!("CARGO_BIN_EXE_iro-advice"))
            .args(["receipt", "verify"])
            .arg(&file)
            .args(["--key", key.trim()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Several writers at once, each with its own connection, as several instances would be:
/// the head row's lock keeps the tree one append-only sequence.
async fn concurrent_appends_from_many_connections_extend_one_tree(app: TestApp) {
    let before = leaves(&app);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let db = app.database();
            let keys = app.log_keys();
            std::thread::spawn(move || {
                let mut conn = db.get().unwrap();
                let mut receipts = Vec::new();
                for i in 0..25 {
                    let subject = format!("q-{w}-{i}");
                    let receipt = iro_advice_server::db::write_transaction(&mut conn, |c| {
                        iro_advice_server::log::record(
                            c,
                            &keys,
                            iro_advice_server::log::Event {
                                details: iro_advice_server::log::Details::None,
                                kind: iro_advice_server::log::Kind::QuerySubmitted,
                                actor: iro_advice_server::log::Actor::System,
                                subject: iro_advice_server::log::Subject::Query(&subject),
                                authority: None,
                            },
                        )
                    })
                    .unwrap();
                    receipts.push(receipt);
                }
                receipts
            })
        })
        .collect();
    let receipts: Vec<iro_advice_server::log::Receipt> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert_eq!(leaves(&app), before + 100);
    let mut indices: Vec<u64> = receipts.iter().map(|r| r.leaf_index.unwrap()).collect();
    indices.sort();
    indices.dedup();
    assert_eq!(indices.len(), 100, "every append got its own index");
    let key = app.get("/api/v1/log/key").await.text().await.unwrap();
    for r in &receipts {
        r.verify(key.trim()).unwrap();
    }
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");
}

#[actix_web::test]
async fn retention_erases_old_closed_queries_and_keeps_the_log_whole() {
    let app = iro_advice_testkit::spawn_app(iro_advice_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let recipients = [
        app.register_key(&iro).await.to_public(),
        app.register_key(&adviser).await.to_public(),
    ];
    let mut ids = Vec::new();
    for _ in 0..2 {
        let asked = json(app.post_json("/api/v1/queries", Some(&iro.access), &json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "routine", "body": armored("q", &recipients)})).await, 201).await;
        let id = asked["id"].as_str().unwrap().to_owned();
        json(
            app.post_json(
                &format!("/api/v1/queries/{id}/close"),
                Some(&iro.access),
                &json!({"outcome": "withdrawn"}),
            )
            .await,
            200,
        )
        .await;
        ids.push(id);
    }
    // The first was closed long ago.
    sql(
        &app,
        &format!(
            "UPDATE queries SET closed_at = '2020-01-01 00:00:00' WHERE id = '{}'",
            ids[0]
        ),
    );
    let db = app.database();
    let mut conn = db.get().unwrap();
    let before = leaves(&app);
    let erased =
        iro_advice_server::queries::erasure::apply_retention(&mut conn, &app.log_keys(), 30)
            .unwrap();
    assert_eq!(erased, 1);
    assert_eq!(leaves(&app), before + 1);
    assert_eq!(last_kind(&app), "content_erased");
    let old = json(
        app.get_auth(&format!("/api/v1/queries/{}", ids[0]), &iro.access)
            .await,
        200,
    )
    .await;
    assert!(old["messages"][0].get("body").is_none());
    let recent = json(
        app.get_auth(&format!("/api/v1/queries/{}", ids[1]), &iro.access)
            .await,
        200,
    )
    .await;
    assert!(recent["messages"][0]["body"].as_str().is_some());
    // Nothing more to do the second time; zero days keeps everything.
    assert_eq!(
        iro_advice_server::queries::erasure::apply_retention(&mut conn, &app.log_keys(), 30)
            .unwrap(),
        0
    );
    assert_eq!(
        iro_advice_server::queries::erasure::apply_retention(&mut conn, &app.log_keys(), 0)
            .unwrap(),
        0
    );
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");
}

async fn an_attachment_is_replaced_with_a_leaf_only_until_the_other_party_has_it(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, id, recipients) = iro_advice_testkit::a_query(&app, &admin).await;
    let put = |attachment: String, bytes: Vec<u8>| {
        let (app, token) = (&app, iro.access.clone());
        async move {
            app.client
                .put(app.url(&format!("/api/v1/attachments/{attachment}")))
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(bytes)
                .send()
                .await
                .unwrap()
        }
    };
    let get = |attachment: String, token: String| {
        let app = &app;
        async move {
            let res = app
                .get_auth(&format!("/api/v1/attachments/{attachment}"), &token)
                .await;
            assert_eq!(res.status(), 200);
            res.bytes().await.unwrap().to_vec()
        }
    };
    let replaceable = |token: String| {
        let (app, id) = (&app, id.clone());
        async move {
            let shown = json(
                app.get_auth(&format!("/api/v1/queries/{id}"), &token).await,
                200,
            )
            .await;
            shown["attachments"][0]["replaceable"].as_bool().unwrap()
        }
    };
    let created = json(
        iro_advice_testkit::upload(
            &app,
            &iro.access,
            &id,
            encrypt(b"draft one", &recipients, false),
        )
        .await,
        201,
    )
    .await;
    let attachment = created["id"].as_str().unwrap().to_owned();
    assert!(replaceable(iro.access.clone()).await);
    assert!(
        !replaceable(adviser.access.clone()).await,
        "only its uploader may replace it"
    );

    // Nobody else has had it: the IRO may put another stream in its place, and the log says so.
    let second = encrypt(b"draft two", &recipients, false);
    let replaced = one_leaf!(
        app,
        "attachment_replaced",
        json(put(attachment.clone(), second.clone()).await, 200).await
    );
    assert!(replaced["receipt"]["leaf_index"].is_u64(), "{replaced}");
    assert_eq!(get(attachment.clone(), iro.access.clone()).await, second);
    assert!(
        replaceable(iro.access.clone()).await,
        "the uploader's own download changes nothing"
    );

    // Once the adviser has downloaded it, it stays what they had.
    let had = get(attachment.clone(), adviser.access.clone()).await;
    assert!(!replaceable(iro.access.clone()).await);
    let chunks = app.count("attachment_chunks");
    let problem = no_leaf!(
        app,
        assert_problem(
            put(
                attachment.clone(),
                encrypt(b"draft three", &recipients, false)
            )
            .await,
            409,
            "attachment-already-read"
        )
        .await
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("copy"),
        "{problem}"
    );
    assert_eq!(get(attachment.clone(), iro.access.clone()).await, had);
    assert_eq!(app.count("attachments"), 1, "no staged upload left behind");
    assert_eq!(app.count("attachment_chunks"), chunks);

    // After a decline the IRO adds a copy for the next adviser instead; the decliner, who no
    // longer sees the query, is not told.
    json(
        app.post_json(
            &format!("/api/v1/queries/{id}/decline"),
            Some(&adviser.access),
            &json!({"reason": "capacity"}),
        )
        .await,
        200,
    )
    .await;
    let outbox = app.count("outbox");
    one_leaf!(
        app,
        "attachment_added",
        json(
            iro_advice_testkit::upload(
                &app,
                &iro.access,
                &id,
                encrypt(b"copy", &recipients, false)
            )
            .await,
            201
        )
        .await
    );
    assert_eq!(
        app.count("outbox"),
        outbox,
        "nobody to tell until it is routed"
    );
    assert_eq!(get(attachment, iro.access.clone()).await, had);
}
