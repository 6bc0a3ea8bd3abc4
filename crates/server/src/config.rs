//! Settings: embedded `config/default.toml`, a profile overlay, then environment variables.
//!
//! Every setting is declared once, in [`DECLARED`]: its place in the TOML files and the
//! environment variable laid over it. The environment overlay, the name an error gives, and
//! the README's settings table (a test compares them) all come from that list. Each section
//! then parses its raw TOML form into its validated type, so the rest of the program holds
//! settings known to be usable, and a wrong setting stops the process with one line naming it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");
const EMBEDDED_PROFILES: &[(&str, &str)] = &[
    ("dev", include_str!("../../../config/dev.toml")),
    (
        "production",
        include_str!("../../../config/production.toml"),
    ),
];

/// One setting an operator may change: its `[section] key` in the TOML files and, when it
/// has one, the environment variable that overrides both files.
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    pub section: &'static str,
    pub key: &'static str,
    pub env: Option<&'static str>,
}

const fn env(section: &'static str, key: &'static str, var: &'static str) -> Declaration {
    Declaration {
        section,
        key,
        env: Some(var),
    }
}

const fn file(section: &'static str, key: &'static str) -> Declaration {
    Declaration {
        section,
        key,
        env: None,
    }
}

/// Every setting, once. A key in the TOML files that is not here is refused.
pub const DECLARED: &[Declaration] = &[
    env("server", "listen", "IRO_ADVICE_LISTEN"),
    env("server", "public_url", "IRO_ADVICE_PUBLIC_URL"),
    env("server", "data_dir", "IRO_ADVICE_DATA_DIR"),
    env("server", "tls_cert", "IRO_ADVICE_TLS_CERT"),
    env("server", "tls_key", "IRO_ADVICE_TLS_KEY"),
    file("server", "dev_certificate"),
    env("server", "workers", "IRO_ADVICE_WORKERS"),
    env("server", "metrics_listen", "IRO_ADVICE_METRICS_LISTEN"),
    env("server", "web_dir", "IRO_ADVICE_WEB_DIR"),
    file("server", "shutdown_timeout_secs"),
    file("server", "tls_handshake_timeout_ms"),
    file("server", "max_handshakes_per_worker"),
    file("server", "max_connections_per_worker"),
    file("server", "allow_demo_data"),
    env("database", "url", "DATABASE_URL"),
    file("database", "pool_size"),
    file("database", "connect_timeout_secs"),
    file("database", "sqlite_busy_timeout_ms"),
    env("log", "format", "IRO_ADVICE_LOG_FORMAT"),
    env("log", "level", "IRO_ADVICE_LOG_LEVEL"),
    file("accounts", "invitation_days"),
    file("accounts", "access_token_minutes"),
    file("accounts", "refresh_token_days"),
    env("accounts", "session_hours", "IRO_ADVICE_SESSION_HOURS"),
    env(
        "accounts",
        "password_hash_slots",
        "IRO_ADVICE_PASSWORD_HASH_SLOTS",
    ),
    env(
        "accounts",
        "login_failures_per_minute",
        "IRO_ADVICE_LOGIN_FAILURES_PER_MINUTE",
    ),
    env("accounts", "shed_delay_ms", "IRO_ADVICE_SHED_DELAY_MS"),
    env("accounts", "keys_dir", "IRO_ADVICE_KEYS_DIR"),
    env(
        "queries",
        "max_attachment_mb",
        "IRO_ADVICE_MAX_ATTACHMENT_MB",
    ),
    env(
        "queries",
        "attachment_quota_mb",
        "IRO_ADVICE_ATTACHMENT_QUOTA_MB",
    ),
    env("queries", "upload_idle_secs", "IRO_ADVICE_UPLOAD_IDLE_SECS"),
    env(
        "queries",
        "reminder_routine_minutes",
        "IRO_ADVICE_REMINDER_ROUTINE_MINUTES",
    ),
    env(
        "queries",
        "reminder_urgent_minutes",
        "IRO_ADVICE_REMINDER_URGENT_MINUTES",
    ),
    env(
        "queries",
        "reminder_check_secs",
        "IRO_ADVICE_REMINDER_CHECK_SECS",
    ),
    env("queries", "retention_days", "IRO_ADVICE_RETENTION_DAYS"),
    env("request_log", "origin", "IRO_ADVICE_LOG_ORIGIN"),
    env("witnesses", "url", "IRO_ADVICE_WITNESS_URL"),
    env("witnesses", "key", "IRO_ADVICE_WITNESS_KEY"),
    env("witnesses", "quorum", "IRO_ADVICE_WITNESS_QUORUM"),
    file("witnesses", "more"),
    env("witnesses", "ca", "IRO_ADVICE_WITNESS_CA"),
    env("mail", "smtp_url", "IRO_ADVICE_SMTP_URL"),
    env("mail", "smtp_ca", "IRO_ADVICE_SMTP_CA"),
    env("mail", "from", "IRO_ADVICE_MAIL_FROM"),
    env("mail", "retry_base_secs", "IRO_ADVICE_MAIL_RETRY_BASE_SECS"),
    env("mail", "poll_interval_ms", "IRO_ADVICE_MAIL_POLL_MS"),
    env("mail", "subject", "IRO_ADVICE_MAIL_SUBJECT"),
    env("mail", "subject_cy", "IRO_ADVICE_MAIL_SUBJECT_CY"),
    env("mail", "digest_minutes", "IRO_ADVICE_MAIL_DIGEST_MINUTES"),
    env("mail", "file_hours", "IRO_ADVICE_MAIL_FILE_HOURS"),
    env("nairo", "recipient", "IRO_ADVICE_NAIRO_RECIPIENT"),
    env("statistics", "round_totals_to", "IRO_ADVICE_STATS_ROUND_TO"),
    env(
        "statistics",
        "follow_up_days",
        "IRO_ADVICE_STATS_FOLLOW_UP_DAYS",
    ),
];

