//! Account administration: `GET /api/v1/accounts`, approving NAIRO's nominations, suspend
//! and reactivate.

use actix_web::{web, HttpResponse};

use super::domain::{AccountId, AccountStatus};
use super::store;
use crate::access::Caller;
use crate::app::AppState;
use crate::authorities::AuthorityCode;
use crate::error::{ApiError, ProblemType};
use crate::log::{Actor, Event, Kind, Subject};
use crate::wire::AccountSummary;

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    responses((status = 200, body = [AccountSummary])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let accounts = state
        .db
        .run(|conn| store::all_accounts(conn).map_err(ApiError::from))
        .await?;
    let summaries: Vec<AccountSummary> = accounts
        .into_iter()
        .map(|a| AccountSummary {
            id: a.id,
            role: a.role,
            email: a.email,
            display_name: a.display_name,
            authority_code: a.authority_code.map(|c| c.as_str().to_owned()),
            adviser_kind: a.adviser_kind,
            status: a.status,
            approved_at: a.approved_at.map(|t| t.and_utc()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(summaries))
}

async fn set_status(
    state: web::Data<AppState>,
    caller: Caller,
    id: AccountId,
    status: AccountStatus,
) -> Result<HttpResponse, ApiError> {
    if id == caller.account_id {
        return Err(ApiError::unprocessable(
            ProblemType::CannotChangeOwnStatus,
            "an admin cannot suspend or reactivate their own account",
        ));
    }
    let admin = caller.account_id.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            let account = store::account(tx.conn, &id)?.ok_or(ApiError::NotFound)?;
            store::set_status(tx.conn, &id, status)?;
            let kind = match status {
                AccountStatus::Suspended => Kind::AccountSuspended,
                AccountStatus::Active => Kind::AccountReactivated,
            };
            tx.record(Event {
                kind,
                actor: Actor::Account(admin.as_str()),
                subject: Subject::Account(id.as_str()),
                authority: account.authority_code.as_ref().map(AuthorityCode::as_str),
            })?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Approves an IRO whom NAIRO nominated: from now on the account counts in the statistics.
/// Until then it works but counts nowhere, so that a NAIRO account cannot add IROs to an
/// authority's numbers by itself.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/approve", tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let admin = caller.account_id.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            let account = store::account(tx.conn, &id)?.ok_or(ApiError::NotFound)?;
            if !store::approve(tx.conn, &id, &admin)? {
                return Err(ApiError::conflict(
                    ProblemType::AlreadyApproved,
                    "the account already counts in the statistics",
                ));
            }
            tx.record(Event {
                kind: Kind::AccountApproved,
                actor: Actor::Account(admin.as_str()),
                subject: Subject::Account(id.as_str()),
                authority: account.authority_code.as_ref().map(AuthorityCode::as_str),
            })?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Suspends an account: it is refused at once, its tokens included.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/suspend", tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn suspend(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    set_status(state, caller, id.into_inner(), AccountStatus::Suspended).await
}

/// Reactivates a suspended account; it must sign in again.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reactivate", tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn reactivate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    set_status(state, caller, id.into_inner(), AccountStatus::Active).await
}
