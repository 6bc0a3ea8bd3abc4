//! `POST /api/v1/me/passkeys/options`, `POST` and `GET /api/v1/me/passkeys`, `DELETE
//! /api/v1/me/passkeys/{id}`, `POST /api/v1/me/step-up/options`, `POST
//! /api/v1/auth/passkey/options`: passkeys in the JSON forms of WebAuthn Level 3.

use actix_web::{web, HttpRequest, HttpResponse};
use iro_advice_api::{
    paths, PasskeyCreationOptions, PasskeyDescriptor, PasskeyInfo, PasskeyParameter,
    PasskeyRegistration, PasskeyRequestOptions, PasskeyRp, PasskeySelection, PasskeyUser,
};

use super::step_up_from_headers;
use crate::accounts::factors::{Purpose, StepUp, CHALLENGE_SECS};
use crate::accounts::passkeys::{self, PasskeyName};
use crate::accounts::store::StoredPasskey;
use crate::accounts::webauthn::{self, b64, RelyingParty};
use crate::accounts::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;

const RP_NAME: &str = "IRO Advice";

fn descriptor(id: String) -> PasskeyDescriptor {
    PasskeyDescriptor {
        kind: "public-key".into(),
        id,
    }
}

fn request_options(
    rp: &RelyingParty,
    challenge: String,
    allow: Vec<String>,
) -> PasskeyRequestOptions {
    PasskeyRequestOptions {
        challenge,
        rp_id: rp.id.clone(),
        timeout: CHALLENGE_SECS as u64 * 1000,
        user_verification: "preferred".into(),
        allow_credentials: allow.into_iter().map(descriptor).collect(),
    }
}

fn info(p: StoredPasskey) -> PasskeyInfo {
    PasskeyInfo {
        id: p.credential_id,
        name: p.name,
        created_at: p.created_at.and_utc(),
        last_used_at: p.last_used_at.map(|t| t.and_utc()),
    }
}

/// Options for signing in with a passkey as the second factor. The passkeys are
/// discoverable, so no credential is listed and the answer says nothing about any email.
#[utoipa::path(post, path = paths::PASSKEY_SIGN_IN_OPTIONS, tag = "auth",
    responses((status = 200, body = PasskeyRequestOptions)))]
pub async fn sign_in_options(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let factors = &state.accounts.factors;
    let challenge = factors.new_challenge(Purpose::SignIn);
    Ok(HttpResponse::Ok().json(request_options(&factors.rp, challenge, Vec::new())))
}

/// Options for proving a passkey again before an act that needs a fresh second factor
/// (a new key, a new password, the wrapped identity, another passkey).
#[utoipa::path(post, path = paths::ME_STEP_UP_OPTIONS, tag = "me",
    responses((status = 200, body = PasskeyRequestOptions)), security(("bearer" = [])))]
pub async fn step_up_options(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let factors = &state.accounts.factors;
    let challenge = factors.new_challenge(Purpose::StepUp(&caller.account_id));
    let id = caller.account_id.clone();
    let allow = state
        .read(move |conn| passkeys::credential_ids(conn, &id))
        .await?;
    Ok(HttpResponse::Ok().json(request_options(&factors.rp, challenge, allow)))
}

/// Options for creating a passkey for the caller's account.
#[utoipa::path(post, path = paths::ME_PASSKEY_OPTIONS, tag = "me",
    responses((status = 200, body = PasskeyCreationOptions)), security(("bearer" = [])))]
pub async fn creation_options(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let factors = &state.accounts.factors;
    let challenge = factors.new_challenge(Purpose::Register(&caller.account_id));
    let id = caller.account_id.clone();
    let (account, existing) = state
        .read(move |conn| passkeys::creation_context(conn, &id))
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyCreationOptions {
        challenge,
        rp: PasskeyRp {
            id: factors.rp.id.clone(),
            name: RP_NAME.into(),
        },
        user: PasskeyUser {
            // The account id, not the email: the user handle is returned at every sign-in.
            id: b64(account.id.as_str().as_bytes()),
            name: account.email,
            display_name: account.display_name,
        },
        pub_key_cred_params: webauthn::ALGORITHMS
            .iter()
            .map(|&alg| PasskeyParameter {
                kind: "public-key".into(),
                alg,
            })
            .collect(),
        timeout: CHALLENGE_SECS as u64 * 1000,
        attestation: "none".into(),
        authenticator_selection: PasskeySelection {
            resident_key: "required".into(),
            require_resident_key: true,
            user_verification: "preferred".into(),
        },
        exclude_credentials: existing
            .into_iter()
            .map(|p| descriptor(p.credential_id))
            .collect(),
    }))
}

/// Adds a passkey. The first second factor of an account needs only the session; after
/// that an existing factor must vouch for a new one. Every other session ends, and the
/// enrolment is a leaf in the log.
#[utoipa::path(post, path = paths::ME_PASSKEYS, tag = "me", request_body = PasskeyRegistration,
    responses((status = 201, body = PasskeyInfo), (status = 403, body = iro_advice_api::Problem),
              (status = 409, body = iro_advice_api::Problem), (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<PasskeyRegistration>,
) -> Result<HttpResponse, ApiError> {
    let PasskeyRegistration {
        name,
        credential,
        totp_code,
        passkey,
    } = body.into_inner();
    let name = PasskeyName::parse(name.as_deref())?;
    let accounts = state.accounts.clone();
    let registration = passkeys::verified_registration(&accounts.factors, &credential)?;
    let proof = StepUp { totp_code, passkey };
    let added = state
        .write(move |tx| {
            passkeys::add(tx, &accounts.factors, &caller, &name, &registration, &proof)
        })
        .await?;
    Ok(HttpResponse::Created().json(info(added)))
}

/// The caller's passkeys.
#[utoipa::path(get, path = paths::ME_PASSKEYS, tag = "me",
    responses((status = 200, body = Vec<PasskeyInfo>)), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let keys = state
        .read(move |conn| passkeys::list(conn, &caller.account_id))
        .await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(info).collect::<Vec<_>>()))
}

/// Removes one of the caller's passkeys, with a fresh second factor (the passkey itself may
/// vouch), unless it is the account's only second factor; every other session ends and the
/// owner is told.
#[utoipa::path(delete, path = paths::ME_PASSKEY, tag = "me",
    params(("id" = String, Path, description = "the credential id"),
           ("X-Step-Up-Code" = Option<String>, Header, description = "a current TOTP code"),
           ("X-Step-Up-Passkey" = Option<String>, Header,
            description = "instead: base64url of a passkey's answer to step-up options")),
    responses((status = 204), (status = 400, body = iro_advice_api::Problem), (status = 403, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem), (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let proof = step_up_from_headers(req.headers())?;
    let credential = id.into_inner();
    let accounts = state.accounts.clone();
    state
        .write(move |tx| passkeys::remove(tx, &accounts.factors, &caller, &credential, &proof))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
