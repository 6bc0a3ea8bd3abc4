//! The process killed (SIGKILL, no goodbye) while 200 clients make pressure reports at once.

use std::collections::HashSet;

use iro_advice::log::Receipt;
use serde_json::Value;

use crate::helpers::{eventually, json, TestApp};

crate::both_binary_databases!(a_killed_service_loses_nothing_it_acknowledged);

const CLIENTS: usize = 200;

async fn a_killed_service_loses_nothing_it_acknowledged(mut app: TestApp) {
    let _serial = crate::serial().await;
    let iros = crate::iros(&app, 4).await;
    let log_key = app.log_key().await;
    let (reports_before, leaves_before) = (app.count("pressure_reports"), app.count("log_leaves"));

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

    // The whole log still verifies, and the service goes on taking reports.
    let (ok, text) = crate::helpers::log_verify(&app);
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
