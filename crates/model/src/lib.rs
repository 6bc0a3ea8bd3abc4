//! The service's vocabulary, shared by the server, the client and the API: closed word lists
//! (roles, categories, stages, …), typed ids, the authorities, the accepted form of age
//! ciphertext, the leaf format of the request log, and the problem types. Every raw input
//! becomes one of these at the edge, so code further in cannot hold a bad value.
//!
//! Nothing here touches a database or the network; the server's `diesel` feature adds the
//! impls that store these types as SQL text.

pub mod accounts;
pub mod age_writer;
pub mod authorities;
pub mod ciphertext;
pub mod files;
pub mod leaf;
pub mod period;
pub mod pressure;
pub mod problem;
pub mod queries;
pub mod signing;
pub mod vocabulary;

/// Lower-case hex, as digests and fingerprints are shown.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
