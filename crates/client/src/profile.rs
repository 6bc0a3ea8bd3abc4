//! The client's profile directory: server address, trusted certificate, tokens and the age
//! identity, all owner-only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ClientError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub server: String,
    pub email: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// The device token a sign-in gave this profile.
#[derive(Serialize, Deserialize)]
struct Device {
    server: String,
    email: String,
    token: String,
}

/// The keys this profile requires on the log's checkpoints, pinned at first login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinned {
    pub log_key: String,
    pub witnesses: Vec<String>,
    pub quorum: usize,
}

/// A correspondent's key as this profile last accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedKey {
    pub version: u64,
    pub recipient: String,
    /// The name the service gave them when the key was pinned: pins are by identity, so a
    /// renamed account, or another account under a pinned name, is a change to confirm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How far this profile has read the log for events about its own account: the size read
/// to, and the tree's right edge there (base64 hashes, largest subtree first), from which
/// the next leaves are checked against the next checkpoint's root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Watch {
    pub size: u64,
    pub edge: Vec<String>,
}

/// Everything pinned: correspondents' keys by account id.
pub type Pins = std::collections::BTreeMap<String, PinnedKey>;

pub struct Profile {
    pub dir: PathBuf,
}

impl Profile {
    /// `--profile-dir`, else `$XDG_CONFIG_HOME/iro-advice`, else `~/.config/iro-advice`.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, ClientError> {
        let dir = match explicit {
            Some(d) => d.to_owned(),
            None => {
                let base = std::env::var_os("XDG_CONFIG_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                    .ok_or_else(|| ClientError::Profile("no --profile-dir and no HOME".into()))?;
                base.join("iro-advice")
            }
        };
        Ok(Profile { dir })
    }

    pub fn ensure_dir(&self) -> Result<(), ClientError> {
        iro_advice_model::files::create_private_dir(&self.dir)
            .map_err(|e| ClientError::io(&self.dir, e))
    }

    pub fn identity_path(&self) -> PathBuf {
        self.dir.join("identity.txt")
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        missing: &str,
    ) -> Result<T, ClientError> {
        let path = self.dir.join(name);
        let text =
            std::fs::read_to_string(&path).map_err(|_| ClientError::Profile(missing.to_owned()))?;
        serde_json::from_str(&text)
            .map_err(|e| ClientError::Profile(format!("{}: {e}", path.display())))
    }

    fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), ClientError> {
        self.ensure_dir()?;
        let path = self.dir.join(name);
        let text = serde_json::to_vec_pretty(value).expect("serialisable");
        iro_advice_model::files::write_private(&path, &text).map_err(|e| ClientError::io(&path, e))
    }

    pub fn settings(&self) -> Result<Settings, ClientError> {
        self.read_json(
            "profile.json",
            "not logged in: run `iro-advice client login` first",
        )
    }

    pub fn save_settings(&self, settings: &Settings) -> Result<(), ClientError> {
        self.write_json("profile.json", settings)
    }

    pub fn tokens(&self) -> Result<Tokens, ClientError> {
        self.read_json(
            "tokens.json",
            "not logged in: run `iro-advice client login` first",
        )
    }

    pub fn save_tokens(&self, tokens: &Tokens) -> Result<(), ClientError> {
        self.write_json("tokens.json", tokens)
    }

    pub fn forget_tokens(&self) -> Result<(), ClientError> {
        let path = self.dir.join("tokens.json");
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ClientError::io(&path, e)),
            _ => Ok(()),
        }
    }

    /// The device token this profile was given for `email` on `server`, if any: kept apart
    /// from the session's tokens, so that signing out does not forget the device.
    pub fn device_token(&self, server: &str, email: &str) -> Result<Option<String>, ClientError> {
        if !self.dir.join("device.json").exists() {
            return Ok(None);
        }
        let device: Device = self.read_json("device.json", "")?;
        Ok(
            (device.server == server && device.email.eq_ignore_ascii_case(email))
                .then_some(device.token),
        )
    }

    pub fn save_device_token(
        &self,
        server: &str,
        email: &str,
        token: &str,
    ) -> Result<(), ClientError> {
        self.write_json(
            "device.json",
            &Device {
                server: server.to_owned(),
                email: email.to_owned(),
                token: token.to_owned(),
            },
        )
    }

    /// The pinned keys, if this profile has any yet.
    pub fn pinned(&self) -> Result<Option<Pinned>, ClientError> {
        if !self.dir.join("trust.json").exists() {
            return Ok(None);
        }
        self.read_json("trust.json", "trust.json is unreadable")
            .map(Some)
    }

    pub fn save_pinned(&self, pinned: &Pinned) -> Result<(), ClientError> {
        self.write_json("trust.json", pinned)
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("checkpoint.txt")
    }

    /// The newest checkpoint this profile has verified, as the signed note.
    pub fn checkpoint(&self) -> Result<Option<String>, ClientError> {
        match std::fs::read_to_string(self.checkpoint_path()) {
            Ok(note) => Ok(Some(note)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(&self.checkpoint_path(), e)),
        }
    }

    /// Replaces the newest verified checkpoint (only ever with one that extends it).
    pub fn save_checkpoint(&self, note: &str) -> Result<(), ClientError> {
        self.ensure_dir()?;
        let path = self.checkpoint_path();
        // Written aside and renamed: a crash never leaves half a checkpoint.
        iro_advice_model::files::write_private(&path, note.as_bytes())
            .map_err(|e| ClientError::io(&path, e))
    }

    /// Correspondents' keys as last accepted.
    pub fn pins(&self) -> Result<Pins, ClientError> {
        if !self.dir.join("keys.json").exists() {
            return Ok(Default::default());
        }
        self.read_json("keys.json", "keys.json is unreadable")
    }

    pub fn save_pins(&self, pins: &Pins) -> Result<(), ClientError> {
        self.write_json("keys.json", pins)
    }

    pub fn watch(&self) -> Result<Option<Watch>, ClientError> {
        if !self.dir.join("watch.json").exists() {
            return Ok(None);
        }
        self.read_json("watch.json", "watch.json is unreadable")
            .map(Some)
    }

    pub fn save_watch(&self, watch: &Watch) -> Result<(), ClientError> {
        self.write_json("watch.json", watch)
    }

    /// The recipients this profile registered as the user's own, oldest first.
    pub fn own_keys(&self) -> Result<Vec<String>, ClientError> {
        if !self.dir.join("own-keys.json").exists() {
            return Ok(Vec::new());
        }
        self.read_json("own-keys.json", "own-keys.json is unreadable")
    }

    pub fn add_own_key(&self, recipient: &str) -> Result<(), ClientError> {
        let mut keys = self.own_keys()?;
        if !keys.iter().any(|k| k == recipient) {
            keys.push(recipient.to_owned());
        }
        self.write_json("own-keys.json", &keys)
    }

    /// The conflict sets this profile declared (their digests, hex), oldest first.
    pub fn own_conflicts(&self) -> Result<Vec<String>, ClientError> {
        if !self.dir.join("own-conflicts.json").exists() {
            return Ok(Vec::new());
        }
        self.read_json("own-conflicts.json", "own-conflicts.json is unreadable")
    }

    pub fn add_own_conflicts(&self, digest: &str) -> Result<(), ClientError> {
        let mut sets = self.own_conflicts()?;
        if !sets.iter().any(|d| d == digest) {
            sets.push(digest.to_owned());
        }
        self.write_json("own-conflicts.json", &sets)
    }

    /// Whether this profile last said the adviser accepts new queries; None before it did.
    pub fn own_availability(&self) -> Result<Option<bool>, ClientError> {
        if !self.dir.join("own-availability.json").exists() {
            return Ok(None);
        }
        self.read_json(
            "own-availability.json",
            "own-availability.json is unreadable",
        )
        .map(Some)
    }

    pub fn save_own_availability(&self, accepting: bool) -> Result<(), ClientError> {
        self.write_json("own-availability.json", &accepting)
    }

    /// Who the log first recorded this account as, when this profile first saw its logged
    /// identity: (display name, role, affiliation).
    pub fn own_identity(&self) -> Result<Option<(String, String, String)>, ClientError> {
        if !self.dir.join("own-identity.json").exists() {
            return Ok(None);
        }
        self.read_json("own-identity.json", "own-identity.json is unreadable")
            .map(Some)
    }

    pub fn save_own_identity(
        &self,
        identity: &(String, String, String),
    ) -> Result<(), ClientError> {
        self.write_json("own-identity.json", identity)
    }

    /// The account's sign-ins the watch found in the log: (leaf index, Unix seconds, the
    /// session's digest in hex), oldest first.
    pub fn sign_ins(&self) -> Result<Vec<(u64, i64, String)>, ClientError> {
        if !self.dir.join("sign-ins.json").exists() {
            return Ok(Vec::new());
        }
        self.read_json("sign-ins.json", "sign-ins.json is unreadable")
    }

    pub fn add_sign_ins(&self, found: &[(u64, i64, String)]) -> Result<(), ClientError> {
        let mut all = self.sign_ins()?;
        for f in found {
            if !all.iter().any(|(i, _, _)| *i == f.0) {
                all.push(f.clone());
            }
        }
        self.write_json("sign-ins.json", &all)
    }

    pub fn evidence_dir(&self) -> PathBuf {
        self.dir.join("evidence")
    }

    pub fn save_ca(&self, pem: &[u8]) -> Result<(), ClientError> {
        self.ensure_dir()?;
        let path = self.ca_path();
        iro_advice_model::files::write_private(&path, pem).map_err(|e| ClientError::io(&path, e))
    }
}
