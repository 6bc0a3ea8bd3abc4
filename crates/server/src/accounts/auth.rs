//! Signing in, refreshing a session and signing out.
//!
//! A wrong email or password, a missing or wrong second-factor code and a suspended account
//! are each refused (the last two only after the right password). After repeated failures
//! for one email, or from one device, or too many across the service, every refusal is
//! "too many attempts" — except for the right password with a valid second factor, which
//! always gets in. Codes from devices the account does not know are budgeted per account
//! ([`SECOND_FACTOR_GUESSES`] wrong ones an hour, then none is checked), so a guesser who has
//! the password cannot win by hashing faster. When every password-hashing slot is busy, the
//! attempt is shed at once — except one from a device the account issued a token to, which
//! takes the owners' lane and waits its turn.

use std::sync::atomic::Ordering;

use chrono::Duration;

use super::error::{AccountError, SignInRefusal};
use super::factors::{Factors, Purpose};
use super::sessions::SessionClient;
use super::state::Accounts;
use super::store::{self, Rotation};
use crate::db::DbConnection;
use crate::tx::{Storage, Tx};
use iro_advice_api::{PasskeyAssertion, TokenPair};
use iro_advice_model::accounts::{AccountId, Email, Password, Role};

/// Failed sign-ins allowed per email (or per device) within the window before 429.
pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_MINUTES: i64 = 15;
/// How long the service-wide ceiling, once reached, holds attempts without a device token.
const CEILING_SECS: u64 = 60;
/// The ceiling's shorter window: a flood that spends a sixth of the minute's failures in
/// ten seconds reaches the ceiling then, rather than hashing at full speed until the
/// minute's allowance is gone. Each failure costs a hash, and hashing, even at the lowest
/// priority, slows the requests that share its cores (the database's the most).
const BURST_SECS: i64 = 10;

/// Failures allowed in [`BURST_SECS`]: a sixth of the minute's, but never fewer than ten
/// (nor more than the minute's), so that a small ceiling is still counted by the minute.
fn burst_allowance(per_minute: i64) -> i64 {
    (per_minute / 6).max(10).min(per_minute)
}

impl Accounts {
    /// The token pair of a new or renewed session.
    pub fn pair(&self, signed_in: SignedIn) -> TokenPair {
        TokenPair {
            access_token: self.tokens.issue(
                signed_in.account_id.as_str(),
                signed_in.role,
                &signed_in.session.session_id,
            ),
            refresh_token: Some(signed_in.session.refresh_token),
            token_type: "Bearer".into(),
            expires_in: self.tokens.lifetime_secs(),
            device_token: signed_in.device_token,
            failed_sign_ins: signed_in.failed_sign_ins,
        }
    }
}

/// The throttling key of attempts without a device token: a hash of the normalised email,
/// whether or not an account has it.
fn subject(email: &str) -> String {
    crate::keys::token_hash(&format!("login:{}", email.trim().to_lowercase()))
}

/// Wrong second-factor codes allowed per account per [`SECOND_FACTOR_WINDOW_MINUTES`], from
/// devices the account has not signed in from, after the right password. A code is one of
/// 10^6 and three are current at once (the step before and after are accepted), so each
/// guess wins with odds of 3 in 10^6: at 10 an hour, a hit takes 33,333 hours (3.8 years) on
/// average, on one core or sixteen.
pub const SECOND_FACTOR_GUESSES: i64 = 10;
pub const SECOND_FACTOR_WINDOW_MINUTES: i64 = 60;

/// The throttling key of one account's wrong second-factor codes.
fn second_factor_subject(account: &AccountId) -> String {
    crate::keys::token_hash(&format!("second-factor:{}", account.as_str()))
}

/// Seconds until the account's second-factor budget allows another code, when it is spent.
fn second_factor_budget(
    conn: &mut DbConnection,
    account: &AccountId,
) -> Result<Option<u64>, AccountError> {
    let now = crate::db::now();
    let window = Duration::minutes(SECOND_FACTOR_WINDOW_MINUTES);
    let recent = store::recent_failures(conn, &second_factor_subject(account), now - window)?;
    Ok((recent.count >= SECOND_FACTOR_GUESSES).then(|| {
        let until = recent.oldest.unwrap_or(now) + window;
        (until - now).num_seconds().max(1) as u64
    }))
}

/// The throttling key of one device's attempts.
fn device_subject(device_hash: &str) -> String {
    crate::keys::token_hash(&format!("login-device:{device_hash}"))
}

/// A sign-in attempt, as the client made it.
pub struct LoginAttempt {
    pub email: String,
    pub password: String,
    pub totp_code: Option<String>,
    pub passkey: Option<PasskeyAssertion>,
    pub device_token: Option<String>,
    /// Which kind of client the session is for.
    pub client: SessionClient,
}

