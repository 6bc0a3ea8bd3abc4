//! The caller's own account: `GET /api/v1/me`, TOTP enrolment, key, conflicts, availability.

use actix_web::{web, HttpResponse};

use super::factors::StepUp;
use super::second_factor::{factor_removed, last_factor};
use super::store;
use super::totp::{self, Sealer};
use crate::db::DbConnection;
use crate::http::access::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::log::{conflicts_digest, Actor, Event, Kind, Subject};
use crate::tx::Tx;
use iro_advice_api::{
    AvailabilityRequest, ConflictsRequest, KeyRequest, LanguageChoice, Me, PasswordChange,
    TotpCode, TotpEnrolment, WrappedIdentity,
};
use iro_advice_model::accounts::AgeRecipient;
use iro_advice_model::accounts::{AccountId, Email, Password, Role};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_model::ciphertext::PassphraseWrapped;
use iro_advice_model::problem::ProblemType;

#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = Me)), security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let witnessing = state.witnessing.clone();
    let max_attachment_bytes = state.settings.queries.max_attachment_bytes;
    let me = state
        .read(move |conn| -> Result<Me, ApiError> {
            let a = store::account(conn, &caller.account_id)?.ok_or(ApiError::Unauthenticated)?;
            let is_adviser = a.role == Role::Adviser;
            let conflicts = if is_adviser {
                Some(store::conflicts(conn, &a.id)?)
            } else {
                None
            };
            let key_proof =
                super::directory::key_proofs(conn, &witnessing, std::slice::from_ref(&a.id))?
                    .remove(&a.id);
            Ok(Me {
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
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}

/// Chooses the language of the account's pages and notices.
#[utoipa::path(put, path = "/api/v1/me/language", tag = "me", request_body = LanguageChoice,
    responses((status = 204), (status = 400, body = iro_advice_api::Problem)), security(("bearer" = [])))]
pub async fn put_language(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<LanguageChoice>,
) -> Result<HttpResponse, ApiError> {
    let language = body.into_inner().language;
    state
        .db
        .write(move |conn| -> Result<(), ApiError> {
            Ok(store::set_language(conn, &caller.account_id, language)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts TOTP enrolment with a new secret. Refused once TOTP is enabled, so that a stolen
/// access token cannot replace the second factor.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "me",
    responses((status = 200, body = TotpEnrolment), (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn totp_begin(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let secret = totp::new_secret();
    let sealed = state
        .factors
        .sealer
        .seal(caller.account_id.as_str(), &secret);
    let id = caller.account_id.clone();
    let email = state
        .db
        .write(move |conn| -> Result<String, ApiError> {
            // A passkey already guards the account: a session alone must not add a factor.
            if store::totp_state(conn, &id)?.has_second_factor() {
                return Err(totp_already_enabled());
            }
            store::store_pending_totp(conn, &id, &sealed)?;
            Ok(store::account(conn, &id)?
                .map(|a| a.email)
                .unwrap_or_default())
        })
        .await?;
    Ok(HttpResponse::Ok().json(TotpEnrolment {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(&secret, &email),
    }))
}

/// Confirms enrolment with a current code; from then on login needs a code too, and every
/// other session of the account has ended.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "me", request_body = TotpCode,
    responses((status = 204), (status = 409, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn totp_confirm(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TotpCode>,
) -> Result<HttpResponse, ApiError> {
    let code = body.into_inner().code;
    let factors = state.factors.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            confirm_totp(tx.conn, &factors.sealer, &caller.account_id, &code)?;
            // Whoever else held a session was signed in without this factor.
            store::revoke_other_sessions(tx.conn, &caller.account_id, Some(&caller.session_id))?;
            // An auditor can see when an account's second factor was set up.
            tx.record(Event {
                kind: Kind::SecondFactorEnrolled,
                actor: Actor::Account(caller.account_id.as_str()),
                subject: Subject::SecondFactor {
                    account: caller.account_id.as_str(),
                },
                authority: None,
            })?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Turns TOTP off, with a fresh second factor, when the account has a passkey to keep it
/// guarded; every other session ends and the owner is told.
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "me",
    params(("X-Step-Up-Code" = Option<String>, Header, description = "a current TOTP code"),
           ("X-Step-Up-Passkey" = Option<String>, Header,
            description = "instead: base64url of a passkey's answer to step-up options")),
    responses((status = 204), (status = 400, body = iro_advice_api::Problem), (status = 403, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem), (status = 409, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn totp_remove(
    state: web::Data<AppState>,
    caller: Caller,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let proof = StepUp::from_headers(req.headers())?;
    let factors = state.factors.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            let id = &caller.account_id;
            factors.step_up(tx.conn, id, &proof)?;
            let held = store::totp_state(tx.conn, id)?;
            if !held.totp_enabled {
                return Err(ApiError::NotFound);
            }
            if !held.passkey_enabled {
                return Err(last_factor());
            }
            store::disable_totp(tx.conn, id)?;
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

fn totp_already_enabled() -> ApiError {
    ApiError::conflict(
        ProblemType::TotpAlreadyEnabled,
        "this account already has a second factor (TOTP or a passkey)",
    )
}

fn totp_code_invalid() -> ApiError {
    ApiError::unprocessable(ProblemType::TotpCodeInvalid, "the code does not match")
}

/// Enables the pending TOTP secret when `code` is current for it; call in a write
/// transaction.
fn confirm_totp(
    conn: &mut DbConnection,
    sealer: &Sealer,
    id: &AccountId,
    code: &str,
) -> Result<(), ApiError> {
    let state = store::totp_state(conn, id)?;
    if state.has_second_factor() {
        return Err(totp_already_enabled());
    }
    let last_step = state.totp_last_step;
    let secret = state
        .totp_secret
        .and_then(|s| sealer.open(id.as_str(), &s))
        .ok_or_else(|| {
            ApiError::unprocessable(
                ProblemType::TotpNotStarted,
                "start enrolment with POST /api/v1/me/totp",
            )
        })?;
    let step = totp::matching_step(&secret, code, last_step).ok_or_else(totp_code_invalid)?;
    if !store::use_totp_step(conn, id, step, true)? {
        return Err(totp_code_invalid());
    }
    Ok(())
}

/// Registers the caller's age public key, and optionally a passphrase-wrapped copy of the
/// identity for a browser to unwrap locally.
#[utoipa::path(put, path = "/api/v1/me/key", tag = "me", request_body = KeyRequest,
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
    } = body.into_inner();
    let wrapped_identity = wrapped_identity.map(|w| w.wrapped_identity()).transpose()?;
    let proof = StepUp { totp_code, passkey };
    let factors = state.factors.clone();
    state
        .write(move |tx| {
            // The first key needs only the session; any change after it (the key, or the
            // wrapped identity) needs a fresh code, so a stolen session cannot redirect what
            // others encrypt to this account.
            let (current, _) = store::key_state(tx.conn, &caller.account_id)?;
            if current.is_some() {
                factors.step_up(tx.conn, &caller.account_id, &proof)?;
            }
            register_key(
                tx,
                &caller.account_id,
                &age_recipient,
                wrapped_identity.as_ref(),
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Changes the caller's password: the current password and a fresh second-factor code are
/// both needed, so neither a stolen session nor a stolen password alone can do it. Every
/// other session ends, and the owner is told at once.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "me", request_body = PasswordChange,
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
    let new_password = Password::new(new_password)
        .map_err(|e| ApiError::bad_request(ProblemType::WeakPassword, e))?;
    // A hashing slot before anything costs a query, as at sign-in.
    let slot = state.hashing.reserve().map_err(|_| ApiError::Busy {
        retry_after_secs: 1,
    })?;
    let id = caller.account_id.clone();
    let (stored, email) = state
        .read(move |conn| store::password_of(conn, &id).map_err(ApiError::from))
        .await?;
    let email =
        Email::parse(&email).map_err(|e| ApiError::Internal(format!("stored email: {e}")))?;
    if new_password.equals_email(&email) {
        return Err(ApiError::bad_request(
            ProblemType::WeakPassword,
            "the password must not be the email address",
        ));
    }
    let current = Password::attempt(current_password);
    let right = slot
        .verify(current, Some(stored))
        .await
        .map_err(|_| ApiError::Busy {
            retry_after_secs: 1,
        })?;
    if !right {
        return Err(ApiError::Rejected {
            status: actix_web::http::StatusCode::FORBIDDEN,
            problem: ProblemType::InvalidCredentials,
            detail: "the current password is wrong".into(),
        });
    }
    let hash = state
        .hashing
        .hash(new_password)
        .await
        .map_err(|_| ApiError::Busy {
            retry_after_secs: 1,
        })?;
    let proof = StepUp { totp_code, passkey };
    let factors = state.factors.clone();
    state
        .write(move |tx| -> Result<(), ApiError> {
            factors.step_up(tx.conn, &caller.account_id, &proof)?;
            store::set_password_hash(tx.conn, &caller.account_id, &hash)?;
            store::revoke_other_sessions(tx.conn, &caller.account_id, Some(&caller.session_id))?;
            Ok(super::notices::notify_now(tx, &caller.account_id)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets an account's age recipient (and wrapped identity). A new recipient is a new key
/// version, and a key event in the log, in the same transaction; the owner is told by mail,
/// so that a key registered behind their back does not go unnoticed.
pub fn register_key(
    tx: &mut Tx<'_>,
    account: &AccountId,
    recipient: &AgeRecipient,
    wrapped: Option<&PassphraseWrapped>,
) -> Result<(), ApiError> {
    let (current, version) = store::key_state(tx.conn, account)?;
    store::set_key(
        tx.conn,
        account,
        recipient.as_str(),
        wrapped.map(PassphraseWrapped::as_str),
    )?;
    if current.as_deref() == Some(recipient.as_str()) {
        return Ok(());
    }
    let version = version + 1;
    let receipt = tx.record(Event {
        kind: Kind::KeyRegistered,
        actor: Actor::Account(account.as_str()),
        subject: Subject::Key {
            account: account.as_str(),
            version,
            recipient: recipient.as_str(),
        },
        authority: None,
    })?;
    store::set_key_event(tx.conn, account, version, receipt.leaf_index)?;
    Ok(super::notices::notify_now(tx, account)?)
}

/// The caller's passphrase-wrapped identity, for a client to unwrap locally: with a fresh
/// TOTP code in `X-Step-Up-Code`, since with it (and the passphrase) comes every case.
#[utoipa::path(get, path = "/api/v1/me/key", tag = "me",
    params(("X-Step-Up-Code" = Option<String>, Header, description = "a current TOTP code"),
           ("X-Step-Up-Passkey" = Option<String>, Header,
            description = "instead: base64url of a passkey's answer to step-up options")),
    responses((status = 200, body = WrappedIdentity), (status = 400, body = iro_advice_api::Problem), (status = 403, body = iro_advice_api::Problem),
              (status = 404, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn get_wrapped_identity(
    state: web::Data<AppState>,
    caller: Caller,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let proof = StepUp::from_headers(req.headers())?;
    let factors = state.factors.clone();
    let wrapped = state
        .write(move |tx| -> Result<_, ApiError> {
            factors.step_up(tx.conn, &caller.account_id, &proof)?;
            Ok(store::wrapped_identity(tx.conn, &caller.account_id)?)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(WrappedIdentity {
        wrapped_identity: wrapped,
    }))
}

/// Replaces the authorities the adviser acts for or works for. A peer adviser is always
/// conflicted with their own employer, whether listed or not.
#[utoipa::path(put, path = "/api/v1/me/conflicts", tag = "me", request_body = ConflictsRequest,
    responses((status = 204), (status = 400, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn put_conflicts(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ConflictsRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut codes = body.into_inner().authority_codes;
    codes.sort();
    codes.dedup();
    state
        .write(move |tx| declare_conflicts(tx, &caller.account_id, &codes))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces an adviser's declared conflicts. A change is a leaf in the log (the set's
/// digest, under the adviser's directory pseudonym) and a notice to the adviser: who an
/// adviser may be asked by is a fact IROs rely on, and the adviser watches it.
pub fn declare_conflicts(
    tx: &mut Tx<'_>,
    account: &AccountId,
    codes: &[AuthorityCode],
) -> Result<(), ApiError> {
    let before = store::conflicts(tx.conn, account)?;
    let after: Vec<&str> = codes.iter().map(AuthorityCode::as_str).collect();
    store::set_conflicts(tx.conn, account, codes)?;
    let before: Vec<&str> = before.iter().map(String::as_str).collect();
    let digest = conflicts_digest(&after);
    if conflicts_digest(&before) == digest {
        return Ok(());
    }
    tx.record(Event {
        kind: Kind::ConflictsChanged,
        actor: Actor::Account(account.as_str()),
        subject: Subject::Conflicts {
            account: account.as_str(),
            digest,
        },
        authority: None,
    })?;
    Ok(super::notices::notify_now(tx, account)?)
}

/// Whether the adviser takes new queries (for leave, or a full caseload).
#[utoipa::path(put, path = "/api/v1/me/availability", tag = "me", request_body = AvailabilityRequest,
    responses((status = 204)), security(("bearer" = [])))]
pub async fn put_availability(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AvailabilityRequest>,
) -> Result<HttpResponse, ApiError> {
    let accepting = body.into_inner().accepting;
    state
        .write(move |tx| -> Result<(), ApiError> {
            let before = store::account(tx.conn, &caller.account_id)?
                .ok_or(ApiError::Unauthenticated)?
                .accepting;
            store::set_accepting(tx.conn, &caller.account_id, accepting)?;
            if before != accepting {
                tx.record(Event {
                    kind: Kind::AvailabilityChanged,
                    actor: Actor::Account(caller.account_id.as_str()),
                    subject: Subject::Availability {
                        account: caller.account_id.as_str(),
                        accepting,
                    },
                    authority: None,
                })?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
