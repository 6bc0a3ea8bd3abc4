//! Settings: embedded defaults, a profile overlay, then environment variables.
//!
//! Every setting is declared once, in the [`settings!`] table: its `[section] key`, type,
//! default, environment variable and meaning. From that one line come the section structs
//! the program reads, the parsing and checking of each value (a wrong one stops the process
//! with one line naming it), the environment overlay, `config/default.toml` and the book's
//! configuration reference (`iro-advice config`, tested to be current). What settings mean
//! together (a certificate needs its key, a quorum its witnesses) is [`Settings::check`]'s.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use iro_advice_tlog::cosignature::CosignatureVerifier;
use iro_advice_tlog::witness::EndpointError;

pub use crate::keys::Secret;

const PROFILES: &[(&str, &str)] = &[
    ("dev", include_str!("../../../config/dev.toml")),
    (
        "production",
        include_str!("../../../config/production.toml"),
    ),
];

/// Variables that choose which files are read rather than overriding a setting in them.
pub const FILE_SELECTORS: &[(&str, &str)] = &[
    ("IRO_ADVICE_PROFILE", "`dev` (default) or `production`: which `config/<profile>.toml` is laid over the defaults"),
    ("IRO_ADVICE_CONFIG_DIR", "where profile files are read from (default `./config`; `dev` and `production` are built in)"),
];

/// One setting, as the table declares it.
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    pub section: &'static str,
    pub key: &'static str,
    pub env: Option<&'static str>,
    pub default: fn() -> toml::Value,
    pub doc: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("IRO_ADVICE_PROFILE: no profile named {0:?} (no config/{0}.toml and none built in)")]
    UnknownProfile(String),
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

/// A refusal of `[section] key`, named as an operator sets it: its variable, or
/// `section.key` for a setting only the files hold.
fn invalid(section: &str, key: &str, reason: impl Into<String>) -> ConfigError {
    let setting = DECLARED
        .iter()
        .find(|d| d.section == section && d.key == key)
        .and_then(|d| d.env)
        .map_or_else(|| format!("{section}.{key}"), str::to_owned);
    let reason = reason.into();
    ConfigError::Invalid { setting, reason }
}

fn file_error(reason: String) -> ConfigError {
    let file = "config".into();
    ConfigError::File { file, reason }
}

/// A setting's value as its type reads it: empty text is `None` for an optional setting,
/// anything else is deserialised.
fn parse<T: serde::de::DeserializeOwned>(value: toml::Value) -> Result<T, String> {
    if value.as_str().is_some_and(|s| s.trim().is_empty()) {
        if let Ok(none) = serde_json::from_value::<T>(serde_json::Value::Null) {
            return Ok(none);
        }
    }
    value
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_owned())
}

/// A default as the table writes it, as TOML.
fn toml_of<T: serde::Serialize>(default: T) -> toml::Value {
    toml::Value::try_from(default).expect("a default is a TOML value")
}

/// Which database, and where. A PostgreSQL URL may hold a password.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(Secret<String>),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        match url.strip_prefix("sqlite://") {
            Some("") => {
                Err("sqlite:// needs a file path, e.g. sqlite://./data/iro-advice.db".into())
            }
            Some(path) => Ok(DatabaseUrl::Sqlite(PathBuf::from(path))),
            None if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(DatabaseUrl::Postgres(Secret::new(url.to_owned())))
            }
            None => Err("must start with sqlite:// or postgres://".into()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;
    fn try_from(url: String) -> Result<Self, String> {
        DatabaseUrl::parse(&url)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The mail server's address: `smtp://` (STARTTLS) or `smtps://`; it may hold a password.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct SmtpUrl(pub Secret<String>);

impl TryFrom<String> for SmtpUrl {
    type Error = &'static str;
    fn try_from(url: String) -> Result<Self, &'static str> {
        match url.starts_with("smtp://") || url.starts_with("smtps://") {
            true => Ok(SmtpUrl(Secret::new(url))),
            false => Err("must start with smtp:// or smtps://"),
        }
    }
}

/// A witness listed in `more`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessEntry {
    pub url: String,
    pub key: String,
}

