//! Every receipt the service hands this client for an act is kept in the profile until a
//! checkpoint the pinned witnesses cosigned includes it. An operator who erases an act the
//! client never saw cosigned (a restored database, a forked instance the user was routed to
//! and back from) leaves a receipt that no witnessed checkpoint will ever include: the client
//! raises the alarm, with the receipt as evidence, as soon as the log's leaf at its index is
//! another, or once [`DEADLINE_HOURS`] have passed without it (`watch::check_kept`, at every
//! command).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ClientError;
use super::profile::Profile;
use iro_advice_api::Receipt;

/// How long an act may wait for a witnessed checkpoint: the longest publication interval
/// the service allows (an hour) and an hour more for the witnesses.
pub const DEADLINE_HOURS: i64 = 2;

const FILE: &str = "kept-receipts.json";

/// A receipt, and when this client was given it.
#[derive(Serialize, Deserialize, Clone)]
pub struct Kept {
    /// Unix seconds.
    pub kept_at: i64,
    pub receipt: Receipt,
}

fn path(profile: &Profile) -> PathBuf {
    profile.dir.join(FILE)
}

pub fn load(profile: &Profile) -> Result<Vec<Kept>, ClientError> {
    let file = path(profile);
    match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|_| ClientError::Profile(format!("{} is unreadable", file.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ClientError::io(&file, e)),
    }
}

pub(crate) fn save(profile: &Profile, kept: &[Kept]) -> Result<(), ClientError> {
    profile.ensure_dir()?;
    let file = path(profile);
    let bytes = serde_json::to_vec_pretty(kept)
        .map_err(|e| ClientError::Profile(format!("{}: {e}", file.display())))?;
    iro_advice_model::files::write_private(&file, &bytes).map_err(|e| ClientError::io(&file, e))
}

/// Keeps a receipt just received (once).
pub fn keep(profile: &Profile, receipt: &Receipt) -> Result<(), ClientError> {
    let mut kept = load(profile)?;
    if !kept
        .iter()
        .any(|k| k.receipt.leaf_data == receipt.leaf_data)
    {
        kept.push(Kept {
            kept_at: chrono::Utc::now().timestamp(),
            receipt: receipt.clone(),
        });
        save(profile, &kept)?;
    }
    Ok(())
}

/// Keeps the receipt an act's answer carries, if it carries one (`receipt` at its top).
pub fn keep_from_answer(profile: &Profile, answer: &serde_json::Value) -> Result<(), ClientError> {
    if let Some(receipt) = answer.get("receipt").filter(|r| r.is_object()) {
        if let Ok(receipt) = serde_json::from_value::<Receipt>(receipt.clone()) {
            keep(profile, &receipt)?;
        }
    }
    Ok(())
}

/// The alarm: the receipt and the checkpoint that lacks it saved as evidence.
pub(crate) fn erased(
    profile: &Profile,
    kept: &Kept,
    cosigned_note: &str,
    why: &str,
) -> Result<ClientError, ClientError> {
    let dir = evidence_folder(&profile.evidence_dir())?;
    let receipt = serde_json::to_vec_pretty(&kept.receipt)
        .map_err(|e| ClientError::Profile(e.to_string()))?;
    for (file, bytes) in [
        ("receipt.json", receipt.as_slice()),
        ("served-checkpoint.txt", cosigned_note.as_bytes()),
    ] {
        let path = dir.join(file);
        iro_advice_model::files::write_new(&path, bytes).map_err(|e| ClientError::io(&path, e))?;
    }
    Ok(ClientError::Rewritten(format!(
        "STOP: an act of yours has been erased from the service's request log: {why}. The \
         receipt the service gave you and the checkpoint without it are saved in {} as \
         evidence: keep them and tell NAIRO. Do not log in again with a fresh profile.",
        dir.display()
    )))
}

fn evidence_folder(dir: &Path) -> Result<PathBuf, ClientError> {
    iro_advice_model::files::create_private_dir(dir).map_err(|e| ClientError::io(dir, e))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    for n in 0u32..1000 {
        let folder = dir.join(format!("{stamp}-erased-act-{n}"));
        match std::fs::create_dir(&folder) {
            Ok(()) => return Ok(folder),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ClientError::io(&folder, e)),
        }
    }
    Err(ClientError::Profile(
        "no free folder name under evidence/".into(),
    ))
}
