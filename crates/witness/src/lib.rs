//! A transparency-log witness, following C2SP tlog-witness and tlog-cosignature, so that
//! NAIRO or any independent body can run one on its own machine (`iro-advice witness …`):
//! it cosigns a checkpoint of a log it knows only when the checkpoint is consistent with
//! the last one it cosigned for that log, never cosigns two views of one log, and keeps
//! every log-signed checkpoint that contradicts what it cosigned as evidence.

pub mod http;
pub mod state;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use iro_advice_tlog::cosignature::Cosigner;
use iro_advice_tlog::witness::AddCheckpoint;
use state::{Evidence, Latest, Store};

use iro_advice_tlog::merkle::{empty_root, verify_consistency};
use iro_advice_tlog::note::{Checkpoint, NoteError, Verifier};

const KEY_FILE: &str = "witness.key";
const NAME_FILE: &str = "witness.name";

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("{0}")]
    State(#[from] state::StateError),
    #[error("{path}: {reason}")]
    Files { path: String, reason: String },
    #[error("--log {0}: not a log verifier key (name+id+base64 of an Ed25519 note key)")]
    LogKey(String),
    #[error("{0} already holds a witness key; a witness keeps its key for life")]
    Exists(String),
    #[error("{0}")]
    Key(#[from] iro_advice_tlog::cosignature::CosignatureError),
}

/// Why a checkpoint was not cosigned, each with the status C2SP tlog-witness gives it.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the request is not what the protocol says.
    Malformed(String),
    /// 403: no valid signature by a key the witness trusts for that origin.
    Unsigned,
    /// 404: the witness does not witness that log.
    UnknownLog,
    /// 409: the client's old size is not the size last cosigned (given in the body).
    StaleOldSize(u64),
    /// 409 without a size: the checkpoint has the size last cosigned but another root.
    RootMismatch(String),
    /// 422: inconsistent with what was cosigned, or not a valid tree.
    Inconsistent(String),
    /// 500: the witness cannot read or write its own state.
    Internal(String),
}

/// A witness: its key, the logs it knows, and its remembered state.
pub struct Witness {
    cosigner: Cosigner,
    logs: HashMap<String, Verifier>,
    store: Store,
    /// Every (size, root) cosigned, per origin, read from disk once: checking the old size
    /// and recording the new checkpoint happen as one step under this lock.
    cosigned: Mutex<HashMap<String, Vec<Latest>>>,
}

