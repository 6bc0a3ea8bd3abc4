//! The tamper-evident request log: every act that matters becomes a leaf of one append-only
//! RFC 9162 Merkle tree, in the same transaction as the act, and every append is signed as a
//! C2SP checkpoint. Whoever caused an act gets a receipt that verifies offline.

//! The leaf format is [`iro_advice_model::leaf`]'s.

pub mod handlers;
pub mod keys;
pub mod publisher;
pub mod store;
pub mod tiles;
pub mod verify;
pub mod witnessing;

pub use iro_advice_api::{KeyProof, Receipt};
pub use iro_advice_model::leaf::{
    conflicts_digest, directory_pseudonym, opaque, recipient_digest, release_pseudonym,
    web_app_pseudonym, Actor, ConflictsEvent, Details, Event, KeyEvent, Kind, LeafSummary, Subject,
    FORMAT_VERSION,
};
pub use iro_advice_tlog::{decode_hashes, encode_hashes, merkle, note};
pub use keys::{LogError, LogKeys, Written};

use crate::db::now;
use crate::db::DbConnection;

/// Records an event; call inside the write transaction of the act it records. Its leaf is
/// durable at once and published with the next batch, except a key's (its correspondents
/// need its proof to write to the account) and a public fact's, which are published with
/// the act, together with whatever else waits.
pub fn record(
    conn: &mut DbConnection,
    keys: &LogKeys,
    event: Event<'_>,
) -> Result<Receipt, LogError> {
    record_at(conn, keys, event, now())
}

/// [`record`], at the act's own time (the one its rows carry), so that the leaf and the
/// rows a release counts fall in the same month.
pub fn record_at(
    conn: &mut DbConnection,
    keys: &LogKeys,
    event: Event<'_>,
    at: chrono::NaiveDateTime,
) -> Result<Receipt, LogError> {
    let written = keys.write(&event, at.and_utc().timestamp());
    store::enqueue(conn, event.kind, &written, at)?;
    let at_once = event.is_public() || matches!(event.subject, Subject::Key { .. });
    if !keys.batched() || at_once {
        store::publish(conn, keys)?;
    }
    Ok(store::receipt_of(
        conn,
        &written.data,
        written.opening.as_ref(),
    )?)
}

/// The index of a leaf published with its act (a key's, a public fact's).
pub fn published(receipt: &Receipt) -> Result<u64, LogError> {
    receipt.leaf_index.ok_or(LogError::Inconsistent)
}
