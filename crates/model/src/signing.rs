//! Messages signed by their author's own key, so that nobody — the operator included — can
//! speak for anyone.
//!
//! The signing key is the author's age X25519 key itself, used as XEdDSA describes
//! (signal.org/docs/specifications/xeddsa): the signature verifies as an ordinary Ed25519
//! signature under the Edwards form of the author's age recipient. So the key that signs is
//! the key already registered, logged, proven and pinned for encryption: there is no second
//! key to register, rotate, lose or swap.
//!
//! A message is signed, then encrypted: its plaintext starts with an envelope line that
//! carries the signature over the query, the author, the time and the SHA-256 of the text,
//! so the signature survives the re-encryption a route needs and the server learns nothing.
//!
//! ```text
//! IRO-ADVICE-SIGNED/1\n
//! {"query":"…","sender":"…","signed_at":1796680000,"signature":"<base64 R‖s>"}\n
//! <the text>
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

pub const MAGIC: &str = "IRO-ADVICE-SIGNED/1\n";
/// What the opening message of a query is signed for: the query's id is the service's to
/// give, after the question is encrypted.
pub const OPENING: &str = "opening question";
/// What the previous key's signature on a new key is made for, where a message names its
/// query: a key change handed over from a device that held the old key.
pub const KEY_CHANGE: &str = "key change";

/// SHA-256 of what a key change's handover signature covers: the new recipient.
pub fn key_change_digest(new_recipient: &str) -> [u8; 32] {
    Sha256::digest(format!("iro-advice key change v1\n{}", new_recipient.trim()).as_bytes()).into()
}

/// The envelope's JSON line is never longer than this.
const MAX_LINE: usize = 1024;

/// What a message's signature says about it, as its reader shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// Signed by the author's key for this query; Unix seconds.
    By { signed_at: i64 },
    /// Written before messages were signed: shown as unsigned, never as the person's words.
    Unsigned,
    /// Not signed by the named author's key for this query: a forgery.
    Forged(&'static str),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    query: String,
    sender: String,
    signed_at: i64,
    signature: String,
}

/// The bytes a signature covers: the text by its SHA-256 (a file's is taken as it streams).
fn statement_of(query: &str, sender: &str, signed_at: i64, digest: &[u8; 32]) -> Vec<u8> {
    let digest = crate::hex(digest);
    format!("iro-advice message v1\n{query}\n{sender}\n{signed_at}\n{digest}\n").into_bytes()
}

fn statement(query: &str, sender: &str, signed_at: i64, text: &[u8]) -> Vec<u8> {
    statement_of(query, sender, signed_at, &Sha256::digest(text).into())
}

/// A signature (base64) by `identity` over a file of SHA-256 `digest`, as `sender`'s in
/// `query`: an attachment's, carried in its envelope inside the encryption.
pub fn sign_digest(
    identity: &str,
    query: &str,
    sender: &str,
    signed_at: i64,
    digest: &[u8; 32],
) -> Option<String> {
    use ring::rand::SecureRandom;
    let secret = bech32_bytes(identity, "age-secret-key-")?;
    let mut random = [0u8; 64];
    ring::rand::SystemRandom::new().fill(&mut random).ok()?;
    let message = statement_of(query, sender, signed_at, digest);
    Some(B64.encode(xeddsa_sign(secret, &message, random)))
}

/// Whether `signature` is `recipient`'s key's over a file of SHA-256 `digest`, as `sender`'s
/// in `query` at `signed_at`.
pub fn verify_digest(
    recipient: &str,
    query: &str,
    sender: &str,
    signed_at: i64,
    digest: &[u8; 32],
    signature: &str,
) -> bool {
    let Ok(signature) = B64.decode(signature) else {
        return false;
    };
    verify(
        recipient,
        &statement_of(query, sender, signed_at, digest),
        &signature,
    )
}

