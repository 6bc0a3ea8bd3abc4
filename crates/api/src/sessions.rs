//! Sessions: signing in, refreshing, signing out, and the list of one's sessions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::passkeys::PasskeyAssertion;

// Sessions

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
    /// Instead of `totp_code`: a passkey's answer to `POST /api/v1/auth/passkey/options`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
    /// The device token this client was given at an earlier sign-in to this account: its
    /// attempts then count against its own limit, which nobody else can exhaust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Absent for the web application, whose refresh token is in an HttpOnly cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// At sign-in, a new device token for the client to keep and present next time (absent
    /// when the one it presented is still good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    /// At sign-in, how many attempts on the account failed since its last sign-in.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_sign_ins: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// Absent from the web application, which sends `X-IRO-Advice-Client: web` and the
    /// session cookie instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// One of the caller's sessions that has not ended.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SessionEntry {
    pub id: String,
    /// `web` (the web application) or `api` (the command-line client or another program).
    pub client: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it last exchanged its refresh token; absent if it never has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it ends whatever happens (the session's hard limit).
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// Whether it is the session making this request.
    pub current: bool,
}
