//! `GET /api/v1/accounts` and the admin's acts on one account: approve, suspend,
//! reactivate, verify, reset its second factor.

use actix_web::{web, HttpResponse};
use iro_advice_api::{paths, AccountSummary, VerificationRequest};
use iro_advice_model::accounts::{AccountId, AccountStatus};

use crate::accounts::{admin, Caller};
use crate::http::error::ApiError;
use crate::http::state::AppState;

#[utoipa::path(get, path = paths::ACCOUNTS, tag = "accounts",
    responses((status = 200, body = [AccountSummary])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let accounts = state.read(admin::all).await?;
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
            sra_number: a.sra_number,
            verified_at: a.verified_at.map(|t| t.and_utc()),
            verified_by: a.verified_by,
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
    state
        .write(move |tx| admin::set_status(tx, &caller.account_id, &id, status))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Approves an IRO whom NAIRO nominated: from now on the account counts in the statistics.
/// Until then it works but counts nowhere, so that a NAIRO account cannot add IROs to an
/// authority's numbers by itself.
#[utoipa::path(post, path = paths::ACCOUNT_APPROVE, tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .write(move |tx| admin::approve(tx, &caller.account_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Suspends an account: it is refused at once, its tokens included.
#[utoipa::path(post, path = paths::ACCOUNT_SUSPEND, tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn suspend(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    set_status(state, caller, id.into_inner(), AccountStatus::Suspended).await
}

/// Reactivates a suspended account; it must sign in again.
#[utoipa::path(post, path = paths::ACCOUNT_REACTIVATE, tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn reactivate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    set_status(state, caller, id.into_inner(), AccountStatus::Active).await
}

/// Marks an adviser checked: a solicitor's SRA number as read on the SRA's register, a peer
/// adviser's post with their authority; logged, with who checked and when.
#[utoipa::path(post, path = paths::ACCOUNT_VERIFY, tag = "accounts",
    params(("id" = String, Path)), request_body = VerificationRequest,
    responses((status = 204), (status = 404, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn verify(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
    body: web::Json<VerificationRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let sra_number = body.into_inner().sra_number;
    state
        .write(move |tx| admin::verify_adviser(tx, &caller.account_id, &id, sra_number.as_ref()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Resets the second factor of someone who lost it: TOTP off, every passkey gone, every
/// session ended, a `second_factor_removed` leaf naming the admin, and the owner mailed at
/// once. At their next sign-in, with the password alone, only enrolment answers.
#[utoipa::path(post, path = paths::ACCOUNT_SECOND_FACTOR_RESET, tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn reset_second_factor(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .write(move |tx| admin::reset_second_factor(tx, &caller.account_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