/// Variables that choose which files are read rather than overriding a setting in them.
pub const FILE_SELECTORS: &[&str] = &["IRO_ADVICE_PROFILE", "IRO_ADVICE_CONFIG_DIR"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("IRO_ADVICE_PROFILE: no profile named {0:?} (no config/{0}.toml and none built in)")]
    UnknownProfile(String),
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

/// A refusal of the setting at `[section] key`, named as an operator would set it: its
/// environment variable, or `section.key` for a setting only the files hold.
fn invalid(section: &'static str, key: &'static str, reason: impl Into<String>) -> ConfigError {
    let setting = DECLARED
        .iter()
        .find(|d| d.section == section && d.key == key)
        .and_then(|d| d.env)
        .map_or_else(|| format!("{section}.{key}"), str::to_owned);
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}

/// A value that must never reach a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Which database, and where. A PostgreSQL URL may hold a password.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(Secret<String>),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, e.g. sqlite://./data/iro-advice.db".into(),
                );
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(Secret::new(url.to_owned())))
        } else {
            Err("must start with sqlite:// or postgres://".into())
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    Files(TlsFiles),
    /// A self-signed certificate kept under the data directory (dev profile only).
    Generated,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub accounts: AccountSettings,
    pub queries: QuerySettings,
    pub request_log: RequestLogSettings,
    pub witnesses: WitnessSettings,
    pub mail: MailSettings,
    pub nairo: NairoSettings,
    pub statistics: StatisticsSettings,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Where `GET /metrics` is served in plain HTTP, for the operator's Prometheus; None:
    /// not at all.
    pub metrics_listen: Option<SocketAddr>,
    /// The service's own address, without a trailing slash.
    pub public_url: String,
    pub data_dir: PathBuf,
    pub tls: TlsSource,
    /// 0: one per core.
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// A connection that has not finished its TLS handshake by then is dropped.
    pub tls_handshake_timeout_ms: u64,
    /// Handshakes in progress at once on each worker; more wait to be accepted.
    pub max_handshakes_per_worker: usize,
    /// Open connections on each worker; more wait to be accepted.
    pub max_connections_per_worker: usize,
    pub allow_demo_data: bool,
    /// Serve the web application from this directory (a `web/dist` being worked on) instead
    /// of the bundle embedded in the binary; its manifest is logged at start all the same.
    pub web_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u32,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub invitation_days: i64,
    pub access_token_minutes: i64,
    pub refresh_token_days: i64,
    /// A session ends this long after sign-in, however often it is refreshed.
    pub session_hours: i64,
    pub keys_dir: PathBuf,
    /// Password hashes computed at once; 0 means half the cores (at least one).
    pub password_hash_slots: usize,
    /// Failed sign-ins per minute, service-wide, beyond which an attempt from a client
    /// without a device token gets in only with the right password and second factor.
    pub login_failures_per_minute: i64,
    /// A sign-in refused unheard (every hashing slot busy, or throttled) is answered after
    /// this long, so that a flooding client's next attempt waits for it.
    pub shed_delay_ms: u64,
}

#[derive(Debug, Clone)]
pub struct QuerySettings {
    pub max_attachment_bytes: u64,
    /// What one account's attachments may hold in all.
    pub attachment_quota_bytes: u64,
    /// An upload that sends nothing for this long is ended (408) and discarded.
    pub upload_idle_secs: u64,
    pub reminder_routine_minutes: i64,
    pub reminder_urgent_minutes: i64,
    pub reminder_check_secs: u64,
    /// 0 keeps content until an erasure request.
    pub retention_days: i64,
}

#[derive(Debug, Clone)]
pub struct RequestLogSettings {
    /// The checkpoint origin (and signing key name).
    pub origin: String,
}

/// One witness the service submits its checkpoints to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessEndpoint {
    /// Where `add-checkpoint` is posted: the witness's URL with `/add-checkpoint` appended.
    pub url: url::Url,
    /// Its cosignature/v1 verifier key, checked when the settings are read.
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct WitnessSettings {
    pub witnesses: Vec<WitnessEndpoint>,
    /// How many of them must cosign a checkpoint before it is served; at most their number.
    pub quorum: usize,
    /// A PEM file of the CA to trust for witnesses' HTTPS instead of the system's roots.
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: Option<Secret<String>>,
    pub smtp_ca: Option<PathBuf>,
    pub from: String,
    pub retry_base_secs: u64,
    pub poll_interval_ms: u64,
    /// The one subject of every mail: neutral, naming neither the service nor a purpose.
    pub subject: String,
    /// The same subject for an account that reads the service in Welsh.
    pub subject_cy: String,
    /// Routine notices wait for a digest sent at a random time within this many minutes
    /// (0: at once); urgent ones go at once.
    pub digest_minutes: u64,
    /// Hours an `.eml` file of the file transport is kept before it is deleted.
    pub file_hours: u64,
}

