//! The log's storage: leaves, perfect-subtree hashes, signed checkpoints, and the head row
//! whose lock serialises appends across instances.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use diesel::helper_types::Nullable;
use diesel::prelude::*;

use super::keys::{LogError, LogKeys, Written};
use crate::db::now;
use crate::db::schema::{
    log_checkpoints, log_head, log_leaves, log_nodes, log_openings, log_pending,
};
use crate::db::DbConnection;
use iro_advice_api::{LeafOpening, Receipt};
use iro_advice_model::leaf::opaque::{self, Opening};
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

/// One leaf of a batch, and when its act happened.
pub struct BatchLeaf {
    pub kind: Kind,
    pub data: Vec<u8>,
    pub opening: Option<Opening>,
    pub actor: Vec<u8>,
    pub at: chrono::NaiveDateTime,
}

/// Appends many leaves, their openings and subtrees, and signs one checkpoint, for the
/// batch's final size. Must run inside a write transaction: the head row's lock is held to
/// its end. The publisher's batches and the demo seed's past acts come this way.
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
                    log_leaves::tag.eq(opaque::tag_of(&leaf.data).map(|t| t.to_vec())),
                )
            })
            .collect();
        crate::db::on_backend!(conn, |c| diesel::insert_into(log_leaves::table)
            .values(&rows)
            .execute(c))?;
        let openings: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, leaf)| {
                leaf.opening.as_ref().map(|o| {
                    (
                        log_openings::idx.eq(first + i as i64),
                        log_openings::salt.eq(&o.salt[..]),
                        log_openings::body.eq(&o.body),
                        log_openings::details.eq(&o.details),
                    )
                })
            })
            .collect();
        if !openings.is_empty() {
            crate::db::on_backend!(conn, |c| diesel::insert_into(log_openings::table)
                .values(&openings)
                .execute(c))?;
        }
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

