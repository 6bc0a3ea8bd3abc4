//! `POST /api/v1/queries/{id}/messages`: a reply, either way.

use actix_web::{web, HttpResponse};

use crate::accounts::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::queries::service;
use iro_advice_api::{paths, MessageCreated, MessageRequest};
use iro_advice_model::queries::QueryId;

#[utoipa::path(post, path = paths::QUERY_MESSAGES, tag = "queries", params(("id" = String, Path)),
    request_body = MessageRequest,
    responses((status = 201, body = MessageCreated), (status = 400, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem), (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn post(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<QueryId>,
    body: web::Json<MessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, body) = (id.into_inner(), body.into_inner().body.content()?);
    let (message, created_at, receipt) = state
        .write(move |tx| service::reply(tx, &caller, &id, &body))
        .await?;
    Ok(HttpResponse::Created().json(MessageCreated {
        id: message,
        created_at: created_at.and_utc().to_rfc3339(),
        receipt,
    }))
}
