//! The witness's HTTP interface: `POST /add-checkpoint`, answered as C2SP tlog-witness says.
//! Plain HTTP is enough on loopback or behind a proxy: what is trusted is the cosignature.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::{Refusal, Witness};

/// Largest request: 63 proof lines and a checkpoint with a few signatures fit many times.
const BODY_LIMIT: usize = 64 * 1024;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn add_checkpoint(witness: web::Data<Arc<Witness>>, body: web::Bytes) -> HttpResponse {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return refused(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    let witness = witness.get_ref().clone();
    // Recording a cosigned checkpoint waits for the disk: off the async workers.
    let answer = web::block(move || witness.add_checkpoint(&body, unix_now())).await;
    match answer {
        Ok(Ok(cosignature)) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(cosignature),
        Ok(Err(refusal)) => {
            tracing::info!(refusal = ?refusal, "checkpoint not cosigned");
            match refusal {
                Refusal::StaleOldSize(size) => HttpResponse::Conflict()
                    .content_type("text/x.tlog.size")
                    .body(format!("{size}\n")),
                Refusal::Malformed(why) => refused(StatusCode::BAD_REQUEST, &why),
                Refusal::Unsigned => refused(
                    StatusCode::FORBIDDEN,
                    "no valid signature by a key this witness trusts for that log",
                ),
                Refusal::UnknownLog => refused(
                    StatusCode::NOT_FOUND,
                    "this witness does not witness that log",
                ),
                // Plain text, not text/x.tlog.size: that is how a client tells this 409
                // from a stale old size.
                Refusal::RootMismatch(why) => refused(StatusCode::CONFLICT, &why),
                Refusal::Inconsistent(why) => refused(StatusCode::UNPROCESSABLE_ENTITY, &why),
                Refusal::Internal(why) => {
                    tracing::error!(reason = %why, "witness state");
                    refused(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the witness cannot record state",
                    )
                }
            }
        }
        Err(_) => refused(StatusCode::INTERNAL_SERVER_ERROR, "the witness failed"),
    }
}

fn refused(status: StatusCode, why: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{why}\n"))
}

/// Serves the witness on `listener` until the process is stopped: over HTTPS when given a
/// TLS configuration (the service's own TLS code), else plain HTTP.
pub async fn serve(
    witness: Witness,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let witness = web::Data::new(Arc::new(witness));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(witness.clone())
            .app_data(web::PayloadConfig::default().limit(BODY_LIMIT))
            .route("/add-checkpoint", web::post().to(add_checkpoint))
    })
    .workers(2);
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    };
    server.run().await
}
