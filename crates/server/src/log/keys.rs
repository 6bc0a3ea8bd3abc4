//! The log's keys (the checkpoint signer and the pseudonym key) and how the server writes a
//! leaf with them, in the format [`iro_advice_model::leaf`] defines.

use iro_advice_model::leaf::opaque::Opening;
use iro_advice_model::leaf::{
    directory_pseudonym, encode, release_pseudonym, web_app_pseudonym, Actor, Event, Subject,
};
use iro_advice_tlog::note;
use ring::hmac;

/// The log's keys: the checkpoint signer and the pseudonym key; and whether leaves wait
/// for the publisher or are published with their act.
pub struct LogKeys {
    pub signer: note::Signer,
    pseudonyms: hmac::Key,
    batched: bool,
}

/// A leaf as the service writes it: its public bytes, its opening (None for a public leaf),
/// and its actor's pseudonym (kept beside it, never published, to find an account's
/// receipts).
pub struct Written {
    pub data: Vec<u8>,
    pub opening: Option<Opening>,
    pub actor: [u8; 32],
}

impl LogKeys {
    pub fn new(
        origin: &str,
        signing_pkcs8: &[u8],
        pseudonym_key: &[u8],
    ) -> Result<Self, note::NoteError> {
        Ok(LogKeys {
            signer: note::Signer::new(origin, signing_pkcs8)?,
            pseudonyms: hmac::Key::new(hmac::HMAC_SHA256, pseudonym_key),
            batched: false,
        })
    }

    /// Leaves wait for the publisher (`IRO_ADVICE_LOG_PUBLISH_SECONDS` > 0), or not.
    pub fn in_batches(mut self, batched: bool) -> Self {
        self.batched = batched;
        self
    }

    pub fn batched(&self) -> bool {
        self.batched
    }

