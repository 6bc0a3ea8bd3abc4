//! The `passkeys` table, and the `spent_challenges` that make each passkey challenge single-use.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, passkeys, spent_challenges};
use crate::db::{now, DbConnection};
use iro_advice_model::accounts::AccountId;

#[derive(Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct StoredPasskey {
    pub credential_id: String,
    pub account_id: AccountId,
    pub algorithm: i32,
    pub public_key: Vec<u8>,
    pub sign_count: i64,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

pub fn passkeys_of(conn: &mut DbConnection, id: &AccountId) -> QueryResult<Vec<StoredPasskey>> {
    passkeys::table
        .filter(passkeys::account_id.eq(id))
        .order(passkeys::created_at)
        .select(StoredPasskey::as_select())
        .load(conn)
}

pub fn passkey(conn: &mut DbConnection, credential_id: &str) -> QueryResult<Option<StoredPasskey>> {
    passkeys::table
        .find(credential_id)
        .select(StoredPasskey::as_select())
        .first(conn)
        .optional()
}

pub struct NewPasskey<'a> {
    pub credential_id: &'a str,
    pub algorithm: i32,
    pub public_key: &'a [u8],
    pub sign_count: u32,
    pub name: &'a str,
}

/// Adds a passkey and marks the account as having one; call in a write transaction.
pub fn add_passkey(
    conn: &mut DbConnection,
    id: &AccountId,
    key: &NewPasskey<'_>,
) -> QueryResult<()> {
    diesel::insert_into(passkeys::table)
        .values((
            passkeys::credential_id.eq(key.credential_id),
            passkeys::account_id.eq(id),
            passkeys::algorithm.eq(key.algorithm),
            passkeys::public_key.eq(key.public_key),
            passkeys::sign_count.eq(i64::from(key.sign_count)),
            passkeys::name.eq(key.name),
            passkeys::created_at.eq(now()),
        ))
        .execute(conn)?;
    diesel::update(accounts::table.find(id))
        .set(accounts::passkey_enabled.eq(true))
        .execute(conn)
        .map(drop)
}

/// Removes one of the account's passkeys, and marks whether it has any left; false when it
/// has no such passkey. Call in a write transaction.
pub fn remove_passkey(
    conn: &mut DbConnection,
    id: &AccountId,
    credential_id: &str,
) -> QueryResult<bool> {
    let removed = diesel::delete(
        passkeys::table
            .find(credential_id)
            .filter(passkeys::account_id.eq(id)),
    )
    .execute(conn)?;
    let left = passkeys::table
        .filter(passkeys::account_id.eq(id))
        .count()
        .get_result::<i64>(conn)?;
    diesel::update(accounts::table.find(id))
        .set(accounts::passkey_enabled.eq(left > 0))
        .execute(conn)?;
    Ok(removed == 1)
}

/// Records a use. Conditional on the counter it was checked against, so two instances
/// cannot both accept assertions with one counter value.
pub fn passkey_used(
    conn: &mut DbConnection,
    credential_id: &str,
    checked_against: i64,
    sign_count: u32,
) -> QueryResult<bool> {
    diesel::update(
        passkeys::table
            .find(credential_id)
            .filter(passkeys::sign_count.eq(checked_against)),
    )
    .set((
        passkeys::sign_count.eq(i64::from(sign_count)),
        passkeys::last_used_at.eq(now()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Marks a challenge as used; false when it was used before. Expired ones are forgotten,
/// since their seal refuses them anyway.
pub fn spend_challenge(
    conn: &mut DbConnection,
    digest: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::delete(spent_challenges::table.filter(spent_challenges::expires_at.lt(now())))
        .execute(conn)?;
    let spent = spent_challenges::table
        .find(digest)
        .count()
        .get_result::<i64>(conn)?;
    if spent > 0 {
        return Ok(false);
    }
    // A concurrent spender on another instance loses on the key, inside a savepoint so
    // that the surrounding transaction can still record the refusal.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(spent_challenges::table)
            .values((
                spent_challenges::digest.eq(digest),
                spent_challenges::expires_at.eq(expires_at),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}
