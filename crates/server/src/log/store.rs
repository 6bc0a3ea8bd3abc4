//! The log's storage: leaves, perfect-subtree hashes, signed checkpoints, and the head row
//! whose lock serialises appends across instances.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use diesel::prelude::*;

use super::keys::{LogError, LogKeys};
use crate::db::now;
use crate::db::schema::{log_checkpoints, log_head, log_leaves, log_nodes};
use crate::db::DbConnection;
use iro_advice_api::Receipt;
use iro_advice_model::leaf::Kind;
use iro_advice_tlog::encode_hashes;
use iro_advice_tlog::merkle::{self, Frontier, Hash, SubtreeHashes};
use iro_advice_tlog::note::Checkpoint;

fn to_hash(bytes: Vec<u8>) -> QueryResult<Hash> {
    bytes.try_into().map_err(|_| {
        diesel::result::Error::DeserializationError("a stored hash is not 32 bytes".into())
    })
}

pub fn node(conn: &mut DbConnection, level: u32, index: u64) -> QueryResult<Hash> {
    let bytes: Vec<u8> = log_nodes::table
        .find((level as i32, index as i64))
        .select(log_nodes::hash)
        .first(conn)?;
    to_hash(bytes)
}

/// Answers ranges from stored perfect subtrees.
pub struct Stored<'c> {
    pub conn: &'c mut DbConnection,
}

impl SubtreeHashes for Stored<'_> {
    type Error = diesel::result::Error;
    fn subtree(&mut self, start: u64, end: u64) -> QueryResult<Hash> {
        merkle::range_hash(start, end, &mut |level, index| {
            node(self.conn, level, index)
        })
    }
}

/// The current tree size.
pub fn size(conn: &mut DbConnection) -> QueryResult<u64> {
    log_head::table
        .find(1)
        .select(log_head::size)
        .first::<i64>(conn)
        .map(|s| s as u64)
}

/// A leaf as stored: its index and the exact bytes hashed into it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = log_leaves)]
pub struct StoredLeaf {
    pub idx: i64,
    pub data: Vec<u8>,
}

/// A perfect subtree's hash, by level and index within the level.
#[derive(Queryable, Selectable)]
#[diesel(table_name = log_nodes)]
pub struct StoredNode {
    pub level: i32,
    pub idx: i64,
    pub hash: Vec<u8>,
}

/// A signed checkpoint and the tree size it commits to.
#[derive(Queryable, Selectable)]
#[diesel(table_name = log_checkpoints)]
pub struct StoredCheckpoint {
    pub size: i64,
    pub note: String,
}

/// The latest signed checkpoint, if any.
pub fn latest_checkpoint(conn: &mut DbConnection) -> QueryResult<Option<StoredCheckpoint>> {
    log_checkpoints::table
        .order(log_checkpoints::size.desc())
        .select(StoredCheckpoint::as_select())
        .first(conn)
        .optional()
}

fn checkpoint_root(note: &str) -> Option<Hash> {
    let body = note.split("\n\n").next()?;
    Checkpoint::parse(&format!("{body}\n")).ok().map(|c| c.root)
}

