//! The caller's own account: what it is, its language, its second factors (TOTP), its key,
//! its password, and, for an adviser, its conflicts and availability.
//!
//! The acts that could hand the account to someone else (a new key, a new password, the
//! wrapped identity, removing a factor) need a fresh second factor, not only a session.

use iro_advice_api::AuthorSignature;
use iro_advice_model::accounts::{AccountId, AgeRecipient, Email, Language, Password, Role};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_model::ciphertext::PassphraseWrapped;
use iro_advice_model::signing::{key_change_digest, verify_digest, KEY_CHANGE};

use super::caller::Caller;
use super::error::AccountError;
use super::factors::{Factors, StepUp};
use super::second_factor::factor_removed;
use super::state::Accounts;
use super::store::{self, AccountView};
use super::totp::{self, Sealer};
use crate::db::DbConnection;
use crate::log::witnessing::Witnessing;
use crate::log::{conflicts_digest, Actor, Event, KeyProof, Kind, Subject};
use crate::tx::{Storage, Tx};

/// An account as its owner sees it.
pub struct Profile {
    pub account: AccountView,
    /// An adviser's declared conflicts; None for other roles.
    pub conflicts: Option<Vec<String>>,
    /// The proof of the account's current key event in the served checkpoint.
    pub key_proof: Option<KeyProof>,
}

pub fn view(
    conn: &mut DbConnection,
    witnessing: &Witnessing,
    id: &AccountId,
) -> Result<Profile, AccountError> {
    let account = store::account(conn, id)?.ok_or(AccountError::SignedOut)?;
    let conflicts = match account.role {
        Role::Adviser => Some(store::conflicts(conn, id)?),
        _ => None,
    };
    let key_proof =
        super::directory::key_proofs(conn, witnessing, std::slice::from_ref(id))?.remove(id);
    Ok(Profile {
        account,
        conflicts,
        key_proof,
    })
}

/// Chooses the language of the account's pages and notices.
pub fn set_language(
    conn: &mut DbConnection,
    id: &AccountId,
    language: Language,
) -> Result<(), AccountError> {
    Ok(store::set_language(conn, id, language)?)
}

/// A TOTP secret waiting for its first code, and the account's email for the authenticator
/// app's label.
pub struct TotpEnrolment {
    pub secret: Vec<u8>,
    pub email: String,
}

/// Starts TOTP enrolment with a new secret. Refused once the account has a second factor,
/// so that a stolen access token cannot add or replace one.
pub fn begin_totp(
    conn: &mut DbConnection,
    sealer: &Sealer,
    id: &AccountId,
) -> Result<TotpEnrolment, AccountError> {
    let secret = totp::new_secret();
    let sealed = sealer.seal(id.as_str(), &secret);
    // A passkey already guards the account: a session alone must not add a factor.
    if store::totp_state(conn, id)?.has_second_factor() {
        return Err(AccountError::TotpAlreadyEnabled);
    }
    store::store_pending_totp(conn, id, &sealed)?;
    let email = store::account(conn, id)?
        .map(|a| a.email)
        .unwrap_or_default();
    Ok(TotpEnrolment { secret, email })
}

/// Confirms enrolment with a current code; from then on sign-in needs a code too, and every
/// other session of the account has ended. The enrolment is a leaf of the log.
pub fn confirm_totp(
    tx: &mut Tx<'_>,
    sealer: &Sealer,
    caller: &Caller,
    code: &str,
) -> Result<(), AccountError> {
    let id = &caller.account_id;
    let state = store::totp_state(tx.conn, id)?;
    if state.has_second_factor() {
        return Err(AccountError::TotpAlreadyEnabled);
    }
    let last_step = state.totp_last_step;
    let secret = state
        .totp_secret
        .and_then(|s| sealer.open(id.as_str(), &s))
        .ok_or(AccountError::TotpNotStarted)?;
    let step =
        totp::matching_step(&secret, code, last_step).ok_or(AccountError::TotpCodeInvalid)?;
    if !store::use_totp_step(tx.conn, id, step, true)? {
        return Err(AccountError::TotpCodeInvalid);
    }
    // Whoever else held a session was signed in without this factor.
    store::revoke_other_sessions(tx.conn, id, Some(&caller.session_id))?;
    // An auditor can see when an account's second factor was set up.
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::SecondFactorEnrolled,
        actor: Actor::Account(id.as_str()),
        subject: Subject::SecondFactor {
            account: id.as_str(),
        },
        authority: None,
    })?;
    Ok(())
}

