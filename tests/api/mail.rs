//! Notification mail: a real SMTP conversation over STARTTLS on loopback, the outbox's
//! patience with a server that is down, the file fallback, and logs free of secrets.

use std::time::Duration;

use serde_json::json;

use iro_advice_testkit::smtp::SmtpServer;
use iro_advice_testkit::{
    json, spawn_app_with, spawn_process_app, unique_name, Backend, TestApp, PASSWORD,
};

fn smtp_settings(server_port: u16, ca: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "IRO_ADVICE_SMTP_URL",
            format!("smtp://127.0.0.1:{server_port}"),
        ),
        ("IRO_ADVICE_SMTP_CA", ca.to_owned()),
        ("IRO_ADVICE_MAIL_POLL_MS", "50".into()),
        ("IRO_ADVICE_MAIL_RETRY_BASE_SECS", "1".into()),
    ]
}

async fn app_with(backend: Backend, extra: &[(&'static str, String)]) -> Option<TestApp> {
    let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(backend, &pairs).await
}

async fn invite_iro(app: &TestApp) -> (String, String) {
    let admin = app.admin().await;
    let email = format!("{}@iro.test", unique_name("iro"));
    let body = json(
        app.post_json(
            "/api/v1/invitations",
            Some(&admin.access),
            &json!({"role": "iro", "email": email, "authority_code": "E06000019"}),
        )
        .await,
        201,
    )
    .await;
    (email, body["code"].as_str().unwrap().to_owned())
}

/// The token of the invitation link in a mail.
fn link_in(mail: &str) -> String {
    let mail = unfold(mail);
    let at = mail.find("/open#").unwrap() + "/open#".len();
    mail[at..at + 43].to_owned()
}

macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$body(iro_advice_testkit::Backend::Sqlite).await;
            }
            #[actix_web::test]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
            async fn postgres() {
                super::$body(iro_advice_testkit::Backend::Postgres).await;
            }
        }
    };
}

on_both!(
    an_invitation_arrives_over_smtp_with_starttls,
    invitation_over_smtp
);
on_both!(
    mail_waits_in_the_outbox_while_the_server_is_down,
    mail_survives_an_outage
);

async fn invitation_over_smtp(backend: Backend) {
    let smtp = SmtpServer::start(0);
    let mut settings = smtp_settings(smtp.port, smtp.ca().to_str().unwrap());
    settings.push(("IRO_ADVICE_MAIL_SUBJECT", "A message for you".into()));
    settings.push((
        "IRO_ADVICE_MAIL_FROM",
        "Notices <notices@example.org>".into(),
    ));
    let app = app_with(backend, &settings).await.unwrap();
    let (email, code) = invite_iro(&app).await;
    let got = smtp.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert!(mail.over_tls, "delivered only after STARTTLS");
    assert_eq!(mail.to, vec![email.clone()]);
    // The subject and sender are the neutral ones the settings give.
    assert!(
        mail.data.contains("Subject: A message for you\r\n"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("From: Notices <notices@example.org>"),
        "{}",
        mail.data
    );
    // The link is there; the inviter's half is not, so reading this mail opens nothing.
    assert_eq!(link_in(&mail.data).len(), 43);
    assert!(!unfold(&mail.data).contains(&code), "{}", mail.data);
    // Nothing about the role, the authority, the service or anything else.
    for leak in [
        "iro.test",
        "Herefordshire",
        "E06000019",
        "invit",
        "role",
        "IRO",
        "advice",
    ] {
        let body = mail.data.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert!(!body.contains(leak), "the body mentions {leak:?}: {body}");
    }
    // Delivered mail is marked sent and its address and text are forgotten.
    wait_until(|| pending(&app) == 0).await;
    use diesel::prelude::*;
    use iro_advice_server::db::schema::outbox;
    let db = app.database();
    let mut conn = db.get().unwrap();
    let rows: Vec<(String, String)> = outbox::table
        .select((outbox::recipient, outbox::body))
        .load(&mut *conn)
        .unwrap();
    assert!(rows.iter().all(|(r, b)| r.is_empty() && b.is_empty()));
}

/// Undoes quoted-printable soft line breaks, which a mail client would.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "")
}