/// The right edge of the tree of `size` leaves: the roots of its perfect subtrees, largest
/// (leftmost) first, in one query.
fn right_edge(conn: &mut DbConnection, size: u64) -> QueryResult<Vec<Hash>> {
    let mut wanted = Vec::new();
    let mut start = 0u64;
    for level in (0..64u32).rev() {
        if size & (1 << level) != 0 {
            wanted.push((level as i32, (start >> level) as i64));
            start += 1 << level;
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = log_nodes::table
        .select(StoredNode::as_select())
        .into_boxed();
    for (level, idx) in &wanted {
        query = query.or_filter(log_nodes::level.eq(*level).and(log_nodes::idx.eq(*idx)));
    }
    let found: std::collections::HashMap<(i32, i64), Vec<u8>> = query
        .load(conn)?
        .into_iter()
        .map(|n: StoredNode| ((n.level, n.idx), n.hash))
        .collect();
    wanted
        .iter()
        .map(|key| {
            found
                .get(key)
                .cloned()
                .ok_or(diesel::result::Error::NotFound)
                .and_then(to_hash)
        })
        .collect()
}

/// Locks the log for appending and returns its right edge, after checking that the stored
/// tree still gives the last signed root: never sign on top of a tree that changed.
fn locked_frontier(conn: &mut DbConnection) -> Result<Frontier, LogError> {
    // Touching the head row first takes its lock on PostgreSQL (SQLite's immediate
    // transaction already holds the database's), so appends are strictly serial.
    diesel::update(log_head::table.find(1))
        .set(log_head::size.eq(log_head::size))
        .execute(conn)?;
    let index = size(conn)?;
    let edge = right_edge(conn, index).map_err(|e| match e {
        diesel::result::Error::NotFound => LogError::Inconsistent,
        other => LogError::Database(other),
    })?;
    let frontier = Frontier::resume(index, edge).ok_or(LogError::Inconsistent)?;
    if index > 0 {
        let note: Option<String> = log_checkpoints::table
            .find(index as i64)
            .select(log_checkpoints::note)
            .first(conn)
            .optional()?;
        let signed_root = note
            .as_deref()
            .and_then(checkpoint_root)
            .ok_or(LogError::Inconsistent)?;
        if frontier.root() != signed_root {
            return Err(LogError::Inconsistent);
        }
    }
    Ok(frontier)
}

/// Signs the checkpoint of the tree `frontier` ends, stores it and moves the head.
fn sign_and_advance(
    conn: &mut DbConnection,
    keys: &LogKeys,
    frontier: &Frontier,
    at: chrono::NaiveDateTime,
) -> QueryResult<String> {
    let size = frontier.size();
    let note = keys.signer.sign(
        &Checkpoint {
            origin: keys.signer.name().to_owned(),
            size,
            root: frontier.root(),
        }
        .text(),
    );
    diesel::insert_into(log_checkpoints::table)
        .values((
            log_checkpoints::size.eq(size as i64),
            log_checkpoints::note.eq(&note),
            log_checkpoints::created_at.eq(at),
        ))
        .execute(conn)?;
    diesel::update(log_head::table.find(1))
        .set(log_head::size.eq(size as i64))
        .execute(conn)?;
    Ok(note)
}

/// One leaf of a batch: what [`append`] takes, and when the act happened.
pub struct BatchLeaf {
    pub kind: Kind,
    pub data: Vec<u8>,
    pub actor: Vec<u8>,
    pub at: chrono::NaiveDateTime,
}

/// Appends many leaves and signs one checkpoint, for the batch's final size. Each act is
/// still its own leaf; only the signature is shared, so no per-act receipt is produced.
/// For loading many past acts at once (the demo seed); live acts use [`append`].
pub fn append_batch(
    conn: &mut DbConnection,
    keys: &LogKeys,
    batch: &[BatchLeaf],
) -> Result<u64, LogError> {
    let mut frontier = locked_frontier(conn)?;
    let start = frontier.size();
    if batch.is_empty() {
        return Ok(start);
    }
    let nodes: Vec<(u32, u64, Hash)> = batch
        .iter()
        .flat_map(|leaf| frontier.push(merkle::leaf_hash(&leaf.data)))
        .collect();
    // Several rows per statement, under SQLite's limit of 32,766 bound values.
    for (chunk_no, chunk) in batch.chunks(2_000).enumerate() {
        let first = start as i64 + (chunk_no * 2_000) as i64;
        let rows: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, leaf)| {
                (
                    log_leaves::idx.eq(first + i as i64),
                    log_leaves::data.eq(&leaf.data),
                    log_leaves::kind.eq(leaf.kind.as_str()),
                    log_leaves::actor.eq(&leaf.actor),
                    log_leaves::created_at.eq(leaf.at),
                )
            })
            .collect();
        crate::db::on_backend!(conn, |c| diesel::insert_into(log_leaves::table)
            .values(&rows)
            .execute(c))?;
    }
    for chunk in nodes.chunks(5_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(level, idx, hash)| {
                (
                    log_nodes::level.eq(*level as i32),
                    log_nodes::idx.eq(*idx as i64),
                    log_nodes::hash.eq(&hash[..]),
                )
            })
            .collect();
        crate::db::on_backend!(conn, |c| diesel::insert_into(log_nodes::table)
            .values(&rows)
            .execute(c))?;
    }
    sign_and_advance(conn, keys, &frontier, now())?;
    Ok(frontier.size())
}

