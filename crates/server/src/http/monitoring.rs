//! What the operator watches: `GET /metrics` in the Prometheus text format, on a listener of
//! its own in plain HTTP (`IRO_ADVICE_METRICS_LISTEN`), never on the public port.
//!
//! Nothing personal and nothing per account: requests are counted by route pattern (never
//! the path, which carries ids), method and status; everything else is a count or an age
//! read from the database when Prometheus asks.

use std::net::TcpListener;
use std::sync::atomic::Ordering;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::prelude::*;

use crate::config::Settings;
use crate::db::schema::outbox;
use crate::db::DbConnection;
use crate::http::state::AppState;
use crate::log::witnessing::Witnessing;
use crate::telemetry::{Gauges, WitnessGauge};
use iro_advice_api::paths;
use iro_advice_api::service::{
    LatestRelease, OperationsStatus, OutboxOperations, PoolOperations, ReleaseOperations,
    WitnessOperations,
};

/// Every gauge, read now.
fn read(state: &AppState) -> Gauges {
    let pool = state.storage.db.pool_state();
    let mut g = Gauges {
        pool_connections: pool.connections,
        pool_idle: pool.idle_connections,
        pool_max: pool.max,
        sign_in_ceiling: state.accounts.ceiling_until.load(Ordering::Relaxed)
            > chrono::Utc::now().timestamp(),
        password_hashes: state.accounts.hashing.hashes_made(),
        ..Gauges::default()
    };
    let now = crate::db::now();
    let read = state
        .storage
        .db
        .get()
        .map_err(|e| e.to_string())
        .and_then(|mut conn| {
            read_database(
                &mut conn,
                &state.storage.witnessing,
                &state.settings,
                now,
                &mut g,
            )
            .map_err(|e| e.to_string())
        });
    match read {
        Ok(()) => g.database_up = true,
        // The operator sees the database as down; the reason goes to the service's log,
        // which never holds personal data.
        Err(e) => tracing::warn!(error = %e, "metrics: the database did not answer"),
    }
    for (status, key) in state
        .storage
        .witnessing
        .status()
        .into_iter()
        .zip(state.storage.witnessing.keys())
    {
        g.witnesses.push(WitnessGauge {
            name: key.split('+').next().unwrap_or_default().to_owned(),
            cosigned_size: status.cosigned_size.unwrap_or(0),
            failing: status.problem.is_some(),
            refused: status.refused_as_inconsistent,
        });
    }
    g
}

fn read_database(
    conn: &mut DbConnection,
    witnessing: &Witnessing,
    settings: &Settings,
    now: chrono::NaiveDateTime,
    g: &mut Gauges,
) -> Result<(), MetricsError> {
    let unsent = outbox::table.filter(outbox::sent_at.is_null());
    g.outbox_pending = unsent.count().get_result::<i64>(conn)? as u64;
    g.outbox_failing = unsent
        .filter(outbox::attempts.gt(0))
        .count()
        .get_result::<i64>(conn)? as u64;
    let oldest: Option<chrono::NaiveDateTime> = unsent
        .select(diesel::dsl::min(outbox::created_at))
        .first(conn)?;
    g.outbox_oldest_secs = oldest.map_or(0, |t| (now - t).num_seconds().max(0));
    g.log_leaves = crate::log::store::size(conn)?;
    g.served_size = witnessing.served_size(conn)?;
    let allowed = 2 * settings.request_log.publish_seconds.max(1) as i64;
    g.publication_overdue =
        crate::log::store::oldest_pending(conn)?.is_some_and(|t| (now - t).num_seconds() > allowed);
    g.releases_stored = crate::statistics::store::list(conn)
        .map_err(|e| MetricsError::Releases(e.to_string()))?
        .len() as u64;
    g.releases_due =
        crate::statistics::store::missing(conn, now, settings.statistics.follow_up_days)?.len()
            as u64;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum MetricsError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("statistics releases: {0}")]
    Releases(String),
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match web::block(move || state.monitoring.render(&read(&state))).await {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// The metrics listener: one worker, plain HTTP, `GET /metrics` and nothing else. It stops
/// with the service (its own signal handling is off).
pub fn serve(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

/// `GET /api/v1/operations`: what the operator on call needs on one page, read as the
/// metrics are (counts and ages only, nothing personal): the database, the mail outbox, the
/// log and each witness, and the statistics releases made and due.
#[utoipa::path(get, path = paths::OPERATIONS, tag = "accounts",
    responses((status = 200, body = OperationsStatus)), security(("bearer" = [])))]
pub async fn operations(
    state: web::Data<AppState>,
    _caller: crate::accounts::Caller,
) -> Result<HttpResponse, crate::http::error::ApiError> {
    let status = web::block(move || operations_status(&state))
        .await
        .map_err(|_| crate::http::error::ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(status))
}

fn operations_status(state: &AppState) -> OperationsStatus {
    let g = read(state);
    let problems = state.storage.witnessing.status();
    let witnesses = g
        .witnesses
        .iter()
        .zip(state.storage.witnessing.keys())
        .zip(problems)
        .map(|((w, key), status)| WitnessOperations {
            name: w.name.clone(),
            key,
            cosigned_size: w.cosigned_size,
            failing: w.failing,
            problem: status.problem,
            refused_as_inconsistent: w.refused,
        })
        .collect();
    let now = crate::db::now();
    let releases = state.storage.db.get().ok().and_then(|mut conn| {
        let made = crate::statistics::store::list(&mut conn).ok()?;
        let due = crate::statistics::store::missing(
            &mut conn,
            now,
            state.settings.statistics.follow_up_days,
        )
        .ok()?;
        Some(ReleaseOperations {
            stored: made.len() as u64,
            latest: made
                .iter()
                .max_by(|a, b| a.built_at.cmp(&b.built_at))
                .map(|r| LatestRelease {
                    period: r.period.clone(),
                    built_at: r.built_at.clone(),
                }),
            due: due.into_iter().map(|p| p.key).collect(),
        })
    });
    OperationsStatus {
        database_up: g.database_up,
        pool: PoolOperations {
            connections: g.pool_connections,
            idle: g.pool_idle,
            max: g.pool_max,
        },
        outbox: OutboxOperations {
            pending: g.outbox_pending,
            failing: g.outbox_failing,
            oldest_pending_secs: g.outbox_oldest_secs,
            transport: String::from(if state.settings.mail.smtp_url.is_some() {
                "smtp"
            } else {
                "files"
            }),
        },
        log_size: g.log_leaves,
        served_size: g.served_size,
        quorum: state.storage.witnessing.quorum(),
        witnesses,
        releases,
        sign_in_ceiling: g.sign_in_ceiling,
    }
}