#[derive(Debug, Clone)]
pub struct NairoSettings {
    /// NAIRO's age X25519 recipient, served to clients.
    pub recipient: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StatisticsSettings {
    /// National and regional totals are rounded to a multiple of this (1: none).
    pub round_totals_to: u64,
    /// Days after the end of a query's month at which its outcome (and everything else
    /// counted about it) is frozen; a period's release is built once they have passed.
    pub follow_up_days: u32,
}

// The raw shape of the TOML files, before validation: one struct per section.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    server: RawServer,
    database: RawDatabase,
    log: RawLog,
    accounts: RawAccounts,
    queries: RawQueries,
    request_log: RawRequestLog,
    witnesses: RawWitnesses,
    mail: RawMail,
    nairo: RawNairo,
    statistics: RawStatistics,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    metrics_listen: String,
    public_url: String,
    data_dir: String,
    tls_cert: String,
    tls_key: String,
    dev_certificate: bool,
    workers: usize,
    shutdown_timeout_secs: u64,
    tls_handshake_timeout_ms: u64,
    max_handshakes_per_worker: usize,
    max_connections_per_worker: usize,
    allow_demo_data: bool,
    web_dir: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    pool_size: u32,
    connect_timeout_secs: u64,
    sqlite_busy_timeout_ms: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    level: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccounts {
    invitation_days: i64,
    access_token_minutes: i64,
    refresh_token_days: i64,
    session_hours: i64,
    keys_dir: String,
    password_hash_slots: usize,
    login_failures_per_minute: i64,
    shed_delay_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueries {
    max_attachment_mb: u64,
    attachment_quota_mb: u64,
    upload_idle_secs: u64,
    reminder_routine_minutes: i64,
    reminder_urgent_minutes: i64,
    reminder_check_secs: u64,
    retention_days: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequestLog {
    origin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWitnesses {
    url: String,
    key: String,
    quorum: u64,
    more: Vec<RawWitness>,
    ca: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWitness {
    url: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    smtp_url: String,
    smtp_ca: String,
    from: String,
    retry_base_secs: u64,
    poll_interval_ms: u64,
    subject: String,
    subject_cy: String,
    digest_minutes: u64,
    file_hours: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNairo {
    recipient: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatistics {
    round_totals_to: u64,
    follow_up_days: u32,
}

fn readable_file(section: &'static str, key: &'static str, path: &Path) -> Result<(), ConfigError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(invalid(
            section,
            key,
            format!("{} is not a readable file", path.display()),
        ))
    }
}

/// The server section needs the profile's name only to say why a certificate is missing.
impl TryFrom<(RawServer, &str)> for ServerSettings {
    type Error = ConfigError;

    fn try_from((raw, profile): (RawServer, &str)) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw.listen.parse().map_err(|_| {
            invalid(
                "server",
                "listen",
                format!("{:?} is not an address like 127.0.0.1:8443", raw.listen),
            )
        })?;
        let metrics_listen = match raw.metrics_listen.trim() {
            "" => None,
            addr => Some(addr.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "server",
                    "metrics_listen",
                    format!("{addr:?} is not an address like 127.0.0.1:9464 (empty: no metrics)"),
                )
            })?),
        };
        if metrics_listen
            .is_some_and(|m| m.port() != 0 && m.port() == listen.port() && m.ip() == listen.ip())
        {
            return Err(invalid(
                "server",
                "metrics_listen",
                "must differ from IRO_ADVICE_LISTEN: metrics are plain HTTP",
            ));
        }
        let public_url = raw.public_url.trim_end_matches('/').to_owned();
        if !public_url.starts_with("https://") || public_url.len() <= "https://".len() {
            return Err(invalid(
                "server",
                "public_url",
                "must be an https:// address",
            ));
        }
        if raw.data_dir.is_empty() {
            return Err(invalid("server", "data_dir", "must not be empty"));
        }
        // A development service (a generated certificate, demo data) is for this machine.
        if (profile == "dev" || raw.dev_certificate) && !listen.ip().is_loopback() {
            return Err(invalid(
                "server",
                "listen",
                format!(
                    "the {profile} profile listens on loopback only (127.0.0.1 or ::1); \
                     serve others under the production profile with a real certificate"
                ),
            ));
        }
        let tls = match (raw.tls_cert.is_empty(), raw.tls_key.is_empty()) {
            (false, false) => {
                let files = TlsFiles {
                    cert: PathBuf::from(raw.tls_cert),
                    key: PathBuf::from(raw.tls_key),
                };
                readable_file("server", "tls_cert", &files.cert)?;
                readable_file("server", "tls_key", &files.key)?;
                TlsSource::Files(files)
            }
            (true, true) if raw.dev_certificate => TlsSource::Generated,
            (true, true) => {
                return Err(invalid(
                    "server",
                    "tls_cert",
                    format!(
                        "a certificate is required under the {profile} profile \
                         (set IRO_ADVICE_TLS_CERT and IRO_ADVICE_TLS_KEY to PEM files)"
                    ),
                ))
            }
            (false, true) => {
                return Err(invalid(
                    "server",
                    "tls_key",
                    "IRO_ADVICE_TLS_CERT is set but its key is not",
                ))
            }
            (true, false) => {
                return Err(invalid(
                    "server",
                    "tls_cert",
                    "IRO_ADVICE_TLS_KEY is set but the certificate is not",
                ))
            }
        };
        Ok(ServerSettings {
            listen,
            metrics_listen,
            public_url,
            data_dir: PathBuf::from(raw.data_dir),
            tls,
            workers: raw.workers,
            shutdown_timeout_secs: raw.shutdown_timeout_secs,
            tls_handshake_timeout_ms: raw.tls_handshake_timeout_ms,
            max_handshakes_per_worker: raw.max_handshakes_per_worker,
            max_connections_per_worker: raw.max_connections_per_worker,
            allow_demo_data: raw.allow_demo_data,
            web_dir: Some(raw.web_dir.trim())
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        })
    }
}

/// An empty URL means the SQLite file in the data directory.
impl TryFrom<(RawDatabase, &ServerSettings)> for DatabaseSettings {
    type Error = ConfigError;

