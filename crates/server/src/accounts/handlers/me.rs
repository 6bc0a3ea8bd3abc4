//! The caller's own account: `GET /api/v1/me`, its language, TOTP enrolment, key, password,
//! conflicts and availability.

use actix_web::{web, HttpRequest, HttpResponse};
use iro_advice_api::{
    paths, AvailabilityRequest, ConflictsRequest, KeyRequest, LanguageChoice, Me, PasswordChange,
    TotpCode, TotpEnrolment, WrappedIdentity,
};

use super::step_up_from_headers;
use crate::accounts::factors::StepUp;
use crate::accounts::profile::{self, Profile};
use crate::accounts::{totp, AccountError, Caller};
use crate::http::error::ApiError;
use crate::http::state::AppState;

#[utoipa::path(get, path = paths::ME, tag = "me",
    responses((status = 200, body = Me)), security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let witnessing = state.storage.witnessing.clone();
    let max_attachment_bytes = state.settings.queries.max_attachment_bytes();
    let Profile {
        account: a,
        conflicts,
        key_proof,
    } = state
        .read(move |conn| profile::view(conn, &witnessing, &caller.account_id))
        .await?;
    let is_adviser = conflicts.is_some();
    Ok(HttpResponse::Ok().json(Me {
        key_proof,
        id: a.id,
        role: a.role,
        email: a.email,
        display_name: a.display_name,
        authority_code: a.authority_code.map(|c| c.as_str().to_owned()),
        adviser_kind: a.adviser_kind,
        age_recipient: a.age_recipient,
        totp_enabled: a.totp_enabled,
        language: a.language,
        verified_at: a.verified_at.map(|t| t.and_utc()),
        passkey_enabled: a.passkey_enabled,
        max_attachment_bytes,
        accepting: is_adviser.then_some(a.accepting),
        conflicts,
        awaiting_approval: a.approved_at.is_none(),
    }))
}

/// Chooses the language of the account's pages and notices.
#[utoipa::path(put, path = paths::ME_LANGUAGE, tag = "me", request_body = LanguageChoice,
    responses((status = 204), (status = 400, body = iro_advice_api::Problem)), security(("bearer" = [])))]
