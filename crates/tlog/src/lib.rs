//! Transparency-log building blocks, as the C2SP specifications and RFC 9162 define them:
//! the Merkle tree and its proofs, signed notes and checkpoints, witness cosignatures, the
//! tlog-witness request, and what a verifier outside the service checks before believing a
//! checkpoint or a receipt. Nothing here knows of a database, an HTTP server or the service's
//! own events, so the fuzz targets, the client and the witness use it as it is.

pub mod cosignature;
pub mod https;
pub mod merkle;
pub mod note;
pub mod tiles;
pub mod trust;
pub mod witness;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use merkle::Hash;
use note::{open_checkpoint, Checkpoint, Verifier};

/// Base64 of a hash list, as proofs travel in JSON.
pub fn encode_hashes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// The hashes of a proof as it travels in JSON; None when any is not 32 bytes of base64.
pub fn decode_hashes(hashes: &[String]) -> Option<Vec<Hash>> {
    hashes
        .iter()
        .map(|h| B64.decode(h).ok().and_then(|b| b.try_into().ok()))
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InclusionError {
    #[error("the verifier key is malformed")]
    Key,
    #[error("the checkpoint is not validly signed by this key: {0}")]
    Signature(String),
    #[error("the receipt is malformed: {0}")]
    Malformed(&'static str),
    #[error("the inclusion proof does not lead from the leaf to the checkpoint's root")]
    Proof,
}

/// Checks that `note` is a checkpoint signed by `vkey` and that `proof` (base64 hashes)
/// leads from the leaf `leaf_data_b64` at `index` to its root. Returns the checkpoint.
pub fn verify_inclusion_in_note(
    vkey: &str,
    note: &str,
    leaf_data_b64: &str,
    index: u64,
    proof: &[String],
) -> Result<Checkpoint, InclusionError> {
    let verifier = Verifier::parse(vkey).map_err(|_| InclusionError::Key)?;
    let checkpoint =
        open_checkpoint(&verifier, note).map_err(|e| InclusionError::Signature(e.to_string()))?;
    let data = B64
        .decode(leaf_data_b64)
        .map_err(|_| InclusionError::Malformed("leaf_data is not base64"))?;
    let proof = decode_hashes(proof).ok_or(InclusionError::Malformed(
        "a proof hash is not 32 bytes of base64",
    ))?;
    let leaf = merkle::leaf_hash(&data);
    if !merkle::verify_inclusion(&leaf, index, checkpoint.size, &proof, &checkpoint.root) {
        return Err(InclusionError::Proof);
    }
    Ok(checkpoint)
}
