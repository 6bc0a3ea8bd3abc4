//! End-to-end encrypted queries: an IRO's question to an independent adviser, the replies,
//! the attachments, and the path from submission to close. The server holds only age
//! ciphertext and the metadata statistics need.

pub mod ask;
pub mod attachments;
pub mod domain;
pub mod erasure;
pub mod messages;
pub mod read;
pub mod reminders;
pub mod store;
pub mod transitions;

use crate::access::Caller;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::log::{Actor, Event, Kind, LogKeys, Receipt, Subject};
use crate::mail::{self, Notice};

/// The query if the caller may see it; otherwise 404, as if it did not exist.
pub fn visible(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<store::Query, ApiError> {
    store::visible_query(conn, id, &caller.account_id, caller.role)?.ok_or(ApiError::NotFound)
}

/// Tells an account that something is waiting, in the same transaction as the act.
pub fn notify(conn: &mut DbConnection, account: &str, public_url: &str) -> Result<(), ApiError> {
    let address = store::notification_address(conn, account)?;
    let email = crate::accounts::domain::Email::parse(&address)
        .map_err(|e| ApiError::Internal(format!("stored address: {e}")))?;
    mail::enqueue(conn, &email, public_url, Notice::Waiting)?;
    Ok(())
}

/// Records an act on a query in the log, in the act's transaction; returns the receipt.
pub fn record(
    conn: &mut DbConnection,
    log: &LogKeys,
    kind: Kind,
    actor: &str,
    query: &store::Query,
) -> Result<Receipt, ApiError> {
    Ok(crate::log::record(
        conn,
        log,
        Event {
            kind,
            actor: Actor::Account(actor),
            subject: Subject::Query(&query.id),
            authority: Some(&query.authority_code),
        },
    )?)
}

/// A refusal because the query is not in a state that allows the act.
pub fn wrong_state(detail: impl Into<String>) -> ApiError {
    ApiError::conflict("query-state", detail)
}