    fn pseudonym(&self, label: &str, id: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.pseudonyms);
        ctx.update(label.as_bytes());
        ctx.update(b":");
        ctx.update(id.as_bytes());
        ctx.sign()
            .as_ref()
            .try_into()
            .expect("HMAC-SHA-256 is 32 bytes")
    }

    pub fn actor_pseudonym(&self, actor: Actor<'_>) -> [u8; 32] {
        match actor {
            Actor::Account(id) => self.pseudonym("account", id),
            Actor::System => self.pseudonym("system", ""),
            Actor::Operator => self.pseudonym("operator", ""),
        }
    }

    pub fn subject_pseudonym(&self, subject: Subject<'_>) -> [u8; 32] {
        match subject {
            Subject::Query(id) | Subject::QueryStatus { query: id, .. } => {
                self.pseudonym("query", id)
            }
            Subject::Account(id) => self.pseudonym("account", id),
            Subject::Invitation(id) => self.pseudonym("invitation", id),
            Subject::PressureReport(id) => self.pseudonym("pressure-report", id),
            Subject::Key { account, .. }
            | Subject::Conflicts { account, .. }
            | Subject::Availability { account, .. }
            | Subject::SecondFactor { account }
            | Subject::SignIn { account, .. } => directory_pseudonym(account),
            Subject::Release { period, .. } => release_pseudonym(period),
            Subject::WebApp { .. } => web_app_pseudonym(),
        }
    }

    /// The tag of a query's `change`th status act: keyed by the log's secret, so that it is
    /// as random as any other to everyone but the service, which finds the latest by it.
    pub fn query_status_tag(&self, query: &str, change: u64) -> [u8; 32] {
        self.pseudonym("query-status", &format!("{query}:{change}"))
    }

    fn keyed_tag(&self, subject: Subject<'_>) -> Option<[u8; 32]> {
        match subject {
            Subject::QueryStatus { query, change } => Some(self.query_status_tag(query, change)),
            _ => None,
        }
    }

    /// The canonical version-1 encoding of an event at `unix_secs`: a public leaf's data, or
    /// an opaque leaf's body.
    pub fn encode(&self, event: &Event<'_>, unix_secs: i64) -> Vec<u8> {
        encode(
            event,
            unix_secs,
            &self.actor_pseudonym(event.actor),
            &self.subject_pseudonym(event.subject),
            &crate::keys::random_bytes::<16>(),
        )
    }

    /// The leaf of an event at `unix_secs`: in the clear for a public fact, else opaque,
    /// with a fresh salt and the tag its owner finds it by (random when none).
    pub fn write(&self, event: &Event<'_>, unix_secs: i64) -> Written {
        let body = self.encode(event, unix_secs);
        let actor = self.actor_pseudonym(event.actor);
        if event.is_public() {
            return Written {
                data: body,
                opening: None,
                actor,
            };
        }
        let opening = Opening {
            salt: crate::keys::random_bytes::<32>(),
            body,
            details: event.details.text(),
        };
        let tag = event
            .tag()
            .or_else(|| self.keyed_tag(event.subject))
            .unwrap_or_else(crate::keys::random_bytes::<32>);
        Written {
            data: opening.leaf(&tag),
            opening: Some(opening),
            actor,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("the stored tree does not match the last signed checkpoint; refusing to sign another")]
    Inconsistent,
    #[error("a stored opening does not open its leaf")]
    Opening,
    #[error(transparent)]
    Unavailable(#[from] crate::db::DbError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use iro_advice_model::leaf::Kind;

    fn keys() -> LogKeys {
        let pkcs8 =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .unwrap();
        LogKeys::new("log.test", pkcs8.as_ref(), &[9u8; 32]).unwrap()
    }

    #[test]
    fn leaf_data_has_the_documented_layout_and_no_identifiers() {
        let k = keys();
        let event = Event {
            details: crate::log::Details::None,
            kind: Kind::QuerySubmitted,
            actor: Actor::Account("3f2b0c1e-aaaa-bbbb-cccc-000000000001"),
            subject: Subject::Query("9d1e0c1e-aaaa-bbbb-cccc-000000000002"),
            authority: Some("E06000019"),
        };
        let data = k.encode(&event, 1_700_000_000);
        assert_eq!(data.len(), 1 + 1 + 8 + 1 + 9 + 32 + 32 + 16);
        assert_eq!(data[0], 1);
        assert_eq!(data[1], 1);
        assert_eq!(
            u64::from_be_bytes(data[2..10].try_into().unwrap()),
            1_700_000_000
        );
        assert_eq!(&data[10..20], b"\x09E06000019");
        assert_eq!(
            &data[20..52],
            &k.actor_pseudonym(Actor::Account("3f2b0c1e-aaaa-bbbb-cccc-000000000001"))
        );
        let text = String::from_utf8_lossy(&data);
        assert!(!text.contains("3f2b0c1e") && !text.contains("9d1e0c1e"));
        // The nonce makes two identical events distinct leaves.
        assert_ne!(data, k.encode(&event, 1_700_000_000));
        // The published leaf is opaque: nothing of the event shows, not even its kind.
        let written = k.write(&event, 1_700_000_000);
        assert_eq!(written.data.len(), 65);
        assert_eq!(written.data[0], 2);
        let opening = written.opening.as_ref().unwrap();
        assert_eq!(opening.body.len(), data.len());
        assert!(!written.data.windows(9).any(|w| w == b"E06000019"));
        assert!(!written.data.windows(32).any(|w| w == &data[20..52]));
        let summary = opening.open(&written.data).unwrap();
        assert_eq!(summary.authority.as_deref(), Some("E06000019"));
        // Two leaves of one IRO share no bytes but the version.
        let again = k.write(&event, 1_700_000_000);
        assert_ne!(again.data[1..33], written.data[1..33]);
        assert_ne!(again.data[33..], written.data[33..]);
        // Pseudonyms are keyed: another key gives others.
        let other = LogKeys::new(
            "log.test",
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .unwrap()
                .as_ref(),
            &[1u8; 32],
        )
        .unwrap();
        assert_ne!(
            other.actor_pseudonym(Actor::System),
            k.actor_pseudonym(Actor::System)
        );
    }
}
