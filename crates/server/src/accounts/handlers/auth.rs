//! `POST /api/v1/auth/login`, `/refresh`, `/logout`.

use actix_web::{web, HttpRequest, HttpResponse};
use iro_advice_api::{paths, LoginRequest, RefreshRequest, TokenPair};

use super::browser;
use crate::accounts::auth::{self, LoginAttempt};
use crate::accounts::sessions::SessionClient;
use crate::accounts::AccountError;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// Signs in. A wrong email or password, a missing or wrong second-factor code and a
/// suspended account each have their own 401 `type` (the last two only after the right
/// password). After repeated failures for one email, or from one device, or too many across
/// the service, 429 with `Retry-After` — except for the right password with a valid second
/// factor, which always gets in. When every password-hashing slot is busy, 503 at once.
#[utoipa::path(post, path = paths::LOGIN, tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = iro_advice_api::Problem),
              (status = 429, body = iro_advice_api::Problem), (status = 503, body = iro_advice_api::Problem)))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = browser::client_of(&req);
    let LoginRequest {
        email,
        password,
        totp_code,
        passkey,
        device_token,
    } = body.into_inner();
    let attempt = LoginAttempt {
        email,
        password,
        totp_code,
        passkey,
        device_token,
        client,
    };
    let answer = auth::sign_in(&state.accounts, &state.storage, attempt).await;
    if let Err(AccountError::Busy | AccountError::TooManyAttempts { .. }) = &answer {
        // Refused unheard: answered at once, a flooding client would send the next attempt
        // at once too, and the attempts themselves would crowd out everyone else's requests.
        // Held back, each of its connections makes at most one attempt per delay, at the
        // cost of a sleeping future.
        // Jittered from half to one and a half times the setting, so that connections
        // refused together do not all come back together.
        let delay = state.settings.accounts.shed_delay_ms;
        let spread = u64::from(u16::from_le_bytes(crate::keys::random_bytes::<2>()));
        let millis = delay / 2 + delay * spread / u64::from(u16::MAX);
        actix_web::rt::time::sleep(std::time::Duration::from_millis(millis)).await;
    }
    let pair = state.accounts.pair(answer?);
    Ok(answer_with(&state, client, pair))
}

/// The answer carrying a new pair: to the web application, the refresh token goes in the
/// cookie and never in the body its script reads.
fn answer_with(state: &AppState, client: SessionClient, mut pair: TokenPair) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    if client == SessionClient::Web {
        if let Some(token) = pair.refresh_token.take() {
            let accounts = &state.settings.accounts;
            let max_age =
                (accounts.refresh_token_days * 86_400).min(accounts.session_hours * 3_600);
            browser::set_refresh_cookie(&mut res, &token, max_age);
        }
    }
    res.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    res.json(pair)
}

/// The refresh token of a request: in its body, or — for the web application, which sends
/// an empty body — in the session cookie.
fn presented_token(req: &HttpRequest, body: RefreshRequest) -> (Option<String>, SessionClient) {
    match body.refresh_token {
        Some(token) => (Some(token), SessionClient::Api),
        None if browser::client_of(req) == SessionClient::Web => {
            (browser::refresh_cookie(req.headers()), SessionClient::Web)
        }
        None => (None, SessionClient::Api),
    }
}

/// Exchanges a refresh token for a new pair. A refresh token presented a second time
/// revokes its whole family: whoever holds either copy must sign in again. The web
/// application sends `{}` and the `X-IRO-Advice-Client: web` header; its token is read from
/// the cookie, and the new one set there.
#[utoipa::path(post, path = paths::REFRESH, tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = iro_advice_api::Problem)))]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, client) = presented_token(&req, body.into_inner());
    let token = token.ok_or(ApiError::Unauthenticated)?;
    let signed_in = auth::refresh(&state.storage, &state.settings.accounts, token).await?;
    Ok(answer_with(&state, client, state.accounts.pair(signed_in)))
}

/// Ends the session the refresh token belongs to; its access tokens stop working at once.
#[utoipa::path(post, path = paths::LOGOUT, tag = "auth", request_body = RefreshRequest,
    responses((status = 204)))]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, client) = presented_token(&req, body.into_inner());
    if let Some(token) = token {
        state
            .storage
            .db
            .write(move |conn| auth::sign_out(conn, &token))
            .await?;
    }
    let mut res = HttpResponse::NoContent();
    if client == SessionClient::Web {
        browser::clear_refresh_cookie(&mut res);
    }
    Ok(res.finish())
}
