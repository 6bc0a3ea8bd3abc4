//! The tamper-evident request log: every act that matters becomes a leaf of one append-only
//! RFC 9162 Merkle tree, in the same transaction as the act, and every append is signed as a
//! C2SP checkpoint. Whoever caused an act gets a receipt that verifies offline.

//! The leaf format is [`iro_advice_model::leaf`]'s.

pub mod handlers;
pub mod keys;
pub mod store;
pub mod tiles;
pub mod verify;
pub mod witnessing;

pub use iro_advice_api::{KeyProof, Receipt};
pub use iro_advice_model::leaf::{
    conflicts_digest, directory_pseudonym, recipient_digest, release_pseudonym, web_app_pseudonym,
    Actor, ConflictsEvent, Event, KeyEvent, Kind, LeafSummary, Subject, FORMAT_VERSION,
};
pub use iro_advice_tlog::{decode_hashes, encode_hashes, merkle, note};
pub use keys::{LogError, LogKeys};

use crate::db::now;
use crate::db::DbConnection;

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