/// A sign-in attempt, parsed.
struct Attempt {
    /// The throttling key when no device token of the account is presented.
    subject: String,
    /// None when the text is no email address at all: refused like a wrong one.
    email: Option<Email>,
    password: Password,
    totp_code: Option<String>,
    passkey: Option<PasskeyAssertion>,
    /// The hash of the device token presented, if any.
    device: Option<String>,
    /// Which kind of client the session is for.
    client: SessionClient,
}

/// What is known of an attempt before its password is hashed.
struct Gate {
    account: Option<store::LoginAccount>,
    /// Whether the attempt presented a device token of this account.
    device_known: bool,
    /// The throttling key the attempt counts against: its device's, else its email's.
    bucket: String,
    /// When that key, or the service as a whole, has failed too often: seconds to wait.
    /// A locked attempt still gets in with the right password and second factor.
    locked: Option<u64>,
    /// Whether the service-wide ceiling is what locked it.
    ceiling: bool,
    /// Whether the second factor offered could get a locked attempt in; when it cannot,
    /// neither can the password, and it is not hashed.
    factor_may_pass: bool,
    /// When the account's budget of wrong codes from unknown devices is spent, and a code
    /// is offered from one: seconds until it allows another. Nothing else is looked at.
    code_budget_spent: Option<u64>,
    /// A code offered for the account was checked here (the attempt being locked) and is
    /// wrong: it counts against the account's budget.
    code_wrong: bool,
}

/// Reads the account and the throttles for an attempt, and, when it is locked, whether its
/// second factor could be right (no hashing, no writing).
fn gate(
    conn: &mut DbConnection,
    factors: &Factors,
    attempt: &Attempt,
    ceiling: i64,
) -> Result<Gate, AccountError> {
    let now = crate::db::now();
    let account = match &attempt.email {
        Some(e) => store::login_account(conn, e.as_str())?,
        None => None,
    };
    let device_known = match (&account, &attempt.device) {
        (Some(a), Some(hash)) => store::device_belongs(conn, hash, &a.id)?,
        _ => false,
    };
    let bucket = match (&attempt.device, device_known) {
        (Some(hash), true) => device_subject(hash),
        _ => attempt.subject.clone(),
    };
    let recent = store::recent_failures(conn, &bucket, now - Duration::minutes(WINDOW_MINUTES))?;
    let mut locked = (recent.count >= MAX_FAILURES).then(|| {
        let until = recent.oldest.unwrap_or(now) + Duration::minutes(WINDOW_MINUTES);
        (until - now).num_seconds().max(1) as u64
    });
    // A known device is exempt from the service-wide ceiling, so that a flood of guesses
    // on other accounts does not keep the IROs who use the service out.
    let ceiling = locked.is_none()
        && !device_known
        && (store::failures_since(conn, now - Duration::seconds(BURST_SECS))?
            >= burst_allowance(ceiling)
            || store::failures_since(conn, now - Duration::minutes(1))? >= ceiling);
    if ceiling {
        locked = Some(CEILING_SECS);
    }
    let code = attempt.totp_code.as_deref();
    // Codes offered from a device the account does not know, checked against the account's
    // budget before anything else; the owner's devices and passkeys are not held to it.
    let budgeted = account
        .as_ref()
        .filter(|a| a.has_second_factor() && code.is_some() && attempt.passkey.is_none())
        .filter(|_| !device_known);
    let code_budget_spent = match budgeted {
        Some(a) => second_factor_budget(conn, &a.id)?,
        None => None,
    };
    let factor_may_pass = match (&account, locked) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(_)) => {
            factors.sign_in_may_accept(conn, a, code, attempt.passkey.as_ref())?
        }
    };
    let code_wrong = budgeted.is_some() && locked.is_some() && !factor_may_pass;
    Ok(Gate {
        account,
        device_known,
        bucket,
        locked,
        ceiling,
        factor_may_pass,
        code_budget_spent,
        code_wrong,
    })
}

/// A successful sign-in.
pub struct SignedIn {
    account_id: AccountId,
    role: Role,
    session: store::IssuedSession,
    device_token: Option<String>,
    failed_sign_ins: i32,
}

/// The refusal as the client sees it: while the attempt's key is locked every refusal is the
/// same "too many attempts", so a locked account tells a guesser nothing about the password.
fn refusal(refused: SignInRefusal, locked: Option<u64>) -> AccountError {
    match locked {
        Some(retry_after_secs) => AccountError::TooManyAttempts { retry_after_secs },
        None => AccountError::SignIn(refused),
    }
}

