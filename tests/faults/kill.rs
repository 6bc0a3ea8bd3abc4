//! The process killed (SIGKILL, no goodbye) while 200 clients make pressure reports at once.

use std::collections::HashSet;

use iro_advice_server::log::Receipt;
use serde_json::Value;

use iro_advice_model::accounts::{AdviserKind, Role};

use iro_advice_testkit::{eventually, json, TestApp, User};

iro_advice_testkit::both_binary_databases!(
    a_killed_service_loses_nothing_it_acknowledged,
    a_killed_service_loses_no_query_reply_attachment_or_key,
);

const CLIENTS: usize = 200;

async fn a_killed_service_loses_nothing_it_acknowledged(mut app: TestApp) {
    let _serial = crate::serial().await;
    let iros = crate::iros(&app, 4).await;
    let log_key = app.log_key().await;
    // NAIRO's witness cosigns from here on.
    let witness_dir = tempfile::tempdir().unwrap();
    let vkey = iro_advice_testkit::init(witness_dir.path(), "nairo.test/witness");
    let witness = iro_advice_testkit::serve(witness_dir.path(), &log_key).await;
    app.stop();
    app.start(&[
        ("IRO_ADVICE_WITNESS_URL", &witness.base),
        ("IRO_ADVICE_WITNESS_KEY", &vkey),
    ])
    .await;
    let (reports_before, leaves_before) = (app.count("pressure_reports"), app.count("log_leaves"));
    iro_advice_testkit::cosigned_at(&app, leaves_before).await;

    // 200 clients at once, each making reports one after another until the service is gone;
    // each keeps what the service acknowledged (a 2xx whose body arrived whole).
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url("/api/v1/pressure-reports");
            let token = iros[i % iros.len()].access.clone();
            let owner = i % iros.len();
            actix_web::rt::spawn(async move {
                let mut acknowledged = Vec::new();
                loop {
                    let sent = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&crate::report())
                        .send()
                        .await;
                    let Ok(res) = sent else { break };
                    if res.status().is_success() {
                        match res.json::<Value>().await {
                            Ok(body) => acknowledged.push((owner, body)),
                            Err(_) => break,
                        }
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Killed while every client has a request in flight, once twice as many reports are
    // written.
    eventually(120, "reports written", || {
        let written = app.count("pressure_reports") - reports_before;
        std::future::ready((written >= 2 * CLIENTS as i64).then_some(()))
    })
    .await;
    app.stop();
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    // At most one request per client was in flight, so at least half were acknowledged.
    assert!(
        acknowledged.len() >= CLIENTS,
        "only {} acknowledged",
        acknowledged.len()
    );

    app.start(&[]).await;
    // Nothing half there: every report written has its leaf, and every new leaf its report.
    let reports = app.count("pressure_reports") - reports_before;
    let leaves = app.count("log_leaves") - leaves_before;
    assert_eq!(
        reports, leaves,
        "a report without its leaf, or a leaf without its report"
    );
    assert!(reports >= acknowledged.len() as i64);

    // Every acknowledged report is there, listed to its IRO, and its receipt's leaf is among
    // the IRO's receipts and verifies against the log's key.
    let mut listed: Vec<HashSet<String>> = Vec::new();
    let mut receipts: Vec<HashSet<String>> = Vec::new();
    for iro in &iros {
        let list = json(
            app.get_auth("/api/v1/pressure-reports", &iro.access).await,
            200,
        )
        .await;
        listed.push(
            list.as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect(),
        );
        let mine: Vec<Receipt> = serde_json::from_value(
            json(app.get_auth("/api/v1/me/receipts", &iro.access).await, 200).await,
        )
        .unwrap();
        receipts.push(mine.into_iter().map(|r| r.leaf_data).collect());
    }
    for (owner, body) in &acknowledged {
        let id = body["id"].as_str().unwrap();
        assert!(
            listed[*owner].contains(id),
            "acknowledged report {id} is gone"
        );
        let receipt: Receipt = serde_json::from_value(body["receipt"].clone()).unwrap();
        receipt.verify(&log_key).unwrap();
        assert!(
            receipts[*owner].contains(&receipt.leaf_data),
            "the receipt of {id} is not among its IRO's receipts after the restart"
        );
    }

    // The witness cosigns the whole log after the kill: what was served before it is a
    // prefix of what is served now.
    iro_advice_testkit::cosigned_at(&app, app.count("log_leaves")).await;

    // The whole log still verifies, and the service goes on taking reports.
    let (ok, text) = iro_advice_testkit::log_verify(&app);
    assert!(ok, "{text}");
    let res = app
        .post_json(
            "/api/v1/pressure-reports",
            Some(&iros[0].access),
            &crate::report(),
        )
        .await;
    assert_eq!(res.status(), 201);
}

/// What a client was told was done.
enum Done {
    Asked {
        iro: usize,
        query: String,
        attachment: Option<(String, u64)>,
    },
    Replied {
        iro: usize,
        query: String,
        message: String,
    },
    Key {
        iro: usize,
        recipient: String,
    },
}

const MIXED_CLIENTS: usize = 60;
/// IROs whose first key is registered under the load, four per key client.
const KEYED: usize = 16;

/// Asks with an attachment each, follow-ups on open queries and key changes, 60 clients at
/// once, and the process killed in the middle of it.
async fn a_killed_service_loses_no_query_reply_attachment_or_key(mut app: TestApp) {
    let _serial = crate::serial().await;
    let admin = app.admin().await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let adviser_key = app.register_key(&adviser).await.to_public();
    // Two IROs ask, two reply, and sixteen register their keys (a key event each; a later
    // change would need a fresh second-factor code, one per 30 s).
    let mut iros: Vec<(User, age::x25519::Recipient)> = Vec::new();
    for n in 0..4 + KEYED {
        let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
        let key = if n < 4 {
            app.register_key(&iro).await.to_public()
        } else {
            age::x25519::Identity::generate().to_public()
        };
        iros.push((iro, key));
    }
    let mut open_queries = Vec::new();
    for (iro, key) in &iros[2..4] {
        let body =
            iro_advice_testkit::encrypt(b"question", &[key.clone(), adviser_key.clone()], true);
        let created = json(
            app.post_json(
                "/api/v1/queries",
                Some(&iro.access),
                &serde_json::json!({"adviser_id": adviser.id, "category": "placement", "stage": "none",
                        "urgency": "routine", "body": String::from_utf8(body).unwrap()}),
            )
            .await,
            201,
        )
        .await;
        open_queries.push(created["id"].as_str().unwrap().to_owned());
    }
    let written_before = app.count("queries") + app.count("messages") + app.count("attachments");

    let tasks: Vec<_> = (0..MIXED_CLIENTS)
        .map(|i| {
            let client = app.client.clone();
            let base = app.url("");
            let adviser_id = adviser.id.clone();
            let adviser_key = adviser_key.clone();
            let kind = if i < 4 { 2 } else { i % 2 };
            let n = match kind {
                0 => i % 2,
                1 => 2 + i % 2,
                _ => 4 + 4 * i,
            };
            let (iro, key) = (iros[n].0.access.clone(), iros[n].1.clone());
            // The key client's IROs, each registering its key once.
            let mut keyed: Vec<(usize, String, String)> = if kind == 2 {
                (n..n + 4)
                    .map(|k| (k, iros[k].0.access.clone(), iros[k].1.to_string()))
                    .collect()
            } else {
                Vec::new()
            };
            let open = open_queries.get(n.wrapping_sub(2)).cloned();
            actix_web::rt::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let recipients = [key.clone(), adviser_key.clone()];
                    let sent = match kind {
                        0 => {
                            let body = iro_advice_testkit::encrypt(b"a question", &recipients, true);
                            client
                                .post(format!("{base}/api/v1/queries"))
                                .bearer_auth(&iro)
                                .json(&serde_json::json!({"adviser_id": adviser_id, "category": "placement",
                                    "stage": "none", "urgency": "routine",
                                    "body": String::from_utf8(body).unwrap()}))
                                .send()
                                .await
                        }
                        1 => {
                            let body = iro_advice_testkit::encrypt(b"a follow-up", &recipients, true);
                            client
                                .post(format!("{base}/api/v1/queries/{}/messages", open.as_ref().unwrap()))
                                .bearer_auth(&iro)
                                .json(&serde_json::json!({"body": String::from_utf8(body).unwrap()}))
                                .send()
                                .await
                        }
                        _ => {
                            let Some((k, token, recipient)) = keyed.pop() else { break };
                            let res = client
                                .put(format!("{base}/api/v1/me/key"))
                                .bearer_auth(&token)
                                .json(&serde_json::json!({"age_recipient": recipient}))
                                .send()
                                .await;
                            match res {
                                Ok(r) if r.status().is_success() => {
                                    done.push(Done::Key { iro: k, recipient });
                                    continue;
                                }
                                Ok(r) => panic!("a first key refused: {}", r.status()),
                                Err(_) => break,
                            }
                        }
                    };
                    let Ok(res) = sent else { break };
                    if !res.status().is_success() {
                        // Rate limits answer 429; try again a little later.
                        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                    let Ok(body) = res.json::<Value>().await else { break };
                    let id = body["id"].as_str().unwrap().to_owned();
                    if kind == 1 {
                        done.push(Done::Replied { iro: n, query: open.clone().unwrap(), message: id });
                        continue;
                    }
                    // The attachment of the query just asked.
                    let file = iro_advice_testkit::encrypt(&[7u8; 4096], &recipients, false);
                    let size = file.len() as u64;
                    let attached = client
                        .post(format!("{base}/api/v1/queries/{id}/attachments"))
                        .bearer_auth(&iro)
                        .header("content-type", "application/octet-stream")
                        .body(file)
                        .send()
                        .await;
                    let attachment = match attached {
                        Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                            Ok(a) => Some((a["id"].as_str().unwrap().to_owned(), size)),
                            Err(_) => None,
                        },
                        _ => None,
                    };
                    let gone = attachment.is_none();
                    done.push(Done::Asked { iro: n, query: id, attachment });
                    if gone {
                        break;
                    }
                }
                done
            })
        })
        .collect();
    eventually(120, "asks, replies and attachments written", || {
        let written = app.count("queries") + app.count("messages") + app.count("attachments")
            - written_before;
        std::future::ready((written >= 200).then_some(()))
    })
    .await;
    app.stop();
    let mut done = Vec::new();
    for task in tasks {
        done.extend(task.await.unwrap());
    }
    app.start(&[]).await;

    let (mut asked, mut replied, mut keys) = (0, 0, 0);
    let mut last_key: Vec<Option<String>> = vec![None; iros.len()];
    for d in &done {
        match d {
            Done::Asked {
                iro,
                query,
                attachment,
            } => {
                asked += 1;
                let shown = json(
                    app.get_auth(&format!("/api/v1/queries/{query}"), &iros[*iro].0.access)
                        .await,
                    200,
                )
                .await;
                if let Some((id, size)) = attachment {
                    let listed = shown["attachments"].as_array().unwrap();
                    assert!(
                        listed
                            .iter()
                            .any(|a| a["id"] == id.as_str() && a["size"] == *size),
                        "acknowledged attachment {id} is gone"
                    );
                    let res = app
                        .get_auth(&format!("/api/v1/attachments/{id}"), &iros[*iro].0.access)
                        .await;
                    assert_eq!(res.status(), 200);
                    assert_eq!(res.bytes().await.unwrap().len() as u64, *size);
                }
            }
            Done::Replied {
                iro,
                query,
                message,
            } => {
                replied += 1;
                let shown = json(
                    app.get_auth(&format!("/api/v1/queries/{query}"), &iros[*iro].0.access)
                        .await,
                    200,
                )
                .await;
                assert!(
                    shown["messages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|m| m["id"] == message.as_str()),
                    "acknowledged message {message} is gone"
                );
            }
            Done::Key { iro, recipient } => {
                keys += 1;
                last_key[*iro] = Some(recipient.clone());
            }
        }
    }
    assert!(
        asked > 10 && replied > 10 && keys > 0,
        "{asked} asks, {replied} replies, {keys} keys"
    );
    // Every acknowledged key is the account's key.
    for (n, last) in last_key.iter().enumerate() {
        let Some(last) = last else { continue };
        let me = json(app.get_auth("/api/v1/me", &iros[n].0.access).await, 200).await;
        assert_eq!(
            me["age_recipient"],
            last.as_str(),
            "IRO {n}'s acknowledged key is gone"
        );
    }
    // Nothing half there: no attachment without all its bytes, and the log verifies.
    let incomplete = {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::sql_query(
            "SELECT COUNT(*) AS n FROM attachments a WHERE a.state = 'complete' AND a.size <> \
             (SELECT COALESCE(SUM(LENGTH(c.data)), 0) FROM attachment_chunks c WHERE c.attachment_id = a.id)",
        )
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n
    };
    assert_eq!(incomplete, 0, "an attachment without all its bytes");
    let (ok, text) = iro_advice_testkit::log_verify(&app);
    assert!(ok, "{text}");
}
