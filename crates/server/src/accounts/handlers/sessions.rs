//! `GET /api/v1/me/sessions`, `DELETE /api/v1/me/sessions/{id}` and `DELETE
//! /api/v1/me/sessions` (sign out everywhere).

use actix_web::{web, HttpRequest, HttpResponse};
use iro_advice_api::{paths, SessionEntry};

use super::browser;
use crate::accounts::sessions::{self, SessionClient};
use crate::accounts::{AccountError, Caller};
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// The caller's sessions that have not ended, newest first, the current one marked.
#[utoipa::path(get, path = paths::ME_SESSIONS, tag = "me",
    responses((status = 200, body = [SessionEntry])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let hours = state.settings.accounts.session_hours;
    let account = caller.account_id.clone();
    let live = state
        .read(move |conn| sessions::live(conn, &account, hours))
        .await?;
    let entries: Vec<SessionEntry> = live
        .into_iter()
        .map(|s| SessionEntry {
            current: s.id == caller.session_id,
            client: s.client.as_str().into(),
            ends_at: s.ends_at.and_utc(),
            started_at: s.started_at.and_utc(),
            last_active_at: s.last_active_at.map(|t| t.and_utc()),
            id: s.id,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(entries))
}

/// Ends one of the caller's sessions (the current one included): its access tokens stop
/// working at once and its refresh token is refused. 404 for anything not the caller's.
#[utoipa::path(delete, path = paths::ME_SESSION, tag = "me",
    params(("id" = String, Path, description = "the session's id, from the list")),
    responses((status = 204), (status = 404, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn end(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let current = id == caller.session_id;
    state
        .storage
        .db
        .write(move |conn| sessions::end(conn, &caller.account_id, &id))
        .await?;
    Ok(signed_out(&req, current))
}

/// Signs out everywhere: every session of the caller's account ends, this one included.
#[utoipa::path(delete, path = paths::ME_SESSIONS, tag = "me",
    responses((status = 204)), security(("bearer" = [])))]
pub async fn end_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    state
        .storage
        .db
        .write(move |conn| -> Result<(), AccountError> {
            sessions::end_all(conn, &caller.account_id)
        })
        .await?;
    Ok(signed_out(&req, true))
}

fn signed_out(req: &HttpRequest, current_ended: bool) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    if current_ended && browser::client_of(req) == SessionClient::Web {
        browser::clear_refresh_cookie(&mut res);
    }
    res.finish()
}
