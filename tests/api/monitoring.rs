//! The operator's metrics: counted by route pattern, read from the database when asked,
//! served in plain HTTP on a listener of their own, and never holding anything personal.

use std::io::{Read, Write};

use iro_advice_model::accounts::Role;
use serde_json::json;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{free_port, spawn_app_with, unique_name, TestApp};

both_databases!(
    metrics_count_requests_by_route_pattern_and_show_no_one,
    metrics_show_mail_that_cannot_be_delivered,
);

/// A plain-HTTP GET to the metrics listener: (status line, body).
pub fn scrape_path(app: &TestApp, path: &str) -> (String, String) {
    let port = app.metrics_port.expect("the metrics listener is on");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

pub fn scrape(app: &TestApp) -> String {
    let (status, body) = scrape_path(app, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    body
}

/// Passwords the service has hashed since it started.
pub fn hashes_made(app: &TestApp) -> f64 {
    sample(&scrape(app), "iro_advice_password_hashes_total").expect("the hashing counter")
}

/// The value of the sample whose name and labels are exactly `series`; None when absent.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

async fn metrics_count_requests_by_route_pattern_and_show_no_one(app: TestApp) {
    let admin = app.admin().await;
    let me = r#"iro_advice_http_requests_total{method="GET",route="/api/v1/me",status="200"}"#;
    let before = sample(&scrape(&app), me).unwrap_or(0.0);
    for _ in 0..3 {
        assert_eq!(
            app.get_auth("/api/v1/me", &admin.access).await.status(),
            200
        );
    }
    // An id in the path and an unknown path: counted under their pattern, never as typed.
    let id = uuid::Uuid::new_v4().to_string();
    let res = app
        .get_auth(&format!("/api/v1/queries/{id}"), &admin.access)
        .await;
    assert_eq!(res.status(), 403);
    let secret = unique_name("nobody-should-see-this-path");
    assert_eq!(
        app.get_auth(&format!("/api/v1/{secret}"), &admin.access)
            .await
            .status(),
        404
    );

    let text = scrape(&app);
    assert_eq!(sample(&text, me), Some(before + 3.0), "{text}");
    assert!(
        sample(
            &text,
            r#"iro_advice_http_requests_total{method="GET",route="/api/v1/queries/{id}",status="403"}"#
        )
        .is_some(),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"iro_advice_http_request_duration_seconds_bucket{route="/api/v1/me",le="+Inf"}"#
        )
        .is_some_and(|n| n >= 3.0),
        "{text}"
    );
    for personal in [&id, &secret, &admin.id, &admin.email, &admin.access] {
        assert!(
            !text.contains(personal.as_str()),
            "{personal} in the metrics"
        );
    }

    // The gauges are read from the database when asked.
    assert_eq!(sample(&text, "iro_advice_database_up"), Some(1.0));
    let leaves = sample(&text, "iro_advice_log_leaves").unwrap();
    assert!(leaves >= 2.0, "{leaves}");
    assert_eq!(
        leaves,
        app.count("log_leaves") as f64,
        "the log's size, as stored"
    );
    assert_eq!(
        sample(&text, "iro_advice_db_pool_max"),
        Some(f64::from(app.settings.database.pool_size))
    );
    assert_eq!(sample(&text, "iro_advice_statistics_releases"), Some(0.0));
    assert_eq!(
        sample(&text, "iro_advice_sign_in_ceiling_active"),
        Some(0.0)
    );

    // Only /metrics, and only on its own listener: the public port does not serve it.
    let (status, _) = scrape_path(&app, "/api/v1/me");
    assert!(status.contains(" 404 "), "{status}");
    assert_eq!(app.get("/metrics").await.status(), 404);

    // A second instance on the same metrics address is refused, naming the setting.
    let taken = format!("127.0.0.1:{}", app.metrics_port.unwrap());
    let data = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", data.path().join("second.db").display());
    let settings = iro_advice_testkit::test_settings(
        data.path(),
        &url,
        &[("IRO_ADVICE_METRICS_LISTEN", &taken)],
    );
    match iro_advice_server::http::server::Application::build(settings).await {
        Ok(_) => panic!("a second instance took the same metrics address"),
        Err(e) => assert!(
            e.to_string().starts_with("IRO_ADVICE_METRICS_LISTEN:"),
            "{e}"
        ),
    }
}

async fn metrics_show_mail_that_cannot_be_delivered(app: TestApp) {
    // Nothing listens there: every attempt fails.
    let dead = format!("smtp://127.0.0.1:{}?tls=none", free_port());
    let app = spawn_app_with(
        app.backend,
        &[
            ("IRO_ADVICE_SMTP_URL", &dead),
            ("IRO_ADVICE_MAIL_RETRY_BASE_SECS", "1"),
        ],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let text = scrape(&app);
    let pending_before = sample(&text, "iro_advice_outbox_pending").unwrap();

    let email = format!("{}@iro.test", unique_name("undelivered"));
    let res = app
        .post_json(
            "/api/v1/invitations",
            Some(&admin.access),
            &json!({"role": Role::Iro.as_str(), "email": email, "authority_code": "E06000019"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let text = iro_advice_testkit::eventually(20, "a failed attempt counted", || {
        let text = scrape(&app);
        let failing = sample(&text, "iro_advice_outbox_failing").unwrap();
        std::future::ready((failing >= 1.0).then_some(text))
    })
    .await;
    assert!(
        sample(&text, "iro_advice_outbox_pending").unwrap() >= pending_before + 1.0,
        "{text}"
    );
    assert!(!text.contains(&email), "an address in the metrics");
    // The operator's console shows the same outbox, and no address either.
    let operations =
        iro_advice_testkit::json(app.get_auth("/api/v1/operations", &admin.access).await, 200)
            .await;
    let outbox = &operations["outbox"];
    assert_eq!(outbox["transport"], "smtp", "{operations}");
    assert!(outbox["failing"].as_u64().unwrap() >= 1, "{operations}");
    assert_eq!(
        outbox["pending"].as_u64().unwrap(),
        sample(&text, "iro_advice_outbox_pending").unwrap() as u64
    );
    assert!(!operations.to_string().contains(&email));
    assert_eq!(operations["database_up"], true);
    assert_eq!(
        operations["log_size"].as_i64().unwrap(),
        app.count("log_leaves")
    );
    assert_eq!(operations["releases"]["stored"], 0, "{operations}");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let text = scrape(&app);
    assert!(
        sample(&text, "iro_advice_outbox_oldest_age_seconds").unwrap() >= 1.0,
        "{text}"
    );
}