    fn try_from((raw, server): (RawDatabase, &ServerSettings)) -> Result<Self, ConfigError> {
        let url = if raw.url.is_empty() {
            format!(
                "sqlite://{}",
                server.data_dir.join("iro-advice.db").display()
            )
        } else {
            raw.url
        };
        let url = DatabaseUrl::parse(&url).map_err(|reason| invalid("database", "url", reason))?;
        if raw.pool_size == 0 {
            return Err(invalid("database", "pool_size", "must be at least 1"));
        }
        Ok(DatabaseSettings {
            url,
            pool_size: raw.pool_size,
            connect_timeout_secs: raw.connect_timeout_secs.max(1),
            sqlite_busy_timeout_ms: raw.sqlite_busy_timeout_ms,
        })
    }
}

impl TryFrom<RawLog> for LogSettings {
    type Error = ConfigError;

    fn try_from(raw: RawLog) -> Result<Self, ConfigError> {
        let format = match raw.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log",
                    "format",
                    format!("{other:?} is neither \"text\" nor \"json\""),
                ))
            }
        };
        if tracing_subscriber::EnvFilter::try_new(&raw.level).is_err() {
            return Err(invalid("log", "level", "is not a level or filter"));
        }
        Ok(LogSettings {
            format,
            level: raw.level,
        })
    }
}

/// An empty keys directory means `<data dir>/keys`.
impl TryFrom<(RawAccounts, &ServerSettings)> for AccountSettings {
    type Error = ConfigError;

    fn try_from((raw, server): (RawAccounts, &ServerSettings)) -> Result<Self, ConfigError> {
        for (key, value) in [
            ("invitation_days", raw.invitation_days),
            ("access_token_minutes", raw.access_token_minutes),
            ("refresh_token_days", raw.refresh_token_days),
            ("session_hours", raw.session_hours),
            ("login_failures_per_minute", raw.login_failures_per_minute),
        ] {
            if value < 1 {
                return Err(invalid("accounts", key, "must be at least 1"));
            }
        }
        if raw.shed_delay_ms > 10_000 {
            return Err(invalid(
                "accounts",
                "shed_delay_ms",
                "must be at most 10000",
            ));
        }
        let keys_dir = if raw.keys_dir.is_empty() {
            server.data_dir.join("keys")
        } else {
            PathBuf::from(raw.keys_dir)
        };
        Ok(AccountSettings {
            invitation_days: raw.invitation_days,
            access_token_minutes: raw.access_token_minutes,
            refresh_token_days: raw.refresh_token_days,
            session_hours: raw.session_hours,
            keys_dir,
            password_hash_slots: raw.password_hash_slots,
            login_failures_per_minute: raw.login_failures_per_minute,
            shed_delay_ms: raw.shed_delay_ms,
        })
    }
}

impl TryFrom<RawQueries> for QuerySettings {
    type Error = ConfigError;

    fn try_from(raw: RawQueries) -> Result<Self, ConfigError> {
        if raw.max_attachment_mb == 0 || raw.max_attachment_mb > 4096 {
            return Err(invalid(
                "queries",
                "max_attachment_mb",
                "must be from 1 to 4096",
            ));
        }
        if raw.attachment_quota_mb < raw.max_attachment_mb {
            return Err(invalid(
                "queries",
                "attachment_quota_mb",
                "must be at least max_attachment_mb",
            ));
        }
        if raw.upload_idle_secs == 0 {
            return Err(invalid("queries", "upload_idle_secs", "must be at least 1"));
        }
        for (key, value) in [
            ("reminder_routine_minutes", raw.reminder_routine_minutes),
            ("reminder_urgent_minutes", raw.reminder_urgent_minutes),
            ("retention_days", raw.retention_days),
        ] {
            if value < 0 {
                return Err(invalid("queries", key, "cannot be negative"));
            }
        }
        Ok(QuerySettings {
            max_attachment_bytes: raw.max_attachment_mb * 1024 * 1024,
            attachment_quota_bytes: raw.attachment_quota_mb * 1024 * 1024,
            upload_idle_secs: raw.upload_idle_secs,
            reminder_routine_minutes: raw.reminder_routine_minutes,
            reminder_urgent_minutes: raw.reminder_urgent_minutes,
            reminder_check_secs: raw.reminder_check_secs.max(1),
            retention_days: raw.retention_days,
        })
    }
}

/// An empty origin is derived from the public URL.
impl TryFrom<(RawRequestLog, &ServerSettings)> for RequestLogSettings {
    type Error = ConfigError;

    fn try_from((raw, server): (RawRequestLog, &ServerSettings)) -> Result<Self, ConfigError> {
        let origin = if raw.origin.is_empty() {
            format!("{}/log", server.public_url.trim_start_matches("https://"))
        } else {
            raw.origin
        };
        // The origin is the first line of every checkpoint and the signing key's name in
        // the note format, where '+' separates fields and spaces end them.
        if origin.contains(|c: char| c == '+' || c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "request_log",
                "origin",
                "must not contain '+' or spaces",
            ));
        }
        Ok(RequestLogSettings { origin })
    }
}

