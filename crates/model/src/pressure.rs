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
