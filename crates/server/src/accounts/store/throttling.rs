//! The `login_failures` and `login_devices` tables: sign-in throttling and known devices.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{login_devices, login_failures};
use crate::db::{now, DbConnection};
use crate::keys::{random_token, token_hash};
use iro_advice_model::accounts::AccountId;

/// How many failed logins there were for one subject in a window, and the oldest of them.
#[derive(Queryable)]
pub struct RecentFailures {
    pub count: i64,
    pub oldest: Option<NaiveDateTime>,
}

/// Failures for `subject` since `since`, and the oldest of them.
pub fn recent_failures(
    conn: &mut DbConnection,
    subject: &str,
    since: NaiveDateTime,
) -> QueryResult<RecentFailures> {
    login_failures::table
        .filter(login_failures::subject.eq(subject))
        .filter(login_failures::failed_at.gt(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(login_failures::failed_at),
        ))
        .first(conn)
}

pub fn record_failure(conn: &mut DbConnection, subject: &str) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::subject.eq(subject),
            login_failures::failed_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

/// Forgets a subject's failures after a success, and everyone's once they are too old to
/// matter.
pub fn clear_failures(
    conn: &mut DbConnection,
    subject: &str,
    older_than: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(
        login_failures::table.filter(
            login_failures::subject
                .eq(subject)
                .or(login_failures::failed_at.lt(older_than)),
        ),
    )
    .execute(conn)
    .map(drop)
}

/// Failures of every subject since `since`: the service-wide ceiling's measure.
pub fn failures_since(conn: &mut DbConnection, since: NaiveDateTime) -> QueryResult<i64> {
    login_failures::table
        .filter(login_failures::failed_at.gt(since))
        .count()
        .get_result(conn)
}

/// Whether `token_hash` is a device token this account was given.
pub fn device_belongs(
    conn: &mut DbConnection,
    token_hash: &str,
    account: &AccountId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        login_devices::table
            .filter(login_devices::token_hash.eq(token_hash))
            .filter(login_devices::account_id.eq(account)),
    ))
    .get_result(conn)
}

/// After a successful sign-in: notes the use of the device token the client presented when
/// it is this account's, else gives the client a new one (returned once, stored hashed).
pub fn remember_device(
    conn: &mut DbConnection,
    account: &AccountId,
    presented: Option<&str>,
) -> QueryResult<Option<String>> {
    if let Some(hash) = presented {
        let known = diesel::update(
            login_devices::table
                .filter(login_devices::token_hash.eq(hash))
                .filter(login_devices::account_id.eq(account)),
        )
        .set(login_devices::last_used_at.eq(now()))
        .execute(conn)?;
        if known == 1 {
            return Ok(None);
        }
    }
    let token = random_token();
    diesel::insert_into(login_devices::table)
        .values((
            login_devices::token_hash.eq(token_hash(&token)),
            login_devices::account_id.eq(account),
            login_devices::created_at.eq(now()),
            login_devices::last_used_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(Some(token))
}
