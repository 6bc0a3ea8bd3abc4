//! Proving a second factor: TOTP codes and passkey assertions, for signing in and for the
//! acts that need a fresh factor (step-up).
//!
//! Passkey challenges are sealed by the service (bound to their purpose and account, with an
//! expiry) rather than stored, so that asking for options writes nothing; a challenge is
//! recorded only when it is used, and is then refused a second time.

use chrono::Duration;

use super::error::AccountError;
use super::store;
use super::totp::{self, Sealer};
use super::webauthn::{self, b64, unb64, RelyingParty};
use crate::db::DbConnection;
use iro_advice_api::PasskeyAssertion;
use iro_advice_model::accounts::AccountId;

/// How long options stay usable: long enough to find a security key in a bag.
pub const CHALLENGE_SECS: i64 = 300;

/// What a challenge was issued for; a challenge of one purpose is refused for another.
#[derive(Clone, Copy)]
pub enum Purpose<'a> {
    Register(&'a AccountId),
    SignIn,
    StepUp(&'a AccountId),
}

impl Purpose<'_> {
    fn binding(self) -> String {
        match self {
            Purpose::Register(id) => format!("webauthn:register:{id}"),
            Purpose::SignIn => "webauthn:sign-in".to_owned(),
            Purpose::StepUp(id) => format!("webauthn:step-up:{id}"),
        }
    }
}

/// What proving a second factor needs, made once at start: the key that seals TOTP secrets
/// and passkey challenges, and who passkeys are for.
pub struct Factors {
    pub sealer: Sealer,
    pub rp: RelyingParty,
}

impl Factors {
    /// None when the public URL names no host (the configuration refuses such a URL).
    pub fn new(sealer: Sealer, public_url: &str) -> Option<Factors> {
        Some(Factors {
            sealer,
            rp: RelyingParty::from_public_url(public_url)?,
        })
    }

    pub fn new_challenge(&self, purpose: Purpose<'_>) -> String {
        let expires = (crate::db::now() + Duration::seconds(CHALLENGE_SECS))
            .and_utc()
            .timestamp();
        b64(&self.sealer.seal(&purpose.binding(), &expires.to_be_bytes()))
    }

    /// When a challenge sealed by this service for `purpose` expires; None for any other,
    /// and for one that has expired.
    fn unexpired(&self, purpose: Purpose<'_>, challenge: &[u8]) -> Option<chrono::NaiveDateTime> {
        self.sealer
            .open(&purpose.binding(), challenge)
            .and_then(|plain| <[u8; 8]>::try_from(plain.as_slice()).ok())
            .map(i64::from_be_bytes)
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .map(|t| t.naive_utc())
            .filter(|expires| *expires > crate::db::now())
    }

    /// Accepts a challenge once: sealed by this service for `purpose`, unexpired, unused.
    pub fn spend_challenge(
        &self,
        conn: &mut DbConnection,
        purpose: Purpose<'_>,
        challenge: &[u8],
    ) -> Result<bool, AccountError> {
        let Some(expires) = self.unexpired(purpose, challenge) else {
            return Ok(false);
        };
        let digest = crate::keys::token_hash(&b64(challenge));
        Ok(store::spend_challenge(conn, &digest, expires)?)
    }

    /// Whether a second factor offered to sign in could be accepted for `account`: every
    /// check that [`Factors::totp_accepts`] and [`Factors::assertion_accepted`] make except
    /// the ones that need a write (a challenge not used before, a counter not raced), and
    /// nothing is used up. False means the factor would be refused whatever the password.
    pub fn sign_in_may_accept(
        &self,
        conn: &mut DbConnection,
        account: &store::LoginAccount,
        code: Option<&str>,
        passkey: Option<&PasskeyAssertion>,
    ) -> Result<bool, AccountError> {
        if !account.has_second_factor() {
            return Ok(false);
        }
        // As at sign-in: a passkey's answer, when there is one, is what is checked.
        if let Some(assertion) = passkey {
            let Some((_, verified)) = self.verified_assertion(conn, &account.id, assertion)? else {
                return Ok(false);
            };
            return Ok(self
                .unexpired(Purpose::SignIn, &verified.challenge)
                .is_some());
        }
        let (sealed, last) = (account.enabled_totp_secret(), account.totp_last_step);
        Ok(code.is_some_and(|code| self.totp_step(&account.id, sealed, last, code).is_some()))
    }

