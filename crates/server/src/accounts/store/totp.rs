//! An account's TOTP state (columns of `accounts`).

use diesel::prelude::*;

use crate::db::schema::accounts;
use crate::db::DbConnection;
use iro_advice_model::accounts::AccountId;

/// An account's TOTP secret (sealed), whether it is enabled, and the last step used.
#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct TotpState {
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_last_step: i64,
    pub passkey_enabled: bool,
}

impl TotpState {
    pub fn has_second_factor(&self) -> bool {
        self.totp_enabled || self.passkey_enabled
    }
}

pub fn totp_state(conn: &mut DbConnection, id: &AccountId) -> QueryResult<TotpState> {
    accounts::table
        .find(id)
        .select(TotpState::as_select())
        .first(conn)
}

pub fn store_pending_totp(
    conn: &mut DbConnection,
    id: &AccountId,
    sealed: &[u8],
) -> QueryResult<()> {
    diesel::update(
        accounts::table
            .find(id)
            .filter(accounts::totp_enabled.eq(false)),
    )
    .set(accounts::totp_secret.eq(sealed))
    .execute(conn)
    .map(drop)
}

/// Records that a code of `step` was used, enabling TOTP if `enable`. Conditional on the
/// stored step being older, so two instances cannot both accept one code.
pub fn use_totp_step(
    conn: &mut DbConnection,
    id: &AccountId,
    step: i64,
    enable: bool,
) -> QueryResult<bool> {
    let target = accounts::table
        .find(id)
        .filter(accounts::totp_last_step.lt(step));
    let updated = if enable {
        diesel::update(target)
            .set((
                accounts::totp_last_step.eq(step),
                accounts::totp_enabled.eq(true),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set(accounts::totp_last_step.eq(step))
            .execute(conn)?
    };
    Ok(updated == 1)
}

/// Turns TOTP off and forgets its secret.
pub fn disable_totp(conn: &mut DbConnection, id: &AccountId) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::totp_enabled.eq(false),
            accounts::totp_secret.eq(None::<Vec<u8>>),
        ))
        .execute(conn)
        .map(drop)
}
