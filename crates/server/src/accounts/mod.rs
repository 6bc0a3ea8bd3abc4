//! Accounts and access: invitations, passwords, sign-in and sessions, second factors (TOTP
//! and passkeys), keys, conflicts, and the directory of authorities and advisers.
//!
//! As in every feature: [`handlers`] adapt HTTP requests to the services here, which decide
//! and return an [`AccountError`] when they refuse; [`store`] is the data access, one module
//! per table.

pub mod admin;
pub mod auth;
pub mod caller;
pub mod directory;
pub mod error;
pub mod factors;
pub mod handlers;
pub mod invitations;
pub mod notices;
pub mod passkeys;
pub mod passwords;
pub mod profile;
pub mod second_factor;
pub mod sessions;
pub mod store;
pub mod tokens;
pub mod totp;
pub mod webauthn;

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

pub use caller::{Caller, IroCaller};
pub use error::{AccountError, SignInRefusal};

use crate::config::AccountSettings;
use factors::Factors;
use passwords::Hashing;
use tokens::TokenKeys;

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
