//! What a leaf records and how: event kinds, actors and subjects, the keyed pseudonyms, and
//! the canonical leaf encoding.
//!
//! Leaf data (version 1), the exact bytes hashed into the leaf:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version, `0x01` |
//! | 1 | event kind code ([`Kind`]) |
//! | 8 | UTC time, Unix seconds, big-endian |
//! | 1 + n | authority: its length (0 or 9), then the ONS code in ASCII |
//! | 32 | actor pseudonym: HMAC-SHA-256(log key, "account:" ‖ id), or of "system"/"operator" |
//! | 32 | subject pseudonym: HMAC-SHA-256(log key, "<subject kind>:" ‖ id) |
//! | 16 | random nonce |

//!
//! Version 1 is now only the public leaves' format (statistics releases, web-app builds) and
//! the body of an opaque leaf's opening: every other act is logged as an opaque leaf
//! ([`opaque`]), which says nothing to whoever lacks its opening.

pub mod opaque;

use crate::accounts::Role;
use crate::pressure::PressureKind;
use crate::queries::{Category, DeclineReason, Outcome, Stage};

pub const FORMAT_VERSION: u8 = 1;

crate::vocabulary::string_enum!(
    /// What a leaf records.
    Kind {
        QuerySubmitted = "query_submitted",
        QueryAccepted = "query_accepted",
        QueryDeclined = "query_declined",
        QueryRouted = "query_routed",
        MessageSent = "message_sent",
        AttachmentAdded = "attachment_added",
        QueryClosed = "query_closed",
        ReminderSent = "reminder_sent",
        PressureReported = "pressure_reported",
        AccountInvited = "account_invited",
        AccountCreated = "account_created",
        AccountSuspended = "account_suspended",
        AccountReactivated = "account_reactivated",
        ContentErased = "content_erased",
        KeyRegistered = "key_registered",
        ConflictsChanged = "conflicts_changed",
        AvailabilityChanged = "availability_changed",
        SecondFactorEnrolled = "second_factor_enrolled",
        AttachmentReplaced = "attachment_replaced",
        SecondFactorRemoved = "second_factor_removed",
        StatisticsReleased = "statistics_released",
        WebAppPublished = "web_app_published",
        AccountApproved = "account_approved",
        AdviserVerified = "adviser_verified",
        SignedIn = "signed_in",
        KeyIdentified = "key_identified",
    }
);

impl Kind {
    /// The kind's byte in leaf data; never renumbered.
    pub fn code(self) -> u8 {
        match self {
            Kind::QuerySubmitted => 1,
            Kind::QueryAccepted => 2,
            Kind::QueryDeclined => 3,
            Kind::QueryRouted => 4,
            Kind::MessageSent => 5,
            Kind::AttachmentAdded => 6,
            Kind::QueryClosed => 7,
            Kind::ReminderSent => 8,
            Kind::PressureReported => 9,
            Kind::AccountInvited => 10,
            Kind::AccountCreated => 11,
            Kind::AccountSuspended => 12,
            Kind::AccountReactivated => 13,
            Kind::ContentErased => 14,
            Kind::KeyRegistered => 15,
            Kind::ConflictsChanged => 16,
            Kind::AvailabilityChanged => 17,
            Kind::SecondFactorEnrolled => 18,
            Kind::AttachmentReplaced => 19,
            Kind::SecondFactorRemoved => 20,
            Kind::StatisticsReleased => 21,
            Kind::WebAppPublished => 22,
            Kind::AccountApproved => 23,
            Kind::AdviserVerified => 24,
            Kind::SignedIn => 25,
            Kind::KeyIdentified => 26,
        }
    }

    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.code() == code)
    }
}

/// Who caused an event.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Account(&'a str),
    /// The service itself (reminders, retention).
    System,
    /// The operator, at the command line.
    Operator,
}

