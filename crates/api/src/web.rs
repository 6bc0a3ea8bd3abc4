//! The web application's manifest: every asset the service serves as the application, by
//! path and SHA-256, in a stable order and form; its hash is a leaf of the log.

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub path: String,
    pub sha256: String,
}

/// What the service serves as the application, in a stable order and form: the same bundle
/// always gives the same bytes.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub version: String,
    pub assets: Vec<ManifestEntry>,
}

impl Manifest {
    pub fn of<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Manifest {
        let mut entries: Vec<ManifestEntry> = files
            .into_iter()
            .map(|(path, bytes)| ManifestEntry {
                path: path.to_owned(),
                sha256: iro_advice_model::hex(&Sha256::digest(bytes)),
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            assets: entries,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
