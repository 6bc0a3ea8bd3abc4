//! The log served read-only as C2SP tlog-tiles (https://c2sp.org/tlog-tiles), so that
//! witnesses, NAIRO and any standard monitor can mirror and audit it with common tools:
//! hash tiles `tile/<L>/<N>[.p/<W>]` and entry bundles `tile/entries/<N>[.p/<W>]`.
//! A tile never changes once the log holds it, full or partial, so all are cacheable.

use diesel::prelude::*;

use iro_advice_tlog::tiles::{TileRef, HEIGHT, WIDTH};

use crate::db::schema::{log_leaves, log_nodes};
use crate::db::DbConnection;

/// The tile's bytes, if the log of `size` leaves holds it.
pub fn read(conn: &mut DbConnection, tile: TileRef, size: u64) -> QueryResult<Option<Vec<u8>>> {
    if tile.leaves_needed().is_none_or(|needed| needed > size) {
        return Ok(None);
    }
    let first = (tile.index * WIDTH) as i64;
    let last = first + tile.width as i64 - 1;
    let mut out = Vec::new();
    match tile.level {
        Some(level) => {
            let hashes: Vec<Vec<u8>> = log_nodes::table
                .filter(log_nodes::level.eq(i32::from(level) * HEIGHT as i32))
                .filter(log_nodes::idx.between(first, last))
                .order(log_nodes::idx)
                .select(log_nodes::hash)
                .load(conn)?;
            if hashes.len() as u64 != tile.width {
                return Ok(None);
            }
            hashes.iter().for_each(|h| out.extend_from_slice(h));
        }
        None => {
            let entries: Vec<Vec<u8>> = log_leaves::table
                .filter(log_leaves::idx.between(first, last))
                .order(log_leaves::idx)
                .select(log_leaves::data)
                .load(conn)?;
            if entries.len() as u64 != tile.width {
                return Ok(None);
            }
            for e in entries {
                // Leaves are about a hundred bytes; the bundle format allows 65,535.
                let len = u16::try_from(e.len()).map_err(|_| {
                    diesel::result::Error::DeserializationError("a leaf over 64 KiB".into())
                })?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&e);
            }
        }
    }
    Ok(Some(out))
}
