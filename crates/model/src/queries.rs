//! The query vocabulary, exactly as API.md names it.

use crate::vocabulary::{id_type, string_enum};

id_type!(
    /// A query.
    QueryId
);

id_type!(
    /// A message of a query.
    MessageId
);

id_type!(
    /// An attachment of a query.
    AttachmentId
);

string_enum!(
    /// What the question is about.
    Category {
        CarePlanDrift = "care_plan_drift",
        Placement = "placement",
        Contact = "contact",
        Permanence = "permanence",
        LegalStatus = "legal_status",
        CafcassReferral = "cafcass_referral",
        HumanRights = "human_rights",
        DisputeResolution = "dispute_resolution",
        Other = "other",
    }
);

string_enum!(
    /// How far the IRO's challenge has gone.
    Stage {
        None = "none",
        Informal = "informal",
        Formal = "formal",
        SeniorManagement = "senior_management",
        Dcs = "dcs",
        Cafcass = "cafcass",
    }
);

string_enum!(
    Urgency { Routine = "routine", Urgent = "urgent" }
);

string_enum!(
    /// How a closed query ended.
    Outcome {
        AdviceGiven = "advice_given",
        ResolvedInformally = "resolved_informally",
        Escalated = "escalated",
        ReferredToCafcass = "referred_to_cafcass",
        Withdrawn = "withdrawn",
    }
);

string_enum!(
    /// Why an adviser declined. A closed list, so that no free text about the case reaches
    /// the server unencrypted.
    DeclineReason {
        Conflict = "conflict",
        Capacity = "capacity",
        Expertise = "expertise",
        Other = "other",
    }
);

string_enum!(
    QueryStatus {
        Submitted = "submitted",
        Accepted = "accepted",
        Declined = "declined",
        Closed = "closed",
    }
);

impl QueryStatus {
    /// Whether the IRO may hand the query to another adviser: after a decline, or while
    /// the current adviser has not accepted.
    pub fn routable(self) -> bool {
        matches!(self, QueryStatus::Submitted | QueryStatus::Declined)
    }
}
