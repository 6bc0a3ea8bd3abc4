//! Password hashing: argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane) or stronger.
//! Hashing is slow on purpose, so callers run it off the async workers.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::domain::Password;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &Password) -> String {
    let salt = SaltString::encode_b64(&crate::keys::random_bytes::<16>()).expect("16-byte salt");
    hasher()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters")
        .to_string()
}

/// Checks a password against a stored hash; a malformed hash never verifies.
pub fn verify(password: &Password, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real check, for attempts on an email with no account, so that
/// the answer's timing does not tell whether the account exists.
pub fn verify_against_nothing(password: &Password) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash(&Password::attempt("no account has this password".into())));
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let p = Password::new("correct horse battery".into()).unwrap();
        let h = hash(&p);
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(&p, &h));
        assert!(!verify(
            &Password::attempt("correct horse battery!".into()),
            &h
        ));
        assert!(!verify(&p, "not a hash"));
        assert_ne!(h, hash(&p), "salted");
    }
}