fn pending(app: &TestApp) -> i64 {
    let db = app.database();
    let mut conn = db.get().unwrap();
    iro_advice_server::mail::pending_count(&mut conn).unwrap()
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 15 s");
}

async fn mail_survives_an_outage(backend: Backend) {
    // A port with nothing listening: the mail server is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ca_holder = SmtpServer::start(0);
    let app = app_with(
        backend,
        &smtp_settings(port, ca_holder.ca().to_str().unwrap()),
    )
    .await
    .unwrap();
    let (email, _) = invite_iro(&app).await;
    let attempts = || {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::outbox;
        let db = app.database();
        let mut conn = db.get().unwrap();
        outbox::table
            .select(diesel::dsl::max(outbox::attempts))
            .first::<Option<i32>>(&mut *conn)
            .unwrap()
            .unwrap_or(0)
    };
    wait_until(|| attempts() >= 1).await;
    assert_eq!(pending(&app), 1, "the mail waits in the outbox");

    // The server comes back, with the same certificate, on the same port.
    let smtp = SmtpServer::start_with_ca_of(&ca_holder, port);
    let got = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].to, vec![email]);
    wait_until(|| pending(&app) == 0).await;
    // Exactly once, however many times the sender looked.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1);
}

#[actix_web::test]
async fn without_smtp_mail_is_written_as_eml_files() {
    let app =
        iro_advice_testkit::spawn_app_with(Backend::Sqlite, &[("IRO_ADVICE_MAIL_POLL_MS", "50")])
            .await
            .unwrap();
    let (_, code) = invite_iro(&app).await;
    let dir = app.data_dir.path().join("outbox");
    wait_until(|| {
        std::fs::read_dir(&dir)
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    })
    .await;
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(file.extension().unwrap(), "eml");
    let text = std::fs::read_to_string(file).unwrap();
    // The defaults name nothing: not the service, not the sender's purpose.
    assert!(
        text.contains("Subject: Something is waiting for you\r\n"),
        "{text}"
    );
    assert!(!text.contains("IRO"), "{text}");
    assert_eq!(link_in(&text).len(), 43);
    assert!(!unfold(&text).contains(&code));
}

#[actix_web::test]
async fn secrets_never_reach_the_logs() {
    let smtp = SmtpServer::start(0);
    let settings = smtp_settings(smtp.port, smtp.ca().to_str().unwrap());
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The real binary, so that what is read is this server's stderr and nothing else.
    let (app, log_path) = spawn_process_app(&pairs).await;
    let admin = app.admin().await;
    let (email, code) = invite_iro(&app).await;
    let mailed = smtp.wait_for(1, Duration::from_secs(15)).await;
    let link = link_in(&mailed[0].data);
    app.sign_up(&format!("{link}.{code}"), PASSWORD).await;
    let tokens = json(app.login(&email, PASSWORD, None).await, 200).await;
    let refreshed = json(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await,
        200,
    )
    .await;
    // A reuse, a failed login and a suspension, so the warning paths log too.
    app.post_json(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": tokens["refresh_token"]}),
    )
    .await;
    app.login(&email, "the wrong password", None).await;
    json(
        app.post_json("/api/v1/me/totp", Some(&admin.access), &json!({}))
            .await,
        409,
    )
    .await;

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("/api/v1/auth/login"),
        "the requests were logged: {logs}"
    );
    for secret in [
        PASSWORD,
        "the wrong password",
        email.as_str(),
        admin.email.as_str(),
        link.as_str(),
        code.as_str(),
        admin.access.as_str(),
        admin.refresh.as_str(),
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    let totp_b32 = totp_rs::Secret::Raw(admin.totp_secret.clone().unwrap())
        .to_encoded()
        .to_string();
    assert!(
        !logs.contains(&totp_b32),
        "the TOTP secret reached the logs"
    );
    assert!(
        !logs.contains("@iro.test") && !logs.contains("@admin.test"),
        "an email reached the logs"
    );
}

