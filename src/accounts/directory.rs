//! `GET /api/v1/authorities` and `GET /api/v1/advisers`.

use actix_web::{web, HttpResponse};

use super::store;
use crate::access::{Caller, IroCaller};
use crate::app::AppState;
use crate::error::ApiError;
use crate::wire::{AdviserEntry, AuthorityEntry};

#[utoipa::path(get, path = "/api/v1/authorities", tag = "directory",
    responses((status = 200, body = [AuthorityEntry])), security(("bearer" = [])))]
pub async fn authorities(_caller: Caller) -> HttpResponse {
    let list: Vec<AuthorityEntry> = crate::authorities::all()
        .iter()
        .map(|a| AuthorityEntry {
            code: a.code.clone(),
            name: a.name.clone(),
            region: a.region.clone(),
        })
        .collect();
    HttpResponse::Ok().json(list)
}

/// The advisers the calling IRO may ask: active, accepting, with a key, and not conflicted
/// with the IRO's authority.
#[utoipa::path(get, path = "/api/v1/advisers", tag = "directory",
    responses((status = 200, body = [AdviserEntry])), security(("bearer" = [])))]
pub async fn advisers(
    state: web::Data<AppState>,
    iro: IroCaller,
) -> Result<HttpResponse, ApiError> {
    let authority = iro.authority;
    let (list, open) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let list = store::eligible_advisers(conn, &authority, None)?;
            let open = crate::queries::store::open_queries_by_adviser(conn)?;
            Ok((list, open))
        })
        .await?;
    let entries: Vec<AdviserEntry> = list
        .into_iter()
        .map(|a| AdviserEntry {
            open_queries: open.get(&a.id).copied().unwrap_or(0),
            id: a.id,
            display_name: a.display_name,
            kind: a.kind,
            age_recipient: a.age_recipient,
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}
