//! What can go wrong in the client, said so that the user knows what to do.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Profile(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the server refused ({status} {kind}): {detail}")]
    Api {
        status: u16,
        kind: String,
        detail: String,
    },
    #[error("encryption: {0}")]
    Crypto(String),
    /// The service's log went back or forked: the one failure with its own exit status (3).
    #[error("{0}")]
    Rewritten(String),
    /// A correspondent's key could not be trusted; nothing was encrypted to it.
    #[error("{0}")]
    KeyRefused(String),
    /// A key event for the user's own account that this profile did not make (exit 4).
    #[error("{0}")]
    KeyAlarm(String),
}

impl ClientError {
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        ClientError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// A file the user named, read whole.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::io(path, e))
}
