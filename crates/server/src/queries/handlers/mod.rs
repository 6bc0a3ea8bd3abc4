//! The queries' HTTP handlers: each adapts a request to a service of [`crate::queries`] and
//! its answer (or refusal) back.

pub mod ask;
pub mod attachments;
pub mod messages;
pub mod read;
pub mod transitions;
pub mod uploads;
