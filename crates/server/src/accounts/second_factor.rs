//! Changing an account's second factors: refusing to remove the last one, what follows a
//! removal, and the operator's reset.

use super::error::AccountError;
use super::store;
use crate::db::{write_transaction, DbConnection};
use crate::log::{Actor, Event, Kind, Subject};
use crate::tx::{Tx, WriteContext};
use iro_advice_model::accounts::{AccountId, Email};

/// What follows the removal of a second factor: every session but `keep` ends (it may have
/// been opened with the factor now gone), a `second_factor_removed` leaf, and a notice to
/// the owner at once.
pub fn factor_removed(
    tx: &mut Tx<'_>,
    account: &AccountId,
    by: Actor<'_>,
    keep: Option<&str>,
) -> Result<(), AccountError> {
    store::revoke_other_sessions(tx.conn, account, keep)?;
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::SecondFactorRemoved,
        actor: by,
        subject: Subject::SecondFactor {
            account: account.as_str(),
        },
        authority: None,
    })?;
    Ok(super::notices::notify_privately(tx, account)?)
}

/// The operator's reset of an account whose owner has lost every second factor: TOTP off,
/// every passkey gone, every session ended, a `second_factor_removed` leaf by the operator,
/// and the owner mailed at once — so that a reset behind an IRO's back is seen by them and
/// provable in the log. At the next sign-in (password alone) only enrolment answers.
pub fn reset_by_operator(
    conn: &mut DbConnection,
    context: &WriteContext,
    email: &Email,
) -> Result<AccountId, AccountError> {
    write_transaction(conn, |conn| {
        let tx = &mut Tx::new(conn, context);
        let account =
            store::login_account(tx.conn, email.as_str())?.ok_or(AccountError::NotFound)?;
        reset(tx, &account.id, Actor::Operator)?;
        Ok(account.id)
    })
}

/// Every second factor of an account gone, by the operator or an admin, with what follows
/// any removal.
pub fn reset(tx: &mut Tx<'_>, id: &AccountId, by: Actor<'_>) -> Result<(), AccountError> {
    store::disable_totp(tx.conn, id)?;
    for key in store::passkeys_of(tx.conn, id)? {
        store::remove_passkey(tx.conn, id, &key.credential_id)?;
    }
    factor_removed(tx, id, by, None)
}
