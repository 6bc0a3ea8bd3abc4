//! Data access for accounts, one module per table (or close group of tables). Services
//! name `store::…`; every function is re-exported here.

mod accounts;
mod conflicts;
mod passkeys;
mod sessions;
mod throttling;
mod totp;

pub use accounts::*;
pub use conflicts::*;
pub use passkeys::*;
pub use sessions::*;
pub use throttling::*;
pub use totp::*;
