//! The request log: receipts, key proofs, inclusion and consistency proofs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::receipt::{KeyProof, LeafOpening, Receipt};

/// A published leaf with its opening: the leaves about the caller's own account (its key
/// events and changes of conflicts), which its client finds by their tags; the opening is
/// absent only when the service has none, which the client treats as an alarm.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenedLeaf {
    pub leaf_index: u64,
    pub leaf_data: String,
    pub opening: Option<LeafOpening>,
}

/// One line of NAIRO's openings file (before encryption): a leaf's index and its opening.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IndexedOpening {
    pub leaf_index: u64,
    pub opening: LeafOpening,
}

// The request log

#[derive(Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Base64 SHA-256 hashes, as RFC 9162 defines the path.
    pub hashes: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub hashes: Vec<String>,
}
