//! What a witness remembers, on disk, per log: every checkpoint it cosigned (size and root,
//! append-only), the latest one whole, and the evidence of every conflicting checkpoint it
//! was sent. Each change is flushed to disk before the witness answers.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use iro_advice_tlog::merkle::Hash;

/// One log's latest cosigned checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub size: u64,
    pub root: Hash,
}

/// A log-signed checkpoint the witness refused because it contradicts one it cosigned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Evidence {
    /// Unix seconds when it arrived.
    pub received_at: u64,
    pub origin: String,
    /// Why it cannot be true together with what was cosigned.
    pub reason: String,
    /// The refused checkpoint, as the log signed it.
    pub refused: String,
    /// The cosigned checkpoint it conflicts with: the whole note when it is the latest,
    /// else its size and root.
    pub cosigned: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct StateError {
    pub path: String,
    pub reason: String,
}

fn io(path: &Path, e: std::io::Error) -> StateError {
    StateError {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// The witness's data directory.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let logs = dir.join("logs");
        iro_advice_model::files::create_private_dir(&logs).map_err(|e| io(&logs, e))?;
        Ok(Store {
            dir: dir.to_owned(),
        })
    }

    /// A log's directory, named by a hash of its origin so any origin is a safe file name.
    fn log_dir(&self, origin: &str) -> PathBuf {
        let digest = Sha256::digest(origin.as_bytes());
        let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join("logs").join(name)
    }

    /// Every (size, root) cosigned for the log, oldest first.
    pub fn cosigned(&self, origin: &str) -> Result<Vec<Latest>, StateError> {
        let path = self.log_dir(origin).join("cosigned");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path, e)),
        };
        text.lines()
            .map(|line| {
                let (size, root) = line.split_once(' ')?;
                let root = B64.decode(root).ok()?.try_into().ok()?;
                Some(Latest {
                    size: size.parse().ok()?,
                    root,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StateError {
                path: path.display().to_string(),
                reason: "a line is corrupt; refusing to guess what was cosigned".into(),
            })
    }

    /// The latest cosigned checkpoint's whole signed note, if any.
    pub fn latest_note(&self, origin: &str) -> Result<Option<String>, StateError> {
        let path = self.log_dir(origin).join("latest.note");
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    /// Records a newly cosigned checkpoint, durably, before the cosignature is given out.
    pub fn record_cosigned(
        &self,
        origin: &str,
        latest: &Latest,
        note: &str,
    ) -> Result<(), StateError> {
        let dir = self.log_dir(origin);
        iro_advice_model::files::create_private_dir(&dir).map_err(|e| io(&dir, e))?;
        fs::write(dir.join("origin"), origin).map_err(|e| io(&dir, e))?;
        append(
            &dir.join("cosigned"),
            format!("{} {}\n", latest.size, B64.encode(latest.root)).as_bytes(),
        )?;
        let tmp = dir.join("latest.note.tmp");
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(note.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, dir.join("latest.note")).map_err(|e| io(&tmp, e))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(&dir, e))
    }

    pub fn record_evidence(&self, evidence: &Evidence) -> Result<(), StateError> {
        let mut line = serde_json::to_vec(evidence).map_err(|e| StateError {
            path: "evidence".into(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        append(&self.dir.join("evidence.jsonl"), &line)
    }

    /// Every piece of evidence kept, oldest first.
    pub fn evidence(&self) -> Result<Vec<Evidence>, StateError> {
        let path = self.dir.join("evidence.jsonl");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path, e)),
        };
        text.lines()
            .map(|l| {
                serde_json::from_str(l).map_err(|e| StateError {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

/// Appends `bytes` to a file and flushes it to disk.
fn append(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_data())
        .map_err(|e| io(path, e))
}