// Checks of one value, named in the table.
type Check = Result<(), String>;
fn ensure(ok: bool, why: &str) -> Check {
    ok.then_some(()).ok_or_else(|| why.to_owned())
}
fn readable(path: &Option<PathBuf>) -> Check {
    let missing = path.as_ref().filter(|p| !p.is_file());
    missing.map_or(Ok(()), |p| {
        Err(format!("{} is not a readable file", p.display()))
    })
}
fn positive<T: PartialOrd + From<u8>>(n: &T) -> Check {
    ensure(*n >= T::from(1), "must be at least 1")
}
fn not_negative(n: &i64) -> Check {
    ensure(*n >= 0, "cannot be negative")
}
fn at_most<T: PartialOrd + fmt::Display + Copy>(max: T) -> impl Fn(&T) -> Check {
    move |n| ensure(*n <= max, &format!("must be at most {max}"))
}
fn one_line(s: &str) -> Check {
    let ok = !s.trim().is_empty() && s.len() <= 200 && !s.chars().any(char::is_control);
    ensure(ok, "must be one line of 1 to 200 characters")
}
fn witness_key(key: &Option<String>) -> Check {
    let bad = key
        .as_ref()
        .is_some_and(|k| CosignatureVerifier::parse(k.trim()).is_err());
    ensure(
        !bad,
        "must be a witness's cosignature/v1 verifier key, as `witness init` prints it",
    )
}

