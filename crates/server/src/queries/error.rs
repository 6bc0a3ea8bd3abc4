//! What the query services refuse, in their own words. The HTTP edge gives each refusal its
//! status and problem type, in one place (`http::error`).

use iro_advice_model::ciphertext::{AgeFormatError, TooFewRecipients};

use crate::accounts::notices::NoticeError;
use crate::db::DbError;
use crate::log::LogError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No such query (or attachment, or upload) the caller may see: alike for both.
    #[error("not found")]
    NotFound,
    /// Not possible in the query's state.
    #[error("{0}")]
    WrongState(String),
    #[error(transparent)]
    TooFewRecipients(#[from] TooFewRecipients),
    #[error("{0}")]
    AdviserNotEligible(&'static str),
    #[error("give every message of the query exactly once, re-encrypted")]
    MessagesMismatch,
    #[error("the other party has this attachment; add a re-encrypted copy instead")]
    AttachmentAlreadyRead,
    #[error(
        "your attachments have used your storage quota: {left} bytes are left; close \
         finished queries or ask the operator"
    )]
    QuotaExceeded { left: u64 },
    #[error("the request body is larger than this endpoint accepts ({limit} bytes)")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    UploadTimeout(String),
    /// The stream broke off before its end.
    #[error("{0}")]
    UploadIncomplete(String),
    /// The stream is not an acceptable age file.
    #[error(transparent)]
    Ciphertext(#[from] AgeFormatError),
    #[error("the upload holds {size} bytes; the next segment starts there")]
    UploadOffset { size: u64 },
    #[error("{0}")]
    BadRequest(&'static str),
    /// The query's status, adviser or count of status acts in the database is not what its
    /// latest status act in the log says: changed in the database alone.
    #[error(
        "this query's record is not what the log holds for it (its status or adviser was \
         changed outside the service); nothing can be done with it until that is put right. \
         Tell NAIRO"
    )]
    NotAsLogged,
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error(transparent)]
    Account(#[from] crate::accounts::AccountError),
    #[error(transparent)]
    Erase(#[from] super::erasure::EraseError),
}
