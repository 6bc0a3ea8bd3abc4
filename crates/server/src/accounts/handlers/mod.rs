//! The accounts' HTTP handlers: each adapts a request to a service of [`crate::accounts`]
//! and its answer (or refusal) back.

pub mod admin;
pub mod auth;
pub mod browser;
pub mod directory;
pub mod invitations;
pub mod me;
pub mod passkeys;
pub mod sessions;

use iro_advice_api::headers::{STEP_UP_CODE, STEP_UP_PASSKEY};
use iro_advice_api::PasskeyAssertion;

use crate::accounts::factors::StepUp;
use crate::accounts::webauthn::unb64;
use crate::http::error::ApiError;

/// The fresh second factor a request without a body offers, from its headers: a TOTP code,
/// a passkey's answer (base64url of its JSON), or neither.
pub fn step_up_from_headers(
    headers: &actix_web::http::header::HeaderMap,
) -> Result<StepUp, ApiError> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let passkey = match header(STEP_UP_PASSKEY) {
        Some(text) => Some(
            unb64(&text, "header")
                .ok()
                .and_then(|json| serde_json::from_slice::<PasskeyAssertion>(&json).ok())
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "{STEP_UP_PASSKEY}: base64url of a passkey assertion's JSON"
                    ))
                })?,
        ),
        None => None,
    };
    Ok(StepUp {
        totp_code: header(STEP_UP_CODE),
        passkey,
    })
}