/// Turns TOTP off, with a fresh second factor, when the account has a passkey to keep it
/// guarded; every other session ends and the owner is told.
pub fn remove_totp(
    tx: &mut Tx<'_>,
    factors: &Factors,
    caller: &Caller,
    proof: &StepUp,
) -> Result<(), AccountError> {
    let id = &caller.account_id;
    factors.step_up(tx.conn, id, proof)?;
    let held = store::totp_state(tx.conn, id)?;
    if !held.totp_enabled {
        return Err(AccountError::NotFound);
    }
    if !held.passkey_enabled {
        return Err(AccountError::LastSecondFactor);
    }
    store::disable_totp(tx.conn, id)?;
    factor_removed(
        tx,
        id,
        Actor::Account(id.as_str()),
        Some(&caller.session_id),
    )
}

/// Registers the caller's age public key, and optionally a passphrase-wrapped copy of the
/// identity for a browser to unwrap locally. The first key needs only the session; any
/// change after it (the key, or the wrapped identity) needs a fresh second factor, so a
/// stolen session cannot redirect what others encrypt to this account.
pub fn put_key(
    tx: &mut Tx<'_>,
    factors: &Factors,
    caller: &Caller,
    recipient: &AgeRecipient,
    wrapped: Option<&PassphraseWrapped>,
    handover: Option<&AuthorSignature>,
    proof: &StepUp,
) -> Result<(), AccountError> {
    let account = &caller.account_id;
    let (current, _) = store::key_state(tx.conn, account)?;
    // A handover is the current key's signature on the new one; one that is not is refused
    // (before a second factor is spent on it) rather than shown to correspondents as missing.
    // "Current" is the key the log holds: when the database holds another (swapped behind
    // the owner's back), the owner must still be able to move on, and correspondents check
    // the handover against the key they pinned whatever the service says.
    if let Some(h) = handover {
        if current.is_none() {
            return Err(AccountError::InvalidSignature);
        }
        let refused = logged_key(tx.conn, account)?.is_some_and(|c| {
            !verify_digest(
                &c,
                KEY_CHANGE,
                account.as_str(),
                h.signed_at,
                &key_change_digest(recipient.as_str()),
                &h.signature,
            )
        });
        if refused {
            return Err(AccountError::InvalidSignature);
        }
    }
    if current.is_some() {
        factors.step_up(tx.conn, account, proof)?;
    }
    if current.as_deref() != Some(recipient.as_str()) {
        store::set_key_handover(tx.conn, account, handover)?;
    }
    register_key(tx, account, recipient, wrapped)
}

/// The account's key as the database holds it, when its current key event in the log
/// commits to it; None when it has none, or one swapped in behind the log's back. What the
/// service checks a signature of the account's against, so that a swapped row can neither
/// pass a forgery nor refuse the owner.
pub fn logged_key(
    conn: &mut DbConnection,
    account: &AccountId,
) -> diesel::QueryResult<Option<String>> {
    let Some(view) = store::account(conn, account)? else {
        return Ok(None);
    };
    let (Some(recipient), Some(leaf)) = (
        view.age_recipient,
        store::key_leaves(conn, std::slice::from_ref(account))?.remove(account),
    ) else {
        return Ok(None);
    };
    let Some(opening) = crate::log::store::opening(conn, leaf)? else {
        return Ok(None);
    };
    let event = opening
        .open(&crate::log::store::leaf_data(conn, leaf)?)
        .ok()
        .and_then(|summary| crate::log::KeyEvent::from_summary(&summary));
    Ok(event
        .is_some_and(|e| e.recipient == crate::log::recipient_digest(&recipient))
        .then_some(recipient))
}

/// Sets an account's age recipient (and wrapped identity). A new recipient is a new key
/// version, and a key event in the log, in the same transaction; the owner is told by mail,
/// so that a key registered behind their back does not go unnoticed.
pub fn register_key(
    tx: &mut Tx<'_>,
    account: &AccountId,
    recipient: &AgeRecipient,
    wrapped: Option<&PassphraseWrapped>,
) -> Result<(), AccountError> {
    let (current, _) = store::key_state(tx.conn, account)?;
    store::set_key(
        tx.conn,
        account,
        recipient.as_str(),
        wrapped.map(PassphraseWrapped::as_str),
    )?;
    if current.as_deref() == Some(recipient.as_str()) {
        return Ok(());
    }
    log_key_event(tx, account)?;
    Ok(super::notices::notify_now(tx, account)?)
}

/// Logs the account's current key, with who it is (name, role, affiliation, verification),
/// as its next key version: at every new key, and at every change of identity, so that
/// correspondents see a change of name or verification only as the log records it.
pub fn log_key_event(tx: &mut Tx<'_>, account: &AccountId) -> Result<(), AccountError> {
    let view = store::account(tx.conn, account)?.ok_or(AccountError::NotFound)?;
    let Some(recipient) = view.age_recipient.as_deref() else {
        return Ok(());
    };
    let (_, version) = store::key_state(tx.conn, account)?;
    let version = version + 1;
    let identity = view.identity_claim().identity().digest();
    let receipt = tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::KeyIdentified,
        actor: Actor::Account(account.as_str()),
        subject: Subject::Key {
            account: account.as_str(),
            version,
            recipient,
            identity: Some(identity),
        },
        authority: None,
    })?;
    store::set_key_event(tx.conn, account, version, crate::log::published(&receipt)?)?;
    Ok(())
}

