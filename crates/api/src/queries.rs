//! Queries: asking, the query's path (accept, decline, route, close), messages, attachments.

use iro_advice_model::accounts::{AccountId, Role};
use iro_advice_model::ciphertext::ArmoredText;
use iro_advice_model::queries::{
    AttachmentId, Category, DeclineReason, MessageId, Outcome, QueryId, QueryStatus, Stage, Urgency,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::log::{KeyProof, Receipt};

// Queries

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AskRequest {
    pub adviser_id: AccountId,
    pub category: Category,
    pub stage: Stage,
    pub urgency: Urgency,
    /// The question, ASCII-armored age ciphertext encrypted to the IRO and the adviser.
    #[schema(value_type = String)]
    pub body: ArmoredText,
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
    pub body: ArmoredText,
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
    pub body: ArmoredText,
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
    /// Whose words the service says these are: the reader checks the signature inside the
    /// encryption against this account's key.
    pub sender_id: AccountId,
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
