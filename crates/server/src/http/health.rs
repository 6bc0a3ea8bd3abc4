//! Liveness, readiness and the OpenAPI document: the endpoints anyone may call.

use iro_advice_api::paths;
use std::time::Duration;

use actix_web::{web, HttpResponse};

use crate::http::error::ApiError;
use crate::http::state::AppState;
use iro_advice_api::Problem;
use iro_advice_api::{Health, Readiness};

/// The process is up.
#[utoipa::path(get, path = paths::HEALTHZ, tag = "service",
    responses((status = 200, body = Health)))]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        database: state.storage.db.backend().name().into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The database answers, so requests can be served; and what each witness last said (a
/// witness that refused a checkpoint as inconsistent means the log was rolled back).
#[utoipa::path(get, path = paths::READYZ, tag = "service",
    responses((status = 200, body = Readiness),
              (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.storage.db.is_ready(Duration::from_secs(2)).await {
        Ok(HttpResponse::Ok().json(Readiness {
            status: "ready".into(),
            witness_quorum: state.storage.witnessing.quorum(),
            witnesses: state.storage.witnessing.status(),
        }))
    } else {
        Err(ApiError::Unavailable)
    }
}

/// This document.
#[utoipa::path(get, path = paths::OPENAPI, tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.as_str().to_owned())
}