/// `section: Struct "meaning" { key: Type = default, [env "VAR",] [check f,] "meaning"; … }`.
macro_rules! settings {
    ($($section:ident: $Section:ident $sdoc:literal {$(
        $key:ident: $ty:ty = $default:expr, $(env $env:literal,)? $(check $check:expr,)? $doc:literal;
    )*})*) => {
        /// Every setting, once. A key in the files that is not here is refused.
        pub const DECLARED: &[Declaration] = &[$($(Declaration {
            section: stringify!($section),
            key: stringify!($key),
            env: settings!(@env $($env)?),
            default: || toml_of($default),
            doc: $doc,
        },)*)*];

        $(#[doc = $sdoc] #[derive(Debug, Clone)]
        pub struct $Section { $(#[doc = $doc] pub $key: $ty,)* }

        impl $Section {
            fn read(table: &toml::Table) -> Result<Self, ConfigError> {
                let keys = [$(stringify!($key)),*];
                if let Some(k) = table.keys().find(|k| !keys.contains(&k.as_str())) {
                    return Err(file_error(format!("[{}] {k} is not a setting", stringify!($section))));
                }
                Ok($Section {$($key: {
                    let refuse = |why: String| invalid(stringify!($section), stringify!($key), why);
                    let value = table.get(stringify!($key)).cloned().unwrap_or_else(|| toml_of($default));
                    let parsed: $ty = parse(value).map_err(refuse)?;
                    $(($check)(&parsed).map_err(refuse)?;)?
                    parsed
                },)*})
            }
        })*

        /// Every setting, read and checked.
        #[derive(Debug, Clone)]
        pub struct Settings {
            pub profile: String,
            $(pub $section: $Section,)*
        }

        impl Settings {
            fn read(profile: String, merged: &toml::Table) -> Result<Self, ConfigError> {
                let sections = [$(stringify!($section)),*];
                if let Some(s) = merged.keys().find(|s| !sections.contains(&s.as_str())) {
                    return Err(file_error(format!("[{s}] is not a section")));
                }
                let empty = toml::Table::new();
                let table = |name: &str| match merged.get(name) {
                    Some(toml::Value::Table(t)) => Ok(t),
                    None => Ok(&empty),
                    Some(_) => Err(file_error(format!("[{name}] is not a table"))),
                };
                Ok(Settings { profile, $($section: $Section::read(table(stringify!($section))?)?,)* })
            }
        }
    };
    (@env $env:literal) => { Some($env) };
    (@env) => { None };
}

settings! {
    server: ServerSettings "The HTTPS server." {
        listen: SocketAddr = "127.0.0.1:8443", env "IRO_ADVICE_LISTEN", "The address HTTPS is served on.";
        metrics_listen: Option<SocketAddr> = "127.0.0.1:9464", env "IRO_ADVICE_METRICS_LISTEN", "Prometheus metrics in plain HTTP, no personal data; empty switches them off.";
        public_url: String = "https://127.0.0.1:8443", env "IRO_ADVICE_PUBLIC_URL", "The service's own address: the base of links in mails.";
        web_dir: Option<PathBuf> = "", env "IRO_ADVICE_WEB_DIR", "Empty: the web application built into the binary; a directory: its files instead.";
        data_dir: PathBuf = "./data", env "IRO_ADVICE_DATA_DIR", check |p: &PathBuf| ensure(!p.as_os_str().is_empty(), "must not be empty"), "The SQLite file, attachments, keys and the development certificate.";
        tls_cert: Option<PathBuf> = "", env "IRO_ADVICE_TLS_CERT", check readable, "The certificate (PEM); when it and its key are empty, dev generates one.";
        tls_key: Option<PathBuf> = "", env "IRO_ADVICE_TLS_KEY", check readable, "The certificate's private key (PEM).";
        dev_certificate: bool = false, "Whether a self-signed certificate may be generated when none is configured.";
        workers: usize = 0, env "IRO_ADVICE_WORKERS", "Worker threads; 0: one per core.";
        shutdown_timeout_secs: u64 = 30, "How long requests in flight may take to finish once a stop is asked for.";
        tls_handshake_timeout_ms: u64 = 3000, "A client that has not finished its TLS handshake by then is dropped.";
        max_handshakes_per_worker: usize = 8192, "Handshakes in progress at once per worker.";
        max_connections_per_worker: usize = 16384, "Connections open at once per worker.";
        allow_demo_data: bool = false, env "IRO_ADVICE_ALLOW_DEMO_DATA", "Whether `demo seed` may write synthetic data here.";
    }
    database: DatabaseSettings "The database." {
        url: Option<DatabaseUrl> = "", env "DATABASE_URL", "`sqlite://PATH` or `postgres://…`; empty: sqlite://<data dir>/iro-advice.db.";
        pool_size: u32 = 8, check positive, "Connections in the pool.";
        connect_timeout_secs: u64 = 10, check positive, "How long to wait for a connection.";
        sqlite_busy_timeout_ms: u32 = 10000, "How long a SQLite writer waits for the lock.";
    }
    log: LogSettings "The service's own log, which never holds personal data." {
        format: LogFormat = "text", env "IRO_ADVICE_LOG_FORMAT", "`text` for people, `json` for a log collector.";
        level: String = "info", env "IRO_ADVICE_LOG_LEVEL", check |l: &String| ensure(tracing_subscriber::EnvFilter::try_new(l).is_ok(), "is not a level or filter"), "A level (`info`) or filter (`info,iro_advice_server=debug`).";
    }
    accounts: AccountSettings "Accounts and sessions." {
        invitation_days: i64 = 7, check positive, "How long an invitation can be used.";
        access_token_minutes: i64 = 10, check positive, "How long an access token lasts.";
        refresh_token_days: i64 = 14, check positive, "How long a refresh token lasts unused.";
        session_hours: i64 = 12, env "IRO_ADVICE_SESSION_HOURS", check positive, "A session ends this long after sign-in, however often it is refreshed.";
        password_hash_slots: usize = 0, env "IRO_ADVICE_PASSWORD_HASH_SLOTS", "Password hashes (19 MiB each) at once; 0: half the cores, at least one.";
        login_failures_per_minute: i64 = 300, env "IRO_ADVICE_LOGIN_FAILURES_PER_MINUTE", check positive, "Failed sign-ins a minute, service-wide, beyond which only a known device or the right password and second factor get in.";
        shed_delay_ms: u64 = 1000, env "IRO_ADVICE_SHED_DELAY_MS", check at_most(10_000), "A sign-in refused unheard is answered after this long, so a flood waits as long.";
        keys_dir: PathBuf = "", env "IRO_ADVICE_KEYS_DIR", "Signing, sealing and pseudonym keys, kept out of backups; empty: <data dir>/keys.";
    }
    queries: QuerySettings "Queries and their attachments." {
        max_attachment_mb: u64 = 50, env "IRO_ADVICE_MAX_ATTACHMENT_MB", check positive, "The largest attachment, in MiB.";
        attachment_quota_mb: u64 = 2048, env "IRO_ADVICE_ATTACHMENT_QUOTA_MB", "What one account's attachments may hold in all, in MiB.";
        upload_idle_secs: u64 = 30, env "IRO_ADVICE_UPLOAD_IDLE_SECS", check positive, "An upload silent this long is ended (408) and discarded.";
        reminder_routine_minutes: i64 = 2880, env "IRO_ADVICE_REMINDER_ROUTINE_MINUTES", check not_negative, "A routine query not accepted by then is reminded; the IRO may route it elsewhere.";
        reminder_urgent_minutes: i64 = 240, env "IRO_ADVICE_REMINDER_URGENT_MINUTES", check not_negative, "The same for an urgent query.";
        reminder_check_secs: u64 = 60, env "IRO_ADVICE_REMINDER_CHECK_SECS", check positive, "How often reminders, abandoned uploads and retention are looked at.";
        retention_days: i64 = 0, env "IRO_ADVICE_RETENTION_DAYS", check not_negative, "Content (never leaves) of queries closed this long ago is erased; 0: kept.";
    }
    request_log: RequestLogSettings "The request log." {
        origin: String = "", env "IRO_ADVICE_LOG_ORIGIN", "The checkpoints' origin line; empty: derived from the public URL.";
        publish_seconds: u64 = 300, env "IRO_ADVICE_LOG_PUBLISH_SECONDS", check at_most(3600), "New leaves are published (shuffled, under one checkpoint) at most this often, so the log dates no act more finely; 0 (development only): at once.";
    }
    witnesses: WitnessSettings "Witnesses (C2SP tlog-witness) run by someone other than the operator, e.g. NAIRO." {
        url: Option<String> = "", env "IRO_ADVICE_WITNESS_URL", "A witness's base URL; with its key.";
        key: Option<String> = "", env "IRO_ADVICE_WITNESS_KEY", check witness_key, "Its verifier key, as `witness init` prints it.";
        more: Vec<WitnessEntry> = Vec::<WitnessEntry>::new(), "More: `more = [{ url = \"https://…\", key = \"name+id+key\" }, …]`.";
        quorum: usize = 0, env "IRO_ADVICE_WITNESS_QUORUM", "How many must cosign a checkpoint before clients are served it; 0: all.";
        ca: Option<PathBuf> = "", env "IRO_ADVICE_WITNESS_CA", check readable, "The CA (PEM) to trust for witnesses' HTTPS; empty: the system's.";
    }
    mail: MailSettings "Mail: notices only, never case content." {
        smtp_url: Option<SmtpUrl> = "", env "IRO_ADVICE_SMTP_URL", "`smtp://host:port` (STARTTLS) or `smtps://…`; empty: .eml files in <data dir>/outbox.";
        smtp_ca: Option<PathBuf> = "", env "IRO_ADVICE_SMTP_CA", check readable, "The CA (PEM) to trust for the SMTP server; empty: the system's.";
        from: String = "Notifications <no-reply@notifications.invalid>", env "IRO_ADVICE_MAIL_FROM", check |m: &String| ensure(m.parse::<lettre::message::Mailbox>().is_ok(), "is not a mailbox"), "The sender the invitee's (often the employer's) mail server sees: keep it neutral.";
        subject: String = "Something is waiting for you", env "IRO_ADVICE_MAIL_SUBJECT", check one_line, "The one subject of every mail, naming neither the service nor a purpose.";
        subject_cy: String = "Mae rhywbeth yn aros amdanoch", env "IRO_ADVICE_MAIL_SUBJECT_CY", check one_line, "The subject in Welsh.";
        digest_minutes: u64 = 180, env "IRO_ADVICE_MAIL_DIGEST_MINUTES", check at_most(24 * 60), "Routine notices wait for a digest sent at a random time within this many minutes.";
        file_hours: u64 = 24, env "IRO_ADVICE_MAIL_FILE_HOURS", "The file transport deletes its .eml files after this many hours.";
        retry_base_secs: u64 = 30, env "IRO_ADVICE_MAIL_RETRY_BASE_SECS", check positive, "The first retry after this many seconds, doubling up to an hour.";
        poll_interval_ms: u64 = 2000, env "IRO_ADVICE_MAIL_POLL_MS", "How often the outbox is looked at, in milliseconds.";
    }
    nairo: NairoSettings "NAIRO." {
        recipient: Option<String> = "", env "IRO_ADVICE_NAIRO_RECIPIENT", check |r: &Option<String>| ensure(r.as_ref().is_none_or(|r| r.parse::<age::x25519::Recipient>().is_ok()), "must be an age X25519 recipient (age1...)"), "NAIRO's age key (age1…), to which an IRO may also encrypt a pressure narrative.";
    }
    statistics: StatisticsSettings "Statistics for NAIRO." {
        round_totals_to: u64 = 5, env "IRO_ADVICE_STATS_ROUND_TO", check |n| positive(n).and(at_most(100)(n)), "National and regional totals are rounded to a multiple of this; 1: not rounded.";
        follow_up_days: u32 = 90, env "IRO_ADVICE_STATS_FOLLOW_UP_DAYS", check at_most(366), "Outcomes count as they stood this many days after their month's end, when the period's release is built.";
    }
}

pub use iro_advice_tlog::witness::WitnessEndpoint;

impl WitnessSettings {
    /// The witness of `url` and `key`, then those in `more`, each checked, no two of a name.
    pub fn endpoints(&self) -> Result<Vec<WitnessEndpoint>, ConfigError> {
        let mut listed = match (&self.url, &self.key) {
            (None, None) => vec![],
            (Some(u), Some(k)) => vec![(u.clone(), k.clone(), "url", "key")],
            (Some(_), None) => return Err(invalid("witnesses", "key", "is needed with a URL")),
            (None, Some(_)) => return Err(invalid("witnesses", "url", "is needed with a key")),
        };
        listed.extend(
            self.more
                .iter()
                .map(|w| (w.url.clone(), w.key.clone(), "more", "more")),
        );
        let mut out: Vec<WitnessEndpoint> = Vec::new();
        for (url, key, url_name, key_name) in listed {
            let w = WitnessEndpoint::parse(&url, &key).map_err(|e| match e {
                EndpointError::Url(why) => invalid("witnesses", url_name, why),
                EndpointError::Key => invalid("witnesses", key_name, e.to_string()),
            })?;
            if out.iter().any(|o| o.name() == w.name()) {
                let why = format!("two witnesses are named {}", w.name());
                return Err(invalid("witnesses", key_name, why));
            }
            out.push(w);
        }
        Ok(out)
    }

    /// The witnesses, which [`Settings::check`] found well formed.
    pub fn list(&self) -> Vec<WitnessEndpoint> {
        self.endpoints().unwrap_or_default()
    }

    /// How many must cosign a checkpoint: all when the quorum is 0.
    pub fn required(&self) -> usize {
        match self.quorum {
            0 => self.list().len(),
            n => n,
        }
    }
}

impl DatabaseSettings {
    /// The database; [`Settings::check`] put the SQLite file of the data directory in
    /// place of an empty URL.
    pub fn url(&self) -> &DatabaseUrl {
        static NONE: std::sync::OnceLock<DatabaseUrl> = std::sync::OnceLock::new();
        let none = || NONE.get_or_init(|| DatabaseUrl::Sqlite(PathBuf::new()));
        self.url.as_ref().unwrap_or_else(none)
    }
}

impl QuerySettings {
    pub fn max_attachment_bytes(&self) -> u64 {
        self.max_attachment_mb * 1024 * 1024
    }

    pub fn attachment_quota_bytes(&self) -> u64 {
        self.attachment_quota_mb * 1024 * 1024
    }
}

impl Settings {
    /// Loads settings from the process environment and `./config` (or `IRO_ADVICE_CONFIG_DIR`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    /// Loads settings with `lookup` for the environment, so tests need not touch the process's.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let profile = lookup("IRO_ADVICE_PROFILE").filter(|p| !p.is_empty());
        let profile = profile.unwrap_or_else(|| "dev".to_owned());
        if !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            let (setting, reason) = (
                "IRO_ADVICE_PROFILE".into(),
                "only letters, digits, '-' and '_' are allowed".into(),
            );
            return Err(ConfigError::Invalid { setting, reason });
        }
        let dir = lookup("IRO_ADVICE_CONFIG_DIR").unwrap_or_else(|| "config".to_owned());
        let path = Path::new(&dir).join(format!("{profile}.toml"));
        let overlay = match std::fs::read_to_string(&path) {
            Ok(text) => parse_toml(&path.display().to_string(), &text)?,
            Err(_) => match PROFILES.iter().find(|(name, _)| *name == profile) {
                Some((name, text)) => parse_toml(&format!("config/{name}.toml"), text)?,
                None => return Err(ConfigError::UnknownProfile(profile)),
            },
        };
        let mut merged = defaults();
        merge(&mut merged, overlay);
        overlay_environment(&mut merged, &lookup)?;
        let mut settings = Settings::read(profile, &merged)?;
        settings.check()?;
        Ok(settings)
    }

    /// What the settings mean together; and the defaults that follow from another setting.
    fn check(&mut self) -> Result<(), ConfigError> {
        let (s, profile) = (&mut self.server, &self.profile);
        s.public_url = s.public_url.trim_end_matches('/').to_owned();
        if !s.public_url.starts_with("https://") || s.public_url.len() <= 8 {
            return Err(invalid(
                "server",
                "public_url",
                "must be an https:// address",
            ));
        }
        if s.metrics_listen
            .is_some_and(|m| m.port() != 0 && m == s.listen)
        {
            let why = "must differ from IRO_ADVICE_LISTEN: metrics are plain HTTP";
            return Err(invalid("server", "metrics_listen", why));
        }
        // A development service (a generated certificate, demo data) is for this machine.
        if (profile == "dev" || s.dev_certificate) && !s.listen.ip().is_loopback() {
            let why = format!("the {profile} profile listens on loopback only (127.0.0.1 or ::1); serve others under the production profile with a real certificate");
            return Err(invalid("server", "listen", why));
        }
        let missing = match (&s.tls_cert, &s.tls_key) {
            (Some(_), Some(_)) => None,
            (None, None) if s.dev_certificate => None,
            (None, None) => Some(("tls_cert", format!("a certificate is required under the {profile} profile (set IRO_ADVICE_TLS_CERT and IRO_ADVICE_TLS_KEY to PEM files)"))),
            (Some(_), None) => Some(("tls_key", "IRO_ADVICE_TLS_CERT is set but its key is not".into())),
            (None, Some(_)) => Some(("tls_cert", "IRO_ADVICE_TLS_KEY is set but the certificate is not".into())),
        };
        if let Some((key, why)) = missing {
            return Err(invalid("server", key, why));
        }
        let data = s.data_dir.clone();
        let sqlite = DatabaseUrl::Sqlite(data.join("iro-advice.db"));
        self.database.url.get_or_insert(sqlite);
        if self.accounts.keys_dir.as_os_str().is_empty() {
            self.accounts.keys_dir = data.join("keys");
        }
        let q = &self.queries;
        if q.max_attachment_mb > 4096 {
            return Err(invalid(
                "queries",
                "max_attachment_mb",
                "must be from 1 to 4096",
            ));
        }
        if q.attachment_quota_mb < q.max_attachment_mb {
            let why = "must be at least max_attachment_mb";
            return Err(invalid("queries", "attachment_quota_mb", why));
        }
        let origin = &mut self.request_log.origin;
        if origin.is_empty() {
            *origin = format!(
                "{}/log",
                self.server.public_url.trim_start_matches("https://")
            );
        }
        // The origin is every checkpoint's first line and the key's name in the note format,
        // where '+' separates fields and spaces end them.
        if origin.contains(|c: char| c == '+' || c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "request_log",
                "origin",
                "must not contain '+' or spaces",
            ));
        }
        let development = profile == "dev" || self.server.dev_certificate;
        if self.request_log.publish_seconds == 0 && !development {
            let why = "0 publishes every act at once, dating it to the second: development only";
            return Err(invalid("request_log", "publish_seconds", why));
        }
        let (quorum, witnesses) = (self.witnesses.quorum, self.witnesses.endpoints()?.len());
        if quorum > witnesses {
            let why = format!("is {quorum}, but {witnesses} witness(es) are configured");
            return Err(invalid("witnesses", "quorum", why));
        }
        let mail = &mut self.mail;
        mail.poll_interval_ms = mail.poll_interval_ms.max(10);
        mail.subject = mail.subject.trim().to_owned();
        mail.subject_cy = mail.subject_cy.trim().to_owned();
        Ok(())
    }
}

