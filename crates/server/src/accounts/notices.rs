//! Telling an account that something is waiting: at the address it chose for notices (else
//! its sign-in address), in its language, in the act's transaction.

use iro_advice_model::accounts::{AccountId, Email};

use super::store;
use crate::mail::When;
use crate::tx::Tx;

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    /// Addresses are parsed when they are stored; one that no longer parses is a corrupt row.
    #[error("stored notification address: {0}")]
    Address(String),
}

/// Queues a notice for `account`, at once or in its next digest.
pub fn notify(tx: &mut Tx<'_>, account: &AccountId, when: When) -> Result<(), NoticeError> {
    let (address, language) = store::notification_address(tx.conn, account)?;
    let email = Email::parse(&address).map_err(NoticeError::Address)?;
    Ok(tx.notify(&email, language, when)?)
}

/// Queues a notice for `account` at once: for what concerns its security (a key registered,
/// a changed password), which must not wait for a digest.
pub fn notify_now(tx: &mut Tx<'_>, account: &AccountId) -> Result<(), NoticeError> {
    notify(tx, account, When::Now)
}

/// Queues a notice about the account's own sign-ins or devices (failed attempts, a factor
/// added or removed) at once, but only to the private address its holder gave: the work
/// address is read by the employer's mail server, and a notice there tells the employer the
/// account exists and that someone is trying it. Without a private address the holder is
/// told at the next sign-in instead (the failed attempts counted, the session list).
pub fn notify_privately(tx: &mut Tx<'_>, account: &AccountId) -> Result<(), NoticeError> {
    let Some((address, language)) = store::private_notification_address(tx.conn, account)? else {
        return Ok(());
    };
    let email = Email::parse(&address).map_err(NoticeError::Address)?;
    Ok(tx.notify(&email, language, When::Now)?)
}
