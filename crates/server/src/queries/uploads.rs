//! Attachments sent in segments: the web application encrypts a file in the page and sends
//! the ciphertext a segment at a time as it is produced, so that neither the page nor the
//! browser ever holds the whole file. (A browser streams a single request body only over
//! HTTP/2, which the service does not speak; see the README.)
//!
//! A segment is one stored chunk, written with the upload's new length in one transaction:
//! it is all there or not there at all. `Upload-Offset` says where a segment starts; a
//! segment sent again after its answer was lost is recognised and answered alike. Nothing is
//! visible until `complete`, which checks the whole stream's form exactly as a single
//! upload's is checked; a failed check, a `DELETE`, or an upload left idle for an hour (the
//! sweeper) leaves nothing behind.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use futures_util::StreamExt;

use super::attachments::{
    check_may_attach, closing_on_error, complete_upload, discard, held_by, quota_exceeded,
    read_chunk, start_upload, swap_in_replacement, visible_attachment, Limits, CHUNK_BYTES,
};
use super::service::{check_recipients, visible, QUERY_READERS};
use crate::db::schema::{attachment_chunks, attachments};
use crate::db::{now, DbConnection};
use crate::http::access::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use iro_advice_api::{AttachmentCreated, UploadCompletion, UploadRequest, UploadStarted};
use iro_advice_model::accounts::Role;
use iro_advice_model::ciphertext::StreamCheck;
use iro_advice_model::problem::ProblemType;
use iro_advice_model::queries::{AttachmentId, QueryId};

/// Where a segment starts in the upload, and (in an answer) how long the upload now is.
pub const UPLOAD_OFFSET: &str = "upload-offset";