/// Appends a leaf, extends the stored subtrees, signs the new checkpoint and returns the
/// receipt. Must run inside a write transaction: the head row's lock is held to its end.
///
/// Everything is computed from the tree's right edge, read in one query: the old root (to
/// check against the last signature), the subtrees the new leaf completes, the new root, and
/// the new leaf's inclusion proof (the old edge, smallest first).
pub fn append(
    conn: &mut DbConnection,
    keys: &LogKeys,
    kind: Kind,
    data: &[u8],
    actor: &[u8],
) -> Result<Receipt, LogError> {
    let mut frontier = locked_frontier(conn)?;
    let index = frontier.size();
    // The new leaf's inclusion proof is the old edge, smallest first.
    let proof: Vec<Hash> = frontier.edge().iter().rev().copied().collect();
    let leaf = merkle::leaf_hash(data);
    let created_at = now();
    diesel::insert_into(log_leaves::table)
        .values((
            log_leaves::idx.eq(index as i64),
            log_leaves::data.eq(data),
            log_leaves::kind.eq(kind.as_str()),
            log_leaves::actor.eq(actor),
            log_leaves::created_at.eq(created_at),
        ))
        .execute(conn)?;
    // The new leaf, and every perfect subtree it completes.
    for (level, position, hash) in frontier.push(leaf) {
        diesel::insert_into(log_nodes::table)
            .values((
                log_nodes::level.eq(level as i32),
                log_nodes::idx.eq(position as i64),
                log_nodes::hash.eq(hash.to_vec()),
            ))
            .execute(conn)?;
    }
    let note = sign_and_advance(conn, keys, &frontier, created_at)?;
    Ok(Receipt {
        leaf_index: index,
        leaf_data: B64.encode(data),
        checkpoint: note,
        inclusion_proof: encode_hashes(&proof),
    })
}

/// The root of the stored tree's first `size` leaves.
pub fn root_at(conn: &mut DbConnection, size: u64) -> QueryResult<Hash> {
    merkle::range_hash(0, size, &mut |level, index| node(conn, level, index))
}

pub fn inclusion(conn: &mut DbConnection, index: u64, size: u64) -> QueryResult<Vec<Hash>> {
    merkle::inclusion_proof(&mut Stored { conn }, index, size)
}

pub fn consistency(conn: &mut DbConnection, old: u64, new: u64) -> QueryResult<Vec<Hash>> {
    merkle::consistency_proof(&mut Stored { conn }, old, new)
}

/// Receipts for every leaf an actor caused: against `served` (the cosigned checkpoint's size
/// and note) for
/// the leaves it covers, and against the newest log-signed checkpoint for any newer ones.
pub fn receipts_for(
    conn: &mut DbConnection,
    actor: &[u8],
    served: Option<(u64, String)>,
) -> QueryResult<Vec<Receipt>> {
    let Some(StoredCheckpoint { size, note }) = latest_checkpoint(conn)? else {
        return Ok(Vec::new());
    };
    let latest = (size as u64, note);
    let anchor = served;
    let leaves: Vec<StoredLeaf> = log_leaves::table
        .filter(log_leaves::actor.eq(actor))
        .filter(log_leaves::idx.lt(latest.0 as i64))
        .order(log_leaves::idx)
        .select(StoredLeaf::as_select())
        .load(conn)?;
    leaves
        .into_iter()
        .map(|StoredLeaf { idx, data }| {
            let (size, note) = match &anchor {
                Some((size, note)) if (idx as u64) < *size => (*size, note),
                _ => (latest.0, &latest.1),
            };
            let proof = inclusion(conn, idx as u64, size)?;
            Ok(Receipt {
                leaf_index: idx as u64,
                leaf_data: B64.encode(data),
                checkpoint: note.clone(),
                inclusion_proof: encode_hashes(&proof),
            })
        })
        .collect()
}

/// The proof of the key event at `leaf` in the tree of `size` leaves; None when the tree
/// does not hold it yet (the witnesses have not cosigned a checkpoint that covers it).
pub fn key_proof(
    conn: &mut DbConnection,
    leaf: u64,
    size: u64,
) -> QueryResult<Option<iro_advice_api::KeyProof>> {
    if leaf >= size {
        return Ok(None);
    }
    let data: Vec<u8> = log_leaves::table
        .find(leaf as i64)
        .select(log_leaves::data)
        .first(conn)?;
    let proof = inclusion(conn, leaf, size)?;
    Ok(Some(iro_advice_api::KeyProof {
        leaf_index: leaf,
        leaf_data: B64.encode(data),
        tree_size: size,
        inclusion_proof: encode_hashes(&proof),
    }))
}
