//! `iro-advice log verify`: recomputes the whole tree from the stored leaves and checks every
//! stored subtree hash and every signed checkpoint against it.

use diesel::prelude::*;

use super::store::{StoredCheckpoint, StoredLeaf, StoredNode};
use crate::db::schema::{log_checkpoints, log_head, log_leaves, log_nodes};
use crate::db::DbConnection;
use iro_advice_model::leaf::opaque::{self, Opening};
use iro_advice_tlog::merkle::{leaf_hash, Frontier, Hash};
use iro_advice_tlog::note::{open_checkpoint, Verifier};

const BATCH: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("leaf {0} is missing")]
    Missing(u64),
    #[error("leaf {0} does not hash to its stored hash")]
    LeafHash(u64),
    /// Every earlier leaf matched its signed checkpoint, so the leaf that completes the
    /// mismatching subtree is the first bad one.
    #[error("leaf {index} disagrees with the stored subtree at level {level} that it completes")]
    Node { level: u32, index: u64 },
    #[error("the checkpoint of size {size} does not match the leaves (first bad index {index})")]
    Root { size: u64, index: u64 },
    #[error("the checkpoint of size {0} is not validly signed by the log key")]
    Signature(u64),
    #[error("leaf {0} has no stored opening: no one, NAIRO's auditor included, can tell what it records")]
    NoOpening(u64),
    #[error("the stored opening of leaf {0} does not open it")]
    Opening(u64),
    #[error("the log head says {head} leaves but {found} are stored")]
    Head { head: u64, found: u64 },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl VerifyError {
    /// The first leaf index the failure points at, if it points at one.
    pub fn index(&self) -> Option<u64> {
        match self {
            VerifyError::Missing(i)
            | VerifyError::LeafHash(i)
            | VerifyError::NoOpening(i)
            | VerifyError::Opening(i) => Some(*i),
            VerifyError::Node { index, .. } => Some(*index),
            VerifyError::Root { index, .. } => Some(*index),
            VerifyError::Signature(size) => Some(size.saturating_sub(1)),
            VerifyError::Head { found, .. } => Some(*found),
            VerifyError::Database(_) => None,
        }
    }
}

pub struct Report {
    pub leaves: u64,
    pub checkpoints: u64,
}

/// Checks the whole log: every leaf against its stored hash, every stored subtree against
/// the recomputed one, and every checkpoint's signature and root. Checkpoints at every size
/// make consistency between them follow: each is a root of the same recomputed leaves.
///
/// Leaves, subtrees and checkpoints are read a batch at a time, so memory stays flat however
/// long the log; signatures, the costliest part, are checked on every core.
pub fn verify(conn: &mut DbConnection, verifier: &Verifier) -> Result<Report, VerifyError> {
    // A live service keeps appending while this runs: one snapshot, or a leaf added between
    // two of the reads below would look like a leaf gone missing.
    crate::db::snapshot_transaction(conn, |conn| verify_snapshot(conn, verifier))
}

