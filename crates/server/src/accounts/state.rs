//! What the account services hold beyond the database.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use super::factors::Factors;
use super::passwords::Hashing;
use super::tokens::TokenKeys;
use crate::config::AccountSettings;

/// What the account services hold beyond the database, made once at start: the keys that
/// issue access tokens and seal second factors, the bounded password hashing, and the
/// service-wide sign-in ceiling this instance last found reached.
pub struct Accounts {
    pub settings: AccountSettings,
    pub tokens: TokenKeys,
    /// TOTP and passkey verification: the sealing key and the relying party.
    pub factors: Factors,
    /// Bounded password hashing, off the database connections.
    pub hashing: Arc<Hashing>,
    /// Until when (Unix seconds) the service-wide sign-in ceiling, last found reached in
    /// the database, refuses attempts without a device token at once.
    pub ceiling_until: AtomicI64,
}
