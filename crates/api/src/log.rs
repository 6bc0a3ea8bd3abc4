//! The request log: receipts, key proofs, inclusion and consistency proofs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::receipt::{KeyProof, Receipt};

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
