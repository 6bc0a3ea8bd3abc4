//! Proving a second factor: TOTP codes and passkey assertions, for signing in and for the
//! acts that need a fresh factor (step-up).
//!
//! Passkey challenges are sealed by the service (bound to their purpose and account, with an
//! expiry) rather than stored, so that asking for options writes nothing; a challenge is
//! recorded only when it is used, and is then refused a second time.

use chrono::Duration;

use super::domain::{AccountId, Email};
use super::store;
use super::totp::{self, Sealer};
use super::webauthn::{self, b64, unb64, RelyingParty};
use crate::app::{AppState, Tx, WriteContext};
use crate::db::write_transaction;
use crate::db::DbConnection;
use crate::error::{ApiError, ProblemType};
use crate::log::{Actor, Event, Kind, Subject};
use crate::wire::PasskeyAssertion;

/// How long options stay usable: long enough to find a security key in a bag.
pub const CHALLENGE_SECS: i64 = 300;

/// What a challenge was issued for; a challenge of one purpose is refused for another.
#[derive(Clone, Copy)]
pub enum Purpose<'a> {
    Register(&'a AccountId),
    SignIn,
    StepUp(&'a AccountId),
}

impl Purpose<'_> {
    fn binding(self) -> String {
        match self {
            Purpose::Register(id) => format!("webauthn:register:{id}"),
            Purpose::SignIn => "webauthn:sign-in".to_owned(),
            Purpose::StepUp(id) => format!("webauthn:step-up:{id}"),
        }
    }
}

pub fn new_challenge(sealer: &Sealer, purpose: Purpose<'_>) -> String {
    let expires = (crate::db::now() + Duration::seconds(CHALLENGE_SECS))
        .and_utc()
        .timestamp();
    b64(&sealer.seal(&purpose.binding(), &expires.to_be_bytes()))
}

/// Accepts a challenge once: sealed by this service for `purpose`, unexpired, unused.
pub fn spend_challenge(
    conn: &mut DbConnection,
    sealer: &Sealer,
    purpose: Purpose<'_>,
    challenge: &[u8],
) -> Result<bool, ApiError> {
    let Some(expires) = sealer
        .open(&purpose.binding(), challenge)
        .and_then(|plain| <[u8; 8]>::try_from(plain.as_slice()).ok())
        .map(i64::from_be_bytes)
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(|t| t.naive_utc())
    else {
        return Ok(false);
    };
    if expires <= crate::db::now() {
        return Ok(false);
    }
    let digest = crate::keys::token_hash(&b64(challenge));
    Ok(store::spend_challenge(conn, &digest, expires)?)
}

pub fn relying_party(state: &AppState) -> Result<RelyingParty, ApiError> {
    RelyingParty::from_public_url(&state.settings.server.public_url)
        .ok_or_else(|| ApiError::Internal("the public URL names no host".into()))
}

/// Whether `assertion` is a fresh answer, by one of `account`'s passkeys, to a challenge
/// issued for `purpose`; when it is, the challenge and the counter are used up. Call in a
/// write transaction.
pub fn assertion_accepted(
    conn: &mut DbConnection,
    sealer: &Sealer,
    rp: &RelyingParty,
    account: &AccountId,
    purpose: Purpose<'_>,
    assertion: &PasskeyAssertion,
) -> Result<bool, ApiError> {
    let Ok(id) = unb64(&assertion.id, "id") else {
        return Ok(false);
    };
    let Some(stored) = store::passkey(conn, &b64(&id))?.filter(|p| &p.account_id == account) else {
        return Ok(false);
    };
    let decoded = (|| {
        let response = &assertion.response;
        let key = webauthn::PublicKey::new(stored.algorithm, stored.public_key.clone())?;
        let count = u32::try_from(stored.sign_count).unwrap_or(u32::MAX);
        webauthn::verify_assertion(
            rp,
            &key,
            count,
            &unb64(&response.client_data_json, "clientDataJSON")?,
            &unb64(&response.authenticator_data, "authenticatorData")?,
            &unb64(&response.signature, "signature")?,
        )
    })();
    let Ok(verified) = decoded else {
        return Ok(false);
    };
    if !spend_challenge(conn, sealer, purpose, &verified.challenge)? {
        return Ok(false);
    }
    Ok(store::passkey_used(
        conn,
        &stored.credential_id,
        stored.sign_count,
        verified.sign_count,
    )?)
}

/// A fresh second factor offered for an act: a TOTP code or a passkey assertion.
#[derive(Clone, Copy)]
pub struct StepUp<'a> {
    pub totp_code: Option<&'a str>,
    pub passkey: Option<&'a PasskeyAssertion>,
}

