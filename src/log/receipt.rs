//! Receipts: what an act's causer keeps, verifiable offline with the log's public key alone.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::merkle::{self, Hash};
use super::note::{open_checkpoint, Checkpoint, Verifier};

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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    #[error("the verifier key is malformed")]
    Key,
    #[error("the checkpoint is not validly signed by this key: {0}")]
    Signature(String),
    #[error("the receipt is malformed: {0}")]
    Malformed(&'static str),
    #[error("the inclusion proof does not lead from the leaf to the checkpoint's root")]
    Proof,
}

impl Receipt {
    /// Checks the signature, that the leaf data hashes to the leaf the proof starts from,
    /// and that the proof reaches the signed root. Returns the checkpoint.
    pub fn verify(&self, vkey: &str) -> Result<Checkpoint, ReceiptError> {
        let verifier = Verifier::parse(vkey).map_err(|_| ReceiptError::Key)?;
        let checkpoint = open_checkpoint(&verifier, &self.checkpoint)
            .map_err(|e| ReceiptError::Signature(e.to_string()))?;
        let data = B64
            .decode(&self.leaf_data)
            .map_err(|_| ReceiptError::Malformed("leaf_data is not base64"))?;
        let proof: Vec<Hash> = super::event::decode_hashes(&self.inclusion_proof).ok_or(
            ReceiptError::Malformed("a proof hash is not 32 bytes of base64"),
        )?;
        let leaf = merkle::leaf_hash(&data);
        if !merkle::verify_inclusion(
            &leaf,
            self.leaf_index,
            checkpoint.size,
            &proof,
            &checkpoint.root,
        ) {
            return Err(ReceiptError::Proof);
        }
        Ok(checkpoint)
    }
}
