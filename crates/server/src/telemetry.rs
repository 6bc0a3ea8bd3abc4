//! Process logging and metrics. Handlers log events, never personal data: see
//! `server::log_request`; metrics count by route pattern, never by path or account.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
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
    // A log that cannot be written (stderr redirected to a full disk) is dropped: by
    // default the subscriber reports the failure with `eprintln!`, which panics when stderr
    // itself fails, and a request would die with its worker for want of a log line.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .log_internal_errors(false)
        .with_writer(std::io::stderr);
    let _ = match settings.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

// Metrics: the recorder each instance counts into, and the gauges read when Prometheus
// asks (served by `crate::monitoring`).

/// Latency buckets, in seconds: from a cached read to a request that waited on a hash.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One instance's metrics. Its own recorder, not the process's global one, so that two
/// instances in one process (the tests) count apart.
pub struct Monitoring {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Monitoring {
    fn default() -> Self {
        Self::new()
    }
}

impl Monitoring {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        Monitoring { recorder, handle }
    }

    /// Counts one answered request and how long it took.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(
                "iro_advice_http_requests_total",
                "method" => method.to_owned(),
                "route" => route.to_owned(),
                "status" => status.to_string(),
            )
            .increment(1);
            metrics::histogram!(
                "iro_advice_http_request_duration_seconds",
                "route" => route.to_owned(),
            )
            .record(seconds);
        });
    }

    fn gauges(&self, now: &Gauges) {
        metrics::with_local_recorder(&self.recorder, || {
            let flag = |b: bool| f64::from(u8::from(b));
            for (name, value) in [
                (
                    "iro_advice_db_pool_connections",
                    f64::from(now.pool_connections),
                ),
                ("iro_advice_db_pool_idle", f64::from(now.pool_idle)),
                ("iro_advice_db_pool_max", f64::from(now.pool_max)),
                ("iro_advice_outbox_pending", now.outbox_pending as f64),
                (
                    "iro_advice_outbox_oldest_age_seconds",
                    now.outbox_oldest_secs as f64,
                ),
                ("iro_advice_outbox_failing", now.outbox_failing as f64),
                ("iro_advice_log_leaves", now.log_leaves as f64),
                ("iro_advice_log_served_size", now.served_size as f64),
                (
                    "iro_advice_log_publication_overdue",
                    flag(now.publication_overdue),
                ),
                ("iro_advice_statistics_releases", now.releases_stored as f64),
                (
                    "iro_advice_statistics_releases_due",
                    now.releases_due as f64,
                ),
                (
                    "iro_advice_sign_in_ceiling_active",
                    flag(now.sign_in_ceiling),
                ),
                ("iro_advice_database_up", flag(now.database_up)),
            ] {
                metrics::gauge!(name).set(value);
            }
            metrics::counter!("iro_advice_password_hashes_total").absolute(now.password_hashes);
            for w in &now.witnesses {
                let name = w.name.clone();
                metrics::gauge!("iro_advice_witness_cosigned_size", "witness" => name.clone())
                    .set(w.cosigned_size as f64);
                metrics::gauge!("iro_advice_witness_lag_leaves", "witness" => name.clone())
                    .set(now.log_leaves.saturating_sub(w.cosigned_size) as f64);
                metrics::gauge!("iro_advice_witness_failing", "witness" => name.clone())
                    .set(flag(w.failing));
                metrics::gauge!("iro_advice_witness_refused_as_inconsistent", "witness" => name)
                    .set(flag(w.refused));
            }
        });
    }

    /// The text Prometheus scrapes, with every gauge read now.
    pub fn render(&self, now: &Gauges) -> String {
        self.gauges(now);
        self.handle.render()
    }
}

/// What the gauges say, read when Prometheus asks.
#[derive(Debug, Default)]
pub struct Gauges {
    pub database_up: bool,
    pub pool_connections: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
    pub outbox_pending: u64,
    pub outbox_oldest_secs: i64,
    pub outbox_failing: u64,
    pub log_leaves: u64,
    pub served_size: u64,
    /// An act has waited more than twice the publication interval: the publisher is stuck.
    /// (A flag, not the wait: the oldest act's age would date it to the second.)
    pub publication_overdue: bool,
    pub releases_stored: u64,
    pub releases_due: u64,
    pub sign_in_ceiling: bool,
    pub password_hashes: u64,
    pub witnesses: Vec<WitnessGauge>,
}

#[derive(Debug)]
pub struct WitnessGauge {
    /// The witness's name from its verifier key: configuration, not a person.
    pub name: String,
    pub cosigned_size: u64,
    pub failing: bool,
    pub refused: bool,
}