/// Starts an upload to a query: an invisible attachment that segments are appended to.
#[utoipa::path(post, path = "/api/v1/queries/{id}/uploads", tag = "queries", params(("id" = String, Path)),
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
    if declared.is_some_and(|size| size > limits.max) {
        return Err(ApiError::PayloadTooLarge {
            limit: limits.max as usize,
        });
    }
    let query_id = id.into_inner();
    let upload = state
        .storage
        .db
        .write(move |conn| {
            let q = visible(conn, &caller, &query_id)?;
            check_may_attach(&caller, &q)?;
            let left = limits
                .quota
                .saturating_sub(held_by(conn, &caller.account_id, None)?);
            if declared.is_some_and(|size| size > left) {
                return Err(quota_exceeded(left));
            }
            Ok::<_, ApiError>(start_upload(conn, &q.id, &caller.account_id)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(UploadStarted {
        id: upload,
        segment_bytes: CHUNK_BYTES as u64,
    }))
}

/// An upload of the caller's that is still open: its query and length so far.
fn own_upload(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &AttachmentId,
) -> Result<(QueryId, u64), ApiError> {
    let (query_id, size) = attachments::table
        .find(id)
        .filter(attachments::uploader_id.eq(&caller.account_id))
        .filter(attachments::state.eq("uploading"))
        .select((attachments::query_id, attachments::size))
        .first::<(QueryId, i64)>(conn)
        .optional()?
        .ok_or(ApiError::NotFound)?;
    Ok((query_id, size.max(0) as u64))
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

/// Reads one segment: at most one chunk, within the idle limit.
async fn read_segment(
    payload: &mut web::Payload,
    idle: std::time::Duration,
) -> Result<Vec<u8>, ApiError> {
    let mut segment = Vec::new();
    loop {
        let piece = actix_web::rt::time::timeout(idle, payload.next())
            .await
            .map_err(|_| ApiError::Rejected {
                status: actix_web::http::StatusCode::REQUEST_TIMEOUT,
                problem: ProblemType::UploadTimeout,
                detail: format!("nothing arrived for {} seconds", idle.as_secs()),
            })?;
        let Some(piece) = piece else {
            return Ok(segment);
        };
        let piece = piece
            .map_err(|e| ApiError::bad_request(ProblemType::UploadIncomplete, e.to_string()))?;
        if segment.len() + piece.len() > CHUNK_BYTES {
            return Err(ApiError::PayloadTooLarge { limit: CHUNK_BYTES });
        }
        segment.extend_from_slice(&piece);
    }
}

/// Appends a segment at `offset`; the upload's new length, or the same length again when
/// this exact segment was the last one appended (a resend after a lost answer).
fn append_segment(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &AttachmentId,
    offset: u64,
    segment: Vec<u8>,
    limits: Limits,
) -> Result<u64, ApiError> {
    let (_, size) = own_upload(conn, caller, id)?;
    let chunks: i64 = attachment_chunks::table
        .filter(attachment_chunks::attachment_id.eq(id))
        .count()
        .get_result(conn)?;
    let length = segment.len() as u64;
    if offset != size {
        if chunks > 0 && offset + length == size {
            let last = read_chunk(conn, id, (chunks - 1) as i32)?;
            if last.as_deref() == Some(segment.as_slice()) {
                return Ok(size);
            }
        }
        return Err(ApiError::conflict(
            ProblemType::UploadOffset,
            format!("the upload holds {size} bytes; the next segment starts there"),
        ));
    }
    let new_size = size + length;
    if new_size > limits.max {
        return Err(ApiError::PayloadTooLarge {
            limit: limits.max as usize,
        });
    }
    let left = limits
        .quota
        .saturating_sub(held_by(conn, &caller.account_id, Some(id))?);
    if new_size > left {
        return Err(quota_exceeded(left));
    }
    diesel::insert_into(attachment_chunks::table)
        .values((
            attachment_chunks::attachment_id.eq(id),
            attachment_chunks::seq.eq(chunks as i32),
            attachment_chunks::data.eq(segment),
        ))
        .execute(conn)?;
    // The upload's time is its last activity until it completes: the sweeper takes only
    // uploads idle for an hour, however long a slow connection takes over the whole.
    diesel::update(attachments::table.find(id))
        .set((
            attachments::size.eq(new_size as i64),
            attachments::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(new_size)
}

/// Appends a segment (a binary body of at most `segment_bytes`) at `Upload-Offset`.
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "queries", params(("id" = String, Path),
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
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let offset = offset_of(&req)?;
    let limits = Limits::of(&state.settings.queries);
    let segment = read_segment(&mut payload, limits.idle).await?;
    if segment.is_empty() {
        return Err(ApiError::bad_request(
            ProblemType::BadRequest,
            "an empty segment",
        ));
    }
    let size = state
        .storage
        .db
        .write(move |conn| append_segment(conn, &caller, &id, offset, segment, limits))
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((
            HeaderName::from_static(UPLOAD_OFFSET),
            HeaderValue::from(size),
        ))
        .finish())
}

/// Checks the whole stream's form, a stored chunk at a time.
async fn check_form(state: &AppState, id: &AttachmentId) -> Result<(), ApiError> {
    let mut check = StreamCheck::default();
    let mut seq = 0;
    loop {
        let at = id.clone();
        let chunk = state
            .storage
            .db
            .run(move |conn| read_chunk(conn, &at, seq).map_err(ApiError::from))
            .await?;
        let Some(chunk) = chunk else { break };
        check
            .feed(&chunk)
            .map_err(|e| ApiError::bad_request(e.problem(), e.to_string()))?;
        seq += 1;
    }
    let recipients = check
        .finish()
        .map_err(|e| ApiError::bad_request(e.problem(), e.to_string()))?;
    check_recipients(recipients, QUERY_READERS)
}

/// Completes an upload: checked as a single upload is, then a new attachment of its query
/// (201), or, with `replaces`, the re-encrypted stream of one (200). Refused, the upload is
/// gone and must be sent again.
#[utoipa::path(post, path = "/api/v1/uploads/{id}/complete", tag = "queries", params(("id" = String, Path)),
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
    let (who, lookup) = (caller.clone(), id.clone());
    let (query_id, size) = state
        .storage
        .db
        .run(move |conn| own_upload(conn, &who, &lookup))
        .await?;
    let replaces = body.into_inner().replaces;
    let finished = finish(&state, caller, &id, query_id, size, replaces.clone()).await;
    if finished.is_err() {
        let gone = id.clone();
        state
            .storage
            .db
            .write(move |conn| discard(conn, &gone).map_err(ApiError::from))
            .await?;
    }
    let receipt = finished?;
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

async fn finish(
    state: &AppState,
    caller: Caller,
    id: &AttachmentId,
    query_id: QueryId,
    size: u64,
    replaces: Option<AttachmentId>,
) -> Result<crate::log::Receipt, ApiError> {
    check_form(state, id).await?;
    let limits = Limits::of(&state.settings.queries);
    let staged = id.clone();
    state
        .write(move |tx| {
            let left =
                limits
                    .quota
                    .saturating_sub(held_by(tx.conn, &caller.account_id, Some(&staged))?);
            if size > left {
                return Err(quota_exceeded(left));
            }
            match replaces {
                None => complete_upload(tx, &caller, &query_id, &staged, size),
                Some(target) => {
                    // Only an IRO re-encrypts, and only an attachment of the upload's query;
                    // the swap checks the rest (routable, the caller's own, unread).
                    let (q, _) = visible_attachment(tx.conn, &caller, &target)?;
                    if caller.role != Role::Iro || q.id != query_id {
                        return Err(ApiError::NotFound);
                    }
                    swap_in_replacement(tx, &caller, &target, &staged, size)
                }
            }
        })
        .await
}

/// Abandons an upload: every segment is removed.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "queries", params(("id" = String, Path)),
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
        .write(move |conn| {
            own_upload(conn, &caller, &id)?;
            Ok::<_, ApiError>(discard(conn, &id)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
