//! C2SP signed notes (https://c2sp.org/signed-note) carrying C2SP checkpoints
//! (https://c2sp.org/tlog-checkpoint), signed with Ed25519.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// Signature type byte for Ed25519 in C2SP note keys.
const ED25519_TYPE: u8 = 0x01;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("malformed verifier key")]
    Key,
    #[error("malformed signed note")]
    Note,
    #[error("no valid signature by {0}")]
    Unsigned(String),
    #[error("malformed checkpoint")]
    Checkpoint,
}

/// A note key's ID: `SHA-256(name || "\n" || type byte || public key)[:4]`, as C2SP signed
/// notes (type 0x01) and tlog cosignatures (type 0x04) both define it.
pub fn key_id_of(name: &str, key_type: u8, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([key_type]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A verifier key in the note format: `name+hex(key id)+base64(type byte ‖ public key)`.
pub fn verifier_key_of(name: &str, key_type: u8, public: &[u8]) -> String {
    let mut typed = vec![key_type];
    typed.extend_from_slice(public);
    let id: String = key_id_of(name, key_type, public)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{name}+{id}+{}", B64.encode(typed))
}

/// A key name: non-empty, without the `+` that separates a key's fields or any space.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c == '+' || c.is_whitespace())
}

fn key_id(name: &str, public: &[u8]) -> u32 {
    u32::from_be_bytes(key_id_of(name, ED25519_TYPE, public))
}

/// The log's signing key and the name it signs under (the checkpoint origin).
pub struct Signer {
    name: String,
    pair: Ed25519KeyPair,
}

impl Signer {
    pub fn new(name: &str, pkcs8: &[u8]) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::Key);
        }
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| NoteError::Key)?;
        Ok(Signer {
            name: name.to_owned(),
            pair,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key: `name+hex(key id)+base64(0x01 ‖ public key)`.
    pub fn verifier_key(&self) -> String {
        verifier_key_of(&self.name, ED25519_TYPE, self.pair.public_key().as_ref())
    }

    /// The signed note: the text, a blank line, and one signature line.
    pub fn sign(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let public = self.pair.public_key().as_ref();
        let mut sig = key_id(&self.name, public).to_be_bytes().to_vec();
        sig.extend_from_slice(self.pair.sign(text.as_bytes()).as_ref());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(sig))
    }
}

/// A parsed verifier key.
pub struct Verifier {
    name: String,
    id: u32,
    public: Vec<u8>,
}

impl Verifier {
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::Key);
        };
        let id = u32::from_str_radix(id, 16).map_err(|_| NoteError::Key)?;
        let typed = B64.decode(key).map_err(|_| NoteError::Key)?;
        if typed.len() != 33 || typed[0] != ED25519_TYPE || name.is_empty() {
            return Err(NoteError::Key);
        }
        let public = typed[1..].to_vec();
        if key_id(name, &public) != id {
            return Err(NoteError::Key);
        }
        Ok(Verifier {
            name: name.to_owned(),
            id,
            public,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The note's text, if one of its signatures is this key's and valid.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note.rfind("\n\n").ok_or(NoteError::Note)?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        if text.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Note);
        }
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(NoteError::Note);
            };
            let Some((name, sig)) = rest.split_once(' ') else {
                return Err(NoteError::Note);
            };
            let Ok(sig) = B64.decode(sig) else {
                return Err(NoteError::Note);
            };
            if name != self.name
                || sig.len() != 68
                || u32::from_be_bytes([sig[0], sig[1], sig[2], sig[3]]) != self.id
            {
                continue;
            }
            if UnparsedPublicKey::new(&ED25519, &self.public)
                .verify(text.as_bytes(), &sig[4..])
                .is_ok()
            {
                return Ok(text);
            }
        }
        Err(NoteError::Unsigned(self.name.clone()))
    }
}

/// The body of a checkpoint: origin, size, root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::Checkpoint)?;
        let size = lines
            .next()
            .filter(|s| {
                !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s.len() == 1 || !s.starts_with('0'))
            })
            .and_then(|s| s.parse().ok())
            .ok_or(NoteError::Checkpoint)?;
        let root: Hash = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::Checkpoint)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Verifies a signed checkpoint and returns it; its origin must be the key's name.
pub fn open_checkpoint(verifier: &Verifier, note: &str) -> Result<Checkpoint, NoteError> {
    let checkpoint = Checkpoint::parse(verifier.open(note)?)?;
    if checkpoint.origin != verifier.name() {
        return Err(NoteError::Checkpoint);
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str) -> Signer {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Signer::new(name, pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn signed_checkpoints_verify_with_the_verifier_key_only() {
        let s = signer("advice.example.org/log");
        let cp = Checkpoint {
            origin: s.name().to_owned(),
            size: 42,
            root: [7u8; 32],
        };
        let note = s.sign(&cp.text());
        assert!(note.starts_with("advice.example.org/log\n42\nBwcH"));
        assert!(note.contains("\n\n\u{2014} advice.example.org/log "));
        let v = Verifier::parse(&s.verifier_key()).unwrap();
        assert_eq!(open_checkpoint(&v, &note).unwrap(), cp);

        let other = Verifier::parse(&signer("advice.example.org/log").verifier_key()).unwrap();
        assert!(matches!(
            open_checkpoint(&other, &note),
            Err(NoteError::Unsigned(_))
        ));
        let tampered = note.replacen("\n42\n", "\n43\n", 1);
        assert!(open_checkpoint(&v, &tampered).is_err());
        assert!(open_checkpoint(&v, "no signature\n").is_err());
    }

    #[test]
    fn verifier_keys_are_checked() {
        let key = signer("log.test").verifier_key();
        assert!(key.starts_with("log.test+"));
        assert!(Verifier::parse(&key).is_ok());
        let wrong_id = format!("log.test+00000000+{}", key.rsplit('+').next().unwrap());
        assert!(Verifier::parse(&wrong_id).is_err());
        assert!(Verifier::parse("log.test").is_err());
        assert!(Signer::new("has space", &[]).is_err());
    }

    #[test]
    fn checkpoint_text_is_strict() {
        assert!(Checkpoint::parse("o\n01\nAAAA\n").is_err());
        assert!(Checkpoint::parse("o\n1\nnotbase64!\n").is_err());
        assert!(Checkpoint::parse("\n1\nAAAA\n").is_err());
    }
}