/// Makes a witness's key and state under `dir`; returns its verifier key.
pub fn init(dir: &Path, name: &str) -> Result<String, WitnessError> {
    let files = |e: std::io::Error| WitnessError::Files {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    iro_advice_model::files::create_private_dir(dir).map_err(files)?;
    let key_path = dir.join(KEY_FILE);
    if key_path.exists() {
        return Err(WitnessError::Exists(dir.display().to_string()));
    }
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
        .map_err(|_| WitnessError::Files {
        path: key_path.display().to_string(),
        reason: "no system randomness".into(),
    })?;
    let cosigner = Cosigner::new(name, pkcs8.as_ref())?;
    iro_advice_model::files::write_private(&key_path, pkcs8.as_ref()).map_err(files)?;
    iro_advice_model::files::write_private(&dir.join(NAME_FILE), name.as_bytes()).map_err(files)?;
    Store::open(dir)?;
    Ok(cosigner.verifier_key())
}

impl Witness {
    /// Opens the witness in `dir` for the logs whose verifier keys are given.
    pub fn open(dir: &Path, log_keys: &[String]) -> Result<Self, WitnessError> {
        let read = |file: &str| {
            std::fs::read(dir.join(file)).map_err(|e| WitnessError::Files {
                path: dir.join(file).display().to_string(),
                reason: format!("{e} (run `iro-advice witness init` first)"),
            })
        };
        let name = String::from_utf8(read(NAME_FILE)?).map_err(|_| WitnessError::Files {
            path: dir.join(NAME_FILE).display().to_string(),
            reason: "not UTF-8".into(),
        })?;
        let cosigner = Cosigner::new(name.trim(), &read(KEY_FILE)?)?;
        let mut logs = HashMap::new();
        for key in log_keys {
            let verifier = Verifier::parse(key).map_err(|_| WitnessError::LogKey(key.clone()))?;
            logs.insert(verifier.name().to_owned(), verifier);
        }
        Ok(Witness {
            cosigner,
            logs,
            store: Store::open(dir)?,
            cosigned: Mutex::new(HashMap::new()),
        })
    }

    pub fn verifier_key(&self) -> String {
        self.cosigner.verifier_key()
    }

    /// Answers one `add-checkpoint` request body at `now` (Unix seconds): the cosignature
    /// line, or why not.
    pub fn add_checkpoint(&self, body: &str, now: u64) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let origin = request.note.split('\n').next().unwrap_or_default();
        let verifier = self.logs.get(origin).ok_or(Refusal::UnknownLog)?;
        let text = verifier.open(&request.note).map_err(|e| match e {
            NoteError::Unsigned(_) => Refusal::Unsigned,
            other => Refusal::Malformed(other.to_string()),
        })?;
        let checkpoint = Checkpoint::parse(text).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let old_too_large =
            || Refusal::Malformed("the old size is larger than the checkpoint's".into());
        // A poisoned lock only means another request panicked; the state on disk is whole.
        let mut all = self.cosigned.lock().unwrap_or_else(|p| p.into_inner());
        if !all.contains_key(origin) {
            let stored = self
                .store
                .cosigned(origin)
                .map_err(|e| Refusal::Internal(e.to_string()))?;
            all.insert(origin.to_owned(), stored);
        }
        let cosigned = all
            .get_mut(origin)
            .ok_or_else(|| Refusal::Internal("the cosigned list vanished".into()))?;
        let latest = cosigned.last().cloned().unwrap_or(Latest {
            size: 0,
            root: empty_root(),
        });
        // Whatever the client's old size, a checkpoint that contradicts one already cosigned
        // is proof that the log showed two views: keep it.
        // The answer is still the one C2SP tlog-witness gives for the request as sent.
        if let Some(reason) = contradiction(cosigned, &checkpoint) {
            self.keep_evidence(origin, &request.note, &reason, cosigned, now)?;
            return Err(if request.old_size > checkpoint.size {
                old_too_large()
            } else if request.old_size != latest.size {
                Refusal::StaleOldSize(latest.size)
            } else if checkpoint.size == latest.size {
                Refusal::RootMismatch(reason)
            } else {
                Refusal::Inconsistent(reason)
            });
        }
        if request.old_size > checkpoint.size {
            return Err(old_too_large());
        }
        if request.old_size != latest.size {
            return Err(Refusal::StaleOldSize(latest.size));
        }
        if checkpoint.size == 0 && checkpoint.root != empty_root() {
            return Err(Refusal::Inconsistent(
                "an empty tree has the empty root".into(),
            ));
        }
        if request.old_size == 0 && !request.proof.is_empty() {
            return Err(Refusal::Inconsistent(
                "no proof is needed from the empty tree".into(),
            ));
        }
        let consistent = verify_consistency(
            latest.size,
            checkpoint.size,
            &latest.root,
            &checkpoint.root,
            &request.proof,
        );
        if !consistent {
            let reason = format!(
                "the consistency proof from size {} to {} does not verify",
                latest.size, checkpoint.size
            );
            self.keep_evidence(origin, &request.note, &reason, cosigned, now)?;
            return Err(Refusal::Inconsistent(reason));
        }
        let new = Latest {
            size: checkpoint.size,
            root: checkpoint.root,
        };
        if new != latest || cosigned.is_empty() {
            self.store
                .record_cosigned(origin, &new, &request.note)
                .map_err(|e| Refusal::Internal(e.to_string()))?;
            cosigned.push(new);
        }
        Ok(self.cosigner.cosign(text, now))
    }

    fn keep_evidence(
        &self,
        origin: &str,
        note: &str,
        reason: &str,
        cosigned: &[Latest],
        now: u64,
    ) -> Result<(), Refusal> {
        let latest_note = self
            .store
            .latest_note(origin)
            .map_err(|e| Refusal::Internal(e.to_string()))?;
        let summary = cosigned
            .last()
            .map(|l| {
                use base64::Engine;
                format!(
                    "size {} root {}",
                    l.size,
                    base64::engine::general_purpose::STANDARD.encode(l.root)
                )
            })
            .unwrap_or_default();
        tracing::warn!(
            origin,
            reason,
            "refused a checkpoint that contradicts one cosigned"
        );
        self.store
            .record_evidence(&Evidence {
                received_at: now,
                origin: origin.to_owned(),
                reason: reason.to_owned(),
                refused: note.to_owned(),
                cosigned: latest_note.unwrap_or(summary),
            })
            .map_err(|e| Refusal::Internal(e.to_string()))
    }
}

/// How `checkpoint` contradicts what was cosigned, if it does: a different root at a size
/// that was cosigned. (A smaller tree than the latest is refused as stale, not as a lie,
/// unless its size was cosigned with another root.)
fn contradiction(cosigned: &[Latest], checkpoint: &Checkpoint) -> Option<String> {
    // Cosigned sizes only grow, so the list is sorted by size.
    let at = cosigned
        .binary_search_by_key(&checkpoint.size, |c| c.size)
        .ok()?;
    (cosigned[at].root != checkpoint.root).then(|| {
        format!(
            "size {} was cosigned with another root: the log shows two views",
            checkpoint.size
        )
    })
}
