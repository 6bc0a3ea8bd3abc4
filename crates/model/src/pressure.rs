//! The pressure-report vocabulary, exactly as API.md names it.

use crate::vocabulary::{id_type, string_enum};

id_type!(
    /// A pressure report.
    PressureReportId
);

string_enum!(
    /// What kind of pressure.
    PressureKind {
        DiscouragedFromAdvice = "discouraged_from_advice",
        RefusedFunding = "refused_funding",
        ThreatenedDiscipline = "threatened_discipline",
        ToldToUseAuthorityLawyers = "told_to_use_authority_lawyers",
        EscalationBlocked = "escalation_blocked",
        Other = "other",
    }
);

/// What an IRO's signature on their pressure report is made for, where a message names its
/// query: the signature is the IRO's, shown to the IRO alone (never to NAIRO, to whom it
/// would name them), so that a report the service makes in their name without their key is
/// seen as forged by their own client.
pub const SIGNED_AS: &str = "pressure report";

/// SHA-256 of what a pressure report's signature covers: its kind, the day, whether it is
/// shared with NAIRO, and the narrative's exact ciphertext (or nothing).
pub fn report_digest(
    kind: PressureKind,
    occurred_on: &str,
    shared: bool,
    narrative: Option<&str>,
) -> [u8; 32] {
    crate::leaf::sha2_256(&[
        format!(
            "iro-advice pressure report v1\n{kind}\n{occurred_on}\n{}\n",
            u8::from(shared)
        )
        .as_bytes(),
        narrative.unwrap_or("").as_bytes(),
    ])
}
