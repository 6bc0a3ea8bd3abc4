//! Attachments sent in segments, as the web application sends them (so that neither the
//! page nor the browser holds a whole file), on both databases: one attachment in the end,
//! a resent segment taken once, and every refusal leaving nothing behind.

use serde_json::{json, Value};

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{a_query, encrypt, upload};
use iro_advice_testkit::{assert_problem, json, TestApp};

both_databases!(
    an_attachment_sent_in_segments_is_one_attachment,
    segments_out_of_place_or_not_age_leave_nothing,
    a_re_encryption_sent_in_segments_replaces_the_stream,
    open_uploads_count_against_the_limit_and_the_quota,
);

async fn start(app: &TestApp, token: &str, query: &str, body: Value) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/queries/{query}/uploads"),
        Some(token),
        &body,
    )
    .await
}

async fn segment(
    app: &TestApp,
    token: &str,
    upload: &str,
    offset: Option<usize>,
    bytes: &[u8],
) -> reqwest::Response {
    let mut req = app
        .client
        .patch(app.url(&format!("/api/v1/uploads/{upload}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec());
    if let Some(offset) = offset {
        req = req.header("upload-offset", offset.to_string());
    }
    req.send().await.unwrap()
}

async fn complete(app: &TestApp, token: &str, upload: &str, body: Value) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/uploads/{upload}/complete"),
        Some(token),
        &body,
    )
    .await
}

/// Sends `file` in segments of the size the service names; the upload's id.
async fn send_all(app: &TestApp, token: &str, query: &str, file: &[u8]) -> String {
    let started = json(
        start(app, token, query, json!({"size": file.len()})).await,
        201,
    )
    .await;
    let id = started["id"].as_str().unwrap().to_owned();
    let step = started["segment_bytes"].as_u64().unwrap() as usize;
    for (i, part) in file.chunks(step).enumerate() {
        let res = segment(app, token, &id, Some(i * step), part).await;
        assert_eq!(res.status(), 204);
    }
    id
}

fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

async fn an_attachment_sent_in_segments_is_one_attachment(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, query, recipients) = a_query(&app, &admin).await;
    let file = encrypt(&pseudo_random(2_600_000), &recipients, false);
    let leaves = app.count("log_leaves");

    let started = json(
        start(&app, &iro.access, &query, json!({"size": file.len()})).await,
        201,
    )
    .await;
    let id = started["id"].as_str().unwrap().to_owned();
    let step = started["segment_bytes"].as_u64().unwrap() as usize;
    assert_eq!(step, 1024 * 1024);
    let parts: Vec<&[u8]> = file.chunks(step).collect();
    assert_eq!(parts.len(), 3);

    let res = segment(&app, &iro.access, &id, Some(0), parts[0]).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["upload-offset"], step.to_string().as_str());
    // A segment sent again (its answer lost) is taken once; one that skips ahead is refused.
    let res = segment(&app, &iro.access, &id, Some(0), parts[0]).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["upload-offset"], step.to_string().as_str());
    assert_eq!(app.count("attachment_chunks"), 1);
    let res = segment(&app, &iro.access, &id, Some(2 * step), parts[2]).await;
    assert_problem(res, 409, "upload-offset").await;
    let res = segment(&app, &iro.access, &id, Some(0), parts[1]).await;
    assert_problem(res, 409, "upload-offset").await;

    // Until it is complete, nobody sees it, the uploader included.
    let detail = json(
        app.get_auth(&format!("/api/v1/queries/{query}"), &adviser.access)
            .await,
        200,
    )
    .await;
    assert_eq!(detail["attachments"], json!([]));
    let res = app
        .get_auth(&format!("/api/v1/attachments/{id}"), &iro.access)
        .await;
    assert_problem(res, 404, "not-found").await;

    for (i, part) in parts.iter().enumerate().skip(1) {
        let res = segment(&app, &iro.access, &id, Some(i * step), part).await;
        assert_eq!(res.status(), 204);
    }
    let done = json(complete(&app, &iro.access, &id, json!({})).await, 201).await;
    assert_eq!(done["id"], id.as_str());
    assert_eq!(done["size"], file.len());
    assert!(done["receipt"].is_object());
    assert_eq!(
        app.count("log_leaves"),
        leaves + 1,
        "one attachment, one leaf"
    );

    let res = app
        .get_auth(&format!("/api/v1/attachments/{id}"), &adviser.access)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), file.as_slice());
    let detail = json(
        app.get_auth(&format!("/api/v1/queries/{query}"), &adviser.access)
            .await,
        200,
    )
    .await;
    assert_eq!(detail["attachments"][0]["size"], file.len());

    // A completed upload takes nothing more.
    let res = complete(&app, &iro.access, &id, json!({})).await;
    assert_problem(res, 404, "not-found").await;
    let res = segment(&app, &iro.access, &id, Some(file.len()), b"more").await;
    assert_problem(res, 404, "not-found").await;
    assert_eq!(app.count("log_leaves"), leaves + 1);
}

