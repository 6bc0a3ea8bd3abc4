//! The service under the load and tricks an employer, or anyone on the network, can bring:
//! login floods, silent connections, racing answers, stolen sessions, noisy clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iro_advice_model::accounts::{AdviserKind, Role};
use serde_json::{json, Value};

use iro_advice_testkit::armored;
use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, json, totp_code, TestApp, PASSWORD};

both_databases!(
    a_login_flood_is_shed_at_once_and_other_routes_keep_answering,
    sessions_end_at_their_absolute_lifetime_and_when_a_second_factor_is_enrolled,
    an_answer_racing_a_reroute_applies_only_to_the_adviser_who_gave_it,
    uploads_stop_at_the_accounts_quota_and_a_stalled_one_is_discarded,
);

async fn uploads_stop_at_the_accounts_quota_and_a_stalled_one_is_discarded(app: TestApp) {
    let app = iro_advice_testkit::spawn_app_with(
        app.backend,
        &[
            ("IRO_ADVICE_MAX_ATTACHMENT_MB", "1"),
            ("IRO_ADVICE_ATTACHMENT_QUOTA_MB", "1"),
            ("IRO_ADVICE_UPLOAD_IDLE_SECS", "1"),
        ],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let readers = [
        app.register_key(&iro).await.to_public(),
        app.register_key(&adviser).await.to_public(),
    ];
    let created = json(
        app.post_json(
            "/api/v1/queries",
            Some(&iro.access),
            &json!({"adviser_id": adviser.id, "category": "placement", "stage": "none",
                    "urgency": "routine", "body": armored("question", &readers)}),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/queries/{id}/attachments");
    let upload = |body: Vec<u8>| {
        let app = &app;
        let (path, access) = (path.clone(), iro.access.clone());
        async move {
            app.client
                .post(app.url(&path))
                .bearer_auth(access)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let file = iro_advice_testkit::encrypt(&vec![7u8; 600 * 1024], &readers, false);
    json(upload(file.clone()).await, 201).await;
    let (leaves, chunks) = (app.count("log_leaves"), app.count("attachment_chunks"));
    // The second would take the account past its quota: refused, and nothing is kept.
    assert_problem(upload(file).await, 413, "quota-exceeded").await;
    assert_eq!(app.count("attachments"), 1);
    assert_eq!(
        (app.count("log_leaves"), app.count("attachment_chunks")),
        (leaves, chunks)
    );

    // A client that declares a body and then stops sending is cut off and leaves nothing.
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
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\nage-encryption.org/v1\n",
        adviser.access
    );
    let started = Instant::now();
    let answer = raw_https(&app, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("upload-timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        app.count("attachments"),
        1,
        "the partial upload was discarded"
    );
    assert_eq!(app.count("attachment_chunks"), chunks);
}

async fn a_login_flood_is_shed_at_once_and_other_routes_keep_answering(app: TestApp) {
    let app = iro_advice_testkit::spawn_app_with(
        app.backend,
        &[
            ("IRO_ADVICE_PASSWORD_HASH_SLOTS", "1"),
            ("IRO_ADVICE_SHED_DELAY_MS", "400"),
        ],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let app = Arc::new(app);
    // 64 at once, each with a fresh unknown email, so that no throttle applies.
    let flood: Vec<_> = (0..64)
        .map(|i| {
            let app = app.clone();
            actix_web::rt::spawn(async move {
                let started = std::time::Instant::now();
                let res = app
                    .login(&format!("flood{i}@nowhere.test"), "password guess!", None)
                    .await;
                let took = started.elapsed();
                let retry_after = res.headers().get("retry-after").cloned();
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap();
                (status, retry_after, body, took)
            })
        })
        .collect();
    // Meanwhile an IRO's ordinary requests are answered.
    for _ in 0..10 {
        json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    }
    let mut shed = 0;
    for attempt in flood {
        let (status, retry_after, body, took) = attempt.await.unwrap();
        match status {
            401 => assert_eq!(body["type"], "urn:iro-advice:problem:invalid-credentials"),
            503 => {
                shed += 1;
                assert_eq!(body["type"], "urn:iro-advice:problem:service-unavailable");
                assert!(retry_after.is_some(), "503 without Retry-After");
                // Shed without a hash, but answered only after the delay, so that a flooding
                // connection cannot come straight back.
                assert!(took >= std::time::Duration::from_millis(200), "{took:?}");
            }
            other => panic!("a login in the flood got {other}: {body}"),
        }
    }
    assert!(shed > 0, "one hashing slot cannot have taken 64 at once");
    // And once the flood is over, signing in works again.
    app.sign_in(&iro).await;
}

async fn sessions_end_at_their_absolute_lifetime_and_when_a_second_factor_is_enrolled(
    app: TestApp,
) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let other = app.sign_in(&iro).await;
    let other_access = other["access_token"].as_str().unwrap().to_owned();
    let other_refresh = other["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/refresh",
                None,
                &json!({ "refresh_token": token }),
            )
            .await
        }
    };

    // Twelve hours and a minute after sign-in, however often refreshed, a session is over.
    let rotated = json(refresh(other_refresh.clone()).await, 200).await;
    {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::sessions;
        let db = app.database();
        let mut conn = db.get().unwrap();
        let signed_in = iro_advice_server::db::now() - chrono::Duration::minutes(12 * 60 + 1);
        diesel::update(sessions::table.filter(sessions::revoked_at.is_null()))
            .filter(sessions::account_id.eq(&iro.id))
            .set(sessions::created_at.eq(signed_in))
            .execute(&mut *conn)
            .unwrap();
    }
    for access in [&iro.access, &other_access] {
        assert_problem(
            app.get_auth("/api/v1/me", access).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    let res = refresh(rotated["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_problem(res, 401, "unauthenticated").await;

    // Two fresh sessions of an account yet to enrol; enrolling in one ends the other.
    let mut user = app.unenrolled_iro(&admin).await;
    let email = user.email.clone();
    let kept = json(app.login(&email, PASSWORD, None).await, 200).await;
    let kept_access = kept["access_token"].as_str().unwrap().to_owned();
    let ended = json(app.login(&email, PASSWORD, None).await, 200).await;
    let secret = app.enrol_totp(&kept_access).await;
    assert_problem(
        app.get_auth("/api/v1/me", ended["access_token"].as_str().unwrap())
            .await,
        401,
        "unauthenticated",
    )
    .await;
    let res = refresh(ended["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_problem(res, 401, "unauthenticated").await;
    let me = json(app.get_auth("/api/v1/me", &kept_access).await, 200).await;
    assert_eq!(me["totp_enabled"], true);
    user.totp_secret = Some(secret.clone());
    let third = json(
        app.login(&email, PASSWORD, Some(&totp_code(&secret, 1)))
            .await,
        200,
    )
    .await;

    // A new password needs the current one and a fresh code: a stolen session has neither,
    // and a stolen password lacks the code. Each refusal changes nothing.
    const NEW: &str = "a brand new passphrase";
    let change = |current: &str, new: &str, code: &str| {
        let body = json!({"current_password": current, "new_password": new, "totp_code": code});
        let app = &app;
        let access = kept_access.clone();
        async move { app.put_json("/api/v1/me/password", &access, &body).await }
    };
    let res = change("not the password", NEW, &app.fresh_totp(&user)).await;
    assert_problem(res, 403, "invalid-credentials").await;
    assert_problem(
        change(PASSWORD, NEW, "000000").await,
        403,
        "step-up-required",
    )
    .await;
    assert_problem(
        change(PASSWORD, "short", &app.fresh_totp(&user)).await,
        400,
        "weak-password",
    )
    .await;
    let third_access = third["access_token"].as_str().unwrap();
    json(app.get_auth("/api/v1/me", third_access).await, 200).await;
    let outbox = app.count("outbox");
    let res = change(PASSWORD, NEW, &app.fresh_totp(&user)).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    assert_eq!(app.count("outbox"), outbox + 1, "the owner is told at once");
    // Every other session ended; this one goes on; the old password is gone.
    assert_problem(
        app.get_auth("/api/v1/me", third_access).await,
        401,
        "unauthenticated",
    )
    .await;
    json(app.get_auth("/api/v1/me", &kept_access).await, 200).await;
    let code = app.fresh_totp(&user);
    assert_problem(
        app.login(&email, PASSWORD, Some(&code)).await,
        401,
        "invalid-credentials",
    )
    .await;
    json(app.login(&email, NEW, Some(&code)).await, 200).await;
}

async fn an_answer_racing_a_reroute_applies_only_to_the_adviser_who_gave_it(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let first = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let second = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let iro_key = app.register_key(&iro).await.to_public();
    let first_key = app.register_key(&first).await.to_public();
    let second_key = app.register_key(&second).await.to_public();
    let mut outcomes = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let created = json(
            app.post_json(
                "/api/v1/queries",
                Some(&iro.access),
                &json!({"adviser_id": first.id, "category": "placement", "stage": "none",
                        "urgency": "routine",
                        "body": armored("question", &[iro_key.clone(), first_key.clone()])}),
            )
            .await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let shown = json(
            app.get_auth(&format!("/api/v1/queries/{id}"), &iro.access)
                .await,
            200,
        )
        .await;
        let messages: Vec<Value> = shown["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                json!({"id": m["id"],
                       "body": armored("question", &[iro_key.clone(), second_key.clone()])})
            })
            .collect();
        let accept_path = format!("/api/v1/queries/{id}/accept");
        let route_path = format!("/api/v1/queries/{id}/route");
        let route_body = json!({"adviser_id": second.id, "messages": messages});
        let empty = json!({});
        // On PostgreSQL, hold the query's row so that both acts read it as it was and then
        // queue their updates, the route's first: the interleaving in which the adviser's
        // stale read would have answered for the new adviser. (SQLite runs write
        // transactions one at a time, so there the acts are merely concurrent.)
        let holder = app.pg.is_some().then(|| {
            let (db, id) = (app.database(), id.clone());
            let (held, is_held) = std::sync::mpsc::channel();
            let thread = std::thread::spawn(move || {
                use diesel::connection::SimpleConnection;
                let mut conn = db.get().unwrap();
                conn.batch_execute(&format!(
                    "BEGIN; SELECT id FROM queries WHERE id = '{id}' FOR UPDATE;"
                ))
                .unwrap();
                held.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(700));
                conn.batch_execute("COMMIT").unwrap();
            });
            is_held.recv().unwrap();
            thread
        });
        let route = app.post_json(&route_path, Some(&iro.access), &route_body);
        let accept = async {
            if holder.is_some() {
                actix_web::rt::time::sleep(Duration::from_millis(250)).await;
            }
            app.post_json(&accept_path, Some(&first.access), &empty)
                .await
        };
        let (routed, accepted) = futures_util::join!(route, accept);
        if let Some(thread) = holder {
            thread.join().unwrap();
        }
        let (accepted, routed) = (accepted.status().as_u16(), routed.status().as_u16());
        let now = json(
            app.get_auth(&format!("/api/v1/queries/{id}"), &iro.access)
                .await,
            200,
        )
        .await;
        match (accepted, routed) {
            (200, 409) => {
                assert_eq!(now["status"], "accepted");
                assert_eq!(now["adviser_id"], first.id.as_str());
            }
            (404 | 409, 200) => {
                assert_eq!(now["status"], "submitted", "{now}");
                assert_eq!(now["adviser_id"], second.id.as_str());
            }
            other => panic!("accept and route gave {other:?}; the query is now {now}"),
        }
        outcomes.insert((accepted, routed));
    }
    eprintln!("outcomes seen: {outcomes:?}");
}

/// Raises this process's open-file limit to its hard limit: the test holds thousands of
/// sockets, on both ends, in one process.
fn raise_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[actix_web::test]
async fn two_thousand_silent_connections_leave_health_checks_answering() {
    raise_file_limit();
    let app = iro_advice_testkit::spawn_app(iro_advice_testkit::Backend::Sqlite)
        .await
        .unwrap();
    json(app.get("/healthz").await, 200).await;
    let mut silent = Vec::with_capacity(2000);
    for _ in 0..2000 {
        silent.push(
            tokio::net::TcpStream::connect(("127.0.0.1", app.port))
                .await
                .unwrap(),
        );
    }
    // Each check is a new client: a new connection and a full TLS handshake.
    let mut took = Vec::new();
    for _ in 0..5 {
        let client = iro_advice_testkit::https_client(&app.ca_path());
        let started = Instant::now();
        let res = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        took.push(started.elapsed());
    }
    took.sort();
    assert!(
        took[0] < Duration::from_millis(100),
        "with 2,000 silent connections open, health checks took {took:?}"
    );
    assert!(took[4] < Duration::from_secs(1), "{took:?}");
    drop(silent);
}

/// Sends raw bytes over TLS and reads the answer to the end.
async fn raw_https(app: &TestApp, request: &[u8]) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(app.ca_path()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(iro_advice_tlog::https::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_web::test]
async fn health_checks_and_a_clients_bad_headers_stay_out_of_the_operators_log() {
    let app = iro_advice_testkit::spawn_binary_app(
        iro_advice_testkit::Backend::Sqlite,
        &[("IRO_ADVICE_LOG_LEVEL", "info")],
    )
    .await
    .unwrap();
    for _ in 0..5 {
        json(app.get("/healthz").await, 200).await;
    }
    let answer = raw_https(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nthis is no header\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(app.get("/api/v1/me").await.status(), 401);
    let log = std::fs::read_to_string(app.data_dir.path().join("stderr.log")).unwrap();
    assert!(
        log.contains("/api/v1/me"),
        "requests are still logged: {log}"
    );
    assert!(!log.contains("/healthz"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
}

/// A new IRO with only the client: told to enrol, enrols from the terminal's command, changes
/// the password, and signs out.
#[actix_web::test]
async fn the_client_enrols_a_second_factor_changes_the_password_and_signs_out() {
    use iro_advice_testkit::Client;
    let app = iro_advice_testkit::spawn_app(iro_advice_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let admin = app.admin().await;
    let mut user = app.unenrolled_iro(&admin).await;
    let email = user.email.clone();
    let (client, _) = Client::login(&app, &user, &[]);
    let ran = client.run(&["advisers"]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("run `iro-advice client totp`"),
        "{}",
        ran.stderr
    );

    // Without a terminal, the secret is printed and the code given afterwards.
    let begun = client.ok(&["totp", "--json"]);
    let begun: Value = serde_json::from_str(&begun).unwrap();
    assert!(begun["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let secret = totp_rs::Secret::Encoded(begun["secret"].as_str().unwrap().to_owned())
        .to_bytes()
        .unwrap();
    let ran = client.run(&["totp", "--code", "000000"]);
    assert_eq!(ran.code, 1, "a wrong code does not enrol");
    client.ok(&["totp", "--code", &totp_code(&secret, 0)]);
    user.totp_secret = Some(secret);
    client.ok(&["advisers"]);

    // A second device's session ends when the password changes from the first.
    let (other, _) = Client::login(&app, &user, &[]);
    other.ok(&["advisers"]);
    let code = app.fresh_totp(&user);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["client", "password", "--totp", &code, "--profile-dir"])
        .arg(client.profile.path())
        .env("IRO_ADVICE_PASSWORD", PASSWORD)
        .env("IRO_ADVICE_NEW_PASSWORD", "my new long passphrase")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = other.run(&["advisers"]);
    assert_eq!(ran.code, 1, "{}", ran.stdout);
    assert!(ran.stderr.contains("client login"), "{}", ran.stderr);
    assert_problem(
        app.login(&email, PASSWORD, Some(&app.fresh_totp(&user)))
            .await,
        401,
        "invalid-credentials",
    )
    .await;

    // Signing out ends the session on the server, not only here.
    let tokens: Value =
        serde_json::from_slice(&std::fs::read(client.profile.path().join("tokens.json")).unwrap())
            .unwrap();
    client.ok(&["logout"]);
    assert!(!client.profile.path().join("tokens.json").exists());
    assert_problem(
        app.get_auth("/api/v1/me", tokens["access_token"].as_str().unwrap())
            .await,
        401,
        "unauthenticated",
    )
    .await;
    let ran = client.run(&["advisers"]);
    assert!(ran.stderr.contains("not logged in"), "{}", ran.stderr);
}

/// The database, keys and outbox are owner-only whatever the umask, and a data directory
/// left open to others is closed at start.
#[actix_web::test]
async fn the_data_directory_and_database_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut app = iro_advice_testkit::spawn_binary_app(iro_advice_testkit::Backend::Sqlite, &[])
        .await
        .unwrap();
    let admin = app.admin().await;
    app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let data = app.data_dir.path().to_owned();
    let db = data.join("test.db");
    for file in [db.clone(), data.join("test.db-wal")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    for dir in [data.clone(), data.join("keys"), data.join("outbox")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    // An operator (or a restore) leaves the directory and database readable by others.
    app.stop();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    app.start(&[]).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
    let log = std::fs::read_to_string(data.join("stderr.log")).unwrap();
    assert!(
        log.contains("now owner-only"),
        "the operator is told: {log}"
    );
}

/// What was API-only, from the client: an admin invites (the code printed, the link mailed),
/// lists, suspends and reactivates; an IRO restores its identity on a new device and lists
/// its pressure reports; NAIRO reads the narratives shared with it; an adviser pauses.
#[actix_web::test]
async fn every_role_does_its_work_from_the_client() {
    use iro_advice_testkit::Client;
    let nairo_identity = age::x25519::Identity::generate();
    let recipient = nairo_identity.to_public().to_string();
    let app = iro_advice_testkit::spawn_app_with(
        iro_advice_testkit::Backend::Sqlite,
        &[("IRO_ADVICE_NAIRO_RECIPIENT", &recipient)],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let (admin_cli, _) = Client::login(&app, &admin, &[]);
    let email = format!("{}@iro.test", iro_advice_testkit::unique_name("invited"));
    let out = admin_cli.ok(&[
        "invite",
        "--role",
        "iro",
        "--email",
        &email,
        "--authority",
        "E06000019",
    ]);
    let code = out.trim_end().lines().last().unwrap().to_owned();
    assert_eq!(code.len(), 11, "{out}");
    assert!(out.contains("never by email"), "{out}");
    let link = app.invitation_link(&email).await;
    let created = app.sign_up(&format!("{link}.{code}"), PASSWORD).await;
    let listed = admin_cli.ok(&["accounts"]);
    assert!(
        listed.contains(&email) && listed.contains("Herefordshire (E06000019)"),
        "{listed}"
    );
    let id = created["id"].as_str().unwrap();
    admin_cli.ok(&["suspend", id]);
    assert!(admin_cli.ok(&["accounts"]).contains("suspended"));
    admin_cli.ok(&["reactivate", id]);

    // An IRO with a passphrase-protected identity moves to a new device.
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let (first, _) = Client::login(&app, &iro, &[]);
    // A one-character passphrase would open the wrapped identity from any database copy.
    let me_before: serde_json::Value =
        iro_advice_testkit::json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    let weak = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["client", "keygen", "--passphrase", "--profile-dir"])
        .arg(first.profile.path())
        .env("IRO_ADVICE_IDENTITY_PASSPHRASE", "x")
        .output()
        .unwrap();
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("use at least 20"),
        "{}",
        String::from_utf8_lossy(&weak.stderr)
    );
    let me: serde_json::Value =
        iro_advice_testkit::json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(
        me["age_recipient"], me_before["age_recipient"],
        "nothing registered"
    );
    let keygen = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["client", "keygen", "--passphrase", "--profile-dir"])
        .arg(first.profile.path())
        .env("IRO_ADVICE_IDENTITY_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    assert!(
        keygen.status.success(),
        "{}",
        String::from_utf8_lossy(&keygen.stderr)
    );
    let narrative = first.profile.path().join("what.txt");
    std::fs::write(&narrative, "Told to stop contacting solicitors.").unwrap();
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args([
            "client",
            "pressure",
            "--kind",
            "discouraged_from_advice",
            "--date",
            "2026-11-30",
        ])
        .args(["--share-with-nairo", "--narrative"])
        .arg(&narrative)
        .arg("--profile-dir")
        .arg(first.profile.path())
        .env("IRO_ADVICE_IDENTITY_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let (second, _) = Client::login(&app, &iro, &[]);
    let restore = |code: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
            .args(["client", "restore", "--totp", code, "--profile-dir"])
            .arg(second.profile.path())
            .env("IRO_ADVICE_IDENTITY_PASSPHRASE", "a long enough passphrase")
            .output()
            .unwrap()
    };
    assert!(!restore("000000").status.success(), "a code is needed");
    let restored = restore(&app.fresh_totp(&iro));
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["client", "pressure", "list", "--profile-dir"])
        .arg(second.profile.path())
        .env("IRO_ADVICE_IDENTITY_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("Told to stop contacting solicitors."),
        "{list}"
    );
    assert!(list.contains("discouraged_from_advice") && list.contains("shared with NAIRO"));

    // NAIRO reads it with its own key.
    let nairo = app.user(&admin, Role::Nairo, None, None).await;
    let (nairo_cli, _) = Client::login(&app, &nairo, &[]);
    std::fs::write(
        nairo_cli.profile.path().join("identity.txt"),
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&nairo_identity.to_string())
        ),
    )
    .unwrap();
    let read = nairo_cli.ok(&["narratives"]);
    assert!(
        read.contains("Told to stop contacting solicitors."),
        "{read}"
    );
    assert!(read.contains("Herefordshire"), "{read}");

    // An adviser who pauses is not offered to IROs until back.
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let (adviser_cli, _) = Client::login(&app, &adviser, &[]);
    adviser_cli.ok(&["keygen"]);
    let listed = || first.ok(&["advisers"]).contains(&adviser.id);
    assert!(listed());
    adviser_cli.ok(&["availability", "--accepting", "false"]);
    assert!(!listed());
    adviser_cli.ok(&["availability", "--accepting", "true"]);
    assert!(listed());
}

/// Connects over TLS offering `alpn`; the stream, or the handshake's failure.
async fn tls_offering(
    app: &TestApp,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(app.ca_path()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config =
        rustls::ClientConfig::builder_with_provider(iro_advice_tlog::https::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

/// RUSTSEC-2026-0258: h2 0.3 (actix-http's HTTP/2) queues empty DATA frames without limit.
/// The service speaks HTTP/1.1 only, so the attack — an HTTP/2 preface and a flood of
/// empty DATA frames on an open stream — never reaches an HTTP/2 implementation.
#[actix_web::test]
async fn http2_is_not_spoken_so_a_flood_of_empty_data_frames_meets_none() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = iro_advice_testkit::spawn_app(iro_advice_testkit::Backend::Sqlite)
        .await
        .unwrap();
    // A client that prefers HTTP/2 is given HTTP/1.1; one that speaks only HTTP/2 is refused.
    let both = tls_offering(&app, &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(both.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let h2_only = tls_offering(&app, &[b"h2"]).await;
    assert!(
        h2_only.is_err()
            || h2_only
                .as_ref()
                .unwrap()
                .get_ref()
                .1
                .alpn_protocol()
                .is_none(),
        "HTTP/2 was negotiated"
    );

    // The attack itself, over a connection without ALPN: preface, SETTINGS, a request's
    // HEADERS (stream 1, left open), then 200,000 empty DATA frames.
    let frame = |length: u32, kind: u8, flags: u8, stream: u32| {
        let mut f = length.to_be_bytes()[1..].to_vec();
        f.extend([kind, flags]);
        f.extend(stream.to_be_bytes());
        f
    };
    let mut attack = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    attack.extend(frame(0, 4, 0, 0));
    let block = [0x83, 0x87, 0x84, 0x41, 0x09];
    let mut headers = frame(block.len() as u32 + 9, 1, 0x4, 1);
    headers.extend(block);
    headers.extend(b"127.0.0.1");
    attack.extend(headers);
    for _ in 0..200_000 {
        attack.extend(frame(0, 0, 0, 1));
    }
    let mut tls = tls_offering(&app, &[]).await.unwrap();
    let _ = tls.write_all(&attack).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut answer)).await;
    // An HTTP/2 server's first frame would be SETTINGS (type 4 on stream 0); an HTTP/1.1
    // server refuses the preface as a malformed request, or closes.
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "not an HTTP/1.1 refusal: {answer:?}"
    );
    json(app.get("/healthz").await, 200).await;
}

/// A renewed certificate is taken up on SIGHUP without a restart; a pair that does not load
/// is refused and the certificate in use stays.
#[actix_web::test]
async fn sighup_reloads_the_certificate_and_a_bad_one_changes_nothing() {
    let app = iro_advice_testkit::spawn_binary_app(iro_advice_testkit::Backend::Sqlite, &[])
        .await
        .unwrap();
    let (cert, key) = (app.ca_path(), app.data_dir.path().join("tls/dev-key.pem"));
    // A fresh client each time: a pooled connection keeps the certificate it began with.
    let trusting = |pem: &[u8]| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, pem).unwrap();
        iro_advice_testkit::https_client(&path)
    };
    let healthy = |client: reqwest::Client| {
        let url = app.url("/healthz");
        async move {
            client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    };
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &app.pid().unwrap().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let old = std::fs::read(&cert).unwrap();
    assert!(healthy(trusting(&old)).await);

    // The renewal: a new certificate and key in the same files.
    let renewed = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let new = renewed.cert.pem().into_bytes();
    assert!(
        !healthy(trusting(&new)).await,
        "not served before the reload"
    );
    std::fs::write(&key, renewed.signing_key.serialize_pem()).unwrap();
    std::fs::write(&cert, renewed.cert.pem()).unwrap();
    hangup();
    iro_advice_testkit::eventually(10, "the renewed certificate is served", || {
        let client = trusting(&new);
        let healthy = &healthy;
        async move { healthy(client).await.then_some(()) }
    })
    .await;
    assert!(
        !healthy(trusting(&old)).await,
        "the old certificate is gone"
    );

    // A half-done renewal (a key that does not match the certificate): refused, and the
    // renewed certificate is still served, by the same process.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
    let pid = app.pid();
    hangup();
    let log = app.data_dir.path().join("stderr.log");
    iro_advice_testkit::eventually(10, "the refused reload is logged", || {
        let log = log.clone();
        async move {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("kept the TLS certificate in use")
                .then_some(())
        }
    })
    .await;
    assert!(healthy(trusting(&new)).await);
    assert_eq!(app.pid(), pid);
}