/// The embedded defaults, from the declarations.
fn defaults() -> toml::Table {
    let mut out = toml::Table::new();
    for d in DECLARED {
        let section = out
            .entry(d.section)
            .or_insert(toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = section {
            t.insert(d.key.to_owned(), (d.default)());
        }
    }
    out
}

/// `config/default.toml`, as `iro-advice config defaults` prints it.
pub fn default_file() -> String {
    let mut out = String::from("# The defaults, written by `iro-advice config defaults` from crates/server/src/config.rs.\n# config/<profile>.toml (IRO_ADVICE_PROFILE) is laid over them, environment variables over both.\n");
    for (i, d) in DECLARED.iter().enumerate() {
        if i == 0 || DECLARED[i - 1].section != d.section {
            out.push_str(&format!("\n[{}]\n", d.section));
        }
        let env = d.env.map(|v| format!(" ({v})")).unwrap_or_default();
        out.push_str(&format!(
            "# {}{env}\n{} = {}\n",
            d.doc,
            d.key,
            (d.default)()
        ));
    }
    out
}

/// The configuration reference, as `iro-advice config reference` prints it for the book.
pub fn reference() -> String {
    let mut out = String::from("# Configuration reference\n\n<!-- Written by `iro-advice config reference` from crates/server/src/config.rs. -->\n\n`config/default.toml` holds the defaults; `IRO_ADVICE_PROFILE` picks `config/<profile>.toml` as an overlay; environment variables override both. A wrong value stops the service at start with one line naming the variable (or `section.key`).\n\n| variable | meaning |\n|---|---|\n");
    for (var, meaning) in FILE_SELECTORS {
        out.push_str(&format!("| `{var}` | {meaning} |\n"));
    }
    for (i, d) in DECLARED.iter().enumerate() {
        if i == 0 || DECLARED[i - 1].section != d.section {
            out.push_str(&format!(
                "\n## `[{}]`\n\n| setting | variable | default | meaning |\n|---|---|---|---|\n",
                d.section
            ));
        }
        let env = d.env.map_or_else(|| "—".to_owned(), |v| format!("`{v}`"));
        let cell = |s: String| s.trim().replace('|', "\\|");
        let (default, doc) = (
            cell((d.default)().to_string()),
            cell(html_outside_code(d.doc)),
        );
        out.push_str(&format!("| `{}` | {env} | `{default}` | {doc} |\n", d.key));
    }
    out
}

/// `<` and `>` as HTML entities, except inside backticks, so that `<data dir>` in a meaning
/// reads as text rather than as a tag.
fn html_outside_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(part);
        } else {
            out.push_str(&part.replace('<', "&lt;").replace('>', "&gt;"));
        }
    }
    out
}

