//! Accounts and access: invitations, passwords, sessions, TOTP, keys, conflicts, and the
//! directory of authorities and advisers.

pub mod admin;
pub mod auth;
pub mod browser;
pub mod directory;

pub mod factors;
pub mod invitations;
pub mod me;
pub mod notices;
pub mod passkeys;
pub mod passwords;
pub mod second_factor;
pub mod sessions;
pub mod store;
pub mod tokens;
pub mod totp;
pub mod webauthn;
