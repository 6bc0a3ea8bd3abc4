//! Receipts: what an act's causer keeps, verifiable offline with the log's public key alone.

use iro_advice_tlog::note::Checkpoint;
use iro_advice_tlog::{verify_inclusion_in_note, InclusionError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{leaf_index, leaf_data, checkpoint, inclusion_proof}`: the leaf's exact bytes (base64),
/// a signed checkpoint, and the RFC 9162 inclusion proof (base64 hashes) of the leaf in it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub leaf_index: u64,
    pub leaf_data: String,
    pub checkpoint: String,
    pub inclusion_proof: Vec<String>,
}

/// A key event leaf, served with every recipient a client is to encrypt to: its exact bytes
/// (base64), its index, and its inclusion proof in the tree of `tree_size` leaves (the
/// served, cosigned checkpoint's).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyProof {
    pub leaf_index: u64,
    pub leaf_data: String,
    pub tree_size: u64,
    pub inclusion_proof: Vec<String>,
}

/// Why a receipt does not verify.
pub type ReceiptError = InclusionError;

impl Receipt {
    /// Checks the signature, that the leaf data hashes to the leaf the proof starts from,
    /// and that the proof reaches the signed root. Returns the checkpoint.
    pub fn verify(&self, vkey: &str) -> Result<Checkpoint, ReceiptError> {
        verify_inclusion_in_note(
            vkey,
            &self.checkpoint,
            &self.leaf_data,
            self.leaf_index,
            &self.inclusion_proof,
        )
    }
}