/// Lays each declared variable that is set over its key, typed as its default, so that
/// `IRO_ADVICE_WORKERS=many` is refused by name.
fn overlay_environment(
    merged: &mut toml::Table,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for d in DECLARED {
        let (Some(var), Some(value)) = (d.env, d.env.and_then(&lookup)) else {
            continue;
        };
        let refuse = |why: &str| invalid(d.section, d.key, why);
        let typed = match (d.default)() {
            // Every number the service takes is a count, a size or a time: none is negative.
            toml::Value::Integer(_) => toml::Value::Integer(
                value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| refuse("must be a whole number, 0 or more"))?
                    .into(),
            ),
            toml::Value::Boolean(_) => toml::Value::Boolean(
                value
                    .trim()
                    .parse()
                    .map_err(|_| refuse("must be true or false"))?,
            ),
            _ => toml::Value::String(value),
        };
        let section = merged
            .entry(d.section)
            .or_insert(toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(table) = section else {
            return Err(file_error(format!(
                "[{}] is not a table ({var})",
                d.section
            )));
        };
        table.insert(d.key.to_owned(), typed);
    }
    Ok(())
}

fn parse_toml(file: &str, text: &str) -> Result<toml::Table, ConfigError> {
    let parsed = text.parse::<toml::Table>();
    parsed.map_err(|e| ConfigError::File {
        file: file.to_owned(),
        reason: e.message().to_owned(),
    })
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => drop(base.insert(key, v)),
        }
    }
}
