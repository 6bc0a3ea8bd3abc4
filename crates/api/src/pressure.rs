//! Pressure reports, and NAIRO's key they may be shared with.

use chrono::NaiveDate;
use iro_advice_model::ciphertext::ArmoredText;
use iro_advice_model::pressure::{PressureKind, PressureReportId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::log::{KeyProof, Receipt};

// Pressure reports

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReportRequest {
    pub kind: PressureKind,
    /// The day it happened, `YYYY-MM-DD`; not in the future.
    #[schema(value_type = String)]
    pub occurred_on: NaiveDate,
    /// Armored age ciphertext, to the IRO and, when shared, to NAIRO's recipient.
    #[schema(value_type = Option<String>)]
    pub narrative: Option<ArmoredText>,
    #[serde(default)]
    pub share_with_nairo: bool,
    /// The IRO's signature over the report (see the book's "Signed messages"): kept for the
    /// IRO's own client to check, never shown to NAIRO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<AuthorSignature>,
}

/// A signature by its author's age key (XEdDSA, as a message's) at `signed_at` (Unix
/// seconds): an IRO's on a pressure report, made for `pressure report` over
/// [`iro_advice_model::pressure::report_digest`]; a previous key's on a new one, made for
/// `key change` over [`iro_advice_model::signing::key_change_digest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorSignature {
    pub signed_at: i64,
    pub signature: String,
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
    /// The IRO's signature, on the IRO's own reports only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<AuthorSignature>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct NairoRecipient {
    pub age_recipient: String,
    /// Its key event, logged when the service started with it, proven in the served
    /// checkpoint.
    pub key_proof: Option<KeyProof>,
}
