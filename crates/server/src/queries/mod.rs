//! End-to-end encrypted queries: an IRO's question to an independent adviser, the replies,
//! the attachments, and the path from submission to close. The server holds only age
//! ciphertext and the metadata statistics need.
//!
//! `service` holds the rules; `ask`, `transitions`, `messages`, `read`, `attachments` and
//! `uploads` (attachments sent in segments) are the HTTP handlers that adapt requests to
//! them; `store` is the data access.

pub mod ask;
pub mod attachments;

pub mod erasure;
pub mod messages;
pub mod read;
pub mod reminders;
pub mod service;
pub mod store;
pub mod transitions;
pub mod uploads;