on_both!(
    routine_notices_wait_for_one_jittered_digest_and_urgent_ones_go_at_once,
    digest
);

/// Rows of the outbox not yet sent to `email`: (digest, seconds until due).
fn pending_for(app: &TestApp, email: &str) -> Vec<(bool, i64)> {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::outbox;
    let db = app.database();
    let mut conn = db.get().unwrap();
    let now = chrono::Utc::now().naive_utc();
    outbox::table
        .filter(outbox::recipient.eq(email))
        .filter(outbox::sent_at.is_null())
        .select((outbox::digest, outbox::next_attempt_at))
        .load::<(bool, chrono::NaiveDateTime)>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|(d, at)| (d, (at - now).num_seconds()))
        .collect()
}

async fn digest(backend: Backend) {
    use iro_advice_model::accounts::{AdviserKind, Role};
    use iro_advice_testkit::armored;
    let smtp = SmtpServer::start(0);
    let mut settings = smtp_settings(smtp.port, smtp.ca().to_str().unwrap());
    settings.push(("IRO_ADVICE_MAIL_DIGEST_MINUTES", "30".into()));
    let app = app_with(backend, &settings).await.unwrap();
    // From the console: their invitations would go to the SMTP server, not to a file.
    let iro = app.console_user(Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .console_user(Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let iro_key = app.register_key(&iro).await.to_public();
    let adviser_key = app.register_key(&adviser).await.to_public();
    // Registering keys told each owner at once; let those go before counting.
    smtp.wait_for(2, Duration::from_secs(15)).await;
    wait_until(|| pending(&app) == 0).await;
    let ask = |urgency: &'static str| {
        let body = json!({"adviser_id": adviser.id, "category": "placement", "stage": "none",
                          "urgency": urgency,
                          "body": armored("question", &[iro_key.clone(), adviser_key.clone()])});
        let app = &app;
        let access = iro.access.clone();
        async move {
            json(
                app.post_json("/api/v1/queries", Some(&access), &body).await,
                201,
            )
            .await
        }
    };

    // Three routine questions: one digest, due at a random time within the half hour.
    for _ in 0..3 {
        ask("routine").await;
    }
    let rows = pending_for(&app, &adviser.email);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (is_digest, due_in) = rows[0];
    assert!(is_digest && (0..=30 * 60).contains(&due_in), "{rows:?}");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let mailed_before = smtp.received().len();

    // An urgent one goes at once, and takes the digest's place.
    ask("urgent").await;
    let got = smtp
        .wait_for(mailed_before + 1, Duration::from_secs(15))
        .await;
    assert_eq!(got.last().unwrap().to, vec![adviser.email.clone()]);
    wait_until(|| pending_for(&app, &adviser.email).is_empty()).await;

    // Another routine one starts a new digest, which arrives when it falls due (brought
    // forward here rather than waiting for it): one mail for any number of notices.
    ask("routine").await;
    ask("routine").await;
    assert_eq!(pending_for(&app, &adviser.email).len(), 1);
    {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::outbox;
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::update(outbox::table.filter(outbox::recipient.eq(&adviser.email)))
            .set(outbox::next_attempt_at.eq(chrono::Utc::now().naive_utc()))
            .execute(&mut *conn)
            .unwrap();
    }
    let got = smtp
        .wait_for(mailed_before + 2, Duration::from_secs(15))
        .await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), mailed_before + 2, "one digest");
    assert_eq!(got.last().unwrap().to, vec![adviser.email.clone()]);
}

