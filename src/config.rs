//! Settings: embedded `config/default.toml`, a profile overlay, then environment variables.
//!
//! Validation happens here, once, so that the rest of the program holds settings that are
//! known to be usable, and a wrong setting stops the process with one line naming it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::db::DatabaseUrl;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const EMBEDDED_PROFILES: &[(&str, &str)] = &[
    ("dev", include_str!("../config/dev.toml")),
    ("production", include_str!("../config/production.toml")),
];

/// Environment variables and the setting each one overrides.
pub const ENVIRONMENT: &[(&str, &str, &str)] = &[
    ("DATABASE_URL", "database", "url"),
    ("IRO_ADVICE_DATA_DIR", "server", "data_dir"),
    ("IRO_ADVICE_LISTEN", "server", "listen"),
    ("IRO_ADVICE_PUBLIC_URL", "server", "public_url"),
    ("IRO_ADVICE_TLS_CERT", "server", "tls_cert"),
    ("IRO_ADVICE_TLS_KEY", "server", "tls_key"),
    ("IRO_ADVICE_WORKERS", "server", "workers"),
    ("IRO_ADVICE_KEYS_DIR", "accounts", "keys_dir"),
    (
        "IRO_ADVICE_MAX_ATTACHMENT_MB",
        "queries",
        "max_attachment_mb",
    ),
    (
        "IRO_ADVICE_REMINDER_ROUTINE_MINUTES",
        "queries",
        "reminder_routine_minutes",
    ),
    (
        "IRO_ADVICE_REMINDER_URGENT_MINUTES",
        "queries",
        "reminder_urgent_minutes",
    ),
    (
        "IRO_ADVICE_REMINDER_CHECK_SECS",
        "queries",
        "reminder_check_secs",
    ),
    ("IRO_ADVICE_SMTP_URL", "mail", "smtp_url"),
    ("IRO_ADVICE_SMTP_CA", "mail", "smtp_ca"),
    ("IRO_ADVICE_MAIL_FROM", "mail", "from"),
    ("IRO_ADVICE_MAIL_RETRY_BASE_SECS", "mail", "retry_base_secs"),
    ("IRO_ADVICE_MAIL_POLL_MS", "mail", "poll_interval_ms"),
    ("IRO_ADVICE_NAIRO_RECIPIENT", "nairo", "recipient"),
    ("IRO_ADVICE_STATS_ROUND_TO", "statistics", "round_totals_to"),
    ("IRO_ADVICE_LOG_FORMAT", "log", "format"),
    ("IRO_ADVICE_LOG_LEVEL", "log", "level"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting}: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
    #[error("IRO_ADVICE_PROFILE: no profile named {0:?} (no config/{0}.toml and none built in)")]
    UnknownProfile(String),
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
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
    pub listen: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub tls: TlsSource,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub allow_demo_data: bool,
    pub database: DatabaseSettings,
    pub log_format: LogFormat,
    pub log_level: String,
    pub accounts: AccountSettings,
    pub queries: QuerySettings,
    pub mail: MailSettings,
    pub nairo_recipient: Option<String>,
    /// National and regional totals in statistics are rounded to a multiple of this (1: none).
    pub stats_round_to: u64,
    /// The request log's checkpoint origin (and signing key name).
    pub log_origin: String,
}

#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub invitation_days: i64,
    pub access_token_minutes: i64,
    pub refresh_token_days: i64,
    pub keys_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct QuerySettings {
    pub max_attachment_bytes: u64,
    pub reminder_routine_minutes: i64,
    pub reminder_urgent_minutes: i64,
    pub reminder_check_secs: u64,
    pub retention_days: i64,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: Option<Secret<String>>,
    pub smtp_ca: Option<PathBuf>,
    pub from: String,
    pub retry_base_secs: u64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u32,
}

