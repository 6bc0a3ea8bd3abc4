//! The HTTPS server: state, middleware, binding and graceful shutdown.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{self, DefaultHeaders, ErrorHandlers, Next};
use actix_web::{web, App, HttpServer};

use crate::accounts::factors::Factors;
use crate::accounts::tokens::TokenKeys;
use crate::accounts::totp::Sealer;
use crate::accounts::Accounts;
use crate::authorities;
use crate::config::Settings;
use crate::db::{Database, DbError};
use crate::http::error::{self, ApiError};
use crate::http::routes;
use crate::http::state::{AppState, JSON_LIMIT};
use crate::keys::{KeyError, Keys};
use crate::log::witnessing::Witnessing;
use crate::log::LogKeys;
use crate::mail::{MailError, Mailer};
use crate::tls::TlsError;
use crate::tx::{Storage, WriteContext};
use std::sync::atomic::AtomicI64;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("IRO_ADVICE_LOG_ORIGIN: {0}")]
    LogKey(crate::log::note::NoteError),
    #[error(
        "IRO_ADVICE_LOG_ORIGIN: this log's checkpoints are signed as {signed:?}, so it cannot \
         become {configured:?} (set IRO_ADVICE_LOG_ORIGIN={signed}, or restore the public URL \
         it was derived from)"
    )]
    LogOrigin { signed: String, configured: String },
    #[error("{0}")]
    Setting(String),
    #[error("IRO_ADVICE_LISTEN: cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error(
        "IRO_ADVICE_METRICS_LISTEN: cannot listen on {addr}: {reason} (another instance on \
         this host needs an address of its own, or none: empty)"
    )]
    MetricsBind { addr: String, reason: String },
    #[error("the OpenAPI document cannot be rendered: {0}")]
    Openapi(String),
    #[error("IRO_ADVICE_DATA_DIR: cannot use {path}: {reason}")]
    DataDir { path: String, reason: String },
}

/// Opens the database, brings its schema and reference data up to date.
pub fn prepare_database(settings: &Settings) -> Result<Database, StartError> {
    let tightened =
        iro_advice_model::files::private_data_dir(&settings.server.data_dir).map_err(|e| {
            StartError::DataDir {
                path: settings.server.data_dir.display().to_string(),
                reason: e.to_string(),
            }
        })?;
    if tightened {
        tracing::warn!("the data directory was open to other users; it is now owner-only (0700)");
    }
    let db = Database::connect(&settings.database)?;
    let ran = db.migrate()?;
    if ran > 0 {
        tracing::info!(migrations = ran, "database migrated");
    }
    authorities::sync(&mut *db.get()?).map_err(DbError::from)?;
    check_log_origin(&db, &settings.request_log.origin)?;
    Ok(db)
}

/// A log's identity is its origin: once it has signed a checkpoint under one, a changed
/// setting (or public URL) is refused, rather than found later as apparent tampering.
fn check_log_origin(db: &Database, configured: &str) -> Result<(), StartError> {
    let latest = crate::log::store::latest_checkpoint(&mut *db.get()?).map_err(DbError::from)?;
    match latest {
        Some(checkpoint) => {
            let signed = checkpoint.note.lines().next().unwrap_or_default();
            if signed == configured {
                Ok(())
            } else {
                Err(StartError::LogOrigin {
                    signed: signed.to_owned(),
                    configured: configured.to_owned(),
                })
            }
        }
        None => Ok(()),
    }
}

/// The request log's keys, from the keys directory and the configured origin.
pub fn log_keys(settings: &Settings, keys: &Keys) -> Result<LogKeys, StartError> {
    LogKeys::new(
        &settings.request_log.origin,
        &keys.log_pkcs8,
        &keys.log_pseudonym,
    )
    .map(|k| k.in_batches(settings.request_log.publish_seconds > 0))
    .map_err(StartError::LogKey)
}

