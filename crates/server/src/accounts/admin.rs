//! Account administration: approving NAIRO's nominations, suspending and reactivating,
//! checking advisers, and resetting a lost second factor. Each act is a leaf of the log
//! naming the admin, so that every vouching and every suspension can be traced.

use iro_advice_model::accounts::{AccountId, AccountStatus, AdviserKind, Role, SraNumber};
use iro_advice_model::authorities::AuthorityCode;

use super::error::AccountError;
use super::store::{self, AccountView};
use crate::db::DbConnection;
use crate::log::{Actor, Event, Kind, Subject};
use crate::tx::Tx;

/// Every account, for the admin's list.
pub fn all(conn: &mut DbConnection) -> Result<Vec<AccountView>, AccountError> {
    Ok(store::all_accounts(conn)?)
}

/// Suspends (an account is then refused at once, its tokens included) or reactivates an
/// account. An admin cannot change their own.
pub fn set_status(
    tx: &mut Tx<'_>,
    admin: &AccountId,
    id: &AccountId,
    status: AccountStatus,
) -> Result<(), AccountError> {
    if id == admin {
        return Err(AccountError::OwnAccount(
            "an admin cannot suspend or reactivate their own account",
        ));
    }
    let account = store::account(tx.conn, id)?.ok_or(AccountError::NotFound)?;
    store::set_status(tx.conn, id, status)?;
    let kind = match status {
        AccountStatus::Suspended => Kind::AccountSuspended,
        AccountStatus::Active => Kind::AccountReactivated,
    };
    tx.record(Event {
        details: crate::log::Details::None,
        kind,
        actor: Actor::Account(admin.as_str()),
        subject: Subject::Account(id.as_str()),
        authority: account.authority_code.as_ref().map(AuthorityCode::as_str),
    })?;
    Ok(())
}

/// Approves an IRO whom NAIRO nominated: from now on the account counts in the statistics.
/// Until then it works but counts nowhere, so that a NAIRO account cannot add IROs to an
/// authority's numbers by itself.
pub fn approve(tx: &mut Tx<'_>, admin: &AccountId, id: &AccountId) -> Result<(), AccountError> {
    let account = store::account(tx.conn, id)?.ok_or(AccountError::NotFound)?;
    if !store::approve(tx.conn, id, admin)? {
        return Err(AccountError::AlreadyApproved);
    }
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::AccountApproved,
        actor: Actor::Account(admin.as_str()),
        subject: Subject::Account(id.as_str()),
        authority: account.authority_code.as_ref().map(AuthorityCode::as_str),
    })?;
    Ok(())
}

/// Marks an adviser checked: a solicitor's SRA number as read on the SRA's register, a peer
/// adviser's post with their authority. Who checked and when are kept and shown, and the act
/// is logged, so that a vouching can be traced to the admin who gave it. Checking again
/// (a corrected number) replaces the record and is logged again.
pub fn verify_adviser(
    tx: &mut Tx<'_>,
    admin: &AccountId,
    id: &AccountId,
    sra_number: Option<&SraNumber>,
) -> Result<(), AccountError> {
    let account = store::account(tx.conn, id)?.ok_or(AccountError::NotFound)?;
    let refuse = |detail| Err(AccountError::InvalidVerification(detail));
    match (account.role, account.adviser_kind, sra_number) {
        (Role::Adviser, Some(AdviserKind::Solicitor), Some(_)) => {}
        (Role::Adviser, Some(AdviserKind::Solicitor), None) => {
            return refuse("a solicitor is checked by their SRA number: give sra_number")
        }
        (Role::Adviser, Some(AdviserKind::Peer), None) => {}
        (Role::Adviser, _, Some(_)) => return refuse("only a solicitor has an SRA number"),
        _ => return refuse("only advisers are checked"),
    }
    store::verify_adviser(tx.conn, id, sra_number.map(SraNumber::as_str), admin)?;
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::AdviserVerified,
        actor: Actor::Account(admin.as_str()),
        subject: Subject::Account(id.as_str()),
        authority: None,
    })?;
    // Correspondents see the verification only as the adviser's key event commits to it.
    super::profile::log_key_event(tx, id)
}

/// Resets the second factor of someone who lost it (a phone, a security key): TOTP off,
/// every passkey gone, every session ended, a `second_factor_removed` leaf naming the admin,
/// and the owner mailed at once, so that a reset behind their back is seen and provable.
/// At their next sign-in, with the password alone, only enrolment answers.
pub fn reset_second_factor(
    tx: &mut Tx<'_>,
    admin: &AccountId,
    id: &AccountId,
) -> Result<(), AccountError> {
    if id == admin {
        // An admin who could reset their own factor would need only their password.
        return Err(AccountError::OwnAccount(
            "an admin cannot reset their own second factor; another admin or the operator's \
             console can",
        ));
    }
    store::account(tx.conn, id)?.ok_or(AccountError::NotFound)?;
    super::second_factor::reset(tx, id, Actor::Account(admin.as_str()))
}