/// Decides an attempt whose password has been checked, and records what it must: a failure
/// (and, at the account's fifth in a row, a content-free notice to its holder) or a session.
fn conclude(
    tx: &mut Tx<'_>,
    factors: &Factors,
    gate: Gate,
    attempt: Attempt,
    password_right: bool,
    refresh_days: i64,
) -> Result<Result<SignedIn, AccountError>, AccountError> {
    let Gate {
        account,
        device_known,
        bucket,
        locked,
        code_wrong,
        ..
    } = gate;
    if let (true, Some(a)) = (code_wrong, &account) {
        store::record_failure(tx.conn, &second_factor_subject(&a.id))?;
    }
    let fail = |tx: &mut Tx<'_>, account: Option<&AccountId>, refused: SignInRefusal| {
        store::record_failure(tx.conn, &bucket)?;
        if let Some(id) = account {
            if store::note_failed_sign_in(tx.conn, id)? == MAX_FAILURES as i32 {
                super::notices::notify_privately(tx, id)?;
            }
        }
        Ok::<_, AccountError>(Err(refusal(refused, locked)))
    };
    let known = account.as_ref().map(|a| a.id.clone());
    let Some(account) = account.filter(|_| password_right) else {
        return fail(tx, known.as_ref(), SignInRefusal::Credentials);
    };
    let offered = (attempt.totp_code.as_deref(), attempt.passkey.as_ref());
    match (account.has_second_factor(), offered) {
        // The right password: not a failure, but no way in while locked.
        (true, (None, None)) => {
            return Ok(Err(refusal(SignInRefusal::SecondFactorMissing, locked)))
        }
        (true, (_, Some(assertion))) => {
            let purpose = Purpose::SignIn;
            if !factors.assertion_accepted(tx.conn, &account.id, purpose, assertion)? {
                return fail(tx, Some(&account.id), SignInRefusal::SecondFactorWrong);
            }
        }
        (true, (Some(code), None)) => {
            let sealed = account.enabled_totp_secret();
            let last = account.totp_last_step;
            if !factors.totp_accepts(tx.conn, &account.id, sealed, last, code)? {
                if !device_known {
                    store::record_failure(tx.conn, &second_factor_subject(&account.id))?;
                }
                return fail(tx, Some(&account.id), SignInRefusal::SecondFactorWrong);
            }
        }
        // Without a second factor a locked account stays locked.
        (false, _) if locked.is_some() => {
            return Ok(Err(refusal(SignInRefusal::Credentials, locked)))
        }
        (false, _) => {}
    }
    if !account.active() {
        return Ok(Err(refusal(SignInRefusal::Suspended, None)));
    }
    // Old failures go once no window still counts them (the second factor's is the longest).
    let forget_before =
        crate::db::now() - Duration::minutes(WINDOW_MINUTES.max(SECOND_FACTOR_WINDOW_MINUTES));
    store::clear_failures(tx.conn, &bucket, forget_before)?;
    let presented = attempt.device.as_deref().filter(|_| device_known);
    let device_token = store::remember_device(tx.conn, &account.id, presented)?;
    if presented.is_none() {
        // A sign-in from a device the account has not used: its holder hears of it, at the
        // private address only (the work address is the employer's to read).
        super::notices::notify_privately(tx, &account.id)?;
    }
    let failed_sign_ins = store::take_failed_sign_ins(tx.conn, &account.id)?;
    let session = store::create_session(tx.conn, &account.id, attempt.client, refresh_days)?;
    // Every sign-in is a leaf, tagged for its owner: a session opened behind their back (by
    // an operator with a swapped password hash) stays in the log after its rows are gone.
    let n = store::count_sign_in(tx.conn, &account.id)?;
    tx.record(crate::log::Event {
        details: crate::log::Details::Session(iro_advice_model::leaf::session_digest(
            &session.session_id,
        )),
        kind: crate::log::Kind::SignedIn,
        actor: crate::log::Actor::Account(account.id.as_str()),
        subject: crate::log::Subject::SignIn {
            account: account.id.as_str(),
            n,
        },
        authority: None,
    })?;
    Ok(Ok(SignedIn {
        account_id: account.id,
        role: account.role,
        session,
        device_token,
        failed_sign_ins,
    }))
}
/// Signs in: the account's new session, or why not.
pub async fn sign_in(
    accounts: &std::sync::Arc<Accounts>,
    storage: &Storage,
    login: LoginAttempt,
) -> Result<SignedIn, AccountError> {
    let LoginAttempt {
        email,
        password,
        totp_code,
        passkey,
        device_token,
        client,
    } = login;
    let attempt = Attempt {
        subject: subject(&email),
        email: Email::parse(&email).ok(),
        password: Password::attempt(password),
        totp_code: totp_code.filter(|c| !c.trim().is_empty()),
        passkey,
        device: device_token.as_deref().map(crate::keys::token_hash),
        client,
    };
    // While the service-wide ceiling holds, an attempt it applies to — no device token, no
    // second factor — is refused before it costs a slot or a query: a flood past the
    // ceiling then costs the database nothing.
    let factor_offered = attempt.totp_code.is_some() || attempt.passkey.is_some();
    let now = crate::db::now().and_utc().timestamp();
    let ceiling_until = accounts.ceiling_until.load(Ordering::Relaxed);
    if attempt.device.is_none() && !factor_offered && now < ceiling_until {
        return Err(AccountError::TooManyAttempts {
            retry_after_secs: (ceiling_until - now) as u64,
        });
    }
    // A slot first: when every one is busy, the attempt is shed before it costs a query.
    // An attempt that presents a device token is looked at first instead: one the account
    // issued (a device its owner signed in from) takes the owners' lane, which a flood of
    // guesses cannot fill.
    let busy = |_| AccountError::Busy;
    let early = match attempt.device {
        Some(_) => None,
        None => Some(accounts.hashing.reserve().map_err(busy)?),
    };
    let ceiling = accounts.settings.login_failures_per_minute;
    let shared = accounts.clone();
    let (gate, attempt) = storage
        .db
        .run(move |conn| gate(conn, &shared.factors, &attempt, ceiling).map(|g| (g, attempt)))
        .await?;
    let slot = match early {
        Some(slot) => slot,
        None if gate.device_known => accounts.hashing.reserve_for_owner().await.map_err(busy)?,
        None => accounts.hashing.reserve().map_err(busy)?,
    };
    if gate.ceiling {
        accounts
            .ceiling_until
            .store(now + CEILING_SECS as i64, Ordering::Relaxed);
    }
    // A code from an unknown device when the account's budget of wrong codes is spent: not
    // even checked, so a guesser with the password gets a few codes an hour however many
    // cores the server has. No hash, no record.
    if let Some(retry_after_secs) = gate.code_budget_spent {
        return Err(AccountError::TooManyAttempts { retry_after_secs });
    }
    // Locked, and no second factor offered: no reason to spend a hash on it.
    if let (Some(retry_after_secs), false) = (gate.locked, factor_offered) {
        return Err(AccountError::TooManyAttempts { retry_after_secs });
    }
    let password_right = if gate.locked.is_some() && !gate.factor_may_pass {
        // Locked, with a second factor that cannot be right (a flood's made-up code, or any
        // code for an email with no account): 429 whatever the password, so the slot is
        // held as long as a hash takes but the core is left alone. The attempt is refused
        // and recorded as a wrong password is, and guesses at a code go no faster than
        // hashed ones.
        slot.hold().await;
        false
    } else {
        let stored = gate.account.as_ref().map(|a| a.password_hash.clone());
        slot.verify(attempt.password.clone(), stored)
            .await
            .map_err(busy)?
    };
    let refresh_days = accounts.settings.refresh_token_days;
    let shared = accounts.clone();
    storage
        .write(move |tx| {
            conclude(
                tx,
                &shared.factors,
                gate,
                attempt,
                password_right,
                refresh_days,
            )
        })
        .await?
}

