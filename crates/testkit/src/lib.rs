//! The integration tests' harness: the real server, on a free port, over real TLS, against a
//! fresh database: a new SQLite file per test, and, when `TEST_DATABASE_URL` names a
//! PostgreSQL server, a database created for the test and dropped after it. Beside it the
//! real binary as a process (the service, the client with a profile of its own, a witness),
//! a real SMTP server on loopback ([`smtp`]) and a software passkey ([`authenticator`]).

// A harness stops at the first surprise; only the service must not.
#![allow(clippy::unwrap_used)]

pub mod authenticator;
pub mod bench;
pub mod client;
pub mod smtp;

pub use client::{Client, Ran};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::dev::ServerHandle;
use diesel::{Connection, PgConnection, RunQueryDsl};
use iro_advice_server::config::Settings;
use iro_advice_server::http::server::Application;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` once per database, as `<name>::sqlite` and
/// `<name>::postgres`.
#[macro_export]
macro_rules! both_databases {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[actix_web::test]
            async fn sqlite() {
                let app = $crate::spawn_app($crate::Backend::Sqlite).await.unwrap();
                super::$test(app).await;
            }
            #[actix_web::test]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
            async fn postgres() {
                let app = $crate::spawn_app($crate::Backend::Postgres)
                    .await
                    .expect("TEST_DATABASE_URL names a PostgreSQL server");
                super::$test(app).await;
            }
        }
    )*};
}

/// Runs each named `async fn(TestApp)` with the real binary, once per database.
#[macro_export]
macro_rules! both_binary_databases {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[actix_web::test]
            async fn sqlite() {
                let app = $crate::spawn_binary_app($crate::Backend::Sqlite, &[])
                    .await
                    .unwrap();
                super::$test(app).await;
            }
            #[actix_web::test]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
            async fn postgres() {
                let app = $crate::spawn_binary_app($crate::Backend::Postgres, &[])
                    .await
                    .expect("TEST_DATABASE_URL names a PostgreSQL server");
                super::$test(app).await;
            }
        }
    )*};
}

/// A PostgreSQL database that exists for one test.
pub struct PgTestDb {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgTestDb {
    pub fn create() -> Option<Self> {
        // The test server is on loopback: no TLS to it unless the URL asks. libpq's OpenSSL
        // state is torn down at process exit while servers of finished tests may still be
        // closing their connections on other threads, which can abort the test binary after
        // every test passed.
        let admin_url = iro_advice_server::db::with_default_param(
            &std::env::var("TEST_DATABASE_URL").ok()?,
            "sslmode",
            "disable",
        );
        let name = unique_name("iro_advice_test");
        let mut conn = PgConnection::establish(&admin_url)
            .expect("TEST_DATABASE_URL must name a reachable PostgreSQL server");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create test database");
        let url = replace_database(&admin_url, &name);
        Some(PgTestDb {
            admin_url,
            name,
            url,
        })
    }

    /// Runs SQL against the server as the administrator (not inside the test database).
    pub fn admin(&self, sql: &str) {
        let mut conn = PgConnection::establish(&self.admin_url).expect("admin connection");
        diesel::sql_query(sql).execute(&mut conn).expect(sql);
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Numbers the people the tests sign up, so that each has a name of their own.
static NAMES: AtomicU32 = AtomicU32::new(1);

pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub port: u16,
    /// Where this instance serves its metrics (in-process instances only).
    pub metrics_port: Option<u16>,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub data_dir: TempDir,
    pub pg: Option<PgTestDb>,
    server: Server,
}

/// Where the server under test runs: in this process, or as the real binary in its own
/// (started with `env`, and stopped and started again by the test when it likes).
enum Server {
    InProcess(ServerHandle),
    Process {
        child: Option<std::process::Child>,
        env: Vec<(String, String)>,
        stderr: std::path::PathBuf,
    },
}

impl Drop for TestApp {
    fn drop(&mut self) {
        match &mut self.server {
            // Sends the stop command at once; the future only waits for it to finish.
            Server::InProcess(handle) => drop(handle.stop(false)),
            Server::Process { child, .. } => {
                if let Some(mut child) = child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }
}

/// Settings for a test instance, with `extra` laid over the harness's own variables.
pub fn test_settings(
    data_dir: &std::path::Path,
    database_url: &str,
    extra: &[(&str, &str)],
) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("IRO_ADVICE_DATA_DIR".into(), data_dir.display().to_string()),
        ("IRO_ADVICE_LISTEN".into(), "127.0.0.1:0".into()),
        // Each instance's metrics on a port of its own.
        ("IRO_ADVICE_METRICS_LISTEN".into(), "127.0.0.1:0".into()),
        ("IRO_ADVICE_WORKERS".into(), "2".into()),
        ("DATABASE_URL".into(), database_url.into()),
        ("IRO_ADVICE_PROFILE".into(), "dev".into()),
        // Invitations are read from the mail the service writes: deliver it quickly.
        ("IRO_ADVICE_MAIL_POLL_MS".into(), "50".into()),
        // One notice per act, so tests can count them; the digest has a test of its own.
        ("IRO_ADVICE_MAIL_DIGEST_MINUTES".into(), "0".into()),
        // Refusals of throttled sign-ins at once; the delay has a test of its own.
        ("IRO_ADVICE_SHED_DELAY_MS".into(), "0".into()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::load(|k| vars.get(k).cloned()).expect("test settings")
}

/// A new, empty database of `backend` (a file under `data_dir` for SQLite) and its URL;
/// None for PostgreSQL when no server is configured for tests.
fn fresh_database(
    backend: Backend,
    data_dir: &std::path::Path,
) -> Option<(Option<PgTestDb>, String)> {
    Some(match backend {
        Backend::Sqlite => (
            None,
            format!("sqlite://{}", data_dir.join("test.db").display()),
        ),
        Backend::Postgres => {
            let pg = PgTestDb::create()?;
            let url = pg.url.clone();
            (Some(pg), url)
        }
    })
}

/// Starts the server; `None` for PostgreSQL when no server is configured for tests.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    capture_logs();
    let data_dir = tempfile::tempdir().unwrap();
    let (pg, url) = fresh_database(backend, data_dir.path())?;
    let settings = test_settings(data_dir.path(), &url, extra);
    let app = Application::build(settings.clone())
        .await
        .expect("the server starts");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let cert = match &iro_advice_server::tls::source(&settings.server) {
        iro_advice_server::tls::TlsSource::Files(files) => files.cert.clone(),
        iro_advice_server::tls::TlsSource::Generated => {
            settings.server.data_dir.join("tls/dev-cert.pem")
        }
    };
    let client = https_client(&cert);
    Some(TestApp {
        backend,
        base: format!("https://127.0.0.1:{port}"),
        port,
        metrics_port,
        client,
        settings,
        data_dir,
        pg,
        server: Server::InProcess(handle),
    })
}

/// Polls `probe` every 20 ms until it gives a value, for up to `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited {seconds} s for {what}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A port nothing listens on now, for a process the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the real binary (`iro-advice serve`) on SQLite, its stderr in a file of its own:
/// for tests that must read exactly what one server logged.
pub async fn spawn_process_app(extra: &[(&str, &str)]) -> (TestApp, std::path::PathBuf) {
    let app = spawn_binary_app(Backend::Sqlite, extra).await.unwrap();
    let log = app.data_dir.path().join("stderr.log");
    (app, log)
}

