//! Passkeys as a second factor: the challenges a browser answers, adding one (the first on
//! the session alone, later ones vouched for by an existing factor), listing and removing.

use iro_advice_model::accounts::AccountId;

use super::caller::Caller;
use super::error::AccountError;
use super::factors::{Factors, Purpose, StepUp};
use super::second_factor::factor_removed;
use super::store::{self, AccountView, StoredPasskey};
use super::webauthn::{self, unb64, WebAuthnError};
use crate::db::DbConnection;
use crate::log::{Actor, Event, Kind, Subject};
use crate::tx::Tx;
use iro_advice_api::RegistrationCredential;

/// A passkey's name, as its owner gave it.
pub struct PasskeyName(String);

impl PasskeyName {
    pub fn parse(raw: Option<&str>) -> Result<PasskeyName, AccountError> {
        let name = raw.map(str::trim).unwrap_or("Passkey");
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            return Err(AccountError::BadRequest(
                "name: 1 to 60 characters, no control characters".into(),
            ));
        }
        Ok(PasskeyName(name.to_owned()))
    }
}

/// The credential ids of an account's passkeys, for a browser to choose from.
pub fn credential_ids(
    conn: &mut DbConnection,
    id: &AccountId,
) -> Result<Vec<String>, AccountError> {
    Ok(store::passkeys_of(conn, id)?
        .into_iter()
        .map(|p| p.credential_id)
        .collect())
}

/// What creating a passkey needs to know of the account: who it is (for the authenticator's
/// label) and the passkeys it has already (so the same one is not made twice).
pub fn creation_context(
    conn: &mut DbConnection,
    id: &AccountId,
) -> Result<(AccountView, Vec<StoredPasskey>), AccountError> {
    let account = store::account(conn, id)?.ok_or(AccountError::SignedOut)?;
    Ok((account, store::passkeys_of(conn, id)?))
}

/// A browser's answer to creation options, checked against the relying party; the
/// challenge it answered is checked when the passkey is added.
pub fn verified_registration(
    factors: &Factors,
    credential: &RegistrationCredential,
) -> Result<webauthn::Registration, AccountError> {
    (|| {
        webauthn::verify_registration(
            &factors.rp,
            &unb64(&credential.response.client_data_json, "clientDataJSON")?,
            &unb64(&credential.response.attestation_object, "attestationObject")?,
        )
    })()
    .map_err(|e: WebAuthnError| AccountError::PasskeyInvalid(e.to_string()))
}

/// Adds a passkey. The first second factor of an account needs only the session; after
/// that an existing factor must vouch for a new one. Every other session ends, and the
/// enrolment is a leaf in the log.
pub fn add(
    tx: &mut Tx<'_>,
    factors: &Factors,
    caller: &Caller,
    name: &PasskeyName,
    registration: &webauthn::Registration,
    proof: &StepUp,
) -> Result<StoredPasskey, AccountError> {
    let id = &caller.account_id;
    let first = !store::totp_state(tx.conn, id)?.has_second_factor();
    if !first {
        factors.step_up(tx.conn, id, proof)?;
    }
    let purpose = Purpose::Register(id);
    if !factors.spend_challenge(tx.conn, purpose, &registration.challenge)? {
        return Err(AccountError::PasskeyInvalid(
            "the challenge has expired or was used: ask for new options".into(),
        ));
    }
    if store::passkey(tx.conn, &registration.credential_id)?.is_some() {
        return Err(AccountError::PasskeyExists);
    }
    store::add_passkey(
        tx.conn,
        id,
        &store::NewPasskey {
            credential_id: &registration.credential_id,
            algorithm: registration.public_key.algorithm,
            public_key: &registration.public_key.bytes,
            sign_count: registration.sign_count,
            name: &name.0,
        },
    )?;
    // Whoever else held a session was signed in without this factor.
    store::revoke_other_sessions(tx.conn, id, Some(&caller.session_id))?;
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::SecondFactorEnrolled,
        actor: Actor::Account(id.as_str()),
        subject: Subject::SecondFactor {
            account: id.as_str(),
        },
        authority: None,
    })?;
    if !first {
        // A factor added to an enrolled account is news its owner should get.
        super::notices::notify_privately(tx, id)?;
    }
    store::passkey(tx.conn, &registration.credential_id)?
        .ok_or_else(|| AccountError::Corrupt("the passkey just added is missing".into()))
}

/// The account's passkeys.
pub fn list(conn: &mut DbConnection, id: &AccountId) -> Result<Vec<StoredPasskey>, AccountError> {
    Ok(store::passkeys_of(conn, id)?)
}

/// Removes one of the caller's passkeys, with a fresh second factor (the passkey itself may
/// vouch), unless it is the account's only second factor; every other session ends and the
/// owner is told.
pub fn remove(
    tx: &mut Tx<'_>,
    factors: &Factors,
    caller: &Caller,
    credential: &str,
    proof: &StepUp,
) -> Result<(), AccountError> {
    let id = &caller.account_id;
    factors.step_up(tx.conn, id, proof)?;
    let keys = store::passkeys_of(tx.conn, id)?;
    if !keys.iter().any(|k| k.credential_id == credential) {
        return Err(AccountError::NotFound);
    }
    if keys.len() == 1 && !store::totp_state(tx.conn, id)?.totp_enabled {
        return Err(AccountError::LastSecondFactor);
    }
    store::remove_passkey(tx.conn, id, credential)?;
    factor_removed(
        tx,
        id,
        Actor::Account(id.as_str()),
        Some(&caller.session_id),
    )
}