/// The caller's passphrase-wrapped identity, for a client to unwrap locally: with a fresh
/// second factor, since with it (and the passphrase) comes every case.
pub fn wrapped_identity(
    tx: &mut Tx<'_>,
    factors: &Factors,
    caller: &Caller,
    proof: &StepUp,
) -> Result<String, AccountError> {
    factors.step_up(tx.conn, &caller.account_id, proof)?;
    store::wrapped_identity(tx.conn, &caller.account_id)?.ok_or(AccountError::NotFound)
}

/// A password change as its owner asks for it.
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
    pub proof: StepUp,
}

/// Changes the caller's password: the current password and a fresh second factor are both
/// needed, so neither a stolen session nor a stolen password alone can do it. Every other
/// session ends, and the owner is told at once.
pub async fn change_password(
    accounts: &std::sync::Arc<Accounts>,
    storage: &Storage,
    caller: Caller,
    change: PasswordChange,
) -> Result<(), AccountError> {
    let PasswordChange {
        current_password,
        new_password,
        proof,
    } = change;
    let new_password = Password::new(new_password).map_err(AccountError::WeakPassword)?;
    // A hashing slot before anything costs a query, as at sign-in.
    let slot = accounts.hashing.reserve().map_err(|_| AccountError::Busy)?;
    let id = caller.account_id.clone();
    let (stored, email) = storage
        .read(move |conn| -> Result<_, AccountError> { Ok(store::password_of(conn, &id)?) })
        .await?;
    let email =
        Email::parse(&email).map_err(|e| AccountError::Corrupt(format!("stored email: {e}")))?;
    if new_password.equals_email(&email) {
        return Err(AccountError::WeakPassword(
            "the password must not be the email address".into(),
        ));
    }
    let current = Password::attempt(current_password);
    let right = slot
        .verify(current, Some(stored))
        .await
        .map_err(|_| AccountError::Busy)?;
    if !right {
        return Err(AccountError::WrongCurrentPassword);
    }
    let hash = accounts
        .hashing
        .hash(new_password)
        .await
        .map_err(|_| AccountError::Busy)?;
    let shared = accounts.clone();
    storage
        .write(move |tx| -> Result<(), AccountError> {
            shared
                .factors
                .step_up(tx.conn, &caller.account_id, &proof)?;
            store::set_password_hash(tx.conn, &caller.account_id, &hash)?;
            store::revoke_other_sessions(tx.conn, &caller.account_id, Some(&caller.session_id))?;
            Ok(super::notices::notify_now(tx, &caller.account_id)?)
        })
        .await
}

/// Replaces an adviser's declared conflicts. A peer adviser is always conflicted with their
/// own employer, whether listed or not. A change is a leaf in the log (the set's digest,
/// under the adviser's directory pseudonym) and a notice to the adviser: who an adviser may
/// be asked by is a fact IROs rely on, and the adviser watches it.
pub fn declare_conflicts(
    tx: &mut Tx<'_>,
    account: &AccountId,
    codes: &[AuthorityCode],
) -> Result<(), AccountError> {
    let mut codes = codes.to_vec();
    codes.sort();
    codes.dedup();
    let before = store::conflicts(tx.conn, account)?;
    let after: Vec<&str> = codes.iter().map(AuthorityCode::as_str).collect();
    store::set_conflicts(tx.conn, account, &codes)?;
    let before: Vec<&str> = before.iter().map(String::as_str).collect();
    let digest = conflicts_digest(&after);
    if conflicts_digest(&before) == digest {
        return Ok(());
    }
    super::logged::log_conflicts(tx, account, Actor::Account(account.as_str()), &after)?;
    Ok(super::notices::notify_now(tx, account)?)
}

/// Whether the adviser takes new queries (for leave, or a full caseload); a change is a
/// leaf of the log.
pub fn set_availability(
    tx: &mut Tx<'_>,
    account: &AccountId,
    accepting: bool,
) -> Result<(), AccountError> {
    let before = store::account(tx.conn, account)?
        .ok_or(AccountError::SignedOut)?
        .accepting;
    store::set_accepting(tx.conn, account, accepting)?;
    if before != accepting {
        super::logged::log_availability(tx, account, Actor::Account(account.as_str()), accepting)?;
    }
    Ok(())
}
