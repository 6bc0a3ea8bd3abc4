//! The service foundation: health, errors, headers, TLS, the database layer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use iro_advice_server::db::{meta, write_transaction, DbConnection};

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{assert_problem, json, Backend, TestApp};

both_databases!(
    healthz_names_the_database,
    readyz_answers_when_the_database_does,
    openapi_describes_the_service,
    unknown_routes_and_methods_are_problems,
    every_response_carries_the_security_headers,
    authorities_are_loaded_and_kept_in_step,
    concurrent_writers_all_commit,
);

async fn healthz_names_the_database(app: TestApp) {
    let res = app.get("/healthz").await;
    // ALPN offered h2 and HTTP/1.1, and the server chose HTTP/1.1 (see the book's production chapter on h2).
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    let body = json(res, 200).await;
    assert_eq!(body["status"], "ok");
    let expected = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

async fn readyz_answers_when_the_database_does(app: TestApp) {
    let body = json(app.get("/readyz").await, 200).await;
    assert_eq!(body["status"], "ready");
}

async fn openapi_describes_the_service(app: TestApp) {
    let doc = json(app.get("/api/v1/openapi.json").await, 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/healthz", "/readyz", "/api/v1/openapi.json"] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from {doc}"
        );
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
}

async fn unknown_routes_and_methods_are_problems(app: TestApp) {
    assert_problem(app.get("/no/such/thing").await, 404, "not-found").await;
    assert_problem(app.get("/api/v1/nothing-here").await, 404, "not-found").await;
    let res = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_problem(res, 405, "method-not-allowed").await;
    let res = app.client.delete(app.url("/readyz")).send().await.unwrap();
    assert_problem(res, 405, "method-not-allowed").await;
}

async fn every_response_carries_the_security_headers(app: TestApp) {
    for path in ["/healthz", "/api/v1/openapi.json", "/missing"] {
        let res = app.get(path).await;
        let h = res.headers();
        assert!(h["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age="));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert_eq!(h["cache-control"], "no-store");
    }
}

async fn authorities_are_loaded_and_kept_in_step(app: TestApp) {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::authorities;
    let db = app.database();
    let mut conn = db.get().unwrap();
    let count: i64 = authorities::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(count, 175);

    // A drifted row and a missing row are both restored by the next start's sync.
    diesel::update(authorities::table.find("E06000019"))
        .set(authorities::name.eq("Tampered"))
        .execute(&mut *conn)
        .unwrap();
    diesel::delete(authorities::table.find("W06000001"))
        .execute(&mut *conn)
        .unwrap();
    meta::set(&mut conn, "authorities_sha256", "stale").unwrap();
    let changed = iro_advice_server::authorities::sync(&mut conn).unwrap();
    assert_eq!(changed, 2);
    let name: String = authorities::table
        .find("E06000019")
        .select(authorities::name)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(name, "Herefordshire");
    assert_eq!(iro_advice_server::authorities::sync(&mut conn).unwrap(), 0);
}

async fn concurrent_writers_all_commit(app: TestApp) {
    // Read-then-write from many threads at once: a deferred SQLite transaction cannot wait
    // to upgrade its read lock and fails with "database is locked"; immediate ones queue.
    let db = app.database();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    let mut conn = db.get().unwrap();
                    write_transaction(&mut conn, |c: &mut DbConnection| {
                        meta::get(c, "authorities_sha256")?;
                        meta::set(c, &format!("writer-{t}-{i}"), "x")?;
                        meta::set(c, "last-writer", &t.to_string())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut conn = db.get().unwrap();
    let written = (0..6)
        .flat_map(|t| (0..40).map(move |i| format!("writer-{t}-{i}")))
        .filter(|k| meta::get(&mut conn, k).unwrap().is_some())
        .count();
    assert_eq!(written, 240);

    // A failing transaction leaves nothing behind.
    let err = write_transaction(&mut conn, |c: &mut DbConnection| {
        meta::set(c, "last-writer", "rolled back")?;
        Err::<(), _>(diesel::result::Error::RollbackTransaction)
    });
    assert!(err.is_err());
    assert_ne!(
        meta::get(&mut conn, "last-writer").unwrap().as_deref(),
        Some("rolled back")
    );
}

// --- TLS: these need only one backend, the listener is the same. ---

fn raw_exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// A TLS 1.1 ClientHello: legacy version 0x0302, no supported_versions extension.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]); // AES128/256-SHA
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[actix_web::test]
async fn tls_1_1_and_plain_http_are_refused() {
    let app = iro_advice_testkit::spawn_app(Backend::Sqlite)
        .await
        .unwrap();
    let port = app.port;
    let (tls11, plain) = actix_web::web::block(move || {
        (
            raw_exchange(port, &tls11_client_hello()),
            raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        )
    })
    .await
    .unwrap();
    // No ServerHello (handshake record 0x16): at most an alert record (0x15), then close.
    assert!(
        tls11.is_empty() || tls11[0] == 0x15,
        "TLS 1.1 got a handshake answer: {tls11:02x?}"
    );
    let text = String::from_utf8_lossy(&plain);
    assert!(
        !text.contains("HTTP/1.1"),
        "plain HTTP was answered: {text}"
    );
    assert!(
        !text.contains("\"status\""),
        "plain HTTP got content: {text}"
    );
    // The same port still speaks TLS afterwards.
    json(app.get("/healthz").await, 200).await;
}

#[actix_web::test]
async fn a_development_certificate_is_generated_once_in_the_data_dir() {
    let app = iro_advice_testkit::spawn_app(Backend::Sqlite)
        .await
        .unwrap();
    let cert = app.data_dir.path().join("tls/dev-cert.pem");
    let key = app.data_dir.path().join("tls/dev-key.pem");
    assert!(cert.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key must be owner-only");
    }
    let first = std::fs::read(&cert).unwrap();
    iro_advice_server::tls::ensure_dev_certificate(app.data_dir.path()).unwrap();
    assert_eq!(
        std::fs::read(&cert).unwrap(),
        first,
        "an existing certificate is kept"
    );
    let fp = iro_advice_server::tls::certificate_fingerprint(&cert).unwrap();
    assert_eq!(fp.len(), 32 * 3 - 1);
}

#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn readyz_follows_postgres_down_and_up_without_a_restart() {
    let app = iro_advice_testkit::spawn_app(Backend::Postgres)
        .await
        .expect("TEST_DATABASE_URL names a PostgreSQL server");
    let pg = app.pg.as_ref().unwrap();
    json(app.get("/readyz").await, 200).await;

    // As good as stopping the server, for this database: refuse new connections and end
    // the open ones.
    pg.admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS false",
        pg.name
    ));
    pg.admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        pg.name
    ));
    assert_problem(app.get("/readyz").await, 503, "service-unavailable").await;
    // Liveness does not depend on the database.
    json(app.get("/healthz").await, 200).await;

    pg.admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        pg.name
    ));
    let mut ready = false;
    for _ in 0..20 {
        if app.get("/readyz").await.status() == 200 {
            ready = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "readyz did not recover once the database came back");
}
