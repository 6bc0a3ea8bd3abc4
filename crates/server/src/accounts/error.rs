//! What the account services refuse, in their own words. The HTTP edge gives each refusal
//! its status and problem type, in one place (`http::error`).

use crate::accounts::notices::NoticeError;
use crate::db::DbError;
use crate::log::LogError;

/// Why a sign-in is refused once its password has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    Credentials,
    SecondFactorMissing,
    SecondFactorWrong,
    Suspended,
}

impl SignInRefusal {
    fn detail(self) -> &'static str {
        match self {
            SignInRefusal::Credentials => "wrong email or password",
            SignInRefusal::SecondFactorMissing => {
                "this account needs its second factor: the code from its authenticator app \
                 (totp_code) or its passkey (passkey)"
            }
            SignInRefusal::SecondFactorWrong => {
                "that code is wrong, expired or already used; wait for the next one"
            }
            SignInRefusal::Suspended => {
                "this account is suspended; ask the service's administrator"
            }
        }
    }
}

impl std::fmt::Display for SignInRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.detail())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No such account (or session, passkey, …) of the caller's.
    #[error("not found")]
    NotFound,
    /// The account behind a session is gone or the token is not one: as if signed out.
    #[error("a valid access token is required")]
    SignedOut,
    /// The caller's role may not do this (a NAIRO reviewer inviting anyone but an IRO).
    #[error("this account may not do that")]
    Forbidden,
    /// An act an admin may not do to their own account.
    #[error("{0}")]
    OwnAccount(&'static str),
    #[error("the account already counts in the statistics")]
    AlreadyApproved,
    #[error("{0}")]
    InvalidVerification(&'static str),
    #[error("the handover is not the current key's signature on the new one")]
    InvalidSignature,
    #[error("{0}")]
    WeakPassword(String),
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// An invitation that asks for a role with the wrong attributes.
    #[error("{0}")]
    InvalidInvitee(String),
    /// Unknown, used, expired and wrongly completed invitations are refused alike.
    #[error("the invitation is unknown, used or expired, or its code is wrong")]
    InvitationRefused,
    #[error("an account with that email already exists")]
    AccountExists,
    #[error("this account already has a second factor (TOTP or a passkey)")]
    TotpAlreadyEnabled,
    #[error("start enrolment with POST /api/v1/me/totp")]
    TotpNotStarted,
    #[error("the code does not match")]
    TotpCodeInvalid,
    /// The act needs a fresh second factor, and none was given, or not a good one.
    #[error("{0}")]
    StepUpRequired(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    SignIn(SignInRefusal),
    /// While an attempt's email, device or the service is locked, every refusal is this,
    /// so that a locked account tells a guesser nothing about the password.
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Every password-hashing slot is busy.
    #[error("the service is busy; try again in 1 seconds")]
    Busy,
    #[error("{0}")]
    PasskeyInvalid(String),
    #[error("this passkey is already registered")]
    PasskeyExists,
    #[error("this is the account's only second factor: enrol another one first")]
    LastSecondFactor,
    /// A stored row the code cannot read.
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
}