// The raw shape of the TOML files, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    server: RawServer,
    database: RawDatabase,
    log: RawLog,
    accounts: RawAccounts,
    queries: RawQueries,
    request_log: RawRequestLog,
    mail: RawMail,
    nairo: RawNairo,
    statistics: RawStatistics,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    public_url: String,
    data_dir: String,
    tls_cert: String,
    tls_key: String,
    dev_certificate: bool,
    workers: usize,
    shutdown_timeout_secs: u64,
    allow_demo_data: bool,
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
    keys_dir: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueries {
    max_attachment_mb: u64,
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
struct RawMail {
    smtp_url: String,
    smtp_ca: String,
    from: String,
    retry_base_secs: u64,
    poll_interval_ms: u64,
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
            return Err(invalid(
                "IRO_ADVICE_PROFILE",
                "only letters, digits, '-' and '_' are allowed",
            ));
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
        for (var, section, key) in ENVIRONMENT {
            if let Some(value) = lookup(var) {
                let table = merged
                    .entry(section.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(t) = table {
                    let typed = match t.get(*key) {
                        Some(toml::Value::Integer(_)) => value
                            .parse::<i64>()
                            .map(toml::Value::Integer)
                            .map_err(|_| invalid(var, "must be a whole number"))?,
                        _ => toml::Value::String(value),
                    };
                    t.insert(key.to_string(), typed);
                }
            }
        }
        let raw: RawSettings =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::File {
                    file: format!("config/default.toml + config/{profile}.toml"),
                    reason: e.message().to_owned(),
                })?;
        Self::validate(profile, raw)
    }

    fn validate(profile: String, raw: RawSettings) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw.server.listen.parse().map_err(|_| {
            invalid(
                "IRO_ADVICE_LISTEN",
                format!(
                    "{:?} is not an address like 127.0.0.1:8443",
                    raw.server.listen
                ),
            )
        })?;
        let public_url = raw.server.public_url.trim_end_matches('/').to_owned();
        if !public_url.starts_with("https://") || public_url.len() <= "https://".len() {
            return Err(invalid(
                "IRO_ADVICE_PUBLIC_URL",
                "must be an https:// address",
            ));
        }
        if raw.server.data_dir.is_empty() {
            return Err(invalid("IRO_ADVICE_DATA_DIR", "must not be empty"));
        }
        let data_dir = PathBuf::from(&raw.server.data_dir);

        let tls = match (
            raw.server.tls_cert.is_empty(),
            raw.server.tls_key.is_empty(),
        ) {
            (false, false) => TlsSource::Files(TlsFiles {
                cert: PathBuf::from(raw.server.tls_cert),
                key: PathBuf::from(raw.server.tls_key),
            }),
            (true, true) if raw.server.dev_certificate => TlsSource::Generated,
            (true, true) => {
                return Err(invalid(
                    "IRO_ADVICE_TLS_CERT",
                    format!(
                        "a certificate is required under the {profile} profile \
                         (set IRO_ADVICE_TLS_CERT and IRO_ADVICE_TLS_KEY to PEM files)"
                    ),
                ))
            }
            (false, true) => {
                return Err(invalid(
                    "IRO_ADVICE_TLS_KEY",
                    "IRO_ADVICE_TLS_CERT is set but its key is not",
                ))
            }
            (true, false) => {
                return Err(invalid(
                    "IRO_ADVICE_TLS_CERT",
                    "IRO_ADVICE_TLS_KEY is set but the certificate is not",
                ))
            }
        };
        if let TlsSource::Files(files) = &tls {
            if !files.cert.is_file() {
                return Err(invalid(
                    "IRO_ADVICE_TLS_CERT",
                    format!("{} is not a readable file", files.cert.display()),
                ));
            }
            if !files.key.is_file() {
                return Err(invalid(
                    "IRO_ADVICE_TLS_KEY",
                    format!("{} is not a readable file", files.key.display()),
                ));
            }
        }

        let database_url = if raw.database.url.is_empty() {
            format!("sqlite://{}", data_dir.join("iro-advice.db").display())
        } else {
            raw.database.url
        };
        let url =
            DatabaseUrl::parse(&database_url).map_err(|reason| invalid("DATABASE_URL", reason))?;
        if raw.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }

        let log_format = match raw.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "IRO_ADVICE_LOG_FORMAT",
                    format!("{other:?} is neither \"text\" nor \"json\""),
                ))
            }
        };
        let log_level = raw.log.level;
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(invalid("IRO_ADVICE_LOG_LEVEL", "is not a level or filter"));
        }

        let smtp_url = if raw.mail.smtp_url.is_empty() {
            None
        } else if raw.mail.smtp_url.starts_with("smtp://")
            || raw.mail.smtp_url.starts_with("smtps://")
        {
            Some(Secret::new(raw.mail.smtp_url))
        } else {
            return Err(invalid(
                "IRO_ADVICE_SMTP_URL",
                "must start with smtp:// or smtps://",
            ));
        };
        let smtp_ca = Some(raw.mail.smtp_ca)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        if let Some(ca) = &smtp_ca {
            if !ca.is_file() {
                return Err(invalid(
                    "IRO_ADVICE_SMTP_CA",
                    format!("{} is not a readable file", ca.display()),
                ));
            }
        }
        if raw.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid("IRO_ADVICE_MAIL_FROM", "is not a mailbox"));
        }
        for (setting, value) in [
            ("accounts.invitation_days", raw.accounts.invitation_days),
            (
                "accounts.access_token_minutes",
                raw.accounts.access_token_minutes,
            ),
            (
                "accounts.refresh_token_days",
                raw.accounts.refresh_token_days,
            ),
        ] {
            if value < 1 {
                return Err(invalid(setting, "must be at least 1"));
            }
        }
        if raw.queries.max_attachment_mb == 0 || raw.queries.max_attachment_mb > 4096 {
            return Err(invalid(
                "IRO_ADVICE_MAX_ATTACHMENT_MB",
                "must be from 1 to 4096",
            ));
        }
        if raw.queries.reminder_routine_minutes < 0 || raw.queries.reminder_urgent_minutes < 0 {
            return Err(invalid(
                "IRO_ADVICE_REMINDER_ROUTINE_MINUTES",
                "reminder times cannot be negative",
            ));
        }
        if raw.queries.retention_days < 0 {
            return Err(invalid("IRO_ADVICE_RETENTION_DAYS", "cannot be negative"));
        }
        let log_origin = if raw.request_log.origin.is_empty() {
            format!("{}/log", public_url.trim_start_matches("https://"))
        } else {
            raw.request_log.origin.clone()
        };
        if log_origin.contains(|c: char| c == '+' || c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "IRO_ADVICE_LOG_ORIGIN",
                "must not contain '+' or spaces",
            ));
        }
        let keys_dir = if raw.accounts.keys_dir.is_empty() {
            data_dir.join("keys")
        } else {
            PathBuf::from(raw.accounts.keys_dir)
        };
        let nairo_recipient = Some(raw.nairo.recipient.trim().to_owned()).filter(|r| !r.is_empty());
        if let Some(r) = &nairo_recipient {
            if r.parse::<age::x25519::Recipient>().is_err() {
                return Err(invalid(
                    "IRO_ADVICE_NAIRO_RECIPIENT",
                    "must be an age X25519 recipient (age1...)",
                ));
            }
        }

        if raw.statistics.round_totals_to == 0 || raw.statistics.round_totals_to > 100 {
            return Err(invalid(
                "IRO_ADVICE_STATS_ROUND_TO",
                "must be from 1 (no rounding) to 100",
            ));
        }

        Ok(Settings {
            profile,
            listen,
            public_url,
            data_dir,
            tls,
            workers: raw.server.workers,
            shutdown_timeout_secs: raw.server.shutdown_timeout_secs,
            allow_demo_data: raw.server.allow_demo_data,
            database: DatabaseSettings {
                url,
                pool_size: raw.database.pool_size,
                connect_timeout_secs: raw.database.connect_timeout_secs.max(1),
                sqlite_busy_timeout_ms: raw.database.sqlite_busy_timeout_ms,
            },
            log_format,
            log_level,
            accounts: AccountSettings {
                invitation_days: raw.accounts.invitation_days,
                access_token_minutes: raw.accounts.access_token_minutes,
                refresh_token_days: raw.accounts.refresh_token_days,
                keys_dir,
            },
            queries: QuerySettings {
                max_attachment_bytes: raw.queries.max_attachment_mb * 1024 * 1024,
                reminder_routine_minutes: raw.queries.reminder_routine_minutes,
                reminder_urgent_minutes: raw.queries.reminder_urgent_minutes,
                reminder_check_secs: raw.queries.reminder_check_secs.max(1),
                retention_days: raw.queries.retention_days,
            },
            mail: MailSettings {
                smtp_url,
                smtp_ca,
                from: raw.mail.from,
                retry_base_secs: raw.mail.retry_base_secs.max(1),
                poll_interval_ms: raw.mail.poll_interval_ms.max(10),
            },
            nairo_recipient,
            stats_round_to: raw.statistics.round_totals_to,
            log_origin,
        })
    }
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
    use std::collections::HashMap;

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
        assert_eq!(s.listen.to_string(), "127.0.0.1:8443");
        assert!(matches!(s.tls, TlsSource::Generated));
        assert_eq!(s.database.url.backend(), crate::db::Backend::Sqlite);
        assert!(s.allow_demo_data);
    }

    #[test]
    fn production_without_a_certificate_names_the_setting() {
        let err = load(&[("IRO_ADVICE_PROFILE", "production")]).unwrap_err();
        assert!(err.to_string().starts_with("IRO_ADVICE_TLS_CERT:"), "{err}");
    }

    #[test]
    fn environment_overrides_profile_and_types_integers() {
        let s = load(&[
            ("IRO_ADVICE_LISTEN", "0.0.0.0:9000"),
            ("IRO_ADVICE_WORKERS", "3"),
            ("DATABASE_URL", "postgres://u@localhost/x"),
        ])
        .unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.workers, 3);
        assert_eq!(s.database.url.backend(), crate::db::Backend::Postgres);
        let err = load(&[("IRO_ADVICE_WORKERS", "many")]).unwrap_err();
        assert!(err.to_string().starts_with("IRO_ADVICE_WORKERS:"));
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (var, value) in [
            ("IRO_ADVICE_LISTEN", "nowhere"),
            ("DATABASE_URL", "mysql://x"),
            ("IRO_ADVICE_PUBLIC_URL", "http://plain"),
            ("IRO_ADVICE_LOG_FORMAT", "xml"),
            ("IRO_ADVICE_SMTP_URL", "ftp://x"),
            ("IRO_ADVICE_NAIRO_RECIPIENT", "not-a-key"),
            ("IRO_ADVICE_PROFILE", "nosuch"),
        ] {
            let err = load(&[(var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(var), "{var}: {err}");
        }
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
