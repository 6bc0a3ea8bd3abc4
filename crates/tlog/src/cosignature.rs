//! C2SP tlog-cosignature, the Ed25519 `cosignature/v1` type: a witness's timestamped
//! signature over a checkpoint it verified (https://c2sp.org/tlog-cosignature).

use crate::note::{key_id_of, valid_key_name, verifier_key_of};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

/// The signature type byte of an Ed25519 cosigner key in the note key format.
pub const COSIGNATURE_V1_TYPE: u8 = 0x04;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignatureError {
    #[error("malformed cosigner key")]
    Key,
    #[error("the cosigner name must be non-empty, without '+' or spaces")]
    Name,
}

/// `SHA-256(name || "\n" || 0x04 || public key)[:4]`.
pub fn key_id(name: &str, public: &[u8]) -> [u8; 4] {
    key_id_of(name, COSIGNATURE_V1_TYPE, public)
}

/// The message a `cosignature/v1` signs: the header line, the time line, then the
/// checkpoint's note body (with its final newline, without signature lines).
pub fn signed_message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{body}").into_bytes()
}

/// A witness's signing key and the name it cosigns under.
pub struct Cosigner {
    name: String,
    pair: Ed25519KeyPair,
}

impl Cosigner {
    pub fn new(name: &str, pkcs8: &[u8]) -> Result<Self, CosignatureError> {
        if !valid_key_name(name) {
            return Err(CosignatureError::Name);
        }
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| CosignatureError::Key)?;
        Ok(Cosigner {
            name: name.to_owned(),
            pair,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key: `name+hex(key id)+base64(0x04 ‖ public key)`.
    pub fn verifier_key(&self) -> String {
        verifier_key_of(
            &self.name,
            COSIGNATURE_V1_TYPE,
            self.pair.public_key().as_ref(),
        )
    }

    /// One note signature line, newline-terminated, cosigning `body` at `timestamp`.
    pub fn cosign(&self, body: &str, timestamp: u64) -> String {
        let public = self.pair.public_key().as_ref();
        let mut sig = key_id(&self.name, public).to_vec();
        sig.extend_from_slice(&timestamp.to_be_bytes());
        sig.extend_from_slice(self.pair.sign(&signed_message(body, timestamp)).as_ref());
        format!("\u{2014} {} {}\n", self.name, B64.encode(sig))
    }
}

/// A cosigner's verifier key, parsed.
#[derive(Debug, Clone)]
pub struct CosignatureVerifier {
    name: String,
    id: [u8; 4],
    public: Vec<u8>,
}

impl CosignatureVerifier {
    pub fn parse(vkey: &str) -> Result<Self, CosignatureError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CosignatureError::Key);
        };
        let typed = B64.decode(key).map_err(|_| CosignatureError::Key)?;
        if !valid_key_name(name) || typed.len() != 33 || typed[0] != COSIGNATURE_V1_TYPE {
            return Err(CosignatureError::Key);
        }
        let public = typed[1..].to_vec();
        let expected = key_id(name, &public);
        if id.len() != 8 || hex(&expected) != id.to_ascii_lowercase() {
            return Err(CosignatureError::Key);
        }
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            id: expected,
            public,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The timestamp of this cosigner's valid cosignature among `signature_lines` over
    /// `body`, if there is one. Lines of other keys are ignored.
    pub fn verify(&self, body: &str, signature_lines: &str) -> Option<u64> {
        signature_lines.lines().find_map(|line| {
            let rest = line.strip_prefix("\u{2014} ")?;
            let (name, sig) = rest.split_once(' ')?;
            let sig = B64.decode(sig).ok()?;
            if name != self.name || sig.len() != 4 + 8 + 64 || sig[..4] != self.id {
                return None;
            }
            let timestamp = u64::from_be_bytes(sig[4..12].try_into().ok()?);
            UnparsedPublicKey::new(&ED25519, &self.public)
                .verify(&signed_message(body, timestamp), &sig[12..])
                .ok()
                .map(|()| timestamp)
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosigner() -> Cosigner {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).expect("a key");
        Cosigner::new("witness.example/w1", pkcs8.as_ref()).expect("a cosigner")
    }

    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn the_signed_message_is_the_specs_example() {
        // The example message of c2sp.org/tlog-cosignature, "Ed25519 signed message".
        assert_eq!(
            String::from_utf8(signed_message(BODY, 1679315147)).unwrap(),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
             CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn a_cosignature_verifies_with_the_key_it_prints_and_nothing_else() {
        let c = cosigner();
        let line = c.cosign(BODY, 1_700_000_000);
        let v = CosignatureVerifier::parse(&c.verifier_key()).unwrap();
        assert_eq!(v.verify(BODY, &line), Some(1_700_000_000));
        let other = CosignatureVerifier::parse(&cosigner().verifier_key()).unwrap();
        assert_eq!(other.verify(BODY, &line), None);
        let changed = BODY.replace("20852163", "20852164");
        assert_eq!(v.verify(&changed, &line), None);
        // The line is 4 + 8 + 64 bytes of base64 after the name, as the spec lays it out.
        let sig = B64
            .decode(line.trim_end().rsplit(' ').next().unwrap())
            .unwrap();
        assert_eq!(sig.len(), 76);
    }

    #[test]
    fn verifier_keys_are_checked() {
        let c = cosigner();
        let good = c.verifier_key();
        let parts: Vec<&str> = good.splitn(3, '+').collect();
        assert_eq!(parts[0], "witness.example/w1");
        assert!(CosignatureVerifier::parse(&good).is_ok());
        let wrong_id = format!("{}+00000000+{}", parts[0], parts[2]);
        assert!(CosignatureVerifier::parse(&wrong_id).is_err());
        // A log's key (type 0x01) is not a cosigner's key.
        let mut as_log = B64.decode(parts[2]).unwrap();
        as_log[0] = 0x01;
        let log_key = format!("{}+{}+{}", parts[0], parts[1], B64.encode(as_log));
        assert!(CosignatureVerifier::parse(&log_key).is_err());
    }
}
