//! The committed bundle, embedded, and its manifest: the path and SHA-256 of every file the
//! browser is given, so that what a user ran can be named and checked.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use iro_advice_api::web::Manifest;
use sha2::{Digest, Sha256};

/// One file of the bundle, at the path the browser asks for.
pub struct Asset {
    pub path: &'static str,
    pub media_type: &'static str,
    pub bytes: &'static [u8],
}

/// The page every address of the application answers with; it loads the rest.
pub const INDEX: Asset = Asset {
    path: "/",
    media_type: "text/html; charset=utf-8",
    bytes: include_bytes!("../../../../web/dist/index.html"),
};

/// Every file of the bundle. `web/build.mjs` writes exactly these (no chunks, no hashed
/// names), and a test checks that `web/dist` holds nothing else.
pub const ASSETS: &[Asset] = &[
    INDEX,
    Asset {
        path: "/assets/app.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../../web/dist/app.js"),
    },
    Asset {
        path: "/assets/app.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../../web/dist/app.css"),
    },
];

/// Looks up a file under `/assets/` by its name.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS
        .iter()
        .find(|a| a.path.strip_prefix("/assets/") == Some(name))
}

impl Asset {
    /// Its name in `web/dist`.
    pub fn file_name(&self) -> &'static str {
        match self.path.strip_prefix("/assets/") {
            Some(name) => name,
            None => "index.html",
        }
    }
}

/// The manifest of the embedded bundle.
pub fn embedded_manifest() -> &'static Manifest {
    static EMBEDDED: LazyLock<Manifest> =
        LazyLock::new(|| Manifest::of(ASSETS.iter().map(|a| (a.path, a.bytes))));
    &EMBEDDED
}

/// The bundle this instance serves: the embedded one, or (for development) a directory's.
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
        Bundle::new(Source::Embedded, embedded_manifest().clone())
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

    /// The bytes of `asset` as served now, and their SHA-256 (hex): the embedded file's from
    /// the manifest made at start, a directory's file's computed from what is on disk now.
    pub fn read(&self, asset: &Asset) -> std::io::Result<(Cow<'static, [u8]>, String)> {
        match &self.source {
            Source::Embedded => {
                let digest = self
                    .manifest
                    .assets
                    .iter()
                    .find(|e| e.path == asset.path)
                    .map(|e| e.sha256.clone())
                    .unwrap_or_else(|| crate::keys::hex(&Sha256::digest(asset.bytes)));
                Ok((Cow::Borrowed(asset.bytes), digest))
            }
            Source::Directory(dir) => {
                let bytes = std::fs::read(dir.join(asset.file_name()))?;
                let digest = crate::keys::hex(&Sha256::digest(&bytes));
                Ok((Cow::Owned(bytes), digest))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_bundle_is_exactly_what_web_dist_holds() {
        let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dist)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.file_name().to_owned()).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "web/dist holds a file that is not served"
        );
        for name in &on_disk {
            let bytes = std::fs::read(dist.join(name)).unwrap();
            let served = ASSETS
                .iter()
                .find(|a| {
                    a.path.ends_with(name.as_str()) || (a.path == "/" && name == "index.html")
                })
                .unwrap();
            // Compared by length and digest: a failure names the file, not a megabyte of bytes.
            let digest = |b: &[u8]| crate::keys::hex(&Sha256::digest(b));
            assert_eq!(
                (served.bytes.len(), digest(served.bytes)),
                (bytes.len(), digest(&bytes)),
                "{name}: the binary embeds other bytes than web/dist holds (rebuild)"
            );
        }
    }

    #[test]
    fn the_manifest_names_every_asset_by_its_digest_and_changes_with_a_byte() {
        let manifest = embedded_manifest();
        assert_eq!(manifest.assets.len(), ASSETS.len());
        let js = manifest
            .assets
            .iter()
            .find(|e| e.path == "/assets/app.js")
            .unwrap();
        assert_eq!(
            js.sha256,
            crate::keys::hex(&Sha256::digest(ASSETS[1].bytes))
        );
        let mut changed = ASSETS[1].bytes.to_vec();
        changed[0] ^= 1;
        let leaked: &[u8] = &changed;
        let other = Manifest::of([
            (INDEX.path, INDEX.bytes),
            (ASSETS[1].path, leaked),
            (ASSETS[2].path, ASSETS[2].bytes),
        ]);
        assert_ne!(other.to_json(), manifest.to_json());
    }
}
