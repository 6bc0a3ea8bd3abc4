//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s). Secrets are sealed at rest with a key from the
//! keys directory, bound to their account, so a database dump alone does not reveal them.
//! Each accepted code's time step is recorded and no code of that step or earlier is
//! accepted again.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECS: u64 = 30;
const ISSUER: &str = "IRO Advice";

/// Seals small secrets bound to what they are for (an account's id for its TOTP secret, a
/// purpose and account for a passkey challenge): opened with another binding, they fail.
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        Sealer {
            key: LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("32-byte key")),
        }
    }

    pub fn seal(&self, binding: &str, secret: &[u8]) -> Vec<u8> {
        let nonce_bytes = crate::keys::random_bytes::<NONCE_LEN>();
        let mut sealed = secret.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(binding.as_bytes()),
                &mut sealed,
            )
            .expect("sealing cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, binding: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(binding.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

fn totp(secret: &[u8], account_label: &str) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        account_label.to_owned(),
    )
}

/// A new 160-bit secret, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    crate::keys::random_bytes::<20>().to_vec()
}

pub fn base32(secret: &[u8]) -> String {
    totp(secret, "").get_secret_base32()
}

pub fn otpauth_uri(secret: &[u8], account_label: &str) -> String {
    totp(secret, account_label).get_url()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The time step whose code matches, allowing one step of clock drift either way, and only
/// if that step is later than `last_step` (so a code is never accepted twice).
pub fn matching_step(secret: &[u8], code: &str, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = (now_secs() / STEP_SECS) as i64;
    let t = totp(secret, "");
    let mut found = None;
    // Check every candidate so the time taken does not depend on which one matched.
    for step in [now_step - 1, now_step, now_step + 1] {
        let expected = t.generate(step as u64 * STEP_SECS);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) && step > last_step {
            found = Some(step);
        }
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_account() {
        let sealer = Sealer::new(&[7u8; 32]);
        let sealed = sealer.seal("account-a", b"secret bytes here!!!");
        assert_eq!(
            sealer.open("account-a", &sealed).unwrap(),
            b"secret bytes here!!!"
        );
        assert!(sealer.open("account-b", &sealed).is_none());
        assert!(Sealer::new(&[8u8; 32]).open("account-a", &sealed).is_none());
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn a_code_matches_once_per_step() {
        let secret = new_secret();
        let t = totp(&secret, "");
        let code = t.generate(now_secs());
        let step = matching_step(&secret, &code, 0).expect("current code matches");
        assert!(
            matching_step(&secret, &code, step).is_none(),
            "replay refused"
        );
        assert!(matching_step(&secret, "000000x", 0).is_none());
        let stale = t.generate(now_secs() - 10 * STEP_SECS);
        // A code ten steps old fails unless it happens to equal a current one.
        if stale != code
            && stale != t.generate(now_secs() + STEP_SECS)
            && stale != t.generate(now_secs() - STEP_SECS)
        {
            assert!(matching_step(&secret, &stale, 0).is_none());
        }
    }

    #[test]
    fn the_uri_names_the_issuer() {
        let uri = otpauth_uri(&new_secret(), "jo");
        assert!(uri.starts_with("otpauth://totp/IRO%20Advice:jo?"), "{uri}");
        assert!(uri.contains("digits=6") || !uri.contains("digits="));
    }
}