/// Records a written leaf as pending, in its act's transaction: durable at once, public at
/// the next publication.
pub fn enqueue(
    conn: &mut DbConnection,
    kind: Kind,
    written: &Written,
    at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let opening = written.opening.as_ref();
    diesel::insert_into(log_pending::table)
        .values((
            log_pending::data.eq(&written.data),
            log_pending::kind.eq(kind.as_str()),
            log_pending::actor.eq(&written.actor[..]),
            log_pending::salt.eq(opening.map(|o| o.salt.to_vec())),
            log_pending::body.eq(opening.map(|o| o.body.clone())),
            log_pending::details.eq(opening.map(|o| o.details.clone())),
            log_pending::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = log_pending)]
struct PendingRow {
    id: i64,
    data: Vec<u8>,
    kind: String,
    actor: Vec<u8>,
    salt: Option<Vec<u8>>,
    body: Option<Vec<u8>>,
    details: Option<String>,
    created_at: chrono::NaiveDateTime,
}

fn opening_of(
    salt: Option<Vec<u8>>,
    body: Option<Vec<u8>>,
    details: Option<String>,
) -> QueryResult<Option<Opening>> {
    match (salt, body, details) {
        (Some(salt), Some(body), Some(details)) => Ok(Some(Opening {
            salt: salt.try_into().map_err(|_| {
                diesel::result::Error::DeserializationError("a stored salt is not 32 bytes".into())
            })?,
            body,
            details,
        })),
        _ => Ok(None),
    }
}

/// A leaf's index and data with its opening's columns (None where it has none).
type LeafWithOpening = (
    i64,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
);

/// The columns of [`LeafWithOpening`], for a leaf left-joined to its opening.
type LeafAndOpeningColumns = (
    log_leaves::idx,
    log_leaves::data,
    Nullable<log_openings::salt>,
    Nullable<log_openings::body>,
    Nullable<log_openings::details>,
);

fn leaf_and_opening() -> LeafAndOpeningColumns {
    (
        log_leaves::idx,
        log_leaves::data,
        log_openings::salt.nullable(),
        log_openings::body.nullable(),
        log_openings::details.nullable(),
    )
}

/// A published leaf found by its tag: index, data, and opening if the service has one.
pub type Tagged = (u64, Vec<u8>, Option<Opening>);

/// When the act that has waited longest for publication happened.
pub fn oldest_pending(conn: &mut DbConnection) -> QueryResult<Option<chrono::NaiveDateTime>> {
    log_pending::table
        .select(diesel::dsl::min(log_pending::created_at))
        .first(conn)
}

/// Publishes every pending leaf: appended in an order drawn at random, not the acts', under
/// one new checkpoint. Returns the new size; the size unchanged when nothing waited. Run it
/// in a write transaction.
pub fn publish(conn: &mut DbConnection, keys: &LogKeys) -> Result<u64, LogError> {
    // The head row's lock first (PostgreSQL; SQLite's immediate transaction holds the
    // database's): two instances' publishers must not both take the same pending acts.
    diesel::update(log_head::table.find(1))
        .set(log_head::size.eq(log_head::size))
        .execute(conn)?;
    let rows: Vec<PendingRow> = log_pending::table
        .select(PendingRow::as_select())
        .order(log_pending::id)
        .load(conn)?;
    if rows.is_empty() {
        return Ok(size(conn)?);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut keyed: Vec<([u8; 8], BatchLeaf)> = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: Kind = r.kind.parse().map_err(|_| LogError::Opening)?;
        keyed.push((
            crate::keys::random_bytes::<8>(),
            BatchLeaf {
                kind,
                data: r.data,
                opening: opening_of(r.salt, r.body, r.details)?,
                actor: r.actor,
                at: r.created_at,
            },
        ));
    }
    keyed.sort_by_key(|(order, _)| *order);
    let batch: Vec<BatchLeaf> = keyed.into_iter().map(|(_, leaf)| leaf).collect();
    let size = append_batch(conn, keys, &batch)?;
    // Exactly the rows published: an act committed meanwhile waits for the next batch.
    for chunk in ids.chunks(1_000) {
        diesel::delete(log_pending::table.filter(log_pending::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(size)
}

/// The receipt of a leaf, by its data: complete against the newest signed checkpoint once
/// published, without index and proof while it waits.
pub fn receipt_of(
    conn: &mut DbConnection,
    data: &[u8],
    opening: Option<&Opening>,
) -> QueryResult<Receipt> {
    let index: Option<i64> = log_leaves::table
        .filter(log_leaves::data.eq(data))
        .select(log_leaves::idx)
        .first(conn)
        .optional()?;
    let published = match (index, latest_checkpoint(conn)?) {
        (Some(idx), Some(cp)) if idx < cp.size => Some((idx as u64, cp)),
        _ => None,
    };
    let (leaf_index, checkpoint, inclusion_proof) = match published {
        Some((idx, cp)) => (
            Some(idx),
            Some(cp.note),
            encode_hashes(&inclusion(conn, idx, cp.size as u64)?),
        ),
        None => (None, None, Vec::new()),
    };
    Ok(Receipt {
        leaf_index,
        leaf_data: B64.encode(data),
        opening: opening.map(LeafOpening::from),
        checkpoint,
        inclusion_proof,
    })
}

/// The stored opening of the leaf at `idx`, if it has one.
pub fn opening(conn: &mut DbConnection, idx: u64) -> QueryResult<Option<Opening>> {
    let row: Option<(Vec<u8>, Vec<u8>, String)> = log_openings::table
        .find(idx as i64)
        .select((
            log_openings::salt,
            log_openings::body,
            log_openings::details,
        ))
        .first(conn)
        .optional()?;
    match row {
        Some((salt, body, details)) => opening_of(Some(salt), Some(body), Some(details)),
        None => Ok(None),
    }
}

/// The published leaves carrying any of `tags`, with their openings (None where the
/// service has none), by index.
pub fn tagged(conn: &mut DbConnection, tags: &[[u8; 32]]) -> QueryResult<Vec<Tagged>> {
    let mut found = Vec::new();
    for chunk in tags.chunks(500) {
        let wanted: Vec<Vec<u8>> = chunk.iter().map(|t| t.to_vec()).collect();
        let rows: Vec<LeafWithOpening> = log_leaves::table
            .left_join(log_openings::table)
            .filter(log_leaves::tag.eq_any(wanted))
            .select(leaf_and_opening())
            .load(conn)?;
        for (idx, data, salt, body, details) in rows {
            found.push((idx as u64, data, opening_of(salt, body, details)?));
        }
    }
    found.sort_by_key(|(idx, _, _)| *idx);
    Ok(found)
}

/// The exact bytes of the published leaf at `idx`.
pub fn leaf_data(conn: &mut DbConnection, idx: u64) -> QueryResult<Vec<u8>> {
    log_leaves::table
        .find(idx as i64)
        .select(log_leaves::data)
        .first(conn)
}

/// Leaves by their tag: each one's exact bytes, and its opening where the service has one.
pub type ByTag = std::collections::HashMap<[u8; 32], (Vec<u8>, Option<Opening>)>;

/// The leaves carrying any of `tags`, by tag, with their openings: the published ones, and
/// those of `kinds` still waiting for publication (a change made since the last publication
/// is the latest, though not yet public).
pub fn tagged_or_waiting(
    conn: &mut DbConnection,
    kinds: &[Kind],
    tags: &[[u8; 32]],
) -> QueryResult<ByTag> {
    let mut found = ByTag::new();
    for (_, data, opening) in tagged(conn, tags)? {
        if let Some(tag) = opaque::tag_of(&data) {
            found.insert(tag, (data, opening));
        }
    }
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let rows: Vec<PendingRow> = log_pending::table
        .filter(log_pending::kind.eq_any(kinds))
        .select(PendingRow::as_select())
        .load(conn)?;
    for row in rows {
        if let Some(tag) = opaque::tag_of(&row.data).filter(|t| tags.contains(t)) {
            let opening = opening_of(row.salt, row.body, row.details)?;
            found.insert(tag, (row.data, opening));
        }
    }
    Ok(found)
}

/// The stored openings of the leaves `from..to`, by index.
pub fn openings(conn: &mut DbConnection, from: u64, to: u64) -> QueryResult<Vec<(u64, Opening)>> {
    let rows: Vec<(i64, Vec<u8>, Vec<u8>, String)> = log_openings::table
        .filter(log_openings::idx.ge(from as i64))
        .filter(log_openings::idx.lt(to as i64))
        .order(log_openings::idx)
        .select((
            log_openings::idx,
            log_openings::salt,
            log_openings::body,
            log_openings::details,
        ))
        .load(conn)?;
    rows.into_iter()
        .filter_map(|(idx, salt, body, details)| {
            opening_of(Some(salt), Some(body), Some(details))
                .transpose()
                .map(|o| o.map(|o| (idx as u64, o)))
        })
        .collect()
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

/// Receipts for every leaf an actor caused, with their openings: against `served` (the
/// cosigned checkpoint's size and note) for the leaves it covers, against the newest
/// log-signed checkpoint for any newer ones, and without proof for those still pending.
pub fn receipts_for(
    conn: &mut DbConnection,
    actor: &[u8],
    served: Option<(u64, String)>,
) -> QueryResult<Vec<Receipt>> {
    let latest = latest_checkpoint(conn)?.map(|c| (c.size as u64, c.note));
    let mut receipts = Vec::new();
    if let Some(latest) = latest {
        let leaves: Vec<LeafWithOpening> = log_leaves::table
            .left_join(log_openings::table)
            .filter(log_leaves::actor.eq(actor))
            .filter(log_leaves::idx.lt(latest.0 as i64))
            .order(log_leaves::idx)
            .select(leaf_and_opening())
            .load(conn)?;
        for (idx, data, salt, body, details) in leaves {
            let (size, note) = match &served {
                Some((size, note)) if (idx as u64) < *size => (*size, note.clone()),
                _ => (latest.0, latest.1.clone()),
            };
            let proof = inclusion(conn, idx as u64, size)?;
            receipts.push(Receipt {
                leaf_index: Some(idx as u64),
                leaf_data: B64.encode(data),
                opening: opening_of(salt, body, details)?
                    .as_ref()
                    .map(LeafOpening::from),
                checkpoint: Some(note),
                inclusion_proof: encode_hashes(&proof),
            });
        }
    }
    let pending: Vec<PendingRow> = log_pending::table
        .filter(log_pending::actor.eq(actor))
        .order(log_pending::id)
        .select(PendingRow::as_select())
        .load(conn)?;
    for r in pending {
        receipts.push(Receipt {
            leaf_index: None,
            leaf_data: B64.encode(&r.data),
            opening: opening_of(r.salt, r.body, r.details)?
                .as_ref()
                .map(LeafOpening::from),
            checkpoint: None,
            inclusion_proof: Vec::new(),
        });
    }
    Ok(receipts)
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
    let opening = opening(conn, leaf)?;
    Ok(Some(iro_advice_api::KeyProof {
        leaf_index: leaf,
        leaf_data: B64.encode(data),
        opening: opening.as_ref().map(LeafOpening::from),
        tree_size: size,
        inclusion_proof: encode_hashes(&proof),
        identity: None,
        handover: None,
    }))
}
