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

/// `GET /api/v1/operations`: what the operator on call needs on one page (counts and ages
/// only, nothing personal).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct OperationsStatus {
    pub database_up: bool,
    pub pool: PoolOperations,
    pub outbox: OutboxOperations,
    /// Leaves in the log.
    pub log_size: u64,
    /// The size of the checkpoint served to clients: the newest a quorum cosigned.
    pub served_size: u64,
    pub quorum: usize,
    pub witnesses: Vec<WitnessOperations>,
    /// Absent when the database did not answer.
    pub releases: Option<ReleaseOperations>,
    /// True while sign-ins are refused service-wide after a flood of failures.
    pub sign_in_ceiling: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PoolOperations {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct OutboxOperations {
    /// Notices not yet delivered (digests waiting for their time included).
    pub pending: u64,
    /// Of those, notices whose delivery has failed at least once.
    pub failing: u64,
    /// The age of the oldest undelivered notice, in seconds.
    pub oldest_pending_secs: i64,
    /// `smtp`, or `files` (`.eml` files in the outbox folder).
    pub transport: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct WitnessOperations {
    /// The name in its verifier key.
    pub name: String,
    pub key: String,
    /// The largest tree size it has cosigned, as far as this instance knows.
    pub cosigned_size: u64,
    pub failing: bool,
    /// Why its last answer was not a cosignature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// It refused a checkpoint as inconsistent with one it cosigned: a rollback or a fork.
    pub refused_as_inconsistent: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReleaseOperations {
    pub stored: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest: Option<LatestRelease>,
    /// Ended periods (past the follow-up days) with no release yet: `iro-advice stats
    /// release` makes them.
    pub due: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LatestRelease {
    pub period: String,
    pub built_at: String,
}
