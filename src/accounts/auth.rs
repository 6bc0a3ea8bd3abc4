//! `POST /api/v1/auth/login`, `/refresh`, `/logout`.

use actix_web::{web, HttpResponse};
use chrono::Duration;

use super::domain::{AccountId, Email, Password, Role};
use super::store::{self, Rotation};
use super::{passwords, totp};
use crate::app::AppState;
use crate::db::write_transaction;
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
    let subject = subject(&email);
    let email = Email::parse(&email).ok();
    let password = Password::attempt(password);
    let refresh_days = state.settings.accounts.refresh_token_days;
    let sealer = state.totp.clone();

    let (account_id, role, issued) = state
        .db
        .run(
            move |conn| -> Result<(AccountId, Role, store::IssuedSession), ApiError> {
                let window_start = crate::db::now() - Duration::minutes(WINDOW_MINUTES);
                let (failures, oldest) = store::recent_failures(conn, &subject, window_start)?;
                if failures >= MAX_FAILURES {
                    let until =
                        oldest.unwrap_or_else(crate::db::now) + Duration::minutes(WINDOW_MINUTES);
                    let secs = (until - crate::db::now()).num_seconds().max(1) as u64;
                    return Err(ApiError::TooManyAttempts {
                        retry_after_secs: secs,
                    });
                }
                let account = match &email {
                    Some(e) => store::login_account(conn, e.as_str())?,
                    None => None,
                };
                let verified = match &account {
                    Some(a) => passwords::verify(&password, &a.password_hash),
                    None => {
                        passwords::verify_against_nothing(&password);
                        false
                    }
                };
                let account = match account {
                    Some(a) if verified && a.active() => a,
                    _ => {
                        store::record_failure(conn, &subject)?;
                        return Err(ApiError::Unauthenticated);
                    }
                };
                if account.totp_enabled {
                    let secret = account
                        .totp_secret
                        .as_deref()
                        .and_then(|s| sealer.open(account.id.as_str(), s));
                    let step = match (secret, totp_code.as_deref()) {
                        (Some(secret), Some(code)) => {
                            totp::matching_step(&secret, code, account.totp_last_step)
                        }
                        _ => None,
                    };
                    let accepted = match step {
                        Some(step) => store::use_totp_step(conn, &account.id, step, false)?,
                        None => false,
                    };
                    if !accepted {
                        store::record_failure(conn, &subject)?;
                        return Err(ApiError::Unauthenticated);
                    }
                }
                let issued = write_transaction(conn, |conn| {
                    store::clear_failures(conn, &subject, window_start)?;
                    store::create_session(conn, &account.id, refresh_days)
                })?;
                Ok((account.id, account.role, issued))
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(pair(
        &state,
        account_id.as_str(),
        role,
        &issued.session_id,
        issued.refresh_token,
    )))
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