/// Starts the real binary on a fresh database of `backend`; None for PostgreSQL when no
/// server is configured for tests. It can be stopped and started again on the same files.
pub async fn spawn_binary_app(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    spawn_binary_app_in(backend, tempfile::tempdir().unwrap(), extra).await
}

/// [`spawn_binary_app`] with its data directory (and SQLite file) where the test says.
pub async fn spawn_binary_app_in(
    backend: Backend,
    data_dir: TempDir,
    extra: &[(&str, &str)],
) -> Option<TestApp> {
    let (pg, url) = fresh_database(backend, data_dir.path())?;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut vars: Vec<(&str, &str)> = vec![
        ("IRO_ADVICE_LISTEN", &listen),
        ("IRO_ADVICE_METRICS_LISTEN", ""),
        ("IRO_ADVICE_LOG_LEVEL", "info,iro_advice=debug"),
        ("IRO_ADVICE_LOG_FORMAT", "text"),
    ];
    vars.extend_from_slice(extra);
    let settings = test_settings(data_dir.path(), &url, &vars);
    let data = data_dir.path().display().to_string();
    let mut env: Vec<(String, String)> = vec![
        ("IRO_ADVICE_DATA_DIR".into(), data),
        ("DATABASE_URL".into(), url.clone()),
        ("IRO_ADVICE_PROFILE".into(), "dev".into()),
        ("IRO_ADVICE_WORKERS".into(), "2".into()),
        ("IRO_ADVICE_MAIL_POLL_MS".into(), "50".into()),
        ("IRO_ADVICE_MAIL_DIGEST_MINUTES".into(), "0".into()),
    ];
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let cert = data_dir.path().join("tls/dev-cert.pem");
    let mut app = TestApp {
        backend,
        base: format!("https://127.0.0.1:{port}"),
        port,
        metrics_port: None,
        // Replaced once the server has made its certificate.
        client: client_trusting(rustls::RootCertStore::empty()),
        settings,
        server: Server::Process {
            child: None,
            env,
            stderr: data_dir.path().join("stderr.log"),
        },
        data_dir,
        pg,
    };
    app.start(&[]).await;
    app.client = https_client(&cert);
    Some(app)
}

