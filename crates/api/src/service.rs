//! The service's own state: health, readiness, its witnesses and whose signatures to require.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// The service

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub version: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// Always `ready`; otherwise the answer is a 503 problem.
    pub status: String,
    /// How many witnesses must cosign a checkpoint before it is served (0: none configured).
    pub witness_quorum: usize,
    /// Each configured witness, and what its last answer was.
    pub witnesses: Vec<WitnessStatus>,
}

/// What is known of one witness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WitnessStatus {
    /// Its verifier key.
    pub key: String,
    /// The largest tree size it has cosigned for this log, as far as this instance knows.
    pub cosigned_size: Option<u64>,
    /// Why its last answer was not a cosignature, if it was not.
    pub problem: Option<String>,
    /// True once it has refused a checkpoint as inconsistent with one it cosigned: the log
    /// was rolled back or forked. A restart does not clear the evidence the witness keeps.
    pub refused_as_inconsistent: bool,
}

/// Whose signatures a client should require on the log's checkpoints.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LogTrust {
    /// The log's verifier key, C2SP note form.
    pub log_key: String,
    /// The witnesses' cosignature/v1 verifier keys.
    pub witnesses: Vec<String>,
    /// How many of them must cosign a checkpoint.
    pub quorum: usize,
}
