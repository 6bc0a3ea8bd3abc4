//! The names of the headers the service reads besides the standard ones.

/// Sent by the web application on every request: the session cookie is honoured only with
/// it, so a page elsewhere cannot make a browser act with the cookie (see the server's
/// `accounts::browser`).
pub const CLIENT: &str = "x-iro-advice-client";
/// A current TOTP code, for the acts that need a fresh second factor.
pub const STEP_UP_CODE: &str = "x-step-up-code";
/// Instead of [`STEP_UP_CODE`]: base64url of a passkey assertion's JSON.
pub const STEP_UP_PASSKEY: &str = "x-step-up-passkey";
/// The byte of an upload a segment starts at.
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// The web application's refresh token, as a cookie only its own origin's script sends.
pub const REFRESH_COOKIE: &str = "__Host-iro-advice-refresh";
