//! The client's defence against a log that is rolled back or forked: the log's and the
//! witnesses' keys are pinned in the profile, and every command first checks that the
//! service's cosigned checkpoint extends the newest one this profile has seen. A checkpoint
//! that does not is kept, with the one it contradicts, as evidence; nothing there is ever
//! overwritten.

use std::path::Path;

use super::api::check;
use super::error::ClientError;
use super::profile::{Pinned, Profile};
use iro_advice_api::paths;
use iro_advice_api::{ConsistencyProof, LogTrust};
use iro_advice_tlog::decode_hashes;
use iro_advice_tlog::note::Checkpoint;
use iro_advice_tlog::trust::{check_extends, Trust, TrustError};

/// What `client login` was told to pin; empty means "what the server advertises".
pub struct Requested {
    pub log_key: Option<String>,
    pub witnesses: Vec<String>,
    pub quorum: Option<usize>,
}

/// Decides the keys to pin at login: the ones given, else the server's (on first use, and
/// said so). Refuses any change from what the profile already pinned.
pub async fn pin(
    http: &reqwest::Client,
    server: &str,
    profile: &Profile,
    requested: Requested,
) -> Result<(Pinned, Option<String>), ClientError> {
    let advertised: LogTrust = check(
        http.get(format!("{server}{}", paths::LOG_TRUST))
            .send()
            .await?,
    )
    .await?
    .json()
    .await?;
    let given = requested.log_key.is_some() || !requested.witnesses.is_empty();
    let wanted = if given {
        let witnesses = requested.witnesses;
        Pinned {
            log_key: requested
                .log_key
                .unwrap_or_else(|| advertised.log_key.clone()),
            quorum: requested.quorum.unwrap_or(witnesses.len()),
            witnesses,
        }
    } else {
        Pinned {
            log_key: advertised.log_key.clone(),
            quorum: requested.quorum.unwrap_or(advertised.quorum),
            witnesses: advertised.witnesses.clone(),
        }
    };
    Trust::new(&wanted.log_key, &wanted.witnesses, wanted.quorum)
        .map_err(|e| ClientError::Profile(e.to_string()))?;
    let note = match profile.pinned()? {
        Some(pinned) if pinned != wanted => {
            return Err(ClientError::Profile(format!(
                "refused: this profile pinned the log key {} with {} witness key(s) (quorum {}), \
                 and the keys now offered differ. A changed log or witness key is how an \
                 operator would hide a rewritten log; ask NAIRO whether the change is genuine \
                 before using a new profile.",
                pinned.log_key,
                pinned.witnesses.len(),
                pinned.quorum
            )))
        }
        Some(_) => None,
        None if given => Some(format!(
            "Pinned the log key and {} witness key(s) you gave (quorum {}).",
            wanted.witnesses.len(),
            wanted.quorum
        )),
        None => Some(format!(
            "Pinned, on first use, the log key {} and the {} witness key(s) the server \
             advertises (quorum {}); compare them with those NAIRO publishes.",
            wanted.log_key,
            wanted.witnesses.len(),
            wanted.quorum
        )),
    };
    Ok((wanted, note))
}

/// The newest checkpoint this profile has verified, opened with the pinned log key (its
/// cosignatures were checked when it was saved), and its note; None before the first.
pub fn held_checkpoint(
    profile: &Profile,
    pinned: &Pinned,
) -> Result<Option<(Checkpoint, String)>, ClientError> {
    let Some(note) = profile.checkpoint()? else {
        return Ok(None);
    };
    let (checkpoint, _) = Trust::new(&pinned.log_key, &[], 0)
        .and_then(|t| t.open(&note))
        .map_err(|e| ClientError::Profile(format!("checkpoint.txt: {e}")))?;
    Ok(Some((checkpoint, note)))
}

