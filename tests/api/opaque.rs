//! The log as an IRO's employer sees it: with nothing but the service's public address, after
//! IROs of two authorities have acted, it reads every public endpoint (checkpoints, tiles,
//! proofs, health) and tries to tell which authority or account a leaf belongs to, to link two
//! leaves of one IRO, and to date a leaf more finely than the publication interval. Each
//! attempt is checked against the truth in the database, and must fail. Meanwhile the IRO
//! still gets a receipt that proves its act.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use diesel::prelude::*;
use iro_advice_api::Receipt;
use iro_advice_model::accounts::{AdviserKind, Role};
use iro_advice_server::db::schema::{log_checkpoints, log_leaves, log_pending};
use iro_advice_server::log::{Actor, Kind};
use iro_advice_testkit::{armored, json, receipt_verify, spawn_app_with, Backend, TestApp, User};
use iro_advice_tlog::tiles::{TileRef, WIDTH};
use serde_json::json;

/// The publication interval the service runs with here.
const INTERVAL: u64 = 2;

mod the_employer_learns_nothing_from_the_public_log {
    #[actix_web::test]
    async fn sqlite() {
        super::the_employer_learns_nothing_from_the_public_log(super::Backend::Sqlite).await;
    }
    #[actix_web::test]
    #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn postgres() {
        super::the_employer_learns_nothing_from_the_public_log(super::Backend::Postgres).await;
    }
}

const AUTHORITIES: [&str; 2] = ["E06000019", "E08000025"];

/// Everything a stranger can fetch about the log: the checkpoint (as its body's size), every
/// entry, and the other public answers, as bytes.
async fn public_view(app: &TestApp) -> (u64, Vec<Vec<u8>>, Vec<u8>) {
    let checkpoint = app.get("/api/v1/log/checkpoint").await;
    assert_eq!(checkpoint.status(), 200);
    let note = checkpoint.text().await.unwrap();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    let mut leaves = Vec::new();
    let mut index = 0;
    while index * WIDTH < size {
        let tile = TileRef {
            level: None,
            index,
            width: (size - index * WIDTH).min(WIDTH),
        };
        let path = format!("/api/v1/log/tile/{}", tile.path());
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        let bytes = res.bytes().await.unwrap();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            leaves.push(rest[2..2 + len].to_vec());
            rest = &rest[2 + len..];
        }
        index += 1;
    }
    assert_eq!(leaves.len() as u64, size);
    let mut other = note.into_bytes();
    for path in [
        "/api/v1/log/trust",
        "/api/v1/log/key",
        "/readyz",
        "/healthz",
        &format!("/api/v1/log/proof/inclusion?index=0&size={size}"),
        &format!("/api/v1/log/proof/consistency?from=1&to={size}"),
    ] {
        let res = app.get(path).await;
        other.extend_from_slice(&res.bytes().await.unwrap());
    }
    (size, leaves, other)
}

fn pending(app: &TestApp) -> i64 {
    let db = app.database();
    let mut conn = db.get().unwrap();
    log_pending::table.count().get_result(&mut *conn).unwrap()
}

async fn ask(
    app: &TestApp,
    iro: &User,
    key: &age::x25519::Identity,
    adviser: &(User, age::x25519::Identity),
    category: &str,
) -> Receipt {
    let to = [key.to_public(), adviser.1.to_public()];
    let body = json!({"adviser_id": adviser.0.id, "category": category, "stage": "formal",
        "urgency": "routine", "body": armored("a question about a care plan", &to)});
    let asked = json(
        app.post_json("/api/v1/queries", Some(&iro.access), &body)
            .await,
        201,
    )
    .await;
    serde_json::from_value(asked["receipt"].clone()).unwrap()
}

