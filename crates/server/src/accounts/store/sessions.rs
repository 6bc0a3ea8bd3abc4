//! The `sessions` and `refresh_tokens` tables.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::accounts::caller::SessionClient;
use crate::db::schema::{accounts, refresh_tokens, sessions};
use crate::db::{now, DbConnection};
use crate::keys::{random_token, token_hash};
use iro_advice_model::accounts::{AccountId, AccountStatus, Role};

/// Ends every session of the account but `keep` (the one making a change to its security).
pub fn revoke_other_sessions(
    conn: &mut DbConnection,
    id: &AccountId,
    keep: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(id))
            .filter(sessions::id.ne(keep.unwrap_or("")))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now()))
    .execute(conn)
}

pub struct IssuedSession {
    pub session_id: String,
    pub refresh_token: String,
}

pub fn create_session(
    conn: &mut DbConnection,
    account_id: &AccountId,
    client: SessionClient,
    refresh_days: i64,
) -> QueryResult<IssuedSession> {
    let session_id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&session_id),
            sessions::account_id.eq(account_id),
            sessions::created_at.eq(now()),
            sessions::client.eq(client.as_str()),
        ))
        .execute(conn)?;
    let refresh_token = insert_refresh_token(conn, &session_id, refresh_days)?;
    Ok(IssuedSession {
        session_id,
        refresh_token,
    })
}

fn insert_refresh_token(
    conn: &mut DbConnection,
    session_id: &str,
    refresh_days: i64,
) -> QueryResult<String> {
    let token = random_token();
    let now = now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token_hash(&token)),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(now + Duration::days(refresh_days)),
        ))
        .execute(conn)?;
    Ok(token)
}

pub enum Rotation {
    /// A new refresh token for the same session, and who it is for.
    Rotated {
        account_id: AccountId,
        role: Role,
        session_id: String,
        refresh_token: String,
    },
    /// Unknown, expired, revoked, or the account is not active.
    Refused,
    /// The token had been used already: the whole family is now revoked.
    ReuseDetected,
}

/// A refresh token with its session and account, in the order the query selects them.
#[derive(Queryable)]
struct RefreshRow {
    session_id: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    session_started: NaiveDateTime,
    account_id: AccountId,
    role: Role,
    status: AccountStatus,
}

/// Exchanges a refresh token for a new one; call inside a write transaction.
pub fn rotate_refresh_token(
    conn: &mut DbConnection,
    token: &str,
    refresh_days: i64,
    session_hours: i64,
) -> QueryResult<Rotation> {
    let hash = token_hash(token);
    let found = refresh_tokens::table
        .inner_join(sessions::table.inner_join(accounts::table))
        .filter(refresh_tokens::token_hash.eq(&hash))
        .select((
            refresh_tokens::session_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            sessions::revoked_at,
            sessions::created_at,
            accounts::id,
            accounts::role,
            accounts::status,
        ))
        .first::<RefreshRow>(conn)
        .optional()?;
    let Some(RefreshRow {
        session_id,
        expires_at,
        used_at,
        revoked_at,
        session_started,
        account_id,
        role,
        status,
    }) = found
    else {
        return Ok(Rotation::Refused);
    };
    if revoked_at.is_some() {
        return Ok(Rotation::Refused);
    }
    // Marking the token used is conditional, so of two concurrent uses only one rotates and
    // the other is treated as the reuse it is.
    let marked = diesel::update(
        refresh_tokens::table
            .find(&hash)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now()))
    .execute(conn)?;
    if used_at.is_some() || marked == 0 {
        revoke_session(conn, &session_id)?;
        return Ok(Rotation::ReuseDetected);
    }
    let session_ends = session_started + chrono::Duration::hours(session_hours);
    if expires_at <= now() || session_ends <= now() || status != AccountStatus::Active {
        return Ok(Rotation::Refused);
    }
    diesel::update(sessions::table.find(&session_id))
        .set(sessions::last_active_at.eq(now()))
        .execute(conn)?;
    let refresh_token = insert_refresh_token(conn, &session_id, refresh_days)?;
    Ok(Rotation::Rotated {
        account_id,
        role,
        session_id,
        refresh_token,
    })
}

pub fn revoke_session(conn: &mut DbConnection, session_id: &str) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now()))
    .execute(conn)
    .map(drop)
}

/// A session of one account that has not ended.
#[derive(Queryable)]
pub struct LiveSession {
    pub id: String,
    pub client: String,
    pub created_at: NaiveDateTime,
    pub last_active_at: Option<NaiveDateTime>,
}

/// The account's sessions that are neither revoked nor older than `started_after`, newest
/// first.
pub fn live_sessions(
    conn: &mut DbConnection,
    account: &AccountId,
    started_after: NaiveDateTime,
) -> QueryResult<Vec<LiveSession>> {
    sessions::table
        .filter(sessions::account_id.eq(account))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::created_at.gt(started_after))
        .order((sessions::created_at.desc(), sessions::id))
        .select((
            sessions::id,
            sessions::client,
            sessions::created_at,
            sessions::last_active_at,
        ))
        .load(conn)
}

/// Ends one of the account's own sessions; how many ended (0: none of its live ones).
pub fn revoke_own_session(
    conn: &mut DbConnection,
    account: &AccountId,
    session_id: &str,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::account_id.eq(account))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now()))
    .execute(conn)
}

/// Ends the session a refresh token (current or already rotated) belongs to.
pub fn revoke_session_of_token(conn: &mut DbConnection, token: &str) -> QueryResult<()> {
    let session: Option<String> = refresh_tokens::table
        .find(token_hash(token))
        .select(refresh_tokens::session_id)
        .first(conn)
        .optional()?;
    match session {
        Some(id) => revoke_session(conn, &id),
        None => Ok(()),
    }
}