fn verify_snapshot(conn: &mut DbConnection, verifier: &Verifier) -> Result<Report, VerifyError> {
    let mut frontier = Frontier::default();
    let mut verified_checkpoints = 0;
    let mut next: i64 = 0;
    loop {
        let batch: Vec<StoredLeaf> = log_leaves::table
            .filter(log_leaves::idx.ge(next))
            .order(log_leaves::idx)
            .limit(BATCH)
            .select(StoredLeaf::as_select())
            .load(conn)?;
        if batch.is_empty() {
            break;
        }
        let last = batch.last().map(|l| l.idx).unwrap_or(next);
        // Every stored subtree that the leaves of this batch complete, a query per level.
        let mut stored_nodes: std::collections::HashMap<(i32, i64), Vec<u8>> = Default::default();
        for level in 0..=(64 - (last as u64).leading_zeros()) as i32 {
            let rows = log_nodes::table
                .filter(log_nodes::level.eq(level))
                .filter(log_nodes::idx.ge(next >> level))
                .filter(log_nodes::idx.le(last >> level))
                .select(StoredNode::as_select())
                .load(conn)?;
            stored_nodes.extend(rows.into_iter().map(|n| ((n.level, n.idx), n.hash)));
        }
        // The checkpoints this batch can reach, their signatures checked in parallel.
        let notes: Vec<StoredCheckpoint> = log_checkpoints::table
            .filter(log_checkpoints::size.gt(next))
            .filter(log_checkpoints::size.le(last + 1))
            .order(log_checkpoints::size)
            .select(StoredCheckpoint::as_select())
            .load(conn)?;
        let roots = open_all(verifier, &notes)?;
        let mut roots = roots.into_iter().peekable();
        let openings: std::collections::HashMap<u64, Opening> =
            super::store::openings(conn, next as u64, last as u64 + 1)?
                .into_iter()
                .collect();
        for StoredLeaf { idx, data } in batch {
            let expected = frontier.size();
            if idx as u64 != expected {
                return Err(VerifyError::Missing(expected));
            }
            if opaque::is_opaque(&data) {
                let opening = openings
                    .get(&expected)
                    .ok_or(VerifyError::NoOpening(expected))?;
                opening
                    .open(&data)
                    .map_err(|_| VerifyError::Opening(expected))?;
            }
            let leaf = leaf_hash(&data);
            if stored_nodes.get(&(0, idx)).map(Vec::as_slice) != Some(&leaf[..]) {
                return Err(VerifyError::LeafHash(expected));
            }
            for (level, node_index, hash) in frontier.push(leaf).into_iter().skip(1) {
                let stored = stored_nodes.get(&(level as i32, node_index as i64));
                if stored.map(Vec::as_slice) != Some(&hash[..]) {
                    return Err(VerifyError::Node {
                        level,
                        index: expected,
                    });
                }
            }
            while let Some((size, _)) = roots.peek() {
                if *size != frontier.size() {
                    break;
                }
                let (size, root) = roots.next().expect("peek just returned Some");
                if root != frontier.root() {
                    return Err(VerifyError::Root {
                        size,
                        index: size - 1,
                    });
                }
                verified_checkpoints += 1;
            }
        }
        next = last + 1;
    }
    let beyond: Option<i64> = log_checkpoints::table
        .filter(log_checkpoints::size.gt(frontier.size() as i64))
        .select(log_checkpoints::size)
        .first(conn)
        .optional()?;
    if beyond.is_some() {
        return Err(VerifyError::Missing(frontier.size()));
    }
    let head: i64 = log_head::table.find(1).select(log_head::size).first(conn)?;
    if head as u64 != frontier.size() {
        return Err(VerifyError::Head {
            head: head as u64,
            found: frontier.size(),
        });
    }
    Ok(Report {
        leaves: frontier.size(),
        checkpoints: verified_checkpoints,
    })
}

/// Why a checkpoint held outside the database shows that the database is not the log that
/// signed it.
#[derive(Debug, thiserror::Error)]
pub enum ExternalCheckpointError {
    #[error("it is not a checkpoint signed by this log's key ({0})")]
    NotThisLog(String),
    #[error(
        "the log signed a tree of {signed} leaves, but the database holds only {stored}: \
         it has been rolled back"
    )]
    Behind { signed: u64, stored: u64 },
    #[error(
        "the log signed a different tree of {size} leaves than the database holds: the log \
         has been rewritten or forked"
    )]
    Forked { size: u64 },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Checks a signed checkpoint held outside the database (a witness's, a client's) against
/// the stored tree: the database must reach its size and give its root there. Run after
/// [`verify`], which proves the stored tree and its own checkpoints whole.
pub fn check_external(
    conn: &mut DbConnection,
    verifier: &Verifier,
    note: &str,
) -> Result<u64, ExternalCheckpointError> {
    let checkpoint = open_checkpoint(verifier, note)
        .map_err(|e| ExternalCheckpointError::NotThisLog(e.to_string()))?;
    let stored = super::store::size(conn)?;
    if checkpoint.size > stored {
        return Err(ExternalCheckpointError::Behind {
            signed: checkpoint.size,
            stored,
        });
    }
    if super::store::root_at(conn, checkpoint.size)? != checkpoint.root {
        return Err(ExternalCheckpointError::Forked {
            size: checkpoint.size,
        });
    }
    Ok(checkpoint.size)
}

/// Checks each note's signature and that it is the checkpoint of its stored size; returns
/// (size, root) in order. Split over every core: an Ed25519 check costs far more than a hash.
fn open_all(
    verifier: &Verifier,
    notes: &[StoredCheckpoint],
) -> Result<Vec<(u64, Hash)>, VerifyError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = notes.len().div_ceil(cores).max(1);
    let results: Vec<Result<Vec<(u64, Hash)>, VerifyError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = notes
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|StoredCheckpoint { size, note }| {
                            let size = *size as u64;
                            let checkpoint = open_checkpoint(verifier, note)
                                .map_err(|_| VerifyError::Signature(size))?;
                            if checkpoint.size != size {
                                return Err(VerifyError::Root {
                                    size,
                                    index: size.saturating_sub(1),
                                });
                            }
                            Ok((size, checkpoint.root))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("verifier thread"))
            .collect()
    });
    let mut out = Vec::with_capacity(notes.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}
