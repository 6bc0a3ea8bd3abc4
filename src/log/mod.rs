//! The tamper-evident request log: every act that matters becomes a leaf of one append-only
//! RFC 9162 Merkle tree, in the same transaction as the act, and every append is signed as a
//! C2SP checkpoint. Whoever caused an act gets a receipt that verifies offline.
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

pub mod event;
pub mod handlers;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod receipt_verify;
pub mod store;
pub mod tiles;
pub mod trust;
pub mod verify;
pub mod witnessing;

use crate::db::now;
use crate::db::DbConnection;
pub use event::{
    conflicts_digest, decode_hashes, directory_pseudonym, encode_hashes, recipient_digest,
    release_pseudonym, web_app_pseudonym, Actor, ConflictsEvent, Event, KeyEvent, Kind,
    LeafSummary, LogError, LogKeys, Subject, FORMAT_VERSION,
};
pub use receipt::{KeyProof, Receipt};

/// Appends an event; call inside the write transaction of the act it records.
pub fn record(
    conn: &mut DbConnection,
    keys: &LogKeys,
    event: Event<'_>,
) -> Result<Receipt, LogError> {
    let data = keys.encode(&event, now().and_utc().timestamp());
    let actor = keys.actor_pseudonym(event.actor);
    store::append(conn, keys, event.kind, &data, &actor)
}
