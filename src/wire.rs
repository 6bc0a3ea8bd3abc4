//! The API's request and response bodies, shared by the server's handlers, its OpenAPI
//! document and the command-line client: one definition each, so the client reads what the
//! server writes through the same types, never as untyped JSON.
//!
//! Fields that carry domain values use the domain types, so a request that deserialises is
//! already parsed (an `AgeArmored` is a well-formed age file, an `AuthorityCode` is in the
//! reference list).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::domain::{
    AccountId, AccountStatus, AdviserKind, AgeRecipient, DisplayName, Email, Language, Role,
    SraNumber,
};
use crate::authorities::AuthorityCode;
use crate::ciphertext::{AgeArmored, PassphraseWrapped};
use crate::log::{KeyProof, Receipt};
use crate::pressure::domain::{PressureKind, PressureReportId};
use crate::queries::domain::{
    AttachmentId, Category, DeclineReason, MessageId, Outcome, QueryId, QueryStatus, Stage, Urgency,
};

// The service

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub version: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`; otherwise the answer is a 503 problem.
    pub status: String,
    /// How many witnesses must cosign a checkpoint before it is served (0: none configured).
    pub witness_quorum: usize,
    /// Each configured witness, and what its last answer was.
    pub witnesses: Vec<WitnessStatus>,
}

/// What is known of one witness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WitnessStatus {
    /// Its verifier key.
    pub key: String,
    /// The largest tree size it has cosigned for this log, as far as this instance knows.
    pub cosigned_size: Option<u64>,
    /// Why its last answer was not a cosignature, if it was not.
    pub problem: Option<String>,
    /// True once it has refused a checkpoint as inconsistent with one it cosigned: the log
    /// was rolled back or forked. A restart does not clear the evidence the witness keeps.
    pub refused_as_inconsistent: bool,
}

/// Whose signatures a client should require on the log's checkpoints.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LogTrust {
    /// The log's verifier key, C2SP note form.
    pub log_key: String,
    /// The witnesses' cosignature/v1 verifier keys.
    pub witnesses: Vec<String>,
    /// How many of them must cosign a checkpoint.
    pub quorum: usize,
}

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
    pub wrapped_identity: Option<PassphraseWrapped>,
    /// A current TOTP code (or a `passkey` assertion): needed to replace a key already
    /// registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
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

// Queries

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AskRequest {
    pub adviser_id: AccountId,
    pub category: Category,
    pub stage: Stage,
    pub urgency: Urgency,
    /// The question, ASCII-armored age ciphertext encrypted to the IRO and the adviser.
    #[schema(value_type = String)]
    pub body: AgeArmored,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Asked {
    pub id: QueryId,
    pub status: QueryStatus,
    pub receipt: Receipt,
}

// A query's path

#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub id: QueryId,
    pub status: QueryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub receipt: Receipt,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct DeclineRequest {
    pub reason: DeclineReason,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReencryptedMessage {
    pub id: MessageId,
    #[schema(value_type = String)]
    pub body: AgeArmored,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RouteRequest {
    pub adviser_id: AccountId,
    /// Every message of the query, re-encrypted by the IRO's client to the IRO and the new
    /// adviser.
    pub messages: Vec<ReencryptedMessage>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CloseRequest {
    pub outcome: Outcome,
}

// Messages

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MessageRequest {
    #[schema(value_type = String)]
    pub body: AgeArmored,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MessageCreated {
    pub id: MessageId,
    pub created_at: String,
    pub receipt: Receipt,
}

// Reading queries

#[derive(Serialize, Deserialize, ToSchema)]
pub struct QuerySummary {
    pub id: QueryId,
    pub status: QueryStatus,
    pub category: Category,
    pub stage: Stage,
    pub urgency: Urgency,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub authority_code: String,
    /// The IRO's account id: what the adviser checks the IRO's key event against.
    pub iro_id: AccountId,
    pub iro_name: String,
    pub adviser_id: AccountId,
    pub adviser_name: String,
    pub message_count: i64,
    pub created_at: String,
    pub routed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// While the adviser has not accepted: when the reminder time (by urgency) runs out.
    /// After it the adviser is reminded and the IRO may route the query to someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_at: Option<String>,
    /// Whether the query has waited past `reminder_at` without being accepted.
    #[serde(default)]
    pub waited_past_reminder: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub sender_role: Role,
    pub created_at: String,
    /// Armored age ciphertext; absent once the query's content has been erased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AttachmentView {
    pub id: AttachmentId,
    pub size: i64,
    pub created_at: String,
    /// Whether the caller may put a re-encrypted stream in its place (`PUT`): only its
    /// uploader, and only until someone else has downloaded it.
    pub replaceable: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct QueryDetail {
    #[serde(flatten)]
    pub summary: QuerySummary,
    /// The participants' age public keys, to encrypt replies and attachments to.
    pub iro_recipient: Option<String>,
    pub adviser_recipient: Option<String>,
    /// Their key events, proven in the served checkpoint.
    pub iro_key_proof: Option<KeyProof>,
    pub adviser_key_proof: Option<KeyProof>,
    pub messages: Vec<MessageView>,
    pub attachments: Vec<AttachmentView>,
    /// To the query's IRO only: every decline, oldest first, so they know why and can ask
    /// someone else. Advisers never see each other's reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declines: Vec<DeclineView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct DeclineView {
    pub adviser_name: String,
    pub reason: DeclineReason,
    pub declined_at: String,
}

// Attachments

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AttachmentCreated {
    pub id: AttachmentId,
    pub size: i64,
    /// For a new attachment; a re-encryption for routing is part of the route, not an act.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// Starts an upload in segments; `size`, when known, is checked against the limits at once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct UploadRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct UploadStarted {
    pub id: AttachmentId,
    /// The most bytes one segment may carry.
    pub segment_bytes: u64,
}

/// Completes an upload; `replaces` names the attachment whose stream it re-encrypts.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct UploadCompletion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<AttachmentId>,
}

// Pressure reports

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReportRequest {
    pub kind: PressureKind,
    /// The day it happened, `YYYY-MM-DD`; not in the future.
    #[schema(value_type = String)]
    pub occurred_on: NaiveDate,
    /// Armored age ciphertext, to the IRO and, when shared, to NAIRO's recipient.
    #[schema(value_type = Option<String>)]
    pub narrative: Option<AgeArmored>,
    #[serde(default)]
    pub share_with_nairo: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReportCreated {
    pub id: PressureReportId,
    pub receipt: Receipt,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReportView {
    pub id: PressureReportId,
    pub kind: PressureKind,
    pub occurred_on: String,
    pub authority_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub narrative: Option<String>,
    pub shared_with_nairo: bool,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct NairoRecipient {
    pub age_recipient: String,
    /// Its key event, logged when the service started with it, proven in the served
    /// checkpoint.
    pub key_proof: Option<KeyProof>,
}

// The request log

#[derive(Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Base64 SHA-256 hashes, as RFC 9162 defines the path.
    pub hashes: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub hashes: Vec<String>,
}