/// A fresh second factor: an enrolled one, and `proof` current and not used before (it is
/// then used up). For the acts that matter most, a session is not enough.
pub fn step_up(
    conn: &mut DbConnection,
    sealer: &Sealer,
    rp: &RelyingParty,
    id: &AccountId,
    proof: StepUp<'_>,
) -> Result<(), ApiError> {
    let refused = |detail: &str| ApiError::Rejected {
        status: actix_web::http::StatusCode::FORBIDDEN,
        problem: ProblemType::StepUpRequired,
        detail: detail.to_owned(),
    };
    let state = store::totp_state(conn, id)?;
    if !state.has_second_factor() {
        return Err(refused(
            "enrol a second factor first (POST /api/v1/me/totp or /api/v1/me/passkeys)",
        ));
    }
    if let Some(assertion) = proof.passkey {
        let purpose = Purpose::StepUp(id);
        return match assertion_accepted(conn, sealer, rp, id, purpose, assertion)? {
            true => Ok(()),
            false => Err(refused(
                "the passkey's answer does not verify, or its challenge expired or was used",
            )),
        };
    }
    let secret = state.totp_secret.and_then(|s| sealer.open(id.as_str(), &s));
    let step = match (secret.filter(|_| state.totp_enabled), proof.totp_code) {
        (Some(secret), Some(code)) => totp::matching_step(&secret, code, state.totp_last_step),
        _ => None,
    };
    match step {
        Some(step) if store::use_totp_step(conn, id, step, false)? => Ok(()),
        _ => Err(refused(
            "a current TOTP code not used before (totp_code), or a passkey's answer to POST /api/v1/me/step-up/options (passkey), is required",
        )),
    }
}

/// The header that carries a fresh TOTP code where a request has no body for it.
pub const STEP_UP_HEADER: &str = "x-step-up-code";
/// Instead of a code: a passkey's answer to step-up options, as base64url of its JSON.
pub const STEP_UP_PASSKEY_HEADER: &str = "x-step-up-passkey";

/// The fresh factor a request without a body offers, from its headers: a code, a passkey's
/// answer, or neither.
pub fn proof_from_headers(
    headers: &actix_web::http::header::HeaderMap,
) -> Result<(Option<String>, Option<PasskeyAssertion>), ApiError> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let passkey = match header(STEP_UP_PASSKEY_HEADER) {
        Some(text) => Some(
            unb64(&text, "header")
                .ok()
                .and_then(|json| serde_json::from_slice::<PasskeyAssertion>(&json).ok())
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "{STEP_UP_PASSKEY_HEADER}: base64url of a passkey assertion's JSON"
                    ))
                })?,
        ),
        None => None,
    };
    Ok((header(STEP_UP_HEADER), passkey))
}

/// Refuses to remove an account's only second factor: it would be let in by a password.
pub fn last_factor() -> ApiError {
    ApiError::conflict(
        ProblemType::LastSecondFactor,
        "this is the account's only second factor: enrol another one first",
    )
}

/// What follows the removal of a second factor: every other session ends (it may have been
/// opened with the factor now gone), a `second_factor_removed` leaf, and a notice to the
/// owner at once.
pub fn factor_removed(tx: &mut Tx<'_>, account: &AccountId, session: &str) -> Result<(), ApiError> {
    store::revoke_other_sessions(tx.conn, account, Some(session))?;
    tx.record(Event {
        kind: Kind::SecondFactorRemoved,
        actor: Actor::Account(account.as_str()),
        subject: Subject::SecondFactor {
            account: account.as_str(),
        },
        authority: None,
    })?;
    tx.notify_now(account)
}

/// The operator's reset of an account whose owner has lost every second factor: TOTP off,
/// every passkey gone, every session ended, a `second_factor_removed` leaf by the operator,
/// and the owner mailed at once — so that a reset behind an IRO's back is seen by them and
/// provable in the log. At the next sign-in (password alone) only enrolment answers.
pub fn reset_by_operator(
    conn: &mut DbConnection,
    context: &WriteContext,
    email: &Email,
) -> Result<AccountId, ApiError> {
    write_transaction(conn, |conn| {
        let tx = &mut Tx::new(conn, context);
        let account = store::login_account(tx.conn, email.as_str())?.ok_or(ApiError::NotFound)?;
        let id = account.id;
        store::disable_totp(tx.conn, &id)?;
        for key in store::passkeys_of(tx.conn, &id)? {
            store::remove_passkey(tx.conn, &id, &key.credential_id)?;
        }
        store::revoke_other_sessions(tx.conn, &id, None)?;
        tx.record(Event {
            kind: Kind::SecondFactorRemoved,
            actor: Actor::Operator,
            subject: Subject::SecondFactor {
                account: id.as_str(),
            },
            authority: None,
        })?;
        tx.notify_now(&id)?;
        Ok(id)
    })
}