/// What an event is about.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Query(&'a str),
    /// A query, by an act that sets its status (asked, accepted, declined, routed, closed):
    /// its `change`th (from 1). Its subject pseudonym is the query's, as for any act on it;
    /// its tag is keyed by the log's secret, so that the service (and no one else) can find
    /// a query's latest status act and read the status from it.
    QueryStatus {
        query: &'a str,
        change: u64,
    },
    Account(&'a str),
    Invitation(&'a str),
    PressureReport(&'a str),
    /// An account's age recipient, at a version: named by the account's public directory
    /// pseudonym, so that its correspondents and the owner can find and check it.
    /// Since identities are logged, a key event also commits to whose key it is (see
    /// [`Identity`]): a rename, a new role or a verification is a new version.
    Key {
        account: &'a str,
        version: u64,
        recipient: &'a str,
        identity: Option<[u8; 32]>,
    },
    /// An adviser's declared conflicts, as a whole (see [`conflicts_digest`]), at their
    /// `change`th change (numbered from 1, so that the owner can find each).
    Conflicts {
        account: &'a str,
        digest: [u8; 32],
        change: u64,
    },
    /// Whether an adviser accepts new queries, at their `change`th change (numbered from 1,
    /// so that the service can tell the latest logged change, and the owner find each).
    Availability {
        account: &'a str,
        accepting: bool,
        change: u64,
    },
    /// An account's second factor (TOTP or a passkey), enrolled or removed.
    SecondFactor {
        account: &'a str,
    },
    /// An account's `n`th sign-in (numbered from 1, so that its owner can find each): a
    /// session the operator cannot erase unseen.
    SignIn {
        account: &'a str,
        n: u64,
    },
    /// A statistics release, by its period, with the SHA-256 of what it publishes.
    Release {
        period: &'a str,
        digest: [u8; 32],
    },
    /// A build of the web application, by the SHA-256 of its manifest.
    WebApp {
        digest: [u8; 32],
    },
}

/// SHA-256 of a set of declared conflicts: the authority codes, sorted, comma-joined.
pub fn conflicts_digest(codes: &[&str]) -> [u8; 32] {
    let mut sorted = codes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sha2_256(&[b"conflicts:", sorted.join(",").as_bytes()])
}

/// The bytes after a leaf's nonce that each kind carries.
fn extension_length(kind: Kind) -> usize {
    match kind {
        Kind::KeyRegistered => 40,
        Kind::KeyIdentified => 72,
        Kind::ConflictsChanged => 32,
        Kind::AvailabilityChanged => 1,
        Kind::StatisticsReleased => 32,
        Kind::WebAppPublished => 32,
        _ => 0,
    }
}

/// A change to an adviser's declared conflicts, as its leaf proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictsEvent {
    pub account: [u8; 32],
    pub digest: [u8; 32],
}

impl ConflictsEvent {
    pub fn from_summary(summary: &LeafSummary) -> Option<Self> {
        if summary.kind != Kind::ConflictsChanged {
            return None;
        }
        Some(ConflictsEvent {
            account: summary.subject,
            digest: summary.extension.as_slice().try_into().ok()?,
        })
    }
}

/// A change of whether an adviser accepts new queries, as its leaf proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityEvent {
    pub account: [u8; 32],
    pub accepting: bool,
}

impl AvailabilityEvent {
    pub fn from_summary(summary: &LeafSummary) -> Option<Self> {
        if summary.kind != Kind::AvailabilityChanged {
            return None;
        }
        let accepting = match summary.extension.as_slice() {
            [1] => true,
            [0] => false,
            _ => return None,
        };
        Some(AvailabilityEvent {
            account: summary.subject,
            accepting,
        })
    }
}

/// The public pseudonym of an account in the key directory: SHA-256 of a label and its id.
/// Anyone who knows the account's id (its correspondents, its owner) can compute it; the
/// leaf says nothing more about who the account is.
pub fn directory_pseudonym(account: &str) -> [u8; 32] {
    sha2_256(&[b"iro-advice directory:", account.as_bytes()])
}

/// The name NAIRO's key events are logged under in the key directory (no account has it:
/// account ids are UUIDs).
pub const NAIRO_DIRECTORY_NAME: &str = "nairo";

/// The public subject of a statistics release's leaf: anyone can find a period's release.
pub fn release_pseudonym(period: &str) -> [u8; 32] {
    sha2_256(&[b"iro-advice statistics release:", period.as_bytes()])
}

/// The public subject of every web application leaf: anyone can list the builds served.
pub fn web_app_pseudonym() -> [u8; 32] {
    sha2_256(&[b"iro-advice web application"])
}

/// SHA-256 of an age recipient, as a key event carries it.
pub fn recipient_digest(recipient: &str) -> [u8; 32] {
    sha2_256(&[recipient.as_bytes()])
}

pub(crate) fn sha2_256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Who an account is, as its key event commits to it: what correspondents are shown beside
/// the key they encrypt to. The operator can change the database, not the log, so a name,
/// role or verification served without a matching key event is refused, and a logged change
/// is a new key version that correspondents confirm like a new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity<'a> {
    pub display_name: &'a str,
    /// `iro`, `adviser`, `admin`, `nairo_reviewer`, or `nairo` for NAIRO's own key.
    pub role: &'a str,
    /// An IRO's authority code; an adviser's kind (`solicitor`, or `peer` and the authority
    /// code after a space); empty for the rest.
    pub affiliation: &'a str,
    /// Whether an administrator checked the adviser (on the SRA's register, for a solicitor).
    pub verified: bool,
    pub sra_number: Option<&'a str>,
}

