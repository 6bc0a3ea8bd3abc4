//! `POST /api/v1/queries/{id}/accept|decline|route|close`: the query's path. The rules are
//! in [`super::service`]; these adapt requests to them.

use actix_web::{web, HttpResponse};

use crate::accounts::{Caller, IroCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::log::Receipt;
use crate::queries::service::{self, RouteInput};
use iro_advice_api::{paths, CloseRequest, DeclineRequest, RouteRequest, StatusView};
use iro_advice_model::queries::{Outcome, QueryId, QueryStatus};

fn status_view(
    id: QueryId,
    status: QueryStatus,
    outcome: Option<Outcome>,
    receipt: Receipt,
) -> HttpResponse {
    HttpResponse::Ok().json(StatusView {
        id,
        status,
        outcome,
        receipt,
    })
}

/// The adviser takes the query on.
#[utoipa::path(post, path = paths::QUERY_ACCEPT, tag = "queries", params(("id" = String, Path)),
    responses((status = 200, body = StatusView), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn accept(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<QueryId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let query = id.clone();
    let receipt = state
        .write(move |tx| service::accept(tx, &caller, &query))
        .await?;
    Ok(status_view(id, QueryStatus::Accepted, None, receipt))
}

/// The adviser declines; the IRO may then route the query to someone else. The adviser no
/// longer sees it.
#[utoipa::path(post, path = paths::QUERY_DECLINE, tag = "queries", params(("id" = String, Path)),
    request_body = DeclineRequest,
    responses((status = 200, body = StatusView), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn decline(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<QueryId>,
    body: web::Json<DeclineRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (query, reason) = (id.clone(), body.into_inner().reason);
    let receipt = state
        .write(move |tx| service::decline(tx, &caller, &query, reason))
        .await?;
    Ok(status_view(id, QueryStatus::Declined, None, receipt))
}

/// The IRO hands the query to another adviser, after a decline or while it waits unaccepted.
#[utoipa::path(post, path = paths::QUERY_ROUTE, tag = "queries", params(("id" = String, Path)),
    request_body = RouteRequest,
    responses((status = 200, body = StatusView), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem), (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn route(
    state: web::Data<AppState>,
    iro: IroCaller,
    id: web::Path<QueryId>,
    body: web::Json<RouteRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let req = body.into_inner();
    let input = RouteInput {
        adviser_id: req.adviser_id,
        messages: req
            .messages
            .into_iter()
            .map(|m| Ok((m.id, m.body.content()?)))
            .collect::<Result<_, iro_advice_model::ciphertext::AgeFormatError>>()?,
    };
    let query = id.clone();
    let receipt = state
        .write(move |tx| service::route(tx, &iro, &query, input))
        .await?;
    Ok(status_view(id, QueryStatus::Submitted, None, receipt))
}

/// The IRO closes the query with its outcome.
#[utoipa::path(post, path = paths::QUERY_CLOSE, tag = "queries", params(("id" = String, Path)),
    request_body = CloseRequest,
    responses((status = 200, body = StatusView), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn close(
    state: web::Data<AppState>,
    iro: IroCaller,
    id: web::Path<QueryId>,
    body: web::Json<CloseRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (query, outcome) = (id.clone(), body.into_inner().outcome);
    let receipt = state
        .write(move |tx| service::close(tx, &iro, &query, outcome))
        .await?;
    Ok(status_view(id, QueryStatus::Closed, Some(outcome), receipt))
}
