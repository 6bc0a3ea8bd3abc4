//! `GET /api/v1/authorities` and `GET /api/v1/advisers`.

use actix_web::{web, HttpResponse};
use iro_advice_api::{paths, AdviserEntry, AuthorityEntry};

use crate::accounts::{directory, AccountError, Caller, IroCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;

#[utoipa::path(get, path = paths::AUTHORITIES, tag = "directory",
    responses((status = 200, body = [AuthorityEntry])), security(("bearer" = [])))]
pub async fn authorities(_caller: Caller) -> HttpResponse {
    let list: Vec<AuthorityEntry> = iro_advice_model::authorities::all()
        .iter()
        .map(|a| AuthorityEntry {
            code: a.code.clone(),
            name: a.name.clone(),
            region: a.region.clone(),
            name_cy: iro_advice_model::authorities::welsh_name(&a.code).map(str::to_owned),
        })
        .collect();
    HttpResponse::Ok().json(list)
}

/// The advisers the calling IRO may ask: active, accepting, with a key, and not conflicted
/// with the IRO's authority.
#[utoipa::path(get, path = paths::ADVISERS, tag = "directory",
    responses((status = 200, body = [AdviserEntry])), security(("bearer" = [])))]
pub async fn advisers(
    state: web::Data<AppState>,
    iro: IroCaller,
) -> Result<HttpResponse, ApiError> {
    let authority = iro.authority;
    let witnessing = state.storage.witnessing.clone();
    let (list, open, mut proofs) = state
        .read(move |conn| -> Result<_, AccountError> {
            let list = directory::advisers_for(conn, &authority)?;
            // How busy each is: queries waiting for or accepted by them.
            let open = crate::queries::store::open_queries_by_adviser(conn)?;
            let ids: Vec<_> = list.iter().map(|a| a.id.clone()).collect();
            let proofs = directory::key_proofs(conn, &witnessing, &ids)?;
            Ok((list, open, proofs))
        })
        .await?;
    let entries: Vec<AdviserEntry> = list
        .into_iter()
        .map(|a| AdviserEntry {
            open_queries: open.get(&a.id).copied().unwrap_or(0),
            key_proof: proofs.remove(&a.id),
            id: a.id,
            display_name: a.display_name,
            kind: a.kind,
            age_recipient: a.age_recipient,
            verified: a.verified,
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}
