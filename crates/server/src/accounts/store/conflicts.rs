//! The `adviser_conflicts` table, and which advisers an IRO may ask.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, adviser_conflicts};
use crate::db::DbConnection;
use iro_advice_model::accounts::{AccountId, AccountStatus, AdviserKind, Role};
use iro_advice_model::authorities::AuthorityCode;

/// Replaces an adviser's declared conflicts; call inside a write transaction.
pub fn set_conflicts(
    conn: &mut DbConnection,
    adviser_id: &AccountId,
    codes: &[AuthorityCode],
) -> QueryResult<()> {
    diesel::delete(adviser_conflicts::table.filter(adviser_conflicts::adviser_id.eq(adviser_id)))
        .execute(conn)?;
    // One row at a time: diesel's MultiConnection has no batch insert.
    for code in codes {
        diesel::insert_into(adviser_conflicts::table)
            .values((
                adviser_conflicts::adviser_id.eq(adviser_id),
                adviser_conflicts::authority_code.eq(code.as_str()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn conflicts(conn: &mut DbConnection, adviser_id: &AccountId) -> QueryResult<Vec<String>> {
    adviser_conflicts::table
        .filter(adviser_conflicts::adviser_id.eq(adviser_id))
        .select(adviser_conflicts::authority_code)
        .order(adviser_conflicts::authority_code)
        .load(conn)
}

/// An adviser an IRO may ask.
pub struct EligibleAdviser {
    pub id: AccountId,
    pub display_name: String,
    pub kind: AdviserKind,
    pub age_recipient: String,
    pub verified: bool,
}

#[derive(Queryable)]
struct AdviserRow {
    id: AccountId,
    display_name: String,
    adviser_kind: Option<AdviserKind>,
    age_recipient: Option<String>,
    verified_at: Option<NaiveDateTime>,
}

fn corrupt(what: &str) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(what.to_owned().into())
}

/// Advisers who are active, accepting, have a key, and are not conflicted with the
/// authority: neither by declaration nor by being employed there (peer advisers).
pub fn eligible_advisers(
    conn: &mut DbConnection,
    authority: &AuthorityCode,
    only: Option<&AccountId>,
) -> QueryResult<Vec<EligibleAdviser>> {
    let declared = adviser_conflicts::table
        .filter(adviser_conflicts::authority_code.eq(authority.as_str()))
        .select(adviser_conflicts::adviser_id);
    let mut query = accounts::table
        .filter(accounts::role.eq(Role::Adviser.as_str()))
        .filter(accounts::status.eq(AccountStatus::Active.as_str()))
        .filter(accounts::accepting.eq(true))
        .filter(accounts::age_recipient.is_not_null())
        .filter(
            accounts::authority_code
                .is_null()
                .or(accounts::authority_code.ne(authority.as_str())),
        )
        .filter(accounts::id.ne_all(declared))
        .order((accounts::display_name, accounts::id))
        .select((
            accounts::id,
            accounts::display_name,
            accounts::adviser_kind,
            accounts::age_recipient,
            accounts::verified_at,
        ))
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(accounts::id.eq(id.to_owned()));
    }
    query
        .load::<AdviserRow>(conn)?
        .into_iter()
        .map(|row| {
            Ok(EligibleAdviser {
                id: row.id,
                // Every adviser account is created with a kind; the filters above leave only
                // advisers with a key.
                kind: row
                    .adviser_kind
                    .ok_or_else(|| corrupt("an adviser without a kind"))?,
                display_name: row.display_name,
                age_recipient: row.age_recipient.unwrap_or_default(),
                verified: row.verified_at.is_some(),
            })
        })
        .collect()
}

/// Counts one more change of an adviser's availability and returns its number (from 1).
pub fn count_availability_change(
    conn: &mut DbConnection,
    adviser_id: &AccountId,
) -> QueryResult<u64> {
    diesel::update(accounts::table.find(adviser_id))
        .set(accounts::availability_changes.eq(accounts::availability_changes + 1))
        .execute(conn)?;
    accounts::table
        .find(adviser_id)
        .select(accounts::availability_changes)
        .first::<i64>(conn)
        .map(|n| n as u64)
}

/// What the service holds of an adviser's directory state, to check against the log: how
/// many changes of availability and of conflicts it counts, whether they accept new queries,
/// and the authority codes they declared.
pub struct HeldState {
    pub id: AccountId,
    pub accepting: bool,
    pub availability_changes: u64,
    pub conflicts_changes: u64,
    pub conflicts: Vec<String>,
}

/// Every adviser account's id.
pub fn advisers(conn: &mut DbConnection) -> QueryResult<Vec<AccountId>> {
    accounts::table
        .filter(accounts::role.eq(Role::Adviser.as_str()))
        .select(accounts::id)
        .load(conn)
}

pub fn held_states(conn: &mut DbConnection, ids: &[AccountId]) -> QueryResult<Vec<HeldState>> {
    let rows: Vec<(AccountId, bool, i64, i64)> = accounts::table
        .filter(accounts::id.eq_any(ids))
        .select((
            accounts::id,
            accounts::accepting,
            accounts::availability_changes,
            accounts::conflicts_changes,
        ))
        .load(conn)?;
    let declared: Vec<(AccountId, String)> = adviser_conflicts::table
        .filter(adviser_conflicts::adviser_id.eq_any(ids))
        .select((
            adviser_conflicts::adviser_id,
            adviser_conflicts::authority_code,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, accepting, a, c)| HeldState {
            conflicts: declared
                .iter()
                .filter(|(adviser, _)| *adviser == id)
                .map(|(_, code)| code.clone())
                .collect(),
            id,
            accepting,
            availability_changes: a as u64,
            conflicts_changes: c as u64,
        })
        .collect())
}

/// Counts one more change of an adviser's declared conflicts and returns its number (from
/// 1): the tag of its leaf, by which the adviser's client finds every change.
pub fn count_conflicts_change(conn: &mut DbConnection, adviser_id: &AccountId) -> QueryResult<u64> {
    use crate::db::schema::accounts;
    diesel::update(accounts::table.find(adviser_id))
        .set(accounts::conflicts_changes.eq(accounts::conflicts_changes + 1))
        .execute(conn)?;
    accounts::table
        .find(adviser_id)
        .select(accounts::conflicts_changes)
        .first::<i64>(conn)
        .map(|n| n as u64)
}
