//! The API's request and response bodies, shared by the server's handlers, its OpenAPI
//! document, the command-line client and (generated from that document) the web
//! application: one definition each, so every side reads what the server writes through the
//! same types, never as untyped JSON. Also the paths of the routes and the names of the
//! headers the service reads.
//!
//! Fields that carry domain values use the domain types, so a request that deserialises is
//! already parsed (an `AuthorityCode` is in the reference list, a `Category` one of its
//! words); ciphertext travels as [`ArmoredText`](iro_advice_model::ciphertext::ArmoredText),
//! which the server parses where it takes the request so that a refusal names its problem.

pub mod accounts;
pub mod headers;
pub mod log;
pub mod passkeys;
pub mod paths;
pub mod pressure;
pub mod problem;
pub mod queries;
mod receipt;
pub mod service;
pub mod sessions;
pub mod statistics;
pub mod web;

pub use accounts::*;
pub use log::*;
pub use passkeys::*;
pub use pressure::*;
pub use problem::{Problem, PROBLEM_JSON};
pub use queries::*;
pub use receipt::{IdentityClaim, IdentityError, KeyProof, LeafOpening, Receipt, ReceiptError};
pub use service::*;
pub use sessions::*;
