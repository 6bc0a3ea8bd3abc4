//! Passkeys, in the JSON forms of WebAuthn Level 3.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// Passkeys, in the JSON forms of WebAuthn Level 3 (`PublicKeyCredential.toJSON()` and
// `parseCreationOptionsFromJSON`), binary values as unpadded base64url.

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct PasskeyRp {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyUser {
    pub id: String,
    pub name: String,
    pub display_name: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct PasskeyParameter {
    #[serde(rename = "type")]
    pub kind: String,
    pub alg: i32,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PasskeySelection {
    pub resident_key: String,
    pub require_resident_key: bool,
    pub user_verification: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct PasskeyDescriptor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// Options for `navigator.credentials.create()`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyCreationOptions {
    pub challenge: String,
    pub rp: PasskeyRp,
    pub user: PasskeyUser,
    pub pub_key_cred_params: Vec<PasskeyParameter>,
    pub timeout: u64,
    pub attestation: String,
    pub authenticator_selection: PasskeySelection,
    pub exclude_credentials: Vec<PasskeyDescriptor>,
}

/// Options for `navigator.credentials.get()`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRequestOptions {
    pub challenge: String,
    pub rp_id: String,
    pub timeout: u64,
    pub user_verification: String,
    pub allow_credentials: Vec<PasskeyDescriptor>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct AttestationResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(rename = "attestationObject")]
    pub attestation_object: String,
}

/// The new credential, as `PublicKeyCredential.toJSON()` gives it (other members ignored).
#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct RegistrationCredential {
    pub id: String,
    pub response: AttestationResponse,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct AssertionResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(rename = "authenticatorData")]
    pub authenticator_data: String,
    pub signature: String,
    #[serde(
        rename = "userHandle",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_handle: Option<String>,
}

/// A passkey's answer to a challenge, as `PublicKeyCredential.toJSON()` gives it.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct PasskeyAssertion {
    pub id: String,
    pub response: AssertionResponse,
}

/// A passkey to add. When the account already has a second factor, one of them must
/// vouch for the new one: a current `totp_code` or a `passkey` assertion (step-up options).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PasskeyRegistration {
    /// What the owner calls it ("work laptop"); 1 to 60 characters, "Passkey" when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub credential: RegistrationCredential,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}