async fn the_employer_learns_nothing_from_the_public_log(backend: Backend) {
    let interval = INTERVAL.to_string();
    let Some(app) = spawn_app_with(backend, &[("IRO_ADVICE_LOG_PUBLISH_SECONDS", &interval)]).await
    else {
        return;
    };
    let admin = app.admin().await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let adviser_key = app.register_key(&adviser).await;
    let adviser = (adviser, adviser_key);
    // Two IROs of one authority, one of another.
    let mut iros = Vec::new();
    for authority in [AUTHORITIES[0], AUTHORITIES[0], AUTHORITIES[1]] {
        let iro = app.user(&admin, Role::Iro, Some(authority), None).await;
        let key = app.register_key(&iro).await;
        iros.push((iro, key, authority));
    }
    // Everything so far is published (a key is published with its act, and all that waits
    // with it); what follows waits for the publisher.
    assert_eq!(pending(&app), 0);
    let (before, _, _) = public_view(&app).await;

    // Sixteen acts in quick succession, within one or two publication intervals: each IRO
    // asks five times, and one reports pressure.
    let mut receipts: Vec<(usize, Receipt)> = Vec::new();
    for round in 0..5 {
        for (i, (iro, key, _)) in iros.iter().enumerate() {
            let category = ["placement", "contact", "permanence", "other", "placement"][round];
            receipts.push((i, ask(&app, iro, key, &adviser, category).await));
        }
    }
    let today = chrono::Utc::now().date_naive().to_string();
    let reported = json(
        app.post_json("/api/v1/pressure-reports", Some(&iros[0].0.access),
            &json!({"kind": "discouraged_from_advice", "occurred_on": today, "share_with_nairo": false}))
        .await,
        201,
    )
    .await;
    receipts.push((
        0,
        serde_json::from_value(reported["receipt"].clone()).unwrap(),
    ));

    // The IRO's receipt is useful at once: its opening opens its leaf and says what it was,
    // though the leaf waits for the next publication.
    for (i, r) in &receipts {
        let summary = r.read().expect("the receipt's opening opens its leaf");
        assert_eq!(summary.authority.as_deref(), Some(iros[*i].2));
        assert_eq!(r.leaf_index, None, "an act published before its batch");
    }
    iro_advice_testkit::eventually(30, "the batch is published", || async {
        (pending(&app) == 0).then_some(())
    })
    .await;
    let (size, leaves, other) = public_view(&app).await;
    assert!(size >= before + receipts.len() as u64);

    // The truth, which the employer does not have.
    let db = app.database();
    let mut conn = db.get().unwrap();
    let truth: Vec<(i64, Vec<u8>, String, chrono::NaiveDateTime)> = log_leaves::table
        .order(log_leaves::idx)
        .select((
            log_leaves::idx,
            log_leaves::data,
            log_leaves::kind,
            log_leaves::created_at,
        ))
        .load(&mut *conn)
        .unwrap();
    let keys = app.log_keys();
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for (iro, _, authority) in &iros {
        secrets.push(iro.id.clone().into_bytes());
        secrets.push(authority.as_bytes().to_vec());
        secrets.push(keys.actor_pseudonym(Actor::Account(&iro.id)).to_vec());
        secrets.push(iro_advice_server::log::directory_pseudonym(&iro.id).to_vec());
    }
    secrets.push(adviser.0.id.clone().into_bytes());
    secrets.push(keys.actor_pseudonym(Actor::Account(&adviser.0.id)).to_vec());

    // 1. Which authority, which account: nothing of either is in any public answer, and every
    //    leaf but the public facts' is 65 bytes of version, tag and commitment.
    for (index, leaf) in leaves.iter().enumerate() {
        let kind: Kind = truth[index].2.parse().unwrap();
        if matches!(kind, Kind::StatisticsReleased | Kind::WebAppPublished) {
            continue;
        }
        assert_eq!(leaf.len(), 65, "leaf {index} ({kind}) is not opaque");
        assert_eq!(leaf[0], 2);
        for secret in &secrets {
            assert!(
                !leaf.windows(secret.len()).any(|w| w == &secret[..]),
                "leaf {index} ({kind}) holds an identifier"
            );
        }
    }
    for secret in &secrets {
        assert!(
            !other.windows(secret.len()).any(|w| w == &secret[..]),
            "a public answer holds an identifier"
        );
    }

    // 2. Linking two leaves of one IRO: the leaves of one IRO share nothing but the version
    //    byte (no 4-byte run in common), as with anyone else's.
    let mine: HashMap<usize, Vec<u64>> = receipts.iter().fold(HashMap::new(), |mut m, (i, r)| {
        let data = B64.decode(&r.leaf_data).unwrap();
        let index = leaves
            .iter()
            .position(|l| *l == data)
            .expect("every act's leaf is published") as u64;
        m.entry(*i).or_default().push(index);
        m
    });
    for indices in mine.values() {
        for a in indices {
            for b in indices {
                if a < b {
                    let (x, y) = (&leaves[*a as usize][1..], &leaves[*b as usize][1..]);
                    let shared = x.windows(4).any(|w| y.windows(4).any(|v| v == w));
                    assert!(!shared, "leaves {a} and {b} of one IRO share bytes");
                }
            }
        }
    }

    // 3. Dating: the sixteen acts came out under one or two checkpoints, each batch in an
    //    order that is not the acts'; the checkpoints after setup are at least the interval
    //    apart, so no leaf is dated more finely than that.
    let indices: Vec<u64> = {
        let mut all: Vec<u64> = mine.values().flatten().copied().collect();
        all.sort_unstable();
        all
    };
    let signed: Vec<(i64, chrono::NaiveDateTime)> = log_checkpoints::table
        .filter(log_checkpoints::size.gt(before as i64))
        .order(log_checkpoints::size)
        .select((log_checkpoints::size, log_checkpoints::created_at))
        .load(&mut *conn)
        .unwrap();
    let covering = |index: u64| signed.iter().find(|(s, _)| *s as u64 > index).unwrap().0;
    let batches: HashMap<i64, Vec<u64>> = indices.iter().fold(HashMap::new(), |mut m, i| {
        m.entry(covering(*i)).or_default().push(*i);
        m
    });
    let largest = batches.values().max_by_key(|b| b.len()).unwrap();
    assert!(
        largest.len() >= 8,
        "the acts were published a few at a time: {batches:?}"
    );
    for pair in signed.windows(2) {
        let gap = (pair[1].1 - pair[0].1).num_milliseconds();
        assert!(
            gap >= (INTERVAL * 1000) as i64 - 100,
            "two publications {gap} ms apart"
        );
    }
    // One chance in 8! (40,320) that a shuffle leaves eight acts in their order.
    let times: Vec<chrono::NaiveDateTime> = largest.iter().map(|i| truth[*i as usize].3).collect();
    assert!(
        times.windows(2).any(|w| w[0] > w[1]),
        "the batch is in the acts' order"
    );

    // The IRO's receipts, fetched again, are complete and verify offline.
    let log_key = app.log_key().await;
    let all: Vec<Receipt> = serde_json::from_value(
        json(
            app.get_auth("/api/v1/me/receipts", &iros[0].0.access).await,
            200,
        )
        .await,
    )
    .unwrap();
    let asked: Vec<&Receipt> = all
        .iter()
        .filter(|r| matches!(r.read(), Ok(s) if s.kind == Kind::QuerySubmitted))
        .collect();
    assert_eq!(asked.len(), 5);
    for r in &asked {
        r.verify(&log_key).expect("a published receipt verifies");
        assert_eq!(r.read().unwrap().authority.as_deref(), Some(AUTHORITIES[0]));
    }

    // Shown to anyone, the receipt proves its act with `iro-advice receipt verify`, offline;
    // a receipt whose opening was forged (another category) proves nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receipt.json");
    std::fs::write(&file, serde_json::to_vec(asked[0]).unwrap()).unwrap();
    let (ok, text) = receipt_verify(&[file.to_str().unwrap(), "--key", &log_key]);
    assert!(ok, "{text}");
    assert!(
        text.contains("a query_submitted event")
            && text.contains(&format!("for authority {}", AUTHORITIES[0]))
            && text.contains("stage=formal"),
        "{text}"
    );
    let mut forged = asked[0].clone();
    let opening = forged.opening.as_mut().unwrap();
    let (category, rest) = opening.details.split_once(';').unwrap();
    let other = if category == "category=contact" {
        "category=placement"
    } else {
        "category=contact"
    };
    opening.details = format!("{other};{rest}");
    std::fs::write(&file, serde_json::to_vec(&forged).unwrap()).unwrap();
    let (ok, text) = receipt_verify(&[file.to_str().unwrap(), "--key", &log_key]);
    assert!(!ok && text.contains("does not open"), "{text}");
}
