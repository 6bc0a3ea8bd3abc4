//! Opaque leaves (format version 2): what the public log holds for every act except a
//! statistics release and a web-app build, which are public facts and stay in the clear.
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version, `0x02` |
//! | 32 | tag |
//! | 32 | commitment: SHA-256(`"iro-advice leaf v2\0"` ‖ salt ‖ len(body) as u16 ‖ body ‖ details) |
//!
//! The *opening* of a leaf is its salt (32 fresh random bytes), its body (the event in the
//! version-1 encoding: kind, time, authority, actor and subject pseudonyms, nonce, extension)
//! and its details (the closed-list fields a statistics release counts, `key=value;…`).
//!
//! Why the public learns nothing but that a leaf exists:
//!
//! - the commitment is a hash over 256 secret random bits and the event: without the salt no
//!   guess about the event (however few the candidates, e.g. "an IRO of authority X asked at
//!   13:09") can be checked, and two commitments of one IRO share nothing;
//! - the tag of a key event or a change of declared conflicts is a hash of the account's
//!   directory pseudonym and a version number, so that the account's owner (and a
//!   correspondent proving a key) can find it; every other leaf's tag is 32 random bytes.
//!   Without the account id (a random UUID that only its owner, the service and its
//!   correspondents hold), a tag is indistinguishable from a random one.
//!
//! Whoever holds an opening can check it against the leaf, and can show it to anyone else.

use super::{
    directory_pseudonym, sha2_256, AvailabilityEvent, ConflictsEvent, KeyEvent, LeafSummary,
};

pub const OPAQUE_VERSION: u8 = 2;
/// An opaque leaf's length: version, tag, commitment.
pub const OPAQUE_LEN: usize = 1 + 32 + 32;

/// The highest key version (and change of conflicts) an owner's watch looks for, and so the
/// highest a client accepts in a proof: a version beyond it could hide from the owner.
pub const MAX_WATCHED_VERSION: u64 = 65_536;

const COMMITMENT_LABEL: &[u8] = b"iro-advice leaf v2\0";

/// What opens an opaque leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub salt: [u8; 32],
    /// The event, in the version-1 leaf encoding.
    pub body: Vec<u8>,
    /// `key=value` pairs joined by `;`, from closed word lists only.
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpeningError {
    #[error("the leaf is not an opaque leaf")]
    NotOpaque,
    #[error("the opening does not match the leaf's commitment")]
    Mismatch,
    #[error("the opening's event cannot be read")]
    Unreadable,
}