/// The witness given by `url` and `key` (both or neither), then those listed in `more`.
impl TryFrom<RawWitnesses> for WitnessSettings {
    type Error = ConfigError;

    fn try_from(raw: RawWitnesses) -> Result<Self, ConfigError> {
        let mut listed = Vec::new();
        match (raw.url.trim().is_empty(), raw.key.trim().is_empty()) {
            (true, true) => {}
            (false, false) => listed.push((raw.url, raw.key, ("url", "key"))),
            (false, true) => {
                return Err(invalid("witnesses", "key", "is needed with a witness URL"))
            }
            (true, false) => {
                return Err(invalid("witnesses", "url", "is needed with a witness key"))
            }
        }
        for w in raw.more {
            listed.push((w.url, w.key, ("more", "more")));
        }
        let mut witnesses: Vec<WitnessEndpoint> = Vec::new();
        for (url, key, (url_key, key_key)) in listed {
            let url = witness_url(&url).map_err(|why| invalid("witnesses", url_key, why))?;
            let key = key.trim().to_owned();
            let verifier = iro_advice_tlog::cosignature::CosignatureVerifier::parse(&key)
                .map_err(|_| {
                    invalid(
                        "witnesses",
                        key_key,
                        "must be a witness's cosignature/v1 verifier key, as `witness init` prints it",
                    )
                })?;
            if witnesses.iter().any(|w| {
                iro_advice_tlog::cosignature::CosignatureVerifier::parse(&w.key)
                    .is_ok_and(|other| other.name() == verifier.name())
            }) {
                return Err(invalid(
                    "witnesses",
                    key_key,
                    format!("two witnesses are named {}", verifier.name()),
                ));
            }
            witnesses.push(WitnessEndpoint { url, key });
        }
        let quorum = match raw.quorum {
            0 => witnesses.len(),
            n if n as usize > witnesses.len() => {
                return Err(invalid(
                    "witnesses",
                    "quorum",
                    format!("is {n}, but {} witness(es) are configured", witnesses.len()),
                ))
            }
            n => n as usize,
        };
        let ca = Some(raw.ca.trim())
            .filter(|c| !c.is_empty())
            .map(PathBuf::from);
        if let Some(ca) = &ca {
            readable_file("witnesses", "ca", ca)?;
        }
        Ok(WitnessSettings {
            witnesses,
            quorum,
            ca,
        })
    }
}

/// `http://` or `https://` with a host; `/add-checkpoint` is appended to its path.
fn witness_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{raw:?} must be an http:// or https:// URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{raw:?} must not carry a query or fragment"));
    }
    let path = format!("{}/add-checkpoint", url.path().trim_end_matches('/'));
    let mut url = url;
    url.set_path(&path);
    Ok(url)
}

impl TryFrom<RawMail> for MailSettings {
    type Error = ConfigError;

    fn try_from(raw: RawMail) -> Result<Self, ConfigError> {
        let smtp_url = if raw.smtp_url.is_empty() {
            None
        } else if raw.smtp_url.starts_with("smtp://") || raw.smtp_url.starts_with("smtps://") {
            Some(Secret::new(raw.smtp_url))
        } else {
            return Err(invalid(
                "mail",
                "smtp_url",
                "must start with smtp:// or smtps://",
            ));
        };
        let smtp_ca = Some(raw.smtp_ca)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        if let Some(ca) = &smtp_ca {
            readable_file("mail", "smtp_ca", ca)?;
        }
        if raw.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid("mail", "from", "is not a mailbox"));
        }
        let one_line = |key: &'static str, raw: &str| {
            let subject = raw.trim().to_owned();
            if subject.is_empty() || subject.len() > 200 || subject.chars().any(char::is_control) {
                return Err(invalid(
                    "mail",
                    key,
                    "must be one line of 1 to 200 characters",
                ));
            }
            Ok(subject)
        };
        let subject = one_line("subject", &raw.subject)?;
        let subject_cy = one_line("subject_cy", &raw.subject_cy)?;
        if raw.digest_minutes > 24 * 60 {
            return Err(invalid(
                "mail",
                "digest_minutes",
                "must be at most 1440 (a day)",
            ));
        }
        Ok(MailSettings {
            smtp_url,
            smtp_ca,
            from: raw.from,
            retry_base_secs: raw.retry_base_secs.max(1),
            poll_interval_ms: raw.poll_interval_ms.max(10),
            subject,
            subject_cy,
            digest_minutes: raw.digest_minutes,
            file_hours: raw.file_hours,
        })
    }
}

impl TryFrom<RawNairo> for NairoSettings {
    type Error = ConfigError;

    fn try_from(raw: RawNairo) -> Result<Self, ConfigError> {
        let recipient = Some(raw.recipient.trim().to_owned()).filter(|r| !r.is_empty());
        if let Some(r) = &recipient {
            if r.parse::<age::x25519::Recipient>().is_err() {
                return Err(invalid(
                    "nairo",
                    "recipient",
                    "must be an age X25519 recipient (age1...)",
                ));
            }
        }
        Ok(NairoSettings { recipient })
    }
}

impl TryFrom<RawStatistics> for StatisticsSettings {
    type Error = ConfigError;

