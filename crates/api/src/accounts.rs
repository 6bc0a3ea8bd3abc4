//! Accounts: invitations, the caller's own account, keys, conflicts, availability, the directory.

use iro_advice_model::accounts::{
    AccountId, AccountStatus, AdviserKind, AgeRecipient, DisplayName, Email, Language, Role,
    SraNumber,
};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_model::ciphertext::ArmoredText;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::log::{KeyProof, Receipt};
use crate::passkeys::PasskeyAssertion;

// Accounts

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccountSummary {
    pub id: AccountId,
    pub role: Role,
    pub email: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adviser_kind: Option<AdviserKind>,
    pub status: AccountStatus,
    /// From when the account counts in the statistics; null while an IRO whom NAIRO
    /// nominated waits for an admin's approval.
    pub approved_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A solicitor's SRA number, as the admin who checked it read it on the register.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sra_number: Option<String>,
    /// Advisers: when an admin checked who they are, and which admin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<AccountId>,
}

/// An admin's check of an adviser: a solicitor's SRA number is required, a peer adviser has
/// none.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct VerificationRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^\s*([0-9]\s*){5,8}$")]
    pub sra_number: Option<SraNumber>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LanguageChoice {
    pub language: Language,
}

// The directory

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AuthorityEntry {
    /// ONS GSS code.
    pub code: String,
    pub name: String,
    pub region: String,
    /// The name in Welsh, for the 22 Welsh authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_cy: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AdviserEntry {
    pub id: AccountId,
    pub display_name: String,
    pub kind: AdviserKind,
    pub age_recipient: String,
    /// The key event of `age_recipient`, proven in the served checkpoint; absent until the
    /// witnesses have cosigned a checkpoint that holds it.
    pub key_proof: Option<KeyProof>,
    /// Queries waiting for or accepted by this adviser: how busy they are.
    pub open_queries: i64,
    /// Whether the operator has checked who the adviser is (a solicitor's SRA number on the
    /// register, a peer adviser's post).
    pub verified: bool,
}

// Invitations

#[derive(Serialize, Deserialize, ToSchema)]
pub struct InvitationRequest {
    pub role: Role,
    #[schema(value_type = String)]
    pub email: Email,
    #[schema(value_type = Option<String>)]
    pub authority_code: Option<AuthorityCode>,
    pub adviser_kind: Option<AdviserKind>,
    /// The language of the invitation's mail and, until its owner chooses, of the account:
    /// `en` (the default) or `cy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct InvitationCreated {
    /// The half of the invitation the inviter passes on by another channel (phone, in
    /// person); the other half is the link mailed to the invitee. Shown once.
    pub code: String,
    pub expires_at: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccountRequest {
    /// The link's token (after `#` in the emailed link), or the whole string
    /// `iro-advice admin invite` prints (`TOKEN.CODE`).
    pub invitation: String,
    /// The code the inviter passed on; not needed when `invitation` already carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub password: String,
    #[schema(value_type = String)]
    pub display_name: DisplayName,
    #[schema(value_type = Option<String>)]
    pub notification_email: Option<Email>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccountCreated {
    pub id: AccountId,
    pub role: Role,
    pub receipt: Receipt,
}

// The caller's own account

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub id: AccountId,
    pub role: Role,
    pub email: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adviser_kind: Option<AdviserKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_recipient: Option<String>,
    pub totp_enabled: bool,
    /// The language the account chose: its pages and its notices are written in it.
    pub language: Language,
    /// Advisers only: when an admin checked who they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the account has at least one passkey (a second factor like TOTP).
    pub passkey_enabled: bool,
    /// A NAIRO nomination that no admin has approved yet: until then it can only see
    /// itself and set up its second factor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_approval: bool,
    /// The largest attachment the service takes, so that a client can check a file before
    /// it sends anything.
    pub max_attachment_bytes: u64,
    /// Advisers only: whether new queries may be routed to them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepting: Option<bool>,
    /// Advisers only: authorities they have declared a conflict with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<String>>,
    /// The key event of `age_recipient`, proven in the served checkpoint: what the owner's
    /// client checks against the keys it registered itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_proof: Option<KeyProof>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    pub otpauth_uri: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TotpCode {
    pub code: String,
}

/// A change of password: the current one, the new one, and a current second-factor code.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    #[serde(default)]
    pub totp_code: Option<String>,
    /// Instead of `totp_code`: a passkey's answer to step-up options.
    #[serde(default)]
    pub passkey: Option<PasskeyAssertion>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct KeyRequest {
    #[schema(value_type = String)]
    pub age_recipient: AgeRecipient,
    /// The user's age identity, encrypted by the client with an age passphrase (one scrypt
    /// stanza, work factor 18 to 22), ASCII-armored.
    #[schema(value_type = Option<String>)]
    pub wrapped_identity: Option<ArmoredText>,
    /// A current TOTP code (or a `passkey` assertion): needed to replace a key already
    /// registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
    /// When the key replaces one the client still holds: the old key's signature on the new
    /// one, which correspondents are shown beside the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<crate::AuthorSignature>,
}

/// The web application's manifest and the proof that the log published it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebAppProof {
    /// The manifest exactly as its leaf's digest covers it (JSON text):
    /// `{"version": …, "assets": [{"path": …, "sha256": …}]}`.
    pub manifest: String,
    /// The `web_app_published` leaf, proven in the served (cosigned) checkpoint.
    pub receipt: crate::log::Receipt,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct WrappedIdentity {
    pub wrapped_identity: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ConflictsRequest {
    #[schema(value_type = Vec<String>)]
    pub authority_codes: Vec<AuthorityCode>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AvailabilityRequest {
    pub accepting: bool,
}
