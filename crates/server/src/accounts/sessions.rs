//! A person's own sessions: `GET /api/v1/me/sessions`, `DELETE /api/v1/me/sessions/{id}`
//! and `DELETE /api/v1/me/sessions` (sign out everywhere). A laptop left signed in at the
//! office, or a session someone else started with a stolen password, ends from any other.

use actix_web::{web, HttpRequest, HttpResponse};

use super::browser::{self, SessionClient};
use super::store;
use crate::http::access::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use iro_advice_api::SessionEntry;

/// The caller's sessions that have not ended, newest first, the current one marked.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "me",
    responses((status = 200, body = [SessionEntry])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let hours = state.settings.accounts.session_hours;
    let started_after = crate::db::now() - chrono::Duration::hours(hours);
    let account = caller.account_id.clone();
    let live = state
        .read(move |conn| {
            store::live_sessions(conn, &account, started_after).map_err(ApiError::from)
        })
        .await?;
    let entries: Vec<SessionEntry> = live
        .into_iter()
        .map(|s| SessionEntry {
            current: s.id == caller.session_id,
            client: SessionClient::from_stored(&s.client).as_str().into(),
            ends_at: (s.created_at + chrono::Duration::hours(hours)).and_utc(),
            started_at: s.created_at.and_utc(),
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
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "me",
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
    let ended = state
        .db
        .write(move |conn| {
            store::revoke_own_session(conn, &caller.account_id, &id).map_err(ApiError::from)
        })
        .await?;
    if ended == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(signed_out(&req, current))
}

/// Signs out everywhere: every session of the caller's account ends, this one included.
#[utoipa::path(delete, path = "/api/v1/me/sessions", tag = "me",
    responses((status = 204)), security(("bearer" = [])))]
pub async fn end_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    state
        .db
        .write(move |conn| {
            store::revoke_other_sessions(conn, &caller.account_id, None).map_err(ApiError::from)
        })
        .await?;
    Ok(signed_out(&req, true))
}

fn signed_out(req: &HttpRequest, current_ended: bool) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    if current_ended && SessionClient::of(req) == SessionClient::Web {
        browser::clear_refresh_cookie(&mut res);
    }
    res.finish()
}