impl Identity<'_> {
    /// SHA-256 over a label and each field, length-prefixed (two bytes, big-endian).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"iro-advice identity\0");
        for field in [
            self.display_name,
            self.role,
            self.affiliation,
            if self.verified { "1" } else { "0" },
            self.sra_number.unwrap_or(""),
        ] {
            let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
            h.update(len.to_be_bytes());
            h.update(&field.as_bytes()[..usize::from(len)]);
        }
        h.finalize().into()
    }
}

/// What a key event leaf proves: whose key (by directory pseudonym), which version, the
/// digest of the recipient, and (since identities are logged) the digest of who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub account: [u8; 32],
    pub version: u64,
    pub recipient: [u8; 32],
    /// None only for a key registered before identities were logged.
    pub identity: Option<[u8; 32]>,
}

impl KeyEvent {
    /// Reads a key event from what a leaf says; None for any other event.
    pub fn from_summary(summary: &LeafSummary) -> Option<Self> {
        let ext = &summary.extension;
        let identity = match (summary.kind, ext.len()) {
            (Kind::KeyRegistered, 40) => None,
            (Kind::KeyIdentified, 72) => Some(ext[40..].try_into().ok()?),
            _ => return None,
        };
        Some(KeyEvent {
            account: summary.subject,
            version: u64::from_be_bytes(ext[..8].try_into().ok()?),
            recipient: ext[8..40].try_into().ok()?,
            identity,
        })
    }
}

/// One event to record.
pub struct Event<'a> {
    pub kind: Kind,
    pub actor: Actor<'a>,
    pub subject: Subject<'a>,
    pub authority: Option<&'a str>,
    /// What a statistics release counts about the act, for NAIRO's recount.
    pub details: Details,
}

impl Event<'_> {
    /// Statistics releases and web-app builds are public facts: their leaves stay readable.
    pub fn is_public(&self) -> bool {
        matches!(
            self.subject,
            Subject::Release { .. } | Subject::WebApp { .. }
        )
    }

    /// The tag its owner finds an opaque leaf by: a key event's, a change of conflicts' or
    /// of availability, a sign-in's; None for the rest, which get random tags.
    pub fn tag(&self) -> Option<[u8; 32]> {
        match self.subject {
            Subject::Key {
                account, version, ..
            } => Some(opaque::key_tag(account, version)),
            Subject::Conflicts {
                account, change, ..
            } => Some(opaque::conflicts_tag(account, change)),
            Subject::SignIn { account, n } => Some(opaque::sign_in_tag(account, n)),
            Subject::Availability {
                account, change, ..
            } => Some(opaque::availability_tag(account, change)),
            _ => None,
        }
    }
}

/// The closed-list facts about an act that the statistics releases count: in an opaque
/// leaf's opening only, never in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Details {
    None,
    /// A query asked.
    Query {
        category: Category,
        stage: Stage,
    },
    /// A query closed.
    Outcome(Outcome),
    /// A query declined.
    Decline(DeclineReason),
    /// Pressure reported.
    Pressure(PressureKind),
    /// An account created: its role, and whether the statistics count it (an IRO invited
    /// by an administrator, not nominated by NAIRO for a trial).
    Account {
        role: Role,
        counted: bool,
    },
    /// A sign-in: which session it opened, by [`session_digest`], so that its owner can tell
    /// a sign-in of theirs from one whose session has vanished.
    Session([u8; 16]),
}