async fn segments_out_of_place_or_not_age_leave_nothing(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, query, recipients) = a_query(&app, &admin).await;
    let leaves = app.count("log_leaves");
    let nothing_left = |app: &TestApp| {
        assert_eq!(app.count("attachments"), 0);
        assert_eq!(app.count("attachment_chunks"), 0);
    };

    // Larger than the limit, declared: refused before anything is stored.
    let res = start(&app, &iro.access, &query, json!({"size": 200u64 << 20})).await;
    assert_problem(res, 413, "payload-too-large").await;
    nothing_left(&app);

    let started = json(start(&app, &iro.access, &query, json!({})).await, 201).await;
    let id = started["id"].as_str().unwrap().to_owned();
    let step = started["segment_bytes"].as_u64().unwrap() as usize;
    // Someone else's upload does not exist for them.
    let res = segment(&app, &adviser.access, &id, Some(0), b"age").await;
    assert_problem(res, 404, "not-found").await;
    let res = complete(&app, &adviser.access, &id, json!({})).await;
    assert_problem(res, 404, "not-found").await;
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(&adviser.access)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not-found").await;
    // A segment needs its offset, and fits in one stored chunk.
    let res = segment(&app, &iro.access, &id, None, b"age").await;
    assert_problem(res, 400, "bad-request").await;
    let res = segment(&app, &iro.access, &id, Some(0), &vec![7u8; step + 1]).await;
    assert_problem(res, 413, "payload-too-large").await;
    let res = segment(&app, &iro.access, &id, Some(0), b"").await;
    assert_problem(res, 400, "bad-request").await;
    assert_eq!(app.count("attachment_chunks"), 0);

    // A plain document sent in segments is refused when complete, and is gone.
    let res = segment(
        &app,
        &iro.access,
        &id,
        Some(0),
        b"%PDF-1.7 the child's placement",
    )
    .await;
    assert_eq!(res.status(), 204);
    let res = complete(&app, &iro.access, &id, json!({})).await;
    assert_problem(res, 400, "not-age").await;
    nothing_left(&app);
    let res = segment(&app, &iro.access, &id, Some(30), b"more").await;
    assert_problem(res, 404, "not-found").await;

    // Encrypted to the IRO alone: age, but not for the query's readers.
    let own_only = encrypt(b"notes", &recipients[..1], false);
    let id = send_all(&app, &iro.access, &query, &own_only).await;
    let res = complete(&app, &iro.access, &id, json!({})).await;
    assert_problem(res, 400, "age-too-few-recipients").await;
    nothing_left(&app);

    // Abandoned by its sender: every segment removed.
    let file = encrypt(&pseudo_random(10_000), &recipients, false);
    let id = send_all(&app, &iro.access, &query, &file).await;
    assert_eq!(app.count("attachment_chunks"), 1);
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/uploads/{id}")))
        .bearer_auth(&iro.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    nothing_left(&app);
    assert_eq!(
        app.count("log_leaves"),
        leaves,
        "no leaf for what did not happen"
    );
}

async fn a_re_encryption_sent_in_segments_replaces_the_stream(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, query, recipients) = a_query(&app, &admin).await;
    let original = encrypt(b"minutes of the review", &recipients, false);
    let created = json(upload(&app, &iro.access, &query, original).await, 201).await;
    let attachment = created["id"].as_str().unwrap().to_owned();
    let again = encrypt(b"minutes of the review", &recipients, false);

    // While the query waits to be accepted (or routed), the IRO may re-encrypt it in place.
    let id = send_all(&app, &iro.access, &query, &again).await;
    let done = json(
        complete(&app, &iro.access, &id, json!({"replaces": attachment})).await,
        200,
    )
    .await;
    assert_eq!(done["id"], attachment.as_str());
    assert_eq!(
        app.count("attachments"),
        1,
        "the stream replaced, not added"
    );
    let res = app
        .get_auth(&format!("/api/v1/attachments/{attachment}"), &iro.access)
        .await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), again.as_slice());

    // Once an adviser has accepted it, nothing is re-encrypted, and the try is gone.
    let res = app
        .post_json(
            &format!("/api/v1/queries/{query}/accept"),
            Some(&adviser.access),
            &json!({}),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let chunks = app.count("attachment_chunks");
    let third = encrypt(b"minutes, third copy", &recipients, false);
    let id = send_all(&app, &iro.access, &query, &third).await;
    let res = complete(&app, &iro.access, &id, json!({"replaces": attachment})).await;
    assert_problem(res, 409, "query-state").await;
    assert_eq!(app.count("attachments"), 1);
    assert_eq!(app.count("attachment_chunks"), chunks);
    let res = app
        .get_auth(&format!("/api/v1/attachments/{attachment}"), &iro.access)
        .await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), again.as_slice());
}

async fn open_uploads_count_against_the_limit_and_the_quota(app: TestApp) {
    let app = iro_advice_testkit::spawn_app_with(
        app.backend,
        &[
            ("IRO_ADVICE_MAX_ATTACHMENT_MB", "2"),
            ("IRO_ADVICE_ATTACHMENT_QUOTA_MB", "3"),
        ],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let (iro, _, query, _) = a_query(&app, &admin).await;
    let mib = vec![5u8; 1024 * 1024];
    async fn open(app: &TestApp, token: &str, query: &str) -> String {
        let started = json(start(app, token, query, json!({})).await, 201).await;
        started["id"].as_str().unwrap().to_owned()
    }
    // One upload stops at the attachment limit, however it is sent.
    let first = open(&app, &iro.access, &query).await;
    for i in 0..2 {
        let res = segment(&app, &iro.access, &first, Some(i * mib.len()), &mib).await;
        assert_eq!(res.status(), 204);
    }
    let res = segment(&app, &iro.access, &first, Some(2 * mib.len()), b"x").await;
    assert_problem(res, 413, "payload-too-large").await;
    // Uploads left open count against the quota: two of them cannot hold more than it.
    let second = open(&app, &iro.access, &query).await;
    let res = segment(&app, &iro.access, &second, Some(0), &mib).await;
    assert_eq!(res.status(), 204);
    let res = segment(&app, &iro.access, &second, Some(mib.len()), &mib).await;
    assert_problem(res, 413, "quota-exceeded").await;
    assert_eq!(app.count("attachment_chunks"), 3);
}
