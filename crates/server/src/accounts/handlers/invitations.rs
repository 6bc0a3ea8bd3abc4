//! `POST /api/v1/invitations` and `POST /api/v1/accounts` (an invitation becomes an account).

use actix_web::{web, HttpResponse};
use iro_advice_api::{paths, AccountCreated, AccountRequest, InvitationCreated, InvitationRequest};
use iro_advice_model::accounts::Language;

use crate::accounts::invitations::{self, InvitationInput, NewAccountRequest};
use crate::accounts::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// Invites someone. Admins may invite any role; NAIRO reviewers may invite IROs only.
#[utoipa::path(post, path = paths::INVITATIONS, tag = "accounts", request_body = InvitationRequest,
    responses((status = 201, body = InvitationCreated), (status = 403, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn invite(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<InvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = InvitationInput {
        role: body.role,
        email: body.email,
        authority: body.authority_code,
        adviser_kind: body.adviser_kind,
        language: body.language.unwrap_or(Language::En),
    };
    let valid_days = state.settings.accounts.invitation_days;
    let created = state
        .write(move |tx| invitations::invite(tx, &caller, input, valid_days))
        .await?;
    Ok(HttpResponse::Created().json(InvitationCreated {
        code: created.code.as_str().to_owned(),
        expires_at: created.expires_at.and_utc().to_rfc3339(),
    }))
}

/// Turns an invitation into an account.
#[utoipa::path(post, path = paths::ACCOUNTS, tag = "accounts", request_body = AccountRequest,
    responses((status = 201, body = AccountCreated), (status = 400, body = iro_advice_api::Problem)))]
pub async fn accept(
    state: web::Data<AppState>,
    body: web::Json<AccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let AccountRequest {
        invitation,
        code,
        password,
        display_name,
        notification_email,
    } = body.into_inner();
    let request = NewAccountRequest {
        invitation,
        code,
        password,
        display_name,
        notification_email,
    };
    let (id, role, receipt) = invitations::accept(&state.accounts, &state.storage, request).await?;
    Ok(HttpResponse::Created().json(AccountCreated { id, role, receipt }))
}