    fn try_from(raw: RawStatistics) -> Result<Self, ConfigError> {
        if raw.round_totals_to == 0 || raw.round_totals_to > 100 {
            return Err(invalid(
                "statistics",
                "round_totals_to",
                "must be from 1 (no rounding) to 100",
            ));
        }
        if raw.follow_up_days > 366 {
            return Err(invalid(
                "statistics",
                "follow_up_days",
                "must be from 0 to 366 days",
            ));
        }
        Ok(StatisticsSettings {
            round_totals_to: raw.round_totals_to,
            follow_up_days: raw.follow_up_days,
        })
    }
}

impl Settings {
    /// Loads settings from the process environment and `./config` (or `IRO_ADVICE_CONFIG_DIR`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    /// Loads settings with `lookup` standing in for the environment, so tests need not touch
    /// the process's own.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let profile = lookup("IRO_ADVICE_PROFILE")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "dev".to_owned());
        if !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::Invalid {
                setting: "IRO_ADVICE_PROFILE".into(),
                reason: "only letters, digits, '-' and '_' are allowed".into(),
            });
        }
        let config_dir = lookup("IRO_ADVICE_CONFIG_DIR").unwrap_or_else(|| "config".to_owned());

        let mut merged: toml::Table = parse_toml("config/default.toml", DEFAULT_TOML)?;
        let profile_path = Path::new(&config_dir).join(format!("{profile}.toml"));
        let overlay = match std::fs::read_to_string(&profile_path) {
            Ok(text) => parse_toml(&profile_path.display().to_string(), &text)?,
            Err(_) => match EMBEDDED_PROFILES.iter().find(|(name, _)| *name == profile) {
                Some((name, text)) => parse_toml(&format!("config/{name}.toml"), text)?,
                None => return Err(ConfigError::UnknownProfile(profile)),
            },
        };
        merge(&mut merged, overlay);
        overlay_environment(&mut merged, &lookup)?;
        let raw: RawSettings =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::File {
                    file: format!("config/default.toml + config/{profile}.toml"),
                    reason: e.message().to_owned(),
                })?;
        Self::try_from((raw, profile))
    }
}

impl TryFrom<(RawSettings, String)> for Settings {
    type Error = ConfigError;

    fn try_from((raw, profile): (RawSettings, String)) -> Result<Self, ConfigError> {
        let server = ServerSettings::try_from((raw.server, profile.as_str()))?;
        Ok(Settings {
            database: DatabaseSettings::try_from((raw.database, &server))?,
            log: raw.log.try_into()?,
            accounts: AccountSettings::try_from((raw.accounts, &server))?,
            queries: raw.queries.try_into()?,
            request_log: RequestLogSettings::try_from((raw.request_log, &server))?,
            witnesses: raw.witnesses.try_into()?,
            mail: raw.mail.try_into()?,
            nairo: raw.nairo.try_into()?,
            statistics: raw.statistics.try_into()?,
            server,
            profile,
        })
    }
}

