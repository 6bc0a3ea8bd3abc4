//! `POST /api/v1/queries/{id}/uploads`, `PATCH` and `DELETE /api/v1/uploads/{id}`, `POST
//! /api/v1/uploads/{id}/complete`: attachments sent in segments.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use iro_advice_api::headers::UPLOAD_OFFSET;
use iro_advice_api::{paths, AttachmentCreated, UploadCompletion, UploadRequest, UploadStarted};
use iro_advice_model::problem::ProblemType;
use iro_advice_model::queries::{AttachmentId, QueryId};

use super::attachments::closing_on_error;
use crate::accounts::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::queries::attachments::{Limits, CHUNK_BYTES};
use crate::queries::{uploads, QueryError};

/// Starts an upload to a query: an invisible attachment that segments are appended to.
#[utoipa::path(post, path = paths::QUERY_UPLOADS, tag = "queries", params(("id" = String, Path)),
    request_body = UploadRequest,
    responses((status = 201, body = UploadStarted), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem), (status = 413, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn start(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<QueryId>,
    body: web::Json<UploadRequest>,
) -> Result<HttpResponse, ApiError> {
    let limits = Limits::of(&state.settings.queries);
    let declared = body.into_inner().size;
    let query_id = id.into_inner();
    let keys = state.storage.context.log.clone();
    let upload = state
        .storage
        .db
        .write(move |conn| uploads::start(conn, &keys, &caller, &query_id, declared, limits))
        .await?;
    Ok(HttpResponse::Created().json(UploadStarted {
        id: upload,
        segment_bytes: CHUNK_BYTES as u64,
    }))
}

fn offset_of(req: &HttpRequest) -> Result<u64, ApiError> {
    req.headers()
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                ProblemType::BadRequest,
                "a segment needs an Upload-Offset header: the byte it starts at",
            )
        })
}

/// Appends a segment (a binary body of at most `segment_bytes`) at `Upload-Offset`.
#[utoipa::path(patch, path = paths::UPLOAD, tag = "queries", params(("id" = String, Path),
        ("upload-offset" = u64, Header, description = "the byte of the upload this segment starts at")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the next segment of a binary age stream"),
    responses((status = 204, description = "appended; `Upload-Offset` gives the upload's length"),
              (status = 400, body = iro_advice_api::Problem), (status = 404, body = iro_advice_api::Problem),
              (status = 408, body = iro_advice_api::Problem), (status = 409, body = iro_advice_api::Problem),
              (status = 413, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn append(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AttachmentId>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    closing_on_error(receive_segment(state, caller, id.into_inner(), req, payload).await)
}

async fn receive_segment(
    state: web::Data<AppState>,
    caller: Caller,
    id: AttachmentId,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let offset = offset_of(&req)?;
    let limits = Limits::of(&state.settings.queries);
    let size = uploads::append(&state.storage, caller, id, offset, payload, limits).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((
            HeaderName::from_static(UPLOAD_OFFSET),
            HeaderValue::from(size),
        ))
        .finish())
}

/// Completes an upload: checked as a single upload is, then a new attachment of its query
/// (201), or, with `replaces`, the re-encrypted stream of one (200). Refused, the upload is
/// gone and must be sent again.
#[utoipa::path(post, path = paths::UPLOAD_COMPLETE, tag = "queries", params(("id" = String, Path)),
    request_body = UploadCompletion,
    responses((status = 201, body = AttachmentCreated), (status = 200, body = AttachmentCreated),
              (status = 400, body = iro_advice_api::Problem), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem), (status = 413, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn complete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AttachmentId>,
    body: web::Json<UploadCompletion>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let replaces = body.into_inner().replaces;
    let limits = Limits::of(&state.settings.queries);
    let (size, receipt) =
        uploads::complete(&state.storage, caller, &id, replaces.clone(), limits).await?;
    let (status, id) = match replaces {
        Some(target) => (actix_web::http::StatusCode::OK, target),
        None => (actix_web::http::StatusCode::CREATED, id),
    };
    Ok(HttpResponse::build(status).json(AttachmentCreated {
        id,
        size: size as i64,
        receipt: Some(receipt),
    }))
}

/// Abandons an upload: every segment is removed.
#[utoipa::path(delete, path = paths::UPLOAD, tag = "queries", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AttachmentId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .storage
        .db
        .write(move |conn| -> Result<(), QueryError> { uploads::cancel(conn, &caller, &id) })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