pub async fn put_language(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<LanguageChoice>,
) -> Result<HttpResponse, ApiError> {
    let language = body.into_inner().language;
    state
        .storage
        .db
        .write(move |conn| profile::set_language(conn, &caller.account_id, language))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts TOTP enrolment with a new secret. Refused once TOTP is enabled, so that a stolen
/// access token cannot replace the second factor.
#[utoipa::path(post, path = paths::ME_TOTP, tag = "me",
    responses((status = 200, body = TotpEnrolment), (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn totp_begin(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let accounts = state.accounts.clone();
    let enrolment = state
        .storage
        .db
        .write(move |conn| profile::begin_totp(conn, &accounts.factors.sealer, &caller.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(TotpEnrolment {
        secret: totp::base32(&enrolment.secret),
        otpauth_uri: totp::otpauth_uri(&enrolment.secret, &enrolment.email),
    }))
}

/// Confirms enrolment with a current code; from then on login needs a code too, and every
/// other session of the account has ended.
#[utoipa::path(post, path = paths::ME_TOTP_CONFIRM, tag = "me", request_body = TotpCode,
    responses((status = 204), (status = 409, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn totp_confirm(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TotpCode>,
) -> Result<HttpResponse, ApiError> {
    let code = body.into_inner().code;
    let accounts = state.accounts.clone();
    state
        .write(move |tx| profile::confirm_totp(tx, &accounts.factors.sealer, &caller, &code))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Turns TOTP off, with a fresh second factor, when the account has a passkey to keep it
/// guarded; every other session ends and the owner is told.
#[utoipa::path(delete, path = paths::ME_TOTP, tag = "me",
    params(("X-Step-Up-Code" = Option<String>, Header, description = "a current TOTP code"),
           ("X-Step-Up-Passkey" = Option<String>, Header,
            description = "instead: base64url of a passkey's answer to step-up options")),
    responses((status = 204), (status = 400, body = iro_advice_api::Problem), (status = 403, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem), (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn totp_remove(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let proof = step_up_from_headers(req.headers())?;
    let accounts = state.accounts.clone();
    state
        .write(move |tx| profile::remove_totp(tx, &accounts.factors, &caller, &proof))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the caller's age public key, and optionally a passphrase-wrapped copy of the
/// identity for a browser to unwrap locally.
#[utoipa::path(put, path = paths::ME_KEY, tag = "me", request_body = KeyRequest,
    responses((status = 204), (status = 400, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn put_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<KeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let KeyRequest {
        age_recipient,
        wrapped_identity,
        totp_code,
        passkey,
        handover,
    } = body.into_inner();
    let wrapped_identity = wrapped_identity.map(|w| w.wrapped_identity()).transpose()?;
    let proof = StepUp { totp_code, passkey };
    let accounts = state.accounts.clone();
    state
        .write(move |tx| {
            profile::put_key(
                tx,
                &accounts.factors,
                &caller,
                &age_recipient,
                wrapped_identity.as_ref(),
                handover.as_ref(),
                &proof,
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Changes the caller's password: the current password and a fresh second-factor code are
/// both needed, so neither a stolen session nor a stolen password alone can do it. Every
/// other session ends, and the owner is told at once.
#[utoipa::path(put, path = paths::ME_PASSWORD, tag = "me", request_body = PasswordChange,
    responses((status = 204), (status = 400, body = iro_advice_api::Problem),
              (status = 403, body = iro_advice_api::Problem), (status = 503, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn put_password(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        current_password,
        new_password,
        totp_code,
        passkey,
    } = body.into_inner();
    let change = profile::PasswordChange {
        current_password,
        new_password,
        proof: StepUp { totp_code, passkey },
    };
    profile::change_password(&state.accounts, &state.storage, caller, change).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's passphrase-wrapped identity, for a client to unwrap locally: with a fresh
/// TOTP code in `X-Step-Up-Code`, since with it (and the passphrase) comes every case.
#[utoipa::path(get, path = paths::ME_KEY, tag = "me",
    params(("X-Step-Up-Code" = Option<String>, Header, description = "a current TOTP code"),
           ("X-Step-Up-Passkey" = Option<String>, Header,
            description = "instead: base64url of a passkey's answer to step-up options")),
    responses((status = 200, body = WrappedIdentity), (status = 400, body = iro_advice_api::Problem), (status = 403, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn get_wrapped_identity(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let proof = step_up_from_headers(req.headers())?;
    let accounts = state.accounts.clone();
    let wrapped = state
        .write(move |tx| profile::wrapped_identity(tx, &accounts.factors, &caller, &proof))
        .await?;
    Ok(HttpResponse::Ok().json(WrappedIdentity {
        wrapped_identity: wrapped,
    }))
}

/// Replaces the authorities the adviser acts for or works for. A peer adviser is always
/// conflicted with their own employer, whether listed or not.
#[utoipa::path(put, path = paths::ME_CONFLICTS, tag = "me", request_body = ConflictsRequest,
    responses((status = 204), (status = 400, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn put_conflicts(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ConflictsRequest>,
) -> Result<HttpResponse, ApiError> {
    let codes = body.into_inner().authority_codes;
    state
        .write(move |tx| profile::declare_conflicts(tx, &caller.account_id, &codes))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Whether the adviser takes new queries (for leave, or a full caseload).
#[utoipa::path(put, path = paths::ME_AVAILABILITY, tag = "me", request_body = AvailabilityRequest,
    responses((status = 204)), security(("bearer" = [])))]
pub async fn put_availability(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AvailabilityRequest>,
) -> Result<HttpResponse, ApiError> {
    let accepting = body.into_inner().accepting;
    state
        .write(move |tx| -> Result<(), AccountError> {
            profile::set_availability(tx, &caller.account_id, accepting)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
