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
pub mod logged;
pub mod notices;
pub mod passkeys;
pub mod passwords;
pub mod profile;
pub mod second_factor;
pub mod sessions;
pub mod state;
pub mod store;
pub mod tokens;
pub mod totp;
pub mod webauthn;

pub use caller::{Caller, IroCaller, SessionClient};
pub use error::{AccountError, SignInRefusal};
pub use state::Accounts;
