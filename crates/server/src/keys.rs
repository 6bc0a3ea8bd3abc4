//! Key material kept in the keys directory (by default `<data dir>/keys`), created on first
//! start. Instances that serve one database must share this directory.

use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};

#[derive(Debug, thiserror::Error)]
#[error("IRO_ADVICE_KEYS_DIR: {path}: {reason}")]
pub struct KeyError {
    path: PathBuf,
    reason: String,
}

/// Every secret the server holds, loaded once at start.
pub struct Keys {
    /// PKCS#8 document of the Ed25519 key that signs access tokens.
    pub access_token_pkcs8: Vec<u8>,
    pub access_token_public: Vec<u8>,
    /// ChaCha20-Poly1305 key that seals TOTP secrets at rest.
    pub totp_seal: [u8; 32],
    /// PKCS#8 document of the Ed25519 key that signs log checkpoints.
    pub log_pkcs8: Vec<u8>,
    /// HMAC-SHA-256 key for the pseudonyms in log leaves.
    pub log_pseudonym: Vec<u8>,
}

impl Keys {
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        iro_advice_model::files::create_private_dir(dir).map_err(|e| KeyError {
            path: dir.to_owned(),
            reason: e.to_string(),
        })?;
        let access_token_pkcs8 = load_or_create(&dir.join("access-token-ed25519.pk8"), || {
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .expect("system randomness")
                .as_ref()
                .to_vec()
        })?;
        let pair = Ed25519KeyPair::from_pkcs8(&access_token_pkcs8).map_err(|e| KeyError {
            path: dir.join("access-token-ed25519.pk8"),
            reason: format!("not an Ed25519 PKCS#8 v2 key: {e}"),
        })?;
        let totp_path = dir.join("totp-seal.key");
        let totp = load_or_create(&totp_path, || random_bytes::<32>().to_vec())?;
        let totp_seal: [u8; 32] = totp.try_into().map_err(|_| KeyError {
            path: totp_path,
            reason: "must hold exactly 32 bytes".into(),
        })?;
        let log_pkcs8 = load_or_create(&dir.join("log-ed25519.pk8"), || {
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .expect("system randomness")
                .as_ref()
                .to_vec()
        })?;
        let log_pseudonym = load_or_create(&dir.join("log-pseudonym.key"), || {
            random_bytes::<32>().to_vec()
        })?;
        Ok(Keys {
            access_token_public: pair.public_key().as_ref().to_vec(),
            access_token_pkcs8,
            totp_seal,
            log_pkcs8,
            log_pseudonym,
        })
    }
}

/// Reads a key file, or creates it so that two instances starting at once agree on one key:
/// the new key is written aside and linked into place, which fails if another got there first.
fn load_or_create(path: &Path, generate: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, KeyError> {
    let err = |e: std::io::Error| KeyError {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    match std::fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        Err(_) => {}
    }
    let tmp = path.with_extension(format!("new-{}", std::process::id()));
    iro_advice_model::files::write_private(&tmp, &generate()).map_err(err)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(err(e)),
    }
    std::fs::read(path).map_err(err)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("system randomness");
    out
}

/// A 256-bit random token, URL-safe base64 without padding.
pub fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// How a bearer secret (refresh token, invitation) is stored: its SHA-256, in hex. The
/// secrets are 256-bit random values, so a fast hash suffices.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A value that must never reach a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}