/// The 32 bytes a bech32 age key (recipient or identity) carries.
fn bech32_bytes(text: &str, hrp: &str) -> Option<[u8; 32]> {
    let (found, data) = bech32::decode(text.trim()).ok()?;
    if !found.as_str().eq_ignore_ascii_case(hrp) {
        return None;
    }
    data.try_into().ok()
}

/// The Edwards form of an age recipient (sign bit 0), which checks its XEdDSA signatures.
pub fn verifying_key(recipient: &str) -> Option<[u8; 32]> {
    let u = bech32_bytes(recipient, "age")?;
    Some(MontgomeryPoint(u).to_edwards(0)?.compress().to_bytes())
}

/// XEdDSA: signs `message` with the X25519 secret `k`.
fn xeddsa_sign(k: [u8; 32], message: &[u8], random: [u8; 64]) -> [u8; 64] {
    let mut clamped = k;
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let k = Scalar::from_bytes_mod_order(clamped);
    let e = (&k * ED25519_BASEPOINT_TABLE).compress();
    // The Edwards key with sign bit 0: negate the scalar when its point's sign bit is 1.
    let a = if e.as_bytes()[31] & 0x80 != 0 { -k } else { k };
    let public = (&a * ED25519_BASEPOINT_TABLE).compress();
    let mut h = Sha512::new();
    let mut prefix = [0xffu8; 32];
    prefix[0] = 0xfe;
    h.update(prefix);
    h.update(a.as_bytes());
    h.update(message);
    h.update(random);
    let r = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let big_r = (&r * ED25519_BASEPOINT_TABLE).compress();
    let mut h = Sha512::new();
    h.update(big_r.as_bytes());
    h.update(public.as_bytes());
    h.update(message);
    let challenge = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = r + challenge * a;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(big_r.as_bytes());
    out[32..].copy_from_slice(s.as_bytes());
    out
}

fn verify(recipient: &str, message: &[u8], signature: &[u8]) -> bool {
    let Some(key) = verifying_key(recipient) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(message, signature)
        .is_ok()
}

/// The plaintext of a message signed by `identity` (an `AGE-SECRET-KEY-1…` string): the
/// envelope line, then `text`.
pub fn sign(
    identity: &str,
    query: &str,
    sender: &str,
    signed_at: i64,
    text: &[u8],
) -> Option<Vec<u8>> {
    use ring::rand::SecureRandom;
    let secret = bech32_bytes(identity, "age-secret-key-")?;
    let mut random = [0u8; 64];
    ring::rand::SystemRandom::new().fill(&mut random).ok()?;
    let signature = xeddsa_sign(secret, &statement(query, sender, signed_at, text), random);
    let line = serde_json::to_string(&Envelope {
        query: query.to_owned(),
        sender: sender.to_owned(),
        signed_at,
        signature: B64.encode(signature),
    })
    .ok()?;
    let mut out = format!("{MAGIC}{line}\n").into_bytes();
    out.extend_from_slice(text);
    Some(out)
}

