//! `POST /api/v1/queries/{id}/attachments`, `GET` and `PUT /api/v1/attachments/{id}`:
//! attachments as binary age streams in request and answer bodies.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use iro_advice_api::{paths, AttachmentCreated};
use iro_advice_model::queries::{AttachmentId, QueryId};

use crate::accounts::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::queries::attachments::{self, Limits};

/// The length a request says its body has, if it says.
pub(super) fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// A refused upload may leave part of its body unread: the connection cannot carry another
/// request after it (HTTP/1.1 would read the rest of the body as one), so it is closed.
pub(super) fn closing_on_error(result: Result<HttpResponse, ApiError>) -> HttpResponse {
    use actix_web::ResponseError;
    result.unwrap_or_else(|e| {
        let mut response = e.error_response();
        response
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        response
    })
}

/// Adds an attachment (a binary age stream as the request body).
#[utoipa::path(post, path = paths::QUERY_ATTACHMENTS, tag = "queries", params(("id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a binary age stream"),
    responses((status = 201, body = AttachmentCreated), (status = 400, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem), (status = 408, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem), (status = 413, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<QueryId>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let limits = Limits::of(&state.settings.queries);
    let declared = declared_length(&req);
    let added = attachments::attach(
        &state.storage,
        caller,
        id.into_inner(),
        declared,
        payload,
        limits,
    )
    .await;
    closing_on_error(added.map_err(ApiError::from).map(|(id, size, receipt)| {
        HttpResponse::Created().json(AttachmentCreated {
            id,
            size: size as i64,
            receipt: Some(receipt),
        })
    }))
}

/// The binary age stream, one stored chunk at a time.
#[utoipa::path(get, path = paths::ATTACHMENT, tag = "queries", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", description = "the binary age stream"),
              (status = 404, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn download(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AttachmentId>,
) -> Result<HttpResponse, ApiError> {
    let (size, chunks) = attachments::open(&state.storage, caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .no_chunking(size)
        .streaming(chunks))
}

/// Replaces an attachment's stream with one re-encrypted for a new adviser, before the IRO
/// routes the query to them: the IRO only, only while the query can be routed, and only
/// while nobody else has had the stream. The replacement is a leaf in the log.
#[utoipa::path(put, path = paths::ATTACHMENT, tag = "queries", params(("id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a binary age stream"),
    responses((status = 200, body = AttachmentCreated), (status = 400, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem), (status = 409, body = iro_advice_api::Problem),
              (status = 408, body = iro_advice_api::Problem), (status = 413, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn replace(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AttachmentId>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let limits = Limits::of(&state.settings.queries);
    let declared = declared_length(&req);
    let id = id.into_inner();
    let replaced = attachments::replace(
        &state.storage,
        caller,
        id.clone(),
        declared,
        payload,
        limits,
    )
    .await;
    closing_on_error(replaced.map_err(ApiError::from).map(|(size, receipt)| {
        HttpResponse::Ok().json(AttachmentCreated {
            id,
            size: size as i64,
            receipt: Some(receipt),
        })
    }))
}
