//! Account administration: `GET /api/v1/accounts`, approving NAIRO's nominations, suspend
//! and reactivate, checking advisers, and resetting a lost second factor.

use actix_web::{web, HttpResponse};

use super::store;
use crate::http::access::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::log::{Actor, Event, Kind, Subject};
use iro_advice_api::{AccountSummary, VerificationRequest};
use iro_advice_model::accounts::{AccountId, AccountStatus, AdviserKind, Role};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_model::problem::ProblemType;

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
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem)),
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
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reactivate", tag = "accounts",
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
/// adviser's post with their authority. Who checked and when are kept and shown, and the act
/// is logged, so that a vouching can be traced to the admin who gave it. Checking again
/// (a corrected number) replaces the record and is logged again.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/verify", tag = "accounts",
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
    let admin = caller.account_id.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            let account = store::account(tx.conn, &id)?.ok_or(ApiError::NotFound)?;
            let refuse = |detail: &str| {
                Err(ApiError::unprocessable(
                    ProblemType::InvalidVerification,
                    detail.to_owned(),
                ))
            };
            match (account.role, account.adviser_kind, &sra_number) {
                (Role::Adviser, Some(AdviserKind::Solicitor), Some(_)) => {}
                (Role::Adviser, Some(AdviserKind::Solicitor), None) => {
                    return refuse("a solicitor is checked by their SRA number: give sra_number")
                }
                (Role::Adviser, Some(AdviserKind::Peer), None) => {}
                (Role::Adviser, _, Some(_)) => return refuse("only a solicitor has an SRA number"),
                _ => return refuse("only advisers are checked"),
            }
            store::verify_adviser(
                tx.conn,
                &id,
                sra_number.as_ref().map(|n| n.as_str()),
                &admin,
            )?;
            tx.record(Event {
                kind: Kind::AdviserVerified,
                actor: Actor::Account(admin.as_str()),
                subject: Subject::Account(id.as_str()),
                authority: None,
            })?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Resets the second factor of someone who lost it (a phone, a security key): TOTP off,
/// every passkey gone, every session ended, a `second_factor_removed` leaf naming the admin,
/// and the owner mailed at once, so that a reset behind their back is seen and provable.
/// At their next sign-in, with the password alone, only enrolment answers.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/second-factor/reset", tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn reset_second_factor(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<AccountId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if id == caller.account_id {
        // An admin who could reset their own factor would need only their password.
        return Err(ApiError::unprocessable(
            ProblemType::CannotChangeOwnStatus,
            "an admin cannot reset their own second factor; another admin or the operator's \
             console can",
        ));
    }
    let admin = caller.account_id.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            store::account(tx.conn, &id)?.ok_or(ApiError::NotFound)?;
            super::second_factor::reset(tx, &id, Actor::Account(admin.as_str()))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
