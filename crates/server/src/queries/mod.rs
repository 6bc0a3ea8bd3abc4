//! End-to-end encrypted queries: an IRO's question to an independent adviser, the replies,
//! the attachments, and the path from submission to close. The server holds only age
//! ciphertext and the metadata statistics need.
//!
//! [`service`] holds the rules; [`attachments`] and [`uploads`] (attachments sent in
//! segments) receive and serve binary age streams; [`handlers`] adapt HTTP requests to them;
//! [`store`] is the data access. A refusal is a [`QueryError`].

pub mod attachments;
pub mod erasure;
pub mod error;
pub mod handlers;
pub mod logged;
pub mod reminders;
pub mod service;
pub mod store;
pub mod uploads;

pub use error::QueryError;