impl TestApp {
    /// The process id of a server run as its own process.
    pub fn pid(&self) -> Option<u32> {
        match &self.server {
            Server::Process { child, .. } => child.as_ref().map(std::process::Child::id),
            _ => None,
        }
    }

    /// Stops a server run as its own process (as SIGKILL would: no goodbye).
    pub fn stop(&mut self) {
        if let Server::Process { child, .. } = &mut self.server {
            if let Some(mut child) = child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// The lines of a process server's log that contain `needle`, for a failure's message.
    pub fn server_log_lines(&self, needle: &str) -> String {
        let Server::Process { stderr, .. } = &self.server else {
            return String::new();
        };
        std::fs::read_to_string(stderr)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Starts the process again on the same data and port, with `extra` variables added
    /// for this and later starts; waits until it answers.
    pub async fn start(&mut self, extra: &[(&str, &str)]) {
        let Server::Process { child, env, stderr } = &mut self.server else {
            panic!("only a server run as its own process can be started");
        };
        assert!(child.is_none(), "already running");
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v.to_string()));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*stderr)
            .unwrap();
        let mut command = binary();
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(std::process::Stdio::null())
            .stderr(log);
        for (k, v) in env.iter() {
            command.env(k, v);
        }
        *child = Some(command.spawn().expect("the binary starts"));
        let cert = self.data_dir.path().join("tls/dev-cert.pem");
        let listen = format!("127.0.0.1:{}", self.port);
        for _ in 0..300 {
            if cert.exists() && std::net::TcpStream::connect(&listen).is_ok() {
                return;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server did not start; see {}", stderr.display());
    }
}

impl TestApp {
    /// A second instance of this service, as a second host would run it: its own process,
    /// port and data directory, holding copies of this one's keys and certificate, on the
    /// same database. Only a server run as its own process has one.
    pub async fn sibling(&self) -> TestApp {
        let Server::Process { env, .. } = &self.server else {
            panic!("only a server run as its own process has a sibling");
        };
        let data_dir = tempfile::tempdir().unwrap();
        copy_tree(self.data_dir.path(), data_dir.path());
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let data = data_dir.path().display().to_string();
        let mut env = env.clone();
        env.retain(|(k, _)| k != "IRO_ADVICE_LISTEN" && k != "IRO_ADVICE_DATA_DIR");
        env.push(("IRO_ADVICE_LISTEN".into(), listen.clone()));
        env.push(("IRO_ADVICE_DATA_DIR".into(), data));
        let url = self.database_url();
        let mut app = TestApp {
            backend: self.backend,
            base: format!("https://127.0.0.1:{port}"),
            port,
            metrics_port: None,
            client: self.client.clone(),
            settings: test_settings(data_dir.path(), &url, &[("IRO_ADVICE_LISTEN", &listen)]),
            server: Server::Process {
                child: None,
                env,
                stderr: data_dir.path().join("stderr.log"),
            },
            data_dir,
            // The first instance owns the database and drops it.
            pg: None,
        };
        app.start(&[]).await;
        app
    }
}

/// Copies keys, certificates and whatever else a data directory holds, except logs and a
/// SQLite file (a second host shares the database, not its file).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let target = to.join(&name);
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            std::fs::set_permissions(&target, entry.metadata().unwrap().permissions()).unwrap();
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            let name = name.to_string_lossy();
            if !name.ends_with(".log") && !name.starts_with("test.db") {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
}

/// An HTTPS client that trusts exactly the given certificate, through rustls with ring.
pub fn https_client(ca_pem: &std::path::Path) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    client_trusting(roots)
}

fn client_trusting(roots: rustls::RootCertStore) -> reqwest::Client {
    let mut tls = rustls::ClientConfig::builder_with_provider(iro_advice_tlog::https::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        // A pooled connection the server is closing for idleness fails a POST.
        .pool_idle_timeout(iro_advice_tlog::https::POOL_IDLE)
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The certificate a client must trust for this app.
    pub fn ca_path(&self) -> std::path::PathBuf {
        match &iro_advice_server::tls::source(&self.settings.server) {
            iro_advice_server::tls::TlsSource::Files(files) => files.cert.clone(),
            iro_advice_server::tls::TlsSource::Generated => {
                self.data_dir.path().join("tls/dev-cert.pem")
            }
        }
    }

    /// The log's verifier key, as the service publishes it.
    pub async fn log_key(&self) -> String {
        self.get("/api/v1/log/key")
            .await
            .text()
            .await
            .unwrap()
            .trim()
            .to_owned()
    }

    /// This app's database URL, for another instance or a command to share.
    pub fn database_url(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!(
                "sqlite://{}",
                self.settings.server.data_dir.join("test.db").display()
            ),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The log keys the server uses, read from its keys directory.
    pub fn log_keys(&self) -> iro_advice_server::log::LogKeys {
        let keys = iro_advice_server::keys::Keys::load_or_create(&self.settings.accounts.keys_dir)
            .unwrap();
        iro_advice_server::http::server::log_keys(&self.settings, &keys).unwrap()
    }

    pub fn database(&self) -> iro_advice_server::db::Database {
        iro_advice_server::db::Database::connect(&self.settings.database).unwrap()
    }
}

/// Reads a JSON body, asserting the status first so a failure shows what came back. A body
/// that is not JSON fails the test.
pub async fn json(res: reqwest::Response, status: u16) -> serde_json::Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// Asserts a problem+json answer with the given status and `type` slug.
pub async fn assert_problem(res: reqwest::Response, status: u16, slug: &str) -> serde_json::Value {
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body = json(res, status).await;
    assert_eq!(
        body["type"],
        format!("urn:iro-advice:problem:{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status);
    body
}

// --- logs: every in-process server's logs are formatted, at debug level, and dropped; a test
// that reads logs runs the binary and reads that one server's stderr (`spawn_process_app`).

/// Installs a subscriber once, so the logging code runs as in production, into a sink.
pub fn capture_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,iro_advice=debug"))
            .with_writer(std::io::sink)
            .with_ansi(false)
            .try_init();
    });
}

// --- accounts: the flows most tests start from ---

use iro_advice_model::accounts::{AdviserKind, Email, Role};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_server::accounts::invitations::{self, Invitee};
use serde_json::{json, Value};

pub const PASSWORD: &str = "a long enough passphrase";

/// A signed-in account with everything a test may need to act as it.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub role: Role,
    pub email: String,
    pub access: String,
    pub refresh: String,
    pub totp_secret: Option<Vec<u8>>,
}

pub fn totp_code(secret: &[u8], offset_steps: i64) -> String {
    let t = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        None,
        String::new(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    t.generate((now + offset_steps * 30) as u64)
}

impl TestApp {
    /// A typed call: `body` serialised from an API type, the answer (which must have
    /// `status`) read into one, as the client reads it.
    pub async fn call<B: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
        status: u16,
    ) -> R {
        let mut req = self.client.request(method.clone(), self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.unwrap();
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    /// `GET /api/v1/me`, typed.
    pub async fn me(&self, token: &str) -> iro_advice_api::Me {
        self.call::<(), _>(
            reqwest::Method::GET,
            iro_advice_api::paths::ME,
            Some(token),
            None,
            200,
        )
        .await
    }
}

impl TestApp {
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// An invitation made the way `iro-advice admin invite` makes one.
    pub fn cli_invitation(
        &self,
        role: Role,
        email: &str,
        authority: Option<&str>,
        kind: Option<AdviserKind>,
    ) -> String {
        let invitee = Invitee::new(
            role,
            Email::parse(email).unwrap(),
            authority.map(|a| AuthorityCode::parse(a).unwrap()),
            kind,
        )
        .unwrap();
        let db = self.database();
        let mut conn = db.get().unwrap();
        let context = iro_advice_server::http::server::write_context(&self.settings).unwrap();
        invitations::create_from_cli(&mut conn, &context, &invitee, 7)
            .unwrap()
            .whole()
    }

    /// The text of the mail the file transport wrote to `email`, once it is there; soft
    /// line breaks undone.
    pub async fn mail_to(&self, email: &str, containing: &str) -> String {
        let dir = self.settings.server.data_dir.join("outbox");
        let to = format!("To: {email}");
        eventually(15, &format!("mail to {email}"), || {
            let dir = dir.clone();
            let to = to.clone();
            let containing = containing.to_owned();
            async move {
                std::fs::read_dir(&dir).ok()?.flatten().find_map(|entry| {
                    let text = std::fs::read_to_string(entry.path()).ok()?;
                    let text = text.replace("=\r\n", "");
                    (text.contains(&to) && text.contains(&containing)).then_some(text)
                })
            }
        })
        .await
    }

    /// Invites through the API as `inviter` and returns what the invitee needs: the link's
    /// token from their mail joined to the code the inviter was shown.
    pub async fn invite(&self, inviter: &str, body: &Value) -> String {
        let created = json(
            self.post_json("/api/v1/invitations", Some(inviter), body)
                .await,
            201,
        )
        .await;
        let code = created["code"].as_str().unwrap().to_owned();
        format!(
            "{}.{code}",
            self.invitation_link(body["email"].as_str().unwrap()).await
        )
    }

    /// The token of the invitation link mailed to `email`.
    pub async fn invitation_link(&self, email: &str) -> String {
        let mail = self.mail_to(email, "/open#").await;
        let at = mail.find("/open#").unwrap() + "/open#".len();
        mail[at..at + 43].to_owned()
    }

    pub async fn sign_up(&self, invitation: &str, password: &str) -> Value {
        let res = self
            .post_json(
                "/api/v1/accounts",
                None,
                // A name of their own: clients pin correspondents by name as well as by key.
                &json!({"invitation": invitation, "password": password,
                        "display_name": format!("Test Person {}", NAMES.fetch_add(1, Ordering::Relaxed))}),
            )
            .await;
        json(res, 201).await
    }

    pub async fn login(
        &self,
        email: &str,
        password: &str,
        totp: Option<&str>,
    ) -> reqwest::Response {
        self.login_from(email, password, totp, None).await
    }

    /// A code the service will accept for `user` now. A code is good once per 30-second
    /// step, so this forgets which step the account used last — standing in for the half
    /// minute a person would wait between sign-ins.
    pub fn fresh_totp(&self, user: &User) -> String {
        use diesel::prelude::*;
        use iro_advice_server::db::schema::accounts;
        let db = self.database();
        let mut conn = db.get().unwrap();
        diesel::update(accounts::table.find(&user.id))
            .set(accounts::totp_last_step.eq(0i64))
            .execute(&mut *conn)
            .unwrap();
        totp_code(user.totp_secret.as_ref().unwrap(), 0)
    }

    /// Signs `user` in afresh (a new session), with a fresh code.
    pub async fn sign_in(&self, user: &User) -> Value {
        let code = self.fresh_totp(user);
        json(self.login(&user.email, PASSWORD, Some(&code)).await, 200).await
    }

    /// Signs in presenting a device token, as a client that kept one does.
    pub async fn login_from(
        &self,
        email: &str,
        password: &str,
        totp: Option<&str>,
        device: Option<&str>,
    ) -> reqwest::Response {
        let mut body = json!({"email": email, "password": password});
        if let Some(code) = totp {
            body["totp_code"] = json!(code);
        }
        if let Some(device) = device {
            body["device_token"] = json!(device);
        }
        self.post_json("/api/v1/auth/login", None, &body).await
    }

    /// Enrols the user in TOTP with the current code; returns the secret.
    pub async fn enrol_totp(&self, access: &str) -> Vec<u8> {
        let enrolment = json(
            self.post_json("/api/v1/me/totp", Some(access), &json!({}))
                .await,
            200,
        )
        .await;
        let secret = totp_rs::Secret::Encoded(enrolment["secret"].as_str().unwrap().to_owned())
            .to_bytes()
            .unwrap();
        let res = self
            .post_json(
                "/api/v1/me/totp/confirm",
                Some(access),
                &json!({"code": totp_code(&secret, 0)}),
            )
            .await;
        assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
        secret
    }

    async fn finish_sign_up(&self, invitation: &str, role: Role, email: &str) -> User {
        let created = self.sign_up(invitation, PASSWORD).await;
        let tokens = json(self.login(email, PASSWORD, None).await, 200).await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        // Every role enrols a second factor before anything else answers it.
        let totp_secret = Some(self.enrol_totp(&access).await);
        User {
            id: created["id"].as_str().unwrap().to_owned(),
            role,
            email: email.to_owned(),
            access,
            refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
            totp_secret,
        }
    }

    /// The first admin, bootstrapped from the command line and enrolled in TOTP.
    pub async fn admin(&self) -> User {
        let email = format!("{}@admin.test", unique_name("admin"));
        let token = self.cli_invitation(Role::Admin, &email, None, None);
        self.finish_sign_up(&token, Role::Admin, &email).await
    }

    /// An IRO invited by `admin` who has signed up but neither signed in nor enrolled a
    /// second factor (`access` and `refresh` empty).
    pub async fn unenrolled_iro(&self, admin: &User) -> User {
        let email = format!("{}@iro.test", unique_name("unenrolled"));
        let invitation = self
            .invite(
                &admin.access,
                &json!({"role": "iro", "email": email, "authority_code": "E06000019"}),
            )
            .await;
        let created = self.sign_up(&invitation, PASSWORD).await;
        User {
            id: created["id"].as_str().unwrap().to_owned(),
            role: Role::Iro,
            email,
            access: String::new(),
            refresh: String::new(),
            totp_secret: None,
        }
    }

    /// A user invited from the console (so no mail is involved), signed in and enrolled.
    pub async fn console_user(
        &self,
        role: Role,
        authority: Option<&str>,
        kind: Option<AdviserKind>,
    ) -> User {
        let email = format!("{}@{}.test", unique_name(role.as_str()), role.as_str());
        let token = self.cli_invitation(role, &email, authority, kind);
        self.finish_sign_up(&token, role, &email).await
    }

    /// A user invited by `admin` through the API, signed in and (where required) enrolled.
    pub async fn user(
        &self,
        admin: &User,
        role: Role,
        authority: Option<&str>,
        kind: Option<AdviserKind>,
    ) -> User {
        let email = format!("{}@{}.test", unique_name(role.as_str()), role.as_str());
        let mut body = json!({"role": role.as_str(), "email": email});
        if let Some(a) = authority {
            body["authority_code"] = json!(a);
        }
        if let Some(k) = kind {
            body["adviser_kind"] = json!(k.as_str());
        }
        let invitation = self.invite(&admin.access, &body).await;
        self.finish_sign_up(&invitation, role, &email).await
    }

    /// Registers a fresh age key for the user; returns the identity.
    pub async fn register_key(&self, user: &User) -> age::x25519::Identity {
        let identity = age::x25519::Identity::generate();
        let res = self
            .put_json(
                "/api/v1/me/key",
                &user.access,
                &json!({"age_recipient": identity.to_public().to_string()}),
            )
            .await;
        assert_eq!(res.status(), 204);
        identity
    }

    pub fn count(&self, table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let db = self.database();
        let mut conn = db.get().unwrap();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<Count>(&mut *conn)
            .unwrap()
            .n
    }
}

/// `iro-advice log verify` as the operator runs it, against this app's keys and database.
pub fn log_verify(app: &TestApp) -> (bool, String) {
    log_verify_against(app, &app.database_url(), &[])
}

/// `iro-advice log verify` against this app's keys and the given database, checking it also
/// against checkpoints held outside it (`--checkpoint`).
pub fn log_verify_against(
    app: &TestApp,
    database_url: &str,
    checkpoints: &[&std::path::Path],
) -> (bool, String) {
    let mut cmd = binary();
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("IRO_ADVICE_DATA_DIR", app.data_dir.path())
        .env("IRO_ADVICE_PUBLIC_URL", &app.settings.server.public_url)
        .env("DATABASE_URL", database_url)
        .args(["log", "verify"]);
    for c in checkpoints {
        cmd.arg("--checkpoint").arg(c);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// age content for `recipients`, armored (a question or a reply) or binary (an attachment).
pub fn encrypt(plain: &[u8], recipients: &[age::x25519::Recipient], armor: bool) -> Vec<u8> {
    let e = iro_advice_model::age_writer::StrictEncryptor::with_recipients(recipients).unwrap();
    if armor {
        e.encrypt_armored(plain).unwrap().into_bytes()
    } else {
        e.encrypt(plain).unwrap()
    }
}

/// A message as a real client sends it: signed by `author` (as `sender`, for `query`, or
/// [`iro_advice_model::signing::OPENING`]), then encrypted.
pub fn signed_armored(
    plain: &str,
    recipients: &[age::x25519::Recipient],
    author: &age::x25519::Identity,
    sender: &str,
    query: &str,
) -> String {
    use age::secrecy::ExposeSecret;
    let signed = iro_advice_model::signing::sign(
        author.to_string().expose_secret(),
        query,
        sender,
        chrono::Utc::now().timestamp(),
        plain.as_bytes(),
    )
    .unwrap();
    String::from_utf8(encrypt(&signed, recipients, true)).unwrap()
}

pub fn armored(plain: &str, recipients: &[age::x25519::Recipient]) -> String {
    String::from_utf8(encrypt(plain.as_bytes(), recipients, true)).unwrap()
}

// NAIRO's witness, run as the real binary (`iro-advice witness init` / `serve`).

pub struct WitnessProcess {
    child: std::process::Child,
    /// Its add-checkpoint URL.
    pub url: String,
    /// Its base URL, as the service's settings take it.
    pub base: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `iro-advice` binary of this build: cargo builds a package's binaries before its
/// integration tests, beside the `deps/` directory the test executable runs from.
pub fn binary_path() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    dir.join(format!("iro-advice{}", std::env::consts::EXE_SUFFIX))
}

/// `iro-advice receipt verify ARGS…`, as anyone shown a receipt runs it: whether it passed,
/// and everything it printed.
pub fn receipt_verify(args: &[&str]) -> (bool, String) {
    let out = binary()
        .args(["receipt", "verify"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub fn binary() -> std::process::Command {
    std::process::Command::new(binary_path())
}

/// `witness init`; returns the verifier key it printed on its last line.
pub fn init(dir: &std::path::Path, name: &str) -> String {
    let out = binary()
        .args(["witness", "init", "--data-dir"])
        .arg(dir)
        .args(["--name", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().to_owned()
}

pub async fn serve(dir: &std::path::Path, log_key: &str) -> WitnessProcess {
    serve_with(dir, log_key, free_port(), &[]).await
}

/// `witness serve` on a port chosen beforehand, with more arguments (`--tls-cert` …);
/// waits until it listens.
pub async fn serve_with(
    dir: &std::path::Path,
    log_key: &str,
    port: u16,
    extra: &[&std::ffi::OsStr],
) -> WitnessProcess {
    let listen = format!("127.0.0.1:{port}");
    let child = binary()
        .args(["witness", "serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &listen, "--log", log_key])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    WitnessProcess {
        child,
        url: format!("http://{listen}/add-checkpoint"),
        base: format!("http://{listen}"),
    }
}

/// Waits until the served checkpoint is of exactly `size` leaves and carries the
/// cosignature of the witness named `nairo.test/witness` (the tests' witness).
pub async fn cosigned_at(app: &TestApp, size: i64) {
    eventually(60, "the witness's cosignature", || async {
        let res = app.get("/api/v1/log/checkpoint").await;
        if res.status() != 200 {
            return None;
        }
        let note = res.text().await.ok()?;
        let served: i64 = note.lines().nth(1)?.parse().ok()?;
        (served == size && note.contains("\u{2014} nairo.test/witness ")).then_some(())
    })
    .await;
}

// Queries, as most tests need one.

/// What an armored age file says, to `identity`.
pub fn decrypt(armored: &str, identity: &age::x25519::Identity) -> String {
    use std::io::Read;
    let d = age::Decryptor::new(age::armor::ArmoredReader::new(armored.as_bytes())).unwrap();
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap();
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    out
}

/// An IRO, an adviser with a key, and a query between them.
pub async fn a_query(
    app: &TestApp,
    admin: &User,
) -> (User, User, String, Vec<age::x25519::Recipient>) {
    let iro = app.user(admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let iro_key = app.register_key(&iro).await;
    let adviser_key = app.register_key(&adviser).await;
    let recipients = vec![iro_key.to_public(), adviser_key.to_public()];
    let created = json(
        app.post_json(
            "/api/v1/queries",
            Some(&iro.access),
            &json!({"adviser_id": adviser.id, "category": "placement", "stage": "none",
                    "urgency": "routine", "body": armored("question", &recipients)}),
        )
        .await,
        201,
    )
    .await;
    (
        iro,
        adviser,
        created["id"].as_str().unwrap().to_owned(),
        recipients,
    )
}

pub async fn upload(app: &TestApp, token: &str, query: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/queries/{query}/attachments")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap()
}
