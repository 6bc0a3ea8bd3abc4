//! Process logging. Handlers log events, never personal data: see `server::log_request`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings};

/// Directives laid under the configured level: rustls warns on every client that sends an
/// IP address as SNI, and actix logs a client's malformed request as an ERROR "stream
/// error"; neither is a fault of the service. `RUST_LOG` replaces them with the level.
const QUIET: &str = "rustls=error,actix_http::h1::dispatcher=off";

/// The filter for the configured level, with [`QUIET`] beneath it.
fn filter_directives(level: &str) -> String {
    format!("{QUIET},{level}")
}

/// Installs the global subscriber; `RUST_LOG`, when set, overrides the configured level.
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(filter_directives(&settings.log.level)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