/// Fetches the service's cosigned checkpoint, checks its signatures, and that it extends
/// the newest one this profile holds; then keeps it as the newest.
pub async fn check_log(
    http: &reqwest::Client,
    server: &str,
    profile: &Profile,
    pinned: &Pinned,
) -> Result<(), ClientError> {
    let trust = Trust::new(&pinned.log_key, &pinned.witnesses, pinned.quorum)
        .map_err(|e| ClientError::Profile(format!("trust.json: {e}")))?;
    let served = check(
        http.get(format!("{server}{}", paths::LOG_CHECKPOINT))
            .send()
            .await?,
    )
    .await?
    .text()
    .await?;
    let (newer, _) = match trust.open(&served) {
        Ok(opened) => opened,
        // Signed by the log but short of the witnesses pinned: the witness set was dropped
        // or changed, which is how a restored or forked log would be served. An alarm, as a
        // rewritten log is, with what was served as evidence.
        Err(e @ TrustError::TooFewCosignatures { .. }) if profile.checkpoint()?.is_some() => {
            let held = profile.checkpoint()?.unwrap_or_default();
            let size = Trust::new(&pinned.log_key, &[], 0)
                .and_then(|t| t.open(&served))
                .map(|(c, _)| c)
                .ok();
            let kept = keep_evidence(
                &profile.evidence_dir(),
                &held,
                &served,
                size.as_ref().map_or(0, |c| c.size),
            )?;
            return Err(ClientError::Rewritten(format!(
                "STOP: the service's log is no longer witnessed as this profile pinned it ({} witness key(s), quorum {}): {e}. That is how a restored or forked log would be served. The checkpoints are saved in {} as evidence: keep them, keep your receipts, and tell NAIRO. Do not log in again with a fresh profile.",
                pinned.witnesses.len(),
                pinned.quorum,
                kept.display()
            )));
        }
        Err(e) => {
            return Err(ClientError::Profile(format!(
                "the service's checkpoint is not trusted: {e}"
            )))
        }
    };
    let Some((held, held_note)) = held_checkpoint(profile, pinned)? else {
        return profile.save_checkpoint(&served);
    };
    let proof = if newer.size > held.size && held.size > 0 {
        let answer: ConsistencyProof = check(
            http.get(format!(
                "{server}{}?from={}&to={}",
                paths::LOG_CONSISTENCY,
                held.size,
                newer.size
            ))
            .send()
            .await?,
        )
        .await?
        .json()
        .await?;
        decode_hashes(&answer.hashes)
            .ok_or_else(|| ClientError::Profile("a malformed consistency proof".into()))?
    } else {
        Vec::new()
    };
    match check_extends(&held, &newer, &proof) {
        Ok(()) => {
            if newer.size > held.size {
                profile.save_checkpoint(&served)?;
            }
            Ok(())
        }
        Err(rewrite) => {
            let kept = keep_evidence(&profile.evidence_dir(), &held_note, &served, newer.size)?;
            Err(ClientError::Rewritten(format!(
                "STOP: the service's request log has been rewritten: {rewrite}. Requests or \
                 pressure reports recorded before may have been erased. Both signed \
                 checkpoints are saved in {} as evidence: keep them, keep your receipts, and \
                 tell NAIRO. Do not log in again with a fresh profile.",
                kept.display()
            )))
        }
    }
}

/// Saves the checkpoint held and the one that contradicts it, in a new folder under
/// `evidence/` named by the time and the contradicting tree's size.
fn keep_evidence(
    dir: &Path,
    held: &str,
    served: &str,
    size: u64,
) -> Result<std::path::PathBuf, ClientError> {
    iro_advice_model::files::create_private_dir(dir).map_err(|e| ClientError::io(dir, e))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    for attempt in 0u32.. {
        let name = match attempt {
            0 => format!("{stamp}-size-{size}"),
            n => format!("{stamp}-size-{size}-{n}"),
        };
        let folder = dir.join(name);
        match std::fs::create_dir(&folder) {
            Ok(()) => {
                for (file, note) in [
                    ("held-checkpoint.txt", held),
                    ("served-checkpoint.txt", served),
                ] {
                    let path = folder.join(file);
                    iro_advice_model::files::write_new(&path, note.as_bytes())
                        .map_err(|e| ClientError::io(&path, e))?;
                }
                return Ok(folder);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ClientError::io(&folder, e)),
        }
    }
    Err(ClientError::Profile(
        "no free folder name under evidence/".into(),
    ))
}
