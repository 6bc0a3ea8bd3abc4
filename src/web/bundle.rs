//! The bundle this instance serves, and its entry in the log. Each build's manifest becomes
//! a leaf the first time an instance starts with it, so that what any user was given can be
//! checked later against what the log says was published (`iro-advice web verify`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::assets::{Asset, Manifest, ASSETS};
use crate::app::Tx;
use crate::error::ApiError;
use crate::log::{Actor, Event, Kind, Subject};

enum Source {
    Embedded,
    /// Read at each request: what is on disk now is what is served.
    Directory(PathBuf),
}

pub struct Bundle {
    source: Source,
    manifest: Manifest,
    json: String,
    digest: [u8; 32],
}

impl Bundle {
    fn new(source: Source, manifest: Manifest) -> Bundle {
        let json = manifest.to_json();
        let digest = Sha256::digest(json.as_bytes()).into();
        Bundle {
            source,
            manifest,
            json,
            digest,
        }
    }

    pub fn embedded() -> Bundle {
        Bundle::new(Source::Embedded, Manifest::embedded().clone())
    }

    /// The bundle in `dir`: the same files as the embedded one, as they are at start.
    pub fn from_dir(dir: &Path) -> Result<Bundle, String> {
        let mut files = Vec::new();
        for asset in ASSETS {
            let path = dir.join(asset.file_name());
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            files.push((asset.path, bytes));
        }
        let manifest = Manifest::of(files.iter().map(|(p, b)| (*p, b.as_slice())));
        Ok(Bundle::new(Source::Directory(dir.to_owned()), manifest))
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest exactly as logged and served: its SHA-256 is in the leaf.
    pub fn manifest_json(&self) -> &str {
        &self.json
    }

    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The bytes of `asset` as served now.
    pub fn read(&self, asset: &Asset) -> std::io::Result<Cow<'static, [u8]>> {
        match &self.source {
            Source::Embedded => Ok(Cow::Borrowed(asset.bytes)),
            Source::Directory(dir) => std::fs::read(dir.join(asset.file_name())).map(Cow::Owned),
        }
    }
}

fn meta_name(digest: &[u8; 32]) -> String {
    format!("web_app:{}", crate::keys::hex(digest))
}

/// Logs the bundle's manifest unless it was logged before; returns its leaf index.
pub fn publish(tx: &mut Tx<'_>, bundle: &Bundle) -> Result<u64, ApiError> {
    let name = meta_name(&bundle.digest);
    if let Some(index) = crate::db::meta::get(tx.conn, &name)?.and_then(|v| v.parse().ok()) {
        return Ok(index);
    }
    let receipt = tx.record(Event {
        kind: Kind::WebAppPublished,
        actor: Actor::Operator,
        subject: Subject::WebApp {
            digest: bundle.digest,
        },
        authority: None,
    })?;
    crate::db::meta::set(tx.conn, &name, &receipt.leaf_index.to_string())?;
    Ok(receipt.leaf_index)
}

/// The leaf of a published bundle.
pub fn leaf_of(
    conn: &mut crate::db::DbConnection,
    bundle: &Bundle,
) -> diesel::QueryResult<Option<u64>> {
    Ok(crate::db::meta::get(conn, &meta_name(&bundle.digest))?.and_then(|v| v.parse().ok()))
}