/// Exchanges a refresh token for a new session pair. A refresh token presented a second
/// time revokes its whole family: whoever holds either copy must sign in again. (The
/// revocation is committed before the refusal is answered.)
pub async fn refresh(
    storage: &Storage,
    settings: &crate::config::AccountSettings,
    token: String,
) -> Result<SignedIn, AccountError> {
    let (days, hours) = (settings.refresh_token_days, settings.session_hours);
    let rotation = storage
        .db
        .write(move |conn| -> Result<_, AccountError> {
            Ok(store::rotate_refresh_token(conn, &token, days, hours)?)
        })
        .await?;
    match rotation {
        Rotation::Rotated {
            account_id,
            role,
            session_id,
            refresh_token,
        } => Ok(SignedIn {
            account_id,
            role,
            session: store::IssuedSession {
                session_id,
                refresh_token,
            },
            device_token: None,
            failed_sign_ins: 0,
        }),
        Rotation::ReuseDetected => {
            tracing::warn!("refresh token reused: its session has been revoked");
            Err(AccountError::SignedOut)
        }
        Rotation::Refused => Err(AccountError::SignedOut),
    }
}

/// Ends the session a refresh token belongs to; its access tokens stop working at once.
pub fn sign_out(conn: &mut DbConnection, token: &str) -> Result<(), AccountError> {
    Ok(store::revoke_session_of_token(conn, token)?)
}