/// Lays each declared variable that is set over its TOML key, typed as the default is, so
/// `IRO_ADVICE_WORKERS=many` is refused by name rather than deep inside deserialisation.
fn overlay_environment(
    merged: &mut toml::Table,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for d in DECLARED {
        let Some(var) = d.env else { continue };
        let Some(value) = lookup(var) else { continue };
        let section = merged
            .entry(d.section.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(table) = section else {
            return Err(ConfigError::File {
                file: "config".into(),
                reason: format!("[{}] is not a table", d.section),
            });
        };
        let typed = match table.get(d.key) {
            // Every number the service takes is a count, a size or a time: none is negative.
            Some(toml::Value::Integer(_)) => value
                .trim()
                .parse::<u32>()
                .map(|n| toml::Value::Integer(n.into()))
                .map_err(|_| invalid(d.section, d.key, "must be a whole number, 0 or more"))?,
            Some(toml::Value::Boolean(_)) => value
                .trim()
                .parse::<bool>()
                .map(toml::Value::Boolean)
                .map_err(|_| invalid(d.section, d.key, "must be true or false"))?,
            _ => toml::Value::String(value),
        };
        table.insert(d.key.to_owned(), typed);
    }
    Ok(())
}

fn parse_toml(file: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::File {
        file: file.to_owned(),
        reason: e.message().to_owned(),
    })
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(|k| map.get(k).cloned())
    }

    #[test]
    fn dev_profile_defaults_to_sqlite_and_a_generated_certificate() {
        let s = load(&[("IRO_ADVICE_CONFIG_DIR", "/nonexistent")]).unwrap();
        assert_eq!(s.profile, "dev");
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8443");
        assert!(matches!(s.server.tls, TlsSource::Generated));
        assert!(!s.database.url.is_postgres());
        assert!(s.server.allow_demo_data);
    }

    #[test]
    fn a_development_service_listens_on_loopback_only() {
        for addr in ["0.0.0.0:8443", "192.168.1.20:8443", "[::]:8443"] {
            let err = load(&[("IRO_ADVICE_LISTEN", addr)]).unwrap_err();
            assert!(err.to_string().starts_with("IRO_ADVICE_LISTEN:"), "{err}");
        }
        for addr in ["127.0.0.1:8443", "[::1]:8443"] {
            assert!(load(&[("IRO_ADVICE_LISTEN", addr)]).is_ok(), "{addr}");
        }
    }

    #[test]
    fn production_without_a_certificate_names_the_setting() {
        let err = load(&[("IRO_ADVICE_PROFILE", "production")]).unwrap_err();
        assert!(err.to_string().starts_with("IRO_ADVICE_TLS_CERT:"), "{err}");
    }

    #[test]
    fn environment_overrides_profile_and_types_integers() {
        let s = load(&[
            ("IRO_ADVICE_LISTEN", "127.0.0.1:9000"),
            ("IRO_ADVICE_WORKERS", "3"),
            ("DATABASE_URL", "postgres://u@localhost/x"),
        ])
        .unwrap();
        assert_eq!(s.server.listen.port(), 9000);
        assert_eq!(s.server.workers, 3);
        assert!(s.database.url.is_postgres());
        let err = load(&[("IRO_ADVICE_WORKERS", "many")]).unwrap_err();
        assert!(err.to_string().starts_with("IRO_ADVICE_WORKERS:"));
    }

    const WITNESS_KEY: &str =
        "witness.example/test+41c3f85c+BCwt1i9i0AJH01H6/6TjZ8+9w6NRkF06kAfIdYq4Hj1A";

    #[test]
    fn witnesses_come_from_the_environment_and_the_file_and_the_quorum_defaults_to_all() {
        let one = load(&[
            ("IRO_ADVICE_WITNESS_URL", "https://nairo.example/witness/"),
            ("IRO_ADVICE_WITNESS_KEY", WITNESS_KEY),
        ])
        .unwrap();
        assert_eq!(one.witnesses.quorum, 1);
        assert_eq!(
            one.witnesses.witnesses[0].url.as_str(),
            "https://nairo.example/witness/add-checkpoint"
        );
        assert_eq!(load(&[]).unwrap().witnesses.quorum, 0);

        let raw = |quorum: u64, more: Vec<RawWitness>| RawWitnesses {
            url: "http://127.0.0.1:7380".into(),
            key: WITNESS_KEY.into(),
            quorum,
            more,
            ca: String::new(),
        };
        let second = || RawWitness {
            url: "http://127.0.0.1:7381".into(),
            key: "other.example/w+5e7a4f5b+BAYs5GBi9YzCmpcJRRIk0GL1gaXE4M9IeMdz/CAGVnCA".into(),
        };
        // The second key's ID is wrong on purpose: every listed key is checked.
        let err = WitnessSettings::try_from(raw(0, vec![second()])).unwrap_err();
        assert!(err.to_string().starts_with("witnesses.more:"), "{err}");
        let same = RawWitness {
            url: "http://127.0.0.1:7381".into(),
            key: WITNESS_KEY.into(),
        };
        let err = WitnessSettings::try_from(raw(0, vec![same])).unwrap_err();
        assert!(err.to_string().contains("two witnesses"), "{err}");
        let err = WitnessSettings::try_from(raw(2, vec![])).unwrap_err();
        assert!(
            err.to_string().starts_with("IRO_ADVICE_WITNESS_QUORUM:"),
            "{err}"
        );
        let err = load(&[("IRO_ADVICE_WITNESS_URL", "http://w")]).unwrap_err();
        assert!(
            err.to_string().starts_with("IRO_ADVICE_WITNESS_KEY:"),
            "{err}"
        );
    }

    /// A value for every variable that differs from its default and is valid, and one that
    /// is not. Files that must exist are this source file.
    fn values(var: &str) -> (&'static str, Option<&'static str>) {
        let here = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        match var {
            "IRO_ADVICE_LISTEN" => ("127.0.0.2:9443", Some("0.0.0.0:9443")),
            "IRO_ADVICE_PUBLIC_URL" => ("https://advice.example.org", Some("http://plain")),
            "IRO_ADVICE_DATA_DIR" => ("/srv/iro", Some("")),
            "IRO_ADVICE_TLS_CERT" | "IRO_ADVICE_TLS_KEY" => (here, Some("/nonexistent/cert.pem")),
            "IRO_ADVICE_WORKERS" => ("3", Some("many")),
            "IRO_ADVICE_METRICS_LISTEN" => ("10.0.0.5:9100", Some("everywhere")),
            // Checked at start, where a missing file is named.
            "IRO_ADVICE_WEB_DIR" => ("/srv/web", None),
            "DATABASE_URL" => ("postgres://u@db/x", Some("mysql://x")),
            "IRO_ADVICE_LOG_FORMAT" => ("json", Some("xml")),
            "IRO_ADVICE_LOG_LEVEL" => ("debug", Some("[[[")),
            // Any path will do; an empty one means the default.
            "IRO_ADVICE_KEYS_DIR" => ("/srv/keys", None),
            "IRO_ADVICE_MAX_ATTACHMENT_MB" => ("10", Some("0")),
            "IRO_ADVICE_ATTACHMENT_QUOTA_MB" => ("4000", Some("1")),
            "IRO_ADVICE_UPLOAD_IDLE_SECS" => ("5", Some("0")),
            "IRO_ADVICE_REMINDER_ROUTINE_MINUTES" | "IRO_ADVICE_REMINDER_URGENT_MINUTES" => {
                ("7", Some("-1"))
            }
            "IRO_ADVICE_REMINDER_CHECK_SECS" => ("5", Some("-5")),
            "IRO_ADVICE_RETENTION_DAYS" => ("30", Some("-5")),
            "IRO_ADVICE_LOG_ORIGIN" => ("advice.example.org/log", Some("a + b")),
            "IRO_ADVICE_WITNESS_URL" => ("http://127.0.0.1:7380", Some("ftp://w")),
            "IRO_ADVICE_WITNESS_KEY" => (WITNESS_KEY, Some("w+00000000+AAAA")),
            "IRO_ADVICE_WITNESS_QUORUM" => ("1", Some("2")),
            "IRO_ADVICE_WITNESS_CA" => (here, Some("/nonexistent/ca.pem")),
            "IRO_ADVICE_SMTP_URL" => ("smtps://mail:465", Some("ftp://x")),
            "IRO_ADVICE_SMTP_CA" => (here, Some("/nonexistent/ca.pem")),
            "IRO_ADVICE_MAIL_FROM" => ("Advice <a@example.org>", Some("not a mailbox")),
            "IRO_ADVICE_MAIL_RETRY_BASE_SECS" | "IRO_ADVICE_MAIL_POLL_MS" => ("77", Some("soon")),
            "IRO_ADVICE_MAIL_SUBJECT" => ("Your account", Some("")),
            "IRO_ADVICE_MAIL_SUBJECT_CY" => ("Eich cyfrif", Some("")),
            "IRO_ADVICE_MAIL_DIGEST_MINUTES" => ("60", Some("2000")),
            "IRO_ADVICE_MAIL_FILE_HOURS" => ("2", Some("-2")),
            "IRO_ADVICE_NAIRO_RECIPIENT" => (
                "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
                Some("not-a-key"),
            ),
            "IRO_ADVICE_STATS_ROUND_TO" => ("10", Some("0")),
            "IRO_ADVICE_STATS_FOLLOW_UP_DAYS" => ("30", Some("400")),
            "IRO_ADVICE_SESSION_HOURS" => ("8", Some("0")),
            "IRO_ADVICE_PASSWORD_HASH_SLOTS" => ("4", Some("some")),
            "IRO_ADVICE_LOGIN_FAILURES_PER_MINUTE" => ("50", Some("0")),
            "IRO_ADVICE_SHED_DELAY_MS" => ("250", Some("60000")),
            other => panic!("no test values for {other}: add them here"),
        }
    }

    #[test]
    fn every_variable_changes_its_setting_and_a_bad_value_names_it() {
        let base = format!("{:?}", load(&[]).unwrap());
        for d in DECLARED {
            let Some(var) = d.env else { continue };
            let (good, bad) = values(var);
            // The key and certificate are only taken in pairs, as are a witness's URL and
            // key; a quorum needs a witness.
            let pair: Vec<(&str, &str)> = match var {
                "IRO_ADVICE_TLS_CERT" => vec![("IRO_ADVICE_TLS_KEY", good)],
                "IRO_ADVICE_TLS_KEY" => vec![("IRO_ADVICE_TLS_CERT", good)],
                "IRO_ADVICE_WITNESS_URL" => vec![("IRO_ADVICE_WITNESS_KEY", WITNESS_KEY)],
                "IRO_ADVICE_WITNESS_KEY" => {
                    vec![("IRO_ADVICE_WITNESS_URL", "http://127.0.0.1:7380")]
                }
                "IRO_ADVICE_WITNESS_QUORUM" => vec![
                    ("IRO_ADVICE_WITNESS_URL", "http://127.0.0.1:7380"),
                    ("IRO_ADVICE_WITNESS_KEY", WITNESS_KEY),
                ],
                _ => Vec::new(),
            };
            let mut vars = vec![(var, good)];
            vars.extend(pair.iter().copied());
            let changed = format!(
                "{:?}",
                load(&vars).unwrap_or_else(|e| panic!("{var}={good}: {e}"))
            );
            assert_ne!(changed, base, "{var} changed nothing");

            let Some(bad) = bad else { continue };
            let mut vars = vec![(var, bad)];
            vars.extend(pair.iter().copied());
            let err = load(&vars)
                .expect_err(&format!("{var}={bad:?} was accepted"))
                .to_string();
            assert!(err.starts_with(&format!("{var}:")), "{var}={bad:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }

    #[test]
    fn retention_and_origin_come_from_the_environment() {
        let s = load(&[
            ("IRO_ADVICE_RETENTION_DAYS", "30"),
            ("IRO_ADVICE_LOG_ORIGIN", "advice.example.org/log"),
        ])
        .unwrap();
        assert_eq!(s.queries.retention_days, 30);
        assert_eq!(s.request_log.origin, "advice.example.org/log");
    }

    #[test]
    fn the_readme_documents_exactly_the_declared_variables() {
        let readme = include_str!("../../../README.md");
        let table = readme
            .split("## Configuration")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has a Configuration section");
        let documented: BTreeSet<&str> = table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .collect();
        let declared: BTreeSet<&str> = DECLARED
            .iter()
            .filter_map(|d| d.env)
            .chain(FILE_SELECTORS.iter().copied())
            .collect();
        assert_eq!(documented, declared);
    }

    #[test]
    fn every_declared_key_is_in_the_default_file_and_no_other() {
        let defaults = parse_toml("default", DEFAULT_TOML).unwrap();
        let mut in_file = BTreeSet::new();
        for (section, table) in &defaults {
            for key in table.as_table().unwrap().keys() {
                in_file.insert((section.clone(), key.clone()));
            }
        }
        let declared: BTreeSet<(String, String)> = DECLARED
            .iter()
            .map(|d| (d.section.to_owned(), d.key.to_owned()))
            .collect();
        assert_eq!(in_file, declared);
    }

    #[test]
    fn file_only_settings_are_named_by_their_path() {
        let err = invalid("database", "pool_size", "must be at least 1").to_string();
        assert_eq!(err, "database.pool_size: must be at least 1");
    }

    #[test]
    fn secrets_do_not_print_themselves() {
        let s = load(&[
            ("DATABASE_URL", "postgres://user:hunter2@db/x"),
            ("IRO_ADVICE_SMTP_URL", "smtps://mailer:swordfish@mail:465"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("swordfish"), "{printed}");
    }
}
