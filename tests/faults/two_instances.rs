//! Two instances of the service on one PostgreSQL database, both taking pressure reports
//! and serving the log at once: one log (no two events at one index, none lost), one
//! checkpoint that both serve, and every acknowledged report there with its receipt.

use std::collections::HashSet;
use std::time::Duration;

use iro_advice_server::log::Receipt;
use serde_json::Value;

use iro_advice_testkit::{json, log_verify, spawn_binary_app, Backend};

const CLIENTS: usize = 100;
const SECONDS: u64 = 8;

#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn two_instances_keep_one_log() {
    let _serial = crate::serial().await;
    let first = spawn_binary_app(Backend::Postgres, &[])
        .await
        .expect("TEST_DATABASE_URL names a PostgreSQL server");
    let iros = crate::iros(&first, 4).await;
    // Started once the accounts exist: without SMTP, mail is written to a folder of the
    // instance that sends it, and the invitations are read from the first's.
    let second = first.sibling().await;
    let log_key = first.log_key().await;
    let leaves_before = first.count("log_leaves");

    let deadline = std::time::Instant::now() + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            // Half the clients at each instance; every IRO's reports go to both.
            let app = if i % 2 == 0 { &first } else { &second };
            let client = app.client.clone();
            let url = app.url("/api/v1/pressure-reports");
            let owner = i % iros.len();
            let token = iros[owner].access.clone();
            actix_web::rt::spawn(async move {
                let mut acknowledged: Vec<(usize, Value)> = Vec::new();
                let mut failed = Vec::new();
                while std::time::Instant::now() < deadline {
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&crate::report())
                        .send()
                        .await
                        .unwrap();
                    if res.status() == 201 {
                        acknowledged.push((owner, res.json().await.unwrap()));
                    } else {
                        failed.push((res.status().as_u16(), res.text().await.unwrap()));
                    }
                }
                (acknowledged, failed)
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    let mut failed = Vec::new();
    for task in tasks {
        let (a, f) = task.await.unwrap();
        acknowledged.extend(a);
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert!(acknowledged.len() > CLIENTS, "only {}", acknowledged.len());

    // One index per event: no two receipts share one, and the log holds exactly these.
    let leaves = first.count("log_leaves") - leaves_before;
    assert_eq!(leaves, acknowledged.len() as i64);
    let mut indexes = HashSet::new();
    for (_, body) in &acknowledged {
        let receipt: Receipt = serde_json::from_value(body["receipt"].clone()).unwrap();
        receipt.verify(&log_key).unwrap();
        assert!(
            indexes.insert(receipt.leaf_index.unwrap()),
            "two events at {}",
            receipt.leaf_index.unwrap()
        );
    }
    // Both serve the same checkpoint once the writes have settled.
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let a = first
        .client
        .get(first.url("/api/v1/log/checkpoint"))
        .send()
        .await
        .unwrap();
    let b = second
        .client
        .get(second.url("/api/v1/log/checkpoint"))
        .send()
        .await
        .unwrap();
    let (a, b) = (a.text().await.unwrap(), b.text().await.unwrap());
    let body = |note: &str| note.split("\n\n").next().unwrap().to_owned();
    assert_eq!(body(&a), body(&b), "the instances serve different logs");
    // Every acknowledged report is listed to its IRO, whichever instance is asked.
    for (n, iro) in iros.iter().enumerate() {
        let app = if n % 2 == 0 { &second } else { &first };
        let list = json(
            app.get_auth("/api/v1/pressure-reports", &iro.access).await,
            200,
        )
        .await;
        let ids: HashSet<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        for (_, body) in acknowledged.iter().filter(|(owner, _)| *owner == n) {
            let id = body["id"].as_str().unwrap();
            assert!(ids.contains(id), "acknowledged report {id} is not listed");
        }
    }
    let (ok, text) = log_verify(&first);
    assert!(ok, "{text}");
}
