//! Accept, decline, route and close: the query's path, each step checked against its state.

use std::collections::HashSet;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::{DeclineReason, Outcome, QueryStatus};
use super::{notify, store, visible, wrong_state};
use crate::access::Caller;
use crate::accounts::store::eligible_advisers;
use crate::ciphertext::AgeArmored;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::log::{Kind, Receipt};
use crate::server::AppState;

#[derive(Serialize, ToSchema)]
pub struct StatusView {
    id: String,
    status: QueryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
    receipt: Receipt,
}

fn status_view(
    id: String,
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

/// The adviser's answer to a query put to them: from `submitted` to `to`, telling the IRO,
/// recording `kind`; `also` runs in the same transaction.
async fn answer(
    state: web::Data<AppState>,
    caller: Caller,
    id: String,
    to: QueryStatus,
    kind: Kind,
    also: impl FnOnce(&mut DbConnection, &store::Query) -> Result<(), ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let public_url = state.settings.public_url.clone();
    let query_id = id.clone();
    let log = state.log.clone();
    let receipt = state
        .db
        .write(move |conn| -> Result<Receipt, ApiError> {
            let q = visible(conn, &caller, &query_id)?;
            if !store::transition(conn, &q.id, &[QueryStatus::Submitted], to)? {
                return Err(wrong_state(format!(
                    "a {} query cannot become {to}",
                    q.status
                )));
            }
            also(conn, &q)?;
            notify(conn, &q.iro_id, &public_url)?;
            super::record(conn, &log, kind, &caller.account_id, &q)
        })
        .await?;
    Ok(status_view(id, to, None, receipt))
}

/// The adviser takes the query on.
#[utoipa::path(post, path = "/api/v1/queries/{id}/accept", tag = "queries", params(("id" = String, Path)),
    responses((status = 200, body = StatusView), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn accept(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    answer(
        state,
        caller,
        id.into_inner(),
        QueryStatus::Accepted,
        Kind::QueryAccepted,
        |_, _| Ok(()),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct DeclineRequest {
    reason: DeclineReason,
}

/// The adviser declines; the IRO may then route the query to someone else. The adviser no
/// longer sees it.
#[utoipa::path(post, path = "/api/v1/queries/{id}/decline", tag = "queries", params(("id" = String, Path)),
    request_body = DeclineRequest,
    responses((status = 200, body = StatusView), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn decline(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<DeclineRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.into_inner().reason;
    let adviser = caller.account_id.clone();
    answer(
        state,
        caller,
        id.into_inner(),
        QueryStatus::Declined,
        Kind::QueryDeclined,
        move |conn, q| Ok(store::record_decline(conn, &q.id, &adviser, reason)?),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct ReencryptedMessage {
    id: String,
    #[schema(value_type = String)]
    body: AgeArmored,
}

#[derive(Deserialize, ToSchema)]
pub struct RouteRequest {
    adviser_id: String,
    /// Every message of the query, re-encrypted by the IRO's client to the IRO and the new
    /// adviser.
    messages: Vec<ReencryptedMessage>,
}

/// The IRO hands the query to another adviser, after a decline or while it waits unaccepted.
#[utoipa::path(post, path = "/api/v1/queries/{id}/route", tag = "queries", params(("id" = String, Path)),
    request_body = RouteRequest,
    responses((status = 200, body = StatusView), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn route(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<RouteRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let req = body.into_inner();
    for m in &req.messages {
        super::ask::check_recipients(&m.body)?;
    }
    let authority = caller
        .authority
        .clone()
        .ok_or_else(|| ApiError::Internal("an IRO without an authority".into()))?;
    let public_url = state.settings.public_url.clone();
    let query_id = id.clone();
    let log = state.log.clone();
    let receipt = state
        .db
        .write(move |conn| -> Result<Receipt, ApiError> {
            let q = visible(conn, &caller, &query_id)?;
            if !q.status.routable() {
                return Err(wrong_state(format!("a {} query cannot be routed", q.status)));
            }
            if req.adviser_id == q.adviser_id || store::has_declined(conn, &q.id, &req.adviser_id)? {
                return Err(ApiError::unprocessable(
                    "adviser-not-eligible",
                    "that adviser already has, or has declined, this query",
                ));
            }
            if eligible_advisers(conn, &authority, Some(&req.adviser_id))?.is_empty() {
                return Err(ApiError::unprocessable(
                    "adviser-not-eligible",
                    "that adviser cannot take this query (unknown, unavailable, without a key, or conflicted with your authority)",
                ));
            }
            // Exactly every message, once: a message left out would stay unreadable to the
            // new adviser, one added would be a message nobody sent.
            let stored: HashSet<String> = store::messages_of(conn, &q.id)?
                .into_iter()
                .filter(|m| m.body.is_some())
                .map(|m| m.id)
                .collect();
            let given: HashSet<String> = req.messages.iter().map(|m| m.id.clone()).collect();
            if given.len() != req.messages.len() || given != stored {
                return Err(ApiError::unprocessable(
                    "messages-mismatch",
                    "give every message of the query exactly once, re-encrypted",
                ));
            }
            for m in &req.messages {
                store::replace_message_body(conn, &q.id, &m.id, m.body.as_str())?;
            }
            if !store::reroute(conn, &q.id, &req.adviser_id)? {
                return Err(wrong_state("the query changed while it was being routed"));
            }
            notify(conn, &req.adviser_id, &public_url)?;
            super::record(conn, &log, Kind::QueryRouted, &caller.account_id, &q)
        })
        .await?;
    Ok(status_view(id, QueryStatus::Submitted, None, receipt))
}

#[derive(Deserialize, ToSchema)]
pub struct CloseRequest {
    outcome: Outcome,
}

/// The IRO closes the query with its outcome.
#[utoipa::path(post, path = "/api/v1/queries/{id}/close", tag = "queries", params(("id" = String, Path)),
    request_body = CloseRequest,
    responses((status = 200, body = StatusView), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn close(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<CloseRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let outcome = body.into_inner().outcome;
    let public_url = state.settings.public_url.clone();
    let query_id = id.clone();
    let log = state.log.clone();
    let receipt = state
        .db
        .write(move |conn| -> Result<Receipt, ApiError> {
            let q = visible(conn, &caller, &query_id)?;
            if !store::close(conn, &q.id, outcome)? {
                return Err(wrong_state("the query is already closed"));
            }
            // The adviser hears of it only if they were working on it.
            if q.status == QueryStatus::Accepted {
                notify(conn, &q.adviser_id, &public_url)?;
            }
            super::record(conn, &log, Kind::QueryClosed, &caller.account_id, &q)
        })
        .await?;
    Ok(status_view(id, QueryStatus::Closed, Some(outcome), receipt))
}
