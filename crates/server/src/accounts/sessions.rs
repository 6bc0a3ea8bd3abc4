//! A person's own sessions: listing them, ending one, ending all. A laptop left signed in at
//! the office, or a session someone else started with a stolen password, ends from any other.

use chrono::NaiveDateTime;
use iro_advice_model::accounts::AccountId;

pub use super::caller::SessionClient;
use super::error::AccountError;
use super::store;
use crate::db::DbConnection;

/// One session of the caller's that has not ended.
pub struct Session {
    pub id: String,
    pub client: SessionClient,
    pub started_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub last_active_at: Option<NaiveDateTime>,
}

/// The account's sessions that have not ended, newest first; a session ends `session_hours`
/// after sign-in.
pub fn live(
    conn: &mut DbConnection,
    account: &AccountId,
    session_hours: i64,
) -> Result<Vec<Session>, AccountError> {
    let lifetime = chrono::Duration::hours(session_hours);
    let started_after = crate::db::now() - lifetime;
    Ok(store::live_sessions(conn, account, started_after)?
        .into_iter()
        .map(|s| Session {
            client: SessionClient::from_stored(&s.client),
            ends_at: s.created_at + lifetime,
            started_at: s.created_at,
            last_active_at: s.last_active_at,
            id: s.id,
        })
        .collect())
}

/// Ends one of the account's sessions: its access tokens stop working at once and its
/// refresh token is refused. Not found when it is not the account's.
pub fn end(conn: &mut DbConnection, account: &AccountId, id: &str) -> Result<(), AccountError> {
    match store::revoke_own_session(conn, account, id)? {
        0 => Err(AccountError::NotFound),
        _ => Ok(()),
    }
}

/// Signs out everywhere: every session of the account ends.
pub fn end_all(conn: &mut DbConnection, account: &AccountId) -> Result<(), AccountError> {
    store::revoke_other_sessions(conn, account, None)?;
    Ok(())
}
