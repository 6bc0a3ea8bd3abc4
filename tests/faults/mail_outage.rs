//! The mail server away for a while, then back; and the service killed between handing a
//! message to the server and marking it sent. Every notification arrives exactly once,
//! except the one the crash caught, which arrives twice.

use std::collections::HashMap;
use std::time::Duration;

use diesel::prelude::*;
use iro_advice_server::db::schema::outbox;
use serde_json::json;

use iro_advice_testkit::smtp::SmtpServer;
use iro_advice_testkit::{
    eventually, free_port, json, spawn_binary_app, unique_name, Backend, TestApp,
};

mod mail_away_then_back_and_a_crash_while_sending {
    #[actix_web::test]
    async fn sqlite() {
        super::run(iro_advice_testkit::Backend::Sqlite).await;
    }
    #[actix_web::test]
    #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn postgres() {
        super::run(iro_advice_testkit::Backend::Postgres).await;
    }
}

const BATCH: usize = 20;

async fn invite(app: &TestApp, token: &str, n: usize) -> Vec<String> {
    let mut emails = Vec::new();
    for _ in 0..n {
        let email = format!("{}@iro.test", unique_name("iro"));
        json(
            app.post_json(
                "/api/v1/invitations",
                Some(token),
                &json!({"role": "iro", "email": email, "authority_code": "E06000019"}),
            )
            .await,
            201,
        )
        .await;
        emails.push(email);
    }
    emails
}

fn unsent(app: &TestApp) -> i64 {
    let db = app.database();
    let mut conn = db.get().unwrap();
    outbox::table
        .filter(outbox::sent_at.is_null())
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

fn least_attempts(app: &TestApp) -> i32 {
    let db = app.database();
    let mut conn = db.get().unwrap();
    outbox::table
        .filter(outbox::sent_at.is_null())
        .select(diesel::dsl::min(outbox::attempts))
        .first::<Option<i32>>(&mut *conn)
        .unwrap()
        .unwrap_or(0)
}

/// How many times each address received mail.
fn deliveries(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in smtp.received() {
        for to in m.to {
            *out.entry(to).or_default() += 1;
        }
    }
    out
}

async fn run(backend: Backend) {
    let _serial = crate::serial().await;
    // The mail server's port, with nothing listening yet.
    let port = free_port();
    let ca_holder = SmtpServer::start(0);
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let ca = ca_holder.ca().to_str().unwrap().to_owned();
    let Some(mut app) = spawn_binary_app(
        backend,
        &[
            ("IRO_ADVICE_SMTP_URL", &smtp_url),
            ("IRO_ADVICE_SMTP_CA", &ca),
            ("IRO_ADVICE_MAIL_POLL_MS", "50"),
            ("IRO_ADVICE_MAIL_RETRY_BASE_SECS", "1"),
        ],
    )
    .await
    else {
        panic!("TEST_DATABASE_URL names a PostgreSQL server");
    };
    let admin = app.admin().await;
    let before_outage = unsent(&app);

    // While the server is away: every invitation waits, and each has been tried.
    let first = invite(&app, &admin.access, BATCH).await;
    eventually(60, "every waiting mail tried at least twice", || {
        std::future::ready((least_attempts(&app) >= 2).then_some(()))
    })
    .await;
    assert_eq!(unsent(&app), before_outage + BATCH as i64);

    // Back, with the same certificate on the same port: each arrives, once.
    let smtp = SmtpServer::start_with_ca_of(&ca_holder, port);
    eventually(90, "the outbox emptied", || {
        std::future::ready((unsent(&app) == 0).then_some(()))
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let got = deliveries(&smtp);
    for email in &first {
        assert_eq!(got.get(email), Some(&1), "{email} after the outage");
    }

    // Killed between handing a message over and marking it sent: the server has the first
    // of the batch, its `250` held back, when the process dies. The batch waits for the
    // server first, so that it flows all at once when the server returns.
    drop(smtp);
    let second = invite(&app, &admin.access, BATCH).await;
    eventually(30, "the batch tried", || {
        std::future::ready((least_attempts(&app) >= 1).then_some(()))
    })
    .await;
    let smtp = SmtpServer::start_with_ca_of(&ca_holder, port);
    smtp.hold(true);
    eventually(30, "the first of the batch handed over", || {
        std::future::ready((!smtp.received().is_empty()).then_some(()))
    })
    .await;
    app.stop();
    smtp.hold(false);
    let in_flight = smtp.received();
    assert_eq!(in_flight.len(), 1, "one message was in flight");
    let in_flight = in_flight[0].to[0].clone();
    // A message claimed when the process died is held by its lease (five minutes) so that
    // no other sender takes it while it may still be on its way; the test lets the lease
    // run out rather than wait for it.
    {
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::update(outbox::table.filter(outbox::claimed_until.is_not_null()))
            .set(
                outbox::claimed_until
                    .eq(chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1)),
            )
            .execute(&mut *conn)
            .unwrap();
    }
    app.start(&[]).await;
    eventually(90, "the outbox emptied after the restart", || {
        std::future::ready((unsent(&app) == 0).then_some(()))
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let got = deliveries(&smtp);
    for email in &second {
        let expected = if *email == in_flight { 2 } else { 1 };
        assert_eq!(
            got.get(email),
            Some(&expected),
            "{email}: only the message in flight at the kill goes twice"
        );
    }
    assert!(
        first.iter().all(|e| !got.contains_key(e)),
        "mail delivered before the outage went again"
    );
}
