//! The bundle's entry in the log. Each build's manifest becomes a leaf the first time an
//! instance starts with it, so that what any user was given can be checked later against
//! what the log says was published (`iro-advice web verify`).

use super::assets::Bundle;
use crate::log::{Actor, Event, Kind, LogError, Subject};
use crate::tx::Tx;

fn meta_name(digest: &[u8; 32]) -> String {
    format!("web_app:{}", crate::keys::hex(digest))
}

/// Logs the bundle's manifest unless it was logged before; returns its leaf index.
pub fn publish(tx: &mut Tx<'_>, bundle: &Bundle) -> Result<u64, LogError> {
    let name = meta_name(&bundle.digest());
    if let Some(index) = crate::db::meta::get(tx.conn, &name)?.and_then(|v| v.parse().ok()) {
        return Ok(index);
    }
    let receipt = tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::WebAppPublished,
        actor: Actor::Operator,
        subject: Subject::WebApp {
            digest: bundle.digest(),
        },
        authority: None,
    })?;
    let index = crate::log::published(&receipt)?;
    crate::db::meta::set(tx.conn, &name, &index.to_string())?;
    Ok(index)
}

/// The leaf of a published bundle.
pub fn leaf_of(
    conn: &mut crate::db::DbConnection,
    bundle: &Bundle,
) -> diesel::QueryResult<Option<u64>> {
    Ok(crate::db::meta::get(conn, &meta_name(&bundle.digest()))?.and_then(|v| v.parse().ok()))
}