    /// The step `code` is current for, when it is for the account's enabled TOTP secret
    /// (`sealed`) and newer than `last_step`.
    fn totp_step(
        &self,
        id: &AccountId,
        sealed: Option<&[u8]>,
        last_step: i64,
        code: &str,
    ) -> Option<i64> {
        let secret = self.sealer.open(id.as_str(), sealed?)?;
        totp::matching_step(&secret, code, last_step)
    }

    /// Whether `code` is current for the account's enabled TOTP secret (`sealed`, or None
    /// when TOTP is not enabled) and newer than `last_step`; when it is, its step is used up.
    pub fn totp_accepts(
        &self,
        conn: &mut DbConnection,
        id: &AccountId,
        sealed: Option<&[u8]>,
        last_step: i64,
        code: &str,
    ) -> Result<bool, AccountError> {
        Ok(match self.totp_step(id, sealed, last_step, code) {
            Some(step) => store::use_totp_step(conn, id, step, false)?,
            None => false,
        })
    }

    /// The passkey of `account` that `assertion` names, with what its signature says, when
    /// the signature verifies and the counter has moved on.
    fn verified_assertion(
        &self,
        conn: &mut DbConnection,
        account: &AccountId,
        assertion: &PasskeyAssertion,
    ) -> Result<Option<(store::StoredPasskey, webauthn::Assertion)>, AccountError> {
        let Ok(id) = unb64(&assertion.id, "id") else {
            return Ok(None);
        };
        let Some(stored) = store::passkey(conn, &b64(&id))?.filter(|p| &p.account_id == account)
        else {
            return Ok(None);
        };
        let verified = (|| {
            let response = &assertion.response;
            let key = webauthn::PublicKey::new(stored.algorithm, stored.public_key.clone())?;
            let count = u32::try_from(stored.sign_count).unwrap_or(u32::MAX);
            webauthn::verify_assertion(
                &self.rp,
                &key,
                count,
                &unb64(&response.client_data_json, "clientDataJSON")?,
                &unb64(&response.authenticator_data, "authenticatorData")?,
                &unb64(&response.signature, "signature")?,
            )
        })();
        Ok(verified.ok().map(|verified| (stored, verified)))
    }

    /// Whether `assertion` is a fresh answer, by one of `account`'s passkeys, to a challenge
    /// issued for `purpose`; when it is, the challenge and the counter are used up. Call in
    /// a write transaction.
    pub fn assertion_accepted(
        &self,
        conn: &mut DbConnection,
        account: &AccountId,
        purpose: Purpose<'_>,
        assertion: &PasskeyAssertion,
    ) -> Result<bool, AccountError> {
        let Some((stored, verified)) = self.verified_assertion(conn, account, assertion)? else {
            return Ok(false);
        };
        if !self.spend_challenge(conn, purpose, &verified.challenge)? {
            return Ok(false);
        }
        Ok(store::passkey_used(
            conn,
            &stored.credential_id,
            stored.sign_count,
            verified.sign_count,
        )?)
    }

    /// A fresh second factor: an enrolled one, and `proof` current and not used before (it
    /// is then used up). For the acts that matter most, a session is not enough.
    pub fn step_up(
        &self,
        conn: &mut DbConnection,
        id: &AccountId,
        proof: &StepUp,
    ) -> Result<(), AccountError> {
        let refused = AccountError::StepUpRequired;
        let state = store::totp_state(conn, id)?;
        if !state.has_second_factor() {
            return Err(refused(
                "enrol a second factor first (POST /api/v1/me/totp or /api/v1/me/passkeys)",
            ));
        }
        if let Some(assertion) = &proof.passkey {
            return match self.assertion_accepted(conn, id, Purpose::StepUp(id), assertion)? {
                true => Ok(()),
                false => Err(refused(
                    "the passkey's answer does not verify, or its challenge expired or was used",
                )),
            };
        }
        let sealed = state.totp_secret.as_deref().filter(|_| state.totp_enabled);
        let accepted = match proof.totp_code.as_deref() {
            Some(code) => self.totp_accepts(conn, id, sealed, state.totp_last_step, code)?,
            None => false,
        };
        match accepted {
            true => Ok(()),
            false => Err(refused(
                "a current TOTP code not used before (totp_code), or a passkey's answer to POST /api/v1/me/step-up/options (passkey), is required",
            )),
        }
    }
}

/// A fresh second factor offered for an act: a TOTP code or a passkey assertion.
#[derive(Default)]
pub struct StepUp {
    pub totp_code: Option<String>,
    pub passkey: Option<PasskeyAssertion>,
}
