//! `POST /api/v1/auth/login`, `/refresh`, `/logout`.

use actix_web::{web, HttpResponse};
use chrono::{Duration, NaiveDateTime};

use super::domain::{AccountId, Email, Password, Role};
use super::passwords;
use super::store::{self, Rotation};
use super::totp::{self, Sealer};
use crate::app::AppState;
use crate::db::{write_transaction, DbConnection};
use crate::error::ApiError;
use crate::wire::{LoginRequest, RefreshRequest, TokenPair};

/// Failed logins allowed per email within the window before 429.
pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_MINUTES: i64 = 15;

fn pair(
    state: &AppState,
    account_id: &str,
    role: Role,
    session_id: &str,
    refresh_token: String,
) -> TokenPair {
    TokenPair {
        access_token: state.tokens.issue(account_id, role, session_id),
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.tokens.lifetime_secs(),
    }
}

/// The throttling key: a hash of the normalised email, whether or not an account has it.
fn subject(email: &str) -> String {
    crate::keys::token_hash(&format!("login:{}", email.trim().to_lowercase()))
}

/// A sign-in attempt, parsed at the edge.
struct Attempt {
    /// The throttling key.
    subject: String,
    /// None when the text is no email address at all: refused like a wrong one.
    email: Option<Email>,
    password: Password,
    totp_code: Option<String>,
}

/// 429 once the email has failed too often within the window.
fn check_throttle(
    conn: &mut DbConnection,
    subject: &str,
    window_start: NaiveDateTime,
) -> Result<(), ApiError> {
    let recent = store::recent_failures(conn, subject, window_start)?;
    if recent.count < MAX_FAILURES {
        return Ok(());
    }
    let until = recent.oldest.unwrap_or_else(crate::db::now) + Duration::minutes(WINDOW_MINUTES);
    Err(ApiError::TooManyAttempts {
        retry_after_secs: (until - crate::db::now()).num_seconds().max(1) as u64,
    })
}

/// Whether the account's second factor, if it has one, accepts the code (each code once).
fn second_factor_accepts(
    conn: &mut DbConnection,
    sealer: &Sealer,
    account: &store::LoginAccount,
    code: Option<&str>,
) -> Result<bool, ApiError> {
    if !account.totp_enabled {
        return Ok(true);
    }
    let secret = account
        .totp_secret
        .as_deref()
        .and_then(|s| sealer.open(account.id.as_str(), s));
    let step = match (secret, code) {
        (Some(secret), Some(code)) => totp::matching_step(&secret, code, account.totp_last_step),
        _ => None,
    };
    Ok(match step {
        Some(step) => store::use_totp_step(conn, &account.id, step, false)?,
        None => false,
    })
}

/// Checks an attempt and opens a session. Every wrong detail is the same 401 and counts as
/// a failure; an unknown email costs the same password hash as a known one.
fn sign_in(
    conn: &mut DbConnection,
    sealer: &Sealer,
    attempt: Attempt,
    refresh_days: i64,
) -> Result<(AccountId, Role, store::IssuedSession), ApiError> {
    let window_start = crate::db::now() - Duration::minutes(WINDOW_MINUTES);
    check_throttle(conn, &attempt.subject, window_start)?;
    let account = match &attempt.email {
        Some(e) => store::login_account(conn, e.as_str())?,
        None => None,
    };
    let verified = match &account {
        Some(a) => passwords::verify(&attempt.password, &a.password_hash),
        None => {
            passwords::verify_against_nothing(&attempt.password);
            false
        }
    };
    let account = match account {
        Some(a)
            if verified
                && a.active()
                && second_factor_accepts(conn, sealer, &a, attempt.totp_code.as_deref())? =>
        {
            a
        }
        _ => {
            store::record_failure(conn, &attempt.subject)?;
            return Err(ApiError::Unauthenticated);
        }
    };
    let issued = write_transaction(conn, |conn| {
        store::clear_failures(conn, &attempt.subject, window_start)?;
        store::create_session(conn, &account.id, refresh_days)
    })?;
    Ok((account.id, account.role, issued))
}

/// Signs in. Every wrong detail (email, password, TOTP code, suspension) gets the same 401;
/// after repeated failures for one email, 429 with `Retry-After`, known email or not.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::error::Problem),
              (status = 429, body = crate::error::Problem)))]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest {
        email,
        password,
        totp_code,
    } = body.into_inner();
    let attempt = Attempt {
        subject: subject(&email),
        email: Email::parse(&email).ok(),
        password: Password::attempt(password),
        totp_code,
    };
    let refresh_days = state.settings.accounts.refresh_token_days;
    let sealer = state.totp.clone();
    let (account_id, role, issued) = state
        .read(move |conn| sign_in(conn, &sealer, attempt, refresh_days))
        .await?;
    let tokens = pair(
        &state,
        account_id.as_str(),
        role,
        &issued.session_id,
        issued.refresh_token,
    );
    Ok(HttpResponse::Ok().json(tokens))
}

/// Exchanges a refresh token for a new pair. A refresh token presented a second time
/// revokes its whole family: whoever holds either copy must sign in again.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::error::Problem)))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token;
    let refresh_days = state.settings.accounts.refresh_token_days;
    let rotation = state
        .db
        .write(move |conn| {
            store::rotate_refresh_token(conn, &token, refresh_days).map_err(ApiError::from)
        })
        .await?;
    match rotation {
        Rotation::Rotated {
            account_id,
            role,
            session_id,
            refresh_token,
        } => Ok(HttpResponse::Ok().json(pair(
            &state,
            account_id.as_str(),
            role,
            &session_id,
            refresh_token,
        ))),
        Rotation::ReuseDetected => {
            tracing::warn!("refresh token reused: its session has been revoked");
            Err(ApiError::Unauthenticated)
        }
        Rotation::Refused => Err(ApiError::Unauthenticated),
    }
}

/// Ends the session the refresh token belongs to; its access tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204)))]
pub async fn logout(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token;
    state
        .db
        .write(move |conn| store::revoke_session_of_token(conn, &token).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