/// Reads a decrypted message said to be `sender`'s in `query`: its text, and whether the
/// key `recipient` (the sender's, as the log proves it) signed it there.
pub fn open<'a>(plain: &'a [u8], query: &str, sender: &str, recipient: &str) -> (&'a [u8], Signed) {
    let Some(rest) = plain.strip_prefix(MAGIC.as_bytes()) else {
        return (plain, Signed::Unsigned);
    };
    let Some(end) = rest.iter().take(MAX_LINE).position(|b| *b == b'\n') else {
        return (plain, Signed::Forged("its signature line is damaged"));
    };
    let (line, text) = (&rest[..end], &rest[end + 1..]);
    let Ok(envelope) = serde_json::from_slice::<Envelope>(line) else {
        return (text, Signed::Forged("its signature line is damaged"));
    };
    if envelope.query != query {
        return (text, Signed::Forged("it was signed for another query"));
    }
    if envelope.sender != sender {
        return (text, Signed::Forged("it was signed by someone else"));
    }
    let Ok(signature) = B64.decode(&envelope.signature) else {
        return (text, Signed::Forged("its signature is damaged"));
    };
    let message = statement(query, sender, envelope.signed_at, text);
    if !verify(recipient, &message, &signature) {
        return (text, Signed::Forged("its signature is not by their key"));
    }
    (
        text,
        Signed::By {
            signed_at: envelope.signed_at,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    fn keys() -> (String, String) {
        let id = age::x25519::Identity::generate();
        (
            id.to_string().expose_secret().to_owned(),
            id.to_public().to_string(),
        )
    }

    #[test]
    fn a_files_digest_is_signed_for_its_query_and_sender() {
        let (identity, recipient) = keys();
        let digest: [u8; 32] = Sha256::digest(b"minutes").into();
        let sig = sign_digest(&identity, "q1", "alice", 7, &digest).unwrap();
        assert!(verify_digest(&recipient, "q1", "alice", 7, &digest, &sig));
        let other: [u8; 32] = Sha256::digest(b"minutes!").into();
        assert!(!verify_digest(&recipient, "q1", "alice", 7, &other, &sig));
        assert!(!verify_digest(&recipient, "q2", "alice", 7, &digest, &sig));
        assert!(!verify_digest(&recipient, "q1", "alice", 8, &digest, &sig));
        assert!(!verify_digest(&keys().1, "q1", "alice", 7, &digest, &sig));
    }

    #[test]
    fn a_signed_message_opens_for_its_author_only() {
        for _ in 0..50 {
            let (identity, recipient) = keys();
            let plain = sign(&identity, "q1", "alice", 1_796_680_000, b"Go to Cafcass.").unwrap();
            let (text, signed) = open(&plain, "q1", "alice", &recipient);
            assert_eq!(text, b"Go to Cafcass.");
            assert_eq!(
                signed,
                Signed::By {
                    signed_at: 1_796_680_000
                }
            );
            // Another author's key, another query, another sender, a changed text.
            let (_, other) = keys();
            assert!(matches!(
                open(&plain, "q1", "alice", &other).1,
                Signed::Forged(_)
            ));
            assert!(matches!(
                open(&plain, "q2", "alice", &recipient).1,
                Signed::Forged(_)
            ));
            assert!(matches!(
                open(&plain, "q1", "bob", &recipient).1,
                Signed::Forged(_)
            ));
            let mut changed = plain.clone();
            let last = changed.len() - 2;
            changed[last] ^= 1;
            assert!(matches!(
                open(&changed, "q1", "alice", &recipient).1,
                Signed::Forged(_)
            ));
        }
        assert_eq!(
            open(b"plain old text", "q1", "alice", &keys().1).1,
            Signed::Unsigned
        );
    }

    /// A message signed by the page's implementation (web/src/signing.ts, with the age
    /// identity below): the two agree byte for byte.
    #[test]
    fn a_message_the_page_signed_verifies_here() {
        const RECIPIENT: &str = "age1m7a7sdfg625j9kfr23uvlatzfvezt2g4n3xzza5zde0lp5zz5fws0kke8e";
        const PLAIN: &str = "IRO-ADVICE-SIGNED/1\n{\"query\":\"q1\",\"sender\":\"alice\",\"signed_at\":1796683393,\"signature\":\"5f21Lm5YDXgU7DOr2dkYJmiWcgRucZ8GK54PpRDyNkF+jAN76MQnnYcs7bN56mWYXIn6xNAFc2Z71gohI7i7Dg==\"}\nHello \u{fc}n\u{ef}code";
        let (text, signed) = open(PLAIN.as_bytes(), "q1", "alice", RECIPIENT);
        assert_eq!(text, "Hello \u{fc}n\u{ef}code".as_bytes());
        assert_eq!(
            signed,
            Signed::By {
                signed_at: 1796683393
            }
        );
        assert!(matches!(
            open(PLAIN.as_bytes(), "q1", "bob", RECIPIENT).1,
            Signed::Forged(_)
        ));
    }
}