/// What a sign-in's leaf says of its session: the first 16 bytes of SHA-256 of the id.
pub fn session_digest(session_id: &str) -> [u8; 16] {
    let full = sha2_256(&[b"iro-advice session\0", session_id.as_bytes()]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

impl Details {
    /// The canonical text committed to: `key=value` pairs joined by `;`.
    pub fn text(&self) -> String {
        match self {
            Details::None => String::new(),
            Details::Query { category, stage } => format!("category={category};stage={stage}"),
            Details::Outcome(o) => format!("outcome={o}"),
            Details::Decline(r) => format!("reason={r}"),
            Details::Pressure(k) => format!("pressure={k}"),
            Details::Account { role, counted } => {
                format!("role={role};counted={}", u8::from(*counted))
            }
            Details::Session(digest) => format!("session={}", crate::hex(digest)),
        }
    }

    /// Reads the text back; None for text no event of this service carries.
    pub fn parse(text: &str) -> Option<Details> {
        if text.is_empty() {
            return Some(Details::None);
        }
        let pairs: Vec<(&str, &str)> = text
            .split(';')
            .map(|p| p.split_once('='))
            .collect::<Option<_>>()?;
        let details = match pairs.as_slice() {
            [("category", c), ("stage", s)] => Details::Query {
                category: c.parse().ok()?,
                stage: s.parse().ok()?,
            },
            [("outcome", o)] => Details::Outcome(o.parse().ok()?),
            [("reason", r)] => Details::Decline(r.parse().ok()?),
            [("pressure", k)] => Details::Pressure(k.parse().ok()?),
            [("role", r), ("counted", c)] => Details::Account {
                role: r.parse().ok()?,
                counted: match *c {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                },
            },
            [("session", d)] if d.len() == 32 => {
                let mut digest = [0u8; 16];
                for (i, b) in digest.iter_mut().enumerate() {
                    *b = u8::from_str_radix(d.get(2 * i..2 * i + 2)?, 16).ok()?;
                }
                Details::Session(digest)
            }
            _ => return None,
        };
        (details.text() == text).then_some(details)
    }
}

/// The canonical leaf data for an event at `unix_secs`, given its actor's and subject's
/// pseudonyms (keyed by the log's secret, so the server computes them) and a fresh nonce.
pub fn encode(
    event: &Event<'_>,
    unix_secs: i64,
    actor: &[u8; 32],
    subject: &[u8; 32],
    nonce: &[u8; 16],
) -> Vec<u8> {
    let mut data = Vec::with_capacity(100);
    data.push(FORMAT_VERSION);
    data.push(event.kind.code());
    data.extend_from_slice(&(unix_secs.max(0) as u64).to_be_bytes());
    let authority = event.authority.unwrap_or("").as_bytes();
    data.push(authority.len() as u8);
    data.extend_from_slice(authority);
    data.extend_from_slice(actor);
    data.extend_from_slice(subject);
    data.extend_from_slice(nonce);
    // A key event says which version of which key: 8 bytes and a digest.
    match event.subject {
        Subject::Key {
            version,
            recipient,
            identity,
            ..
        } => {
            data.extend_from_slice(&version.to_be_bytes());
            data.extend_from_slice(&recipient_digest(recipient));
            if let Some(identity) = identity {
                data.extend_from_slice(&identity);
            }
        }
        Subject::Conflicts { digest, .. } => data.extend_from_slice(&digest),
        Subject::Availability { accepting, .. } => data.push(u8::from(accepting)),
        Subject::Release { digest, .. } | Subject::WebApp { digest } => {
            data.extend_from_slice(&digest)
        }
        _ => {}
    }
    data
}

/// What a leaf says to anyone who holds it: the kind of act, when, and for which authority.
/// The pseudonyms and nonce say nothing without the log's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSummary {
    pub kind: Kind,
    pub at: chrono::DateTime<chrono::Utc>,
    pub authority: Option<String>,
    /// The actor's pseudonym (keyed by the log's secret).
    pub actor: [u8; 32],
    /// The subject's pseudonym (public for key events, keyed for the rest).
    pub subject: [u8; 32],
    /// What follows the nonce: a key event's version and recipient digest; else nothing.
    pub extension: Vec<u8>,
}

impl LeafSummary {
    /// Reads the fields of a version 1 leaf; None for anything else.
    pub fn decode(data: &[u8]) -> Option<Self> {
        let (&version, rest) = data.split_first()?;
        let (&code, rest) = rest.split_first()?;
        if version != FORMAT_VERSION || rest.len() < 9 {
            return None;
        }
        let secs = u64::from_be_bytes(rest[..8].try_into().ok()?);
        let len = rest[8] as usize;
        let authority = rest.get(9..9 + len)?;
        let fixed = 9 + len + 32 + 32 + 16;
        let kind = Kind::from_code(code)?;
        let extension = rest.get(fixed..)?.to_vec();
        if extension.len() != extension_length(kind) {
            return None;
        }
        let actor = rest[9 + len..9 + len + 32].try_into().ok()?;
        let subject = rest[9 + len + 32..9 + len + 64].try_into().ok()?;
        Some(LeafSummary {
            kind,
            actor,
            subject,
            extension,
            at: chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)?,
            authority: (len > 0)
                .then(|| String::from_utf8(authority.to_vec()).ok())
                .flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_and_refuse_what_no_event_carries() {
        for d in [
            Details::None,
            Details::Query {
                category: Category::Placement,
                stage: Stage::Formal,
            },
            Details::Outcome(Outcome::Escalated),
            Details::Decline(DeclineReason::Capacity),
            Details::Pressure(PressureKind::ALL[0]),
            Details::Account {
                role: Role::Iro,
                counted: false,
            },
        ] {
            assert_eq!(Details::parse(&d.text()), Some(d));
        }
        for bad in [
            "category=placement",
            "outcome=won",
            "reason=capacity;x=1",
            "role=iro;counted=2",
        ] {
            assert_eq!(Details::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn kind_codes_are_unique_and_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_code(kind.code()), Some(*kind));
        }
        assert_eq!(Kind::from_code(0), None);
    }
}
