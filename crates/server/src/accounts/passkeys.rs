//! Passkeys as a second factor: `POST /api/v1/me/passkeys/options`, `POST` and `GET
//! /api/v1/me/passkeys`, `POST /api/v1/me/step-up/options`, `POST /api/v1/auth/passkey/options`.

use super::factors::{Purpose, StepUp, CHALLENGE_SECS};
use super::second_factor::{factor_removed, last_factor};
use super::store;
use super::webauthn::{self, b64, unb64, RelyingParty, WebAuthnError};
use crate::http::access::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::log::{Actor, Event, Kind, Subject};
use actix_web::{web, HttpResponse};
use iro_advice_api::{
    PasskeyCreationOptions, PasskeyDescriptor, PasskeyInfo, PasskeyParameter, PasskeyRegistration,
    PasskeyRequestOptions, PasskeyRp, PasskeySelection, PasskeyUser,
};
use iro_advice_model::problem::ProblemType;

const RP_NAME: &str = "IRO Advice";

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::unprocessable(ProblemType::PasskeyInvalid, detail)
}

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

/// Options for signing in with a passkey as the second factor. The passkeys are
/// discoverable, so no credential is listed and the answer says nothing about any email.
#[utoipa::path(post, path = "/api/v1/auth/passkey/options", tag = "auth",
    responses((status = 200, body = PasskeyRequestOptions)))]
pub async fn sign_in_options(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let challenge = state.factors.new_challenge(Purpose::SignIn);
    Ok(HttpResponse::Ok().json(request_options(&state.factors.rp, challenge, Vec::new())))
}

/// Options for proving a passkey again before an act that needs a fresh second factor
/// (a new key, a new password, the wrapped identity, another passkey).
#[utoipa::path(post, path = "/api/v1/me/step-up/options", tag = "me",
    responses((status = 200, body = PasskeyRequestOptions)), security(("bearer" = [])))]
pub async fn step_up_options(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let challenge = state
        .factors
        .new_challenge(Purpose::StepUp(&caller.account_id));
    let id = caller.account_id.clone();
    let allow = state
        .read(move |conn| store::passkeys_of(conn, &id).map_err(ApiError::from))
        .await?
        .into_iter()
        .map(|p| p.credential_id)
        .collect();
    Ok(HttpResponse::Ok().json(request_options(&state.factors.rp, challenge, allow)))
}

/// Options for creating a passkey for the caller's account.
#[utoipa::path(post, path = "/api/v1/me/passkeys/options", tag = "me",
    responses((status = 200, body = PasskeyCreationOptions)), security(("bearer" = [])))]
pub async fn creation_options(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let challenge = state
        .factors
        .new_challenge(Purpose::Register(&caller.account_id));
    let id = caller.account_id.clone();
    let (account, existing) = state
        .read(move |conn| -> Result<_, ApiError> {
            let account = store::account(conn, &id)?.ok_or(ApiError::Unauthenticated)?;
            Ok((account, store::passkeys_of(conn, &id)?))
        })
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyCreationOptions {
        challenge,
        rp: PasskeyRp {
            id: state.factors.rp.id.clone(),
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

/// A passkey's name, as its owner gave it.
struct PasskeyName(String);

impl PasskeyName {
    fn parse(raw: Option<&str>) -> Result<PasskeyName, ApiError> {
        let name = raw.map(str::trim).unwrap_or("Passkey");
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(
                "name: 1 to 60 characters, no control characters".into(),
            ));
        }
        Ok(PasskeyName(name.to_owned()))
    }
}

fn info(p: store::StoredPasskey) -> PasskeyInfo {
    PasskeyInfo {
        id: p.credential_id,
        name: p.name,
        created_at: p.created_at.and_utc(),
        last_used_at: p.last_used_at.map(|t| t.and_utc()),
    }
}

/// Adds a passkey. The first second factor of an account needs only the session; after
/// that an existing factor must vouch for a new one. Every other session ends, and the
/// enrolment is a leaf in the log.
#[utoipa::path(post, path = "/api/v1/me/passkeys", tag = "me", request_body = PasskeyRegistration,
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
    let factors = state.factors.clone();
    let registration = (|| {
        webauthn::verify_registration(
            &factors.rp,
            &unb64(&credential.response.client_data_json, "clientDataJSON")?,
            &unb64(&credential.response.attestation_object, "attestationObject")?,
        )
    })()
    .map_err(|e: WebAuthnError| invalid(e.to_string()))?;
    let proof = StepUp { totp_code, passkey };
    let added = state
        .write(move |tx| -> Result<_, ApiError> {
            let id = &caller.account_id;
            let first = !store::totp_state(tx.conn, id)?.has_second_factor();
            if !first {
                factors.step_up(tx.conn, id, &proof)?;
            }
            let purpose = Purpose::Register(id);
            if !factors.spend_challenge(tx.conn, purpose, &registration.challenge)? {
                return Err(invalid(
                    "the challenge has expired or was used: ask for new options",
                ));
            }
            if store::passkey(tx.conn, &registration.credential_id)?.is_some() {
                return Err(ApiError::conflict(
                    ProblemType::PasskeyExists,
                    "this passkey is already registered",
                ));
            }
            store::add_passkey(
                tx.conn,
                id,
                &store::NewPasskey {
                    credential_id: &registration.credential_id,
                    algorithm: registration.public_key.algorithm,
                    public_key: &registration.public_key.bytes,
                    sign_count: registration.sign_count,
                    name: &name.0,
                },
            )?;
            // Whoever else held a session was signed in without this factor.
            store::revoke_other_sessions(tx.conn, id, Some(&caller.session_id))?;
            tx.record(Event {
                kind: Kind::SecondFactorEnrolled,
                actor: Actor::Account(id.as_str()),
                subject: Subject::SecondFactor {
                    account: id.as_str(),
                },
                authority: None,
            })?;
            if !first {
                // A factor added to an enrolled account is news its owner should get.
                super::notices::notify_now(tx, id)?;
            }
            store::passkey(tx.conn, &registration.credential_id)?
                .map(info)
                .ok_or_else(|| ApiError::Internal("the passkey just added is missing".into()))
        })
        .await?;
    Ok(HttpResponse::Created().json(added))
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/api/v1/me/passkeys", tag = "me",
    responses((status = 200, body = Vec<PasskeyInfo>)), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let keys = state
        .read(move |conn| store::passkeys_of(conn, &caller.account_id).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(keys.into_iter().map(info).collect::<Vec<_>>()))
}

/// Removes one of the caller's passkeys, with a fresh second factor (the passkey itself may
/// vouch), unless it is the account's only second factor; every other session ends and the
/// owner is told.
#[utoipa::path(delete, path = "/api/v1/me/passkeys/{id}", tag = "me",
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
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let proof = StepUp::from_headers(req.headers())?;
    let credential = id.into_inner();
    let factors = state.factors.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            let id = &caller.account_id;
            factors.step_up(tx.conn, id, &proof)?;
            let keys = store::passkeys_of(tx.conn, id)?;
            if !keys.iter().any(|k| k.credential_id == credential) {
                return Err(ApiError::NotFound);
            }
            if keys.len() == 1 && !store::totp_state(tx.conn, id)?.totp_enabled {
                return Err(last_factor());
            }
            store::remove_passkey(tx.conn, id, &credential)?;
            factor_removed(
                tx,
                id,
                Actor::Account(id.as_str()),
                Some(&caller.session_id),
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