#[test]
fn mail_files_are_deleted_after_their_hours() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    // Files the transport wrote before this start: one two hours ago, one just now.
    let write = |name: &str, age_secs: u64| {
        let path = outbox.join(name);
        std::fs::write(&path, "To: someone@example.org\r\n\r\nSign in").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() - Duration::from_secs(age_secs))
            .unwrap();
    };
    write("old.eml", 2 * 3600);
    write("new.eml", 0);
    write("notes.txt", 2 * 3600);
    let settings = iro_advice_testkit::test_settings(
        dir.path(),
        "sqlite://unused.db",
        &[("IRO_ADVICE_MAIL_FILE_HOURS", "1")],
    );
    // What the sender does once a minute.
    let mailer = iro_advice_server::mail::Mailer::new(&settings).unwrap();
    assert_eq!(mailer.sweep_files().unwrap(), 1);
    assert!(!outbox.join("old.eml").exists());
    assert!(
        outbox.join("new.eml").exists(),
        "a file younger than the setting stays"
    );
    assert!(
        outbox.join("notes.txt").exists(),
        "only mail files are deleted"
    );
}

on_both!(
    failed_sign_ins_are_never_mailed_to_a_work_address,
    sign_in_failures_mail
);

/// The employer's mail server reads the work address: five failed sign-ins to an account
/// that gave no private address send nothing (the holder is told at the next sign-in); to one
/// that gave a private address, one neutral mail goes there and nowhere else.
async fn sign_in_failures_mail(backend: Backend) {
    let smtp = SmtpServer::start(0);
    let app = app_with(
        backend,
        &smtp_settings(smtp.port, smtp.ca().to_str().unwrap()),
    )
    .await
    .unwrap();
    let work_only = format!("{}@iro.test", unique_name("work"));
    let with_private = format!("{}@iro.test", unique_name("work"));
    let private = format!("{}@home.test", unique_name("private"));
    for (email, notices) in [(&work_only, None), (&with_private, Some(&private))] {
        let invitation = app.cli_invitation(
            iro_advice_model::accounts::Role::Iro,
            email,
            Some("E06000019"),
            None,
        );
        let res = app
            .post_json(
                "/api/v1/accounts",
                None,
                &json!({"invitation": invitation, "password": PASSWORD,
                        "display_name": "Sam Patel", "notification_email": notices}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let before = smtp.received().len();
    for email in [&work_only, &with_private] {
        for _ in 0..5 {
            let res = app.login(email, "not the password!", None).await;
            assert_eq!(res.status(), 401);
        }
    }
    let got = smtp.wait_for(before + 1, Duration::from_secs(15)).await;
    wait_until(|| pending(&app) == 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after: Vec<Vec<String>> = smtp.received()[before..]
        .iter()
        .map(|m| m.to.clone())
        .collect();
    assert_eq!(after, vec![vec![private.clone()]], "{} mails", got.len());

    // A sign-in from a new device is news for the holder too: at the private address only.
    {
        let locked = app.login(&with_private, PASSWORD, None).await;
        assert_eq!(locked.status(), 429, "locked after five failures");
        // A quarter of an hour later, as far as the lock is concerned.
        use diesel::prelude::*;
        use iro_advice_server::db::schema::login_failures;
        let db = app.database();
        let mut conn = db.get().unwrap();
        diesel::delete(login_failures::table)
            .execute(&mut *conn)
            .unwrap();
    }
    let before = smtp.received().len();
    let first = json(app.login(&with_private, PASSWORD, None).await, 200).await;
    let device = first["device_token"].as_str().unwrap().to_owned();
    let got = smtp.wait_for(before + 1, Duration::from_secs(15)).await;
    assert_eq!(
        got[before..]
            .iter()
            .map(|m| m.to.clone())
            .collect::<Vec<_>>(),
        vec![vec![private.clone()]]
    );
    // From that device again: nothing new.
    let again = app
        .login_from(&with_private, PASSWORD, None, Some(&device))
        .await;
    assert_eq!(again.status(), 200);
    wait_until(|| pending(&app) == 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), before + 1);
}