/// What the command line needs to act as the service does: the log's keys from the keys
/// directory, and the public URL for links.
pub fn write_context(settings: &Settings) -> Result<WriteContext, StartError> {
    let keys = Keys::load_or_create(&settings.accounts.keys_dir)?;
    Ok(WriteContext {
        log: Arc::new(log_keys(settings, &keys)?),
        public_url: settings.server.public_url.clone(),
        digest_minutes: settings.mail.digest_minutes,
    })
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(Server, u16)>,
}

/// SIGHUP reads the TLS certificate and key again (after a renewal), without a restart and
/// without dropping a connection; a reload that fails keeps the certificate in use.
fn reload_certificate_on_hangup(certificate: Arc<crate::tls::ReloadableCertificate>) {
    #[cfg(unix)]
    actix_web::rt::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the certificate is read only at start");
            return;
        };
        while hangups.recv().await.is_some() {
            match certificate.reload() {
                Ok(sha256) => tracing::info!(%sha256, "reloaded the TLS certificate"),
                Err(e) => tracing::error!("kept the TLS certificate in use: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    drop(certificate);
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let db = prepare_database(&settings)?;
        let keys = Keys::load_or_create(&settings.accounts.keys_dir)?;
        let log = Arc::new(log_keys(&settings, &keys)?);
        let mailer = Arc::new(Mailer::new(&settings)?);
        let (tls, certificate) = crate::tls::server_config(&settings)?;
        reload_certificate_on_hangup(certificate);
        let listener = TcpListener::bind(settings.server.listen).map_err(|e| StartError::Bind {
            addr: settings.server.listen.to_string(),
            reason: e.to_string(),
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| StartError::Bind {
                addr: settings.server.listen.to_string(),
                reason: e.to_string(),
            })?
            .port();

        crate::mail::spawn_sender(db.clone(), mailer, &settings.mail);
        // What an instance logs about itself at start: NAIRO's key and the web application.
        let context = WriteContext {
            log: log.clone(),
            public_url: settings.server.public_url.clone(),
            digest_minutes: settings.mail.digest_minutes,
        };
        if let Some(recipient) = &settings.nairo.recipient {
            let mut conn = db.get()?;
            crate::db::write_transaction(&mut conn, |conn| {
                crate::pressure::log_nairo_key(&mut crate::tx::Tx::new(conn, &context), recipient)
            })
            .map_err(|e| StartError::Setting(format!("IRO_ADVICE_NAIRO_RECIPIENT: {e}")))?;
        }
        {
            // Advisers' availability and conflicts from before their changes were tagged.
            let mut conn = db.get()?;
            crate::db::write_transaction(&mut conn, |conn| {
                crate::accounts::logged::log_untagged_state(&mut crate::tx::Tx::new(conn, &context))
            })
            .map_err(|e| StartError::Setting(format!("the advisers' directory state: {e}")))?;
        }
        let bundle = Arc::new(match &settings.server.web_dir {
            Some(dir) => crate::web::assets::Bundle::from_dir(dir)
                .map_err(|e| StartError::Setting(format!("IRO_ADVICE_WEB_DIR: {e}")))?,
            None => crate::web::assets::Bundle::embedded(),
        });
        {
            let mut conn = db.get()?;
            crate::db::write_transaction(&mut conn, |conn| {
                crate::web::publish::publish(&mut crate::tx::Tx::new(conn, &context), &bundle)
            })
            .map_err(|e| StartError::Setting(format!("the web application's manifest: {e}")))?;
        }
        let witnessing = Arc::new(Witnessing::new(&settings.witnesses));
        if witnessing.is_configured() {
            let ca = match &settings.witnesses.ca {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    StartError::Setting(format!("IRO_ADVICE_WITNESS_CA: {}: {e}", path.display()))
                })?),
                None => None,
            };
            let http =
                iro_advice_tlog::https::client(ca.as_deref(), std::time::Duration::from_secs(10))
                    .map_err(|e| StartError::Setting(format!("IRO_ADVICE_WITNESS_CA: {e}")))?;
            crate::log::witnessing::spawn(db.clone(), log.clone(), witnessing.clone(), http);
        }
        if log.batched() {
            crate::log::publisher::spawn(
                db.clone(),
                log.clone(),
                witnessing.clone(),
                std::time::Duration::from_secs(settings.request_log.publish_seconds),
            );
        }
        let accounts = Arc::new(Accounts {
            settings: settings.accounts.clone(),
            tokens: TokenKeys::new(
                &keys,
                &settings.server.public_url,
                settings.accounts.access_token_minutes,
            ),
            factors: Factors::new(Sealer::new(&keys.totp_seal), &settings.server.public_url)
                .ok_or_else(|| StartError::Setting("IRO_ADVICE_PUBLIC_URL names no host".into()))?,
            hashing: crate::accounts::passwords::Hashing::new(
                settings.accounts.password_hash_slots,
            ),
            ceiling_until: AtomicI64::default(),
        });
        let state = web::Data::new(AppState {
            storage: Storage {
                db,
                context: context.clone(),
                witnessing,
            },
            accounts,
            settings: settings.clone(),
            openapi: Arc::new(
                serde_json::to_string(&routes::openapi())
                    .map_err(|e| StartError::Openapi(e.to_string()))?,
            ),
            monitoring: Arc::default(),
            web: bundle,
        });
        let metrics = match settings.server.metrics_listen {
            Some(addr) => {
                let bind_error = |e: std::io::Error| StartError::MetricsBind {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                };
                let listener = TcpListener::bind(addr).map_err(bind_error)?;
                let port = listener.local_addr().map_err(bind_error)?.port();
                Some((
                    crate::http::monitoring::serve(listener, state.clone()).map_err(bind_error)?,
                    port,
                ))
            }
            None => None,
        };
        crate::queries::reminders::spawn(
            state.storage.db.clone(),
            settings.clone(),
            context.clone(),
        );
        crate::statistics::store::spawn(state.storage.db.clone(), settings.clone(), context);
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(JSON_LIMIT)
                        .error_handler(error::json_error),
                )
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .app_data(web::PayloadConfig::default().limit(JSON_LIMIT))
                .configure(routes::configure)
                .default_service(web::to(|| async { Err::<String, _>(ApiError::NotFound) }))
                .wrap(ErrorHandlers::new().default_handler(error::problem_for_framework_errors))
                .wrap(security_headers())
                .wrap(middleware::from_fn(log_request))
        })
        .workers(workers)
        // Silent connections cost a little memory each, not a handshake slot that real
        // clients wait for: the limits are set high and the handshake timeout short.
        .max_connection_rate(settings.server.max_handshakes_per_worker)
        .max_connections(settings.server.max_connections_per_worker)
        .tls_handshake_timeout(std::time::Duration::from_millis(
            settings.server.tls_handshake_timeout_ms,
        ))
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .listen_rustls_0_23(listener, tls)
        .map_err(|e| StartError::Bind {
            addr: settings.server.listen.to_string(),
            reason: e.to_string(),
        })?
        .run();
        Ok(Application {
            port,
            server,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's port, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish; the metrics
    /// listener stops with the service.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(false).await;
        }
        served
    }

    /// A handle to stop the server from elsewhere (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add(("Cache-Control", "no-store"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
}

/// Logs the route pattern (never the concrete path, which may carry ids), the status and
/// the time taken. No address, user agent, header or body is ever logged.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let pattern = req
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let res = next.call(req).await?;
    let status = res.status();
    let seconds = started.elapsed().as_secs_f64();
    let millis = seconds * 1000.0;
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        state
            .monitoring
            .request(method.as_str(), &pattern, status.as_u16(), seconds);
    }
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(%method, route = %pattern, status = status.as_u16(), millis, "request");
    } else if matches!(pattern.as_str(), "/healthz" | "/readyz") && status.is_success() {
        // A load balancer asks every few seconds; an operator wants only the failures.
        tracing::debug!(%method, route = %pattern, status = status.as_u16(), millis, "request");
    } else {
        tracing::info!(%method, route = %pattern, status = status.as_u16(), millis, "request");
    }
    Ok(res)
}