impl Opening {
    pub fn commitment(&self) -> [u8; 32] {
        let len = u16::try_from(self.body.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes();
        sha2_256(&[
            COMMITMENT_LABEL,
            &self.salt,
            &len,
            &self.body,
            self.details.as_bytes(),
        ])
    }

    /// The leaf this opening opens, under `tag`.
    pub fn leaf(&self, tag: &[u8; 32]) -> Vec<u8> {
        let mut data = Vec::with_capacity(OPAQUE_LEN);
        data.push(OPAQUE_VERSION);
        data.extend_from_slice(tag);
        data.extend_from_slice(&self.commitment());
        data
    }

    /// Checks that this opening opens `leaf` and returns what the event says.
    pub fn open(&self, leaf: &[u8]) -> Result<LeafSummary, OpeningError> {
        let commitment = commitment_of(leaf).ok_or(OpeningError::NotOpaque)?;
        if commitment != self.commitment() {
            return Err(OpeningError::Mismatch);
        }
        LeafSummary::decode(&self.body).ok_or(OpeningError::Unreadable)
    }
}

pub fn is_opaque(leaf: &[u8]) -> bool {
    leaf.len() == OPAQUE_LEN && leaf[0] == OPAQUE_VERSION
}

pub fn tag_of(leaf: &[u8]) -> Option<[u8; 32]> {
    is_opaque(leaf)
        .then(|| leaf[1..33].try_into().ok())
        .flatten()
}

fn commitment_of(leaf: &[u8]) -> Option<[u8; 32]> {
    is_opaque(leaf)
        .then(|| leaf[33..].try_into().ok())
        .flatten()
}

/// The tag of an account's key event at `version`.
pub fn key_tag(account: &str, version: u64) -> [u8; 32] {
    sha2_256(&[
        b"iro-advice key tag\0",
        &directory_pseudonym(account),
        &version.to_be_bytes(),
    ])
}

/// The tag of an adviser's `change`th change of declared conflicts.
pub fn conflicts_tag(account: &str, change: u64) -> [u8; 32] {
    sha2_256(&[
        b"iro-advice conflicts tag\0",
        &directory_pseudonym(account),
        &change.to_be_bytes(),
    ])
}

/// The tag of an adviser's `change`th change of availability.
pub fn availability_tag(account: &str, change: u64) -> [u8; 32] {
    sha2_256(&[
        b"iro-advice availability tag\0",
        &directory_pseudonym(account),
        &change.to_be_bytes(),
    ])
}

/// The tag of an account's `n`th sign-in.
pub fn sign_in_tag(account: &str, n: u64) -> [u8; 32] {
    sha2_256(&[
        b"iro-advice sign-in tag\0",
        &directory_pseudonym(account),
        &n.to_be_bytes(),
    ])
}

/// What a leaf says, whichever format: a version-1 leaf by itself, an opaque one with its
/// opening (checked).
pub fn read(leaf: &[u8], opening: Option<&Opening>) -> Result<LeafSummary, OpeningError> {
    match opening {
        Some(opening) => opening.open(leaf),
        None if is_opaque(leaf) => Err(OpeningError::Mismatch),
        None => LeafSummary::decode(leaf).ok_or(OpeningError::Unreadable),
    }
}

/// A key event from an opened leaf, checked to carry the tag its account and version give.
pub fn key_event(leaf: &[u8], opening: &Opening, account: &str) -> Option<KeyEvent> {
    let summary = opening.open(leaf).ok()?;
    let event = KeyEvent::from_summary(&summary)?;
    (event.version <= MAX_WATCHED_VERSION && tag_of(leaf)? == key_tag(account, event.version))
        .then_some(event)
}

/// When an opened leaf records a sign-in of `account`, in Unix seconds, and the digest of
/// the session it opened.
pub fn sign_in_event(leaf: &[u8], opening: &Opening, account: &str) -> Option<(i64, [u8; 16])> {
    let summary = opening.open(leaf).ok()?;
    if summary.kind != super::Kind::SignedIn || summary.subject != directory_pseudonym(account) {
        return None;
    }
    let super::Details::Session(session) = super::Details::parse(&opening.details)? else {
        return None;
    };
    Some((summary.at.timestamp(), session))
}

/// A change of availability from an opened leaf.
pub fn availability_event(leaf: &[u8], opening: &Opening) -> Option<AvailabilityEvent> {
    AvailabilityEvent::from_summary(&opening.open(leaf).ok()?)
}

/// A conflicts event from an opened leaf.
pub fn conflicts_event(leaf: &[u8], opening: &Opening) -> Option<ConflictsEvent> {
    ConflictsEvent::from_summary(&opening.open(leaf).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(body: &[u8]) -> Opening {
        Opening {
            salt: [7; 32],
            body: body.to_vec(),
            details: "category=placement".into(),
        }
    }

    #[test]
    fn an_opening_opens_its_leaf_and_nothing_else() {
        let o = opening(b"x");
        let leaf = o.leaf(&[1; 32]);
        assert_eq!(leaf.len(), OPAQUE_LEN);
        assert_eq!(tag_of(&leaf), Some([1; 32]));
        // The body is no leaf encoding: it matches, but cannot be read.
        assert_eq!(o.open(&leaf), Err(OpeningError::Unreadable));
        let mut other = o.clone();
        other.details = "category=contact".into();
        assert_eq!(other.open(&leaf), Err(OpeningError::Mismatch));
        let mut salted = o.clone();
        salted.salt[0] ^= 1;
        assert_eq!(salted.open(&leaf), Err(OpeningError::Mismatch));
        assert_eq!(o.open(b"\x01abc"), Err(OpeningError::NotOpaque));
    }

    #[test]
    fn tags_differ_by_account_version_and_purpose() {
        let a = "3f2b0c1e-aaaa-bbbb-cccc-000000000001";
        let b = "3f2b0c1e-aaaa-bbbb-cccc-000000000002";
        assert_ne!(key_tag(a, 1), key_tag(a, 2));
        assert_ne!(key_tag(a, 1), key_tag(b, 1));
        assert_ne!(key_tag(a, 1), conflicts_tag(a, 1));
    }

    #[test]
    fn the_body_length_is_bound_into_the_commitment() {
        // Moving a byte between body and details changes the commitment.
        let a = Opening {
            salt: [0; 32],
            body: b"ab".to_vec(),
            details: "c".into(),
        };
        let b = Opening {
            salt: [0; 32],
            body: b"a".to_vec(),
            details: "bc".into(),
        };
        assert_ne!(a.commitment(), b.commitment());
    }
}
