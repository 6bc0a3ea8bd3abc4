//! The client's HTTPS connection to the service: rustls with ring, trusting the profile's
//! certificate (or the system's roots), bearer tokens refreshed before they expire.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use iro_advice_api::paths;
use iro_advice_api::Problem;
use iro_advice_api::RefreshRequest;

use super::error::ClientError;
use super::profile::{Profile, Tokens};

pub struct Api {
    http: reqwest::Client,
    base: String,
    profile: Profile,
    /// Accounts whose changed key the user accepted for this command.
    accept_key_change: Vec<String>,
}

/// An HTTPS client trusting `ca` (PEM) if given, else the system's roots.
pub fn http_client(ca: Option<&[u8]>) -> Result<reqwest::Client, ClientError> {
    iro_advice_tlog::https::client(ca, Duration::from_secs(20)).map_err(ClientError::Profile)
}

/// Turns a non-success answer into the problem it carries.
pub async fn check(res: Response) -> Result<Response, ClientError> {
    if res.status().is_success() {
        return Ok(res);
    }
    let status = res.status().as_u16();
    // Anything that is not a problem document (a proxy's page, say) is reported by status.
    let problem: Option<Problem> = res.json().await.ok();
    // The stable slug, as the book's HTTP chapter lists them.
    let kind = problem
        .as_ref()
        .map(|p| {
            p.kind
                .trim_start_matches("urn:iro-advice:problem:")
                .to_owned()
        })
        .unwrap_or_default();
    let mut detail = problem
        .map(|p| p.detail.unwrap_or(p.title))
        .unwrap_or_default();
    match kind.as_str() {
        "second-factor-enrolment-required" => {
            detail = "enrol a second factor first: run `iro-advice client totp`".into();
        }
        "unauthenticated" => {
            detail = "your session has ended (signed out, timed out, or ended by a change made \
                      on another device): run `iro-advice client login` again"
                .into();
        }
        _ => {}
    }
    Err(ClientError::Api {
        status,
        kind,
        detail,
    })
}

/// The account an access token is for (its `sub`), as the service issued it.
fn subject_of(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Subject {
        sub: String,
    }
    serde_json::from_slice::<Subject>(&bytes)
        .ok()
        .map(|s| s.sub)
}

fn expires_soon(access_token: &str) -> bool {
    let Some(payload) = access_token.split('.').nth(1) else {
        return true;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return true;
    };
    /// The one claim the client reads; the server checks the rest.
    #[derive(serde::Deserialize)]
    struct Expiry {
        exp: i64,
    }
    let Ok(claims) = serde_json::from_slice::<Expiry>(&bytes) else {
        return true;
    };
    claims.exp - chrono::Utc::now().timestamp() < 60
}

impl Api {
    pub fn open(profile: Profile) -> Result<Self, ClientError> {
        let settings = profile.settings()?;
        let ca = std::fs::read(profile.ca_path()).ok();
        Ok(Api {
            http: http_client(ca.as_deref())?,
            base: settings.server,
            profile,
            accept_key_change: Vec::new(),
        })
    }

    /// Accepts, for this command, a changed key of these accounts.
    pub fn accepting_key_changes(mut self, accounts: Vec<String>) -> Self {
        self.accept_key_change = accounts;
        self
    }

    pub fn accepts_key_change(&self, account: &str) -> bool {
        self.accept_key_change.iter().any(|a| a == account)
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The connection and server address, for the public endpoints that need no token.
    pub fn public(&self) -> (&reqwest::Client, &str) {
        (&self.http, &self.base)
    }

    /// The user's own age identity, from the profile.
    pub fn identity(&self) -> Result<age::x25519::Identity, ClientError> {
        super::crypto::load_identity(&self.profile.identity_path())
    }

    /// The signed-in account's id.
    pub fn account_id(&self) -> Result<String, ClientError> {
        subject_of(&self.profile.tokens()?.access_token)
            .ok_or_else(|| ClientError::Profile("the session is unreadable: log in again".into()))
    }

    /// `text` signed by the user's own key as their words in `query` (see
    /// `iro_advice_model::signing`), ready to encrypt.
    pub fn signed(
        &self,
        identity: &age::x25519::Identity,
        query: &str,
        text: &[u8],
    ) -> Result<Vec<u8>, ClientError> {
        use age::secrecy::ExposeSecret;
        let secret = identity.to_string();
        iro_advice_model::signing::sign(
            secret.expose_secret(),
            query,
            &self.account_id()?,
            chrono::Utc::now().timestamp(),
            text,
        )
        .ok_or_else(|| ClientError::Crypto("cannot sign with this identity".into()))
    }

    /// A current access token, refreshing (and storing the rotated pair) when it is about
    /// to expire.
    async fn access_token(&self) -> Result<String, ClientError> {
        let tokens = self.profile.tokens()?;
        if !expires_soon(&tokens.access_token) {
            return Ok(tokens.access_token);
        }
        let res = self
            .http
            .post(format!("{}{}", self.base, paths::REFRESH))
            .json(&RefreshRequest {
                refresh_token: Some(tokens.refresh_token),
            })
            .send()
            .await?;
        let res = check(res).await.map_err(|_| {
            ClientError::Profile(
                "your session has ended: run `iro-advice client login` again".into(),
            )
        })?;
        let fresh: Tokens = res.json().await?;
        self.profile.save_tokens(&fresh)?;
        Ok(fresh.access_token)
    }

    pub async fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, ClientError> {
        let token = self.access_token().await?;
        Ok(self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let res = self.request(Method::GET, path).await?.send().await?;
        Ok(check(res).await?.json().await?)
    }

    /// Sends `body` as JSON and reads the answer as `T`.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let res = self
            .request(Method::POST, path)
            .await?
            .json(body)
            .send()
            .await?;
        let answer: serde_json::Value = check(res).await?.json().await?;
        // An act's receipt is kept until a witnessed checkpoint includes it (see `kept`).
        super::kept::keep_from_answer(&self.profile, &answer)?;
        serde_json::from_value(answer).map_err(|e| {
            ClientError::Profile(format!(
                "the service's answer to {path} is not understood: {e}"
            ))
        })
    }

    /// Sends `body` as JSON to a route that answers 204 No Content.
    pub async fn post_no_content<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(), ClientError> {
        self.send_no_content(Method::POST, path, body).await
    }

    async fn send_no_content<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<(), ClientError> {
        let res = self.request(method, path).await?.json(body).send().await?;
        check(res).await?;
        Ok(())
    }

    /// A binary answer (a log tile).
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let res = check(self.request(Method::GET, path).await?.send().await?).await?;
        Ok(res.bytes().await?.to_vec())
    }

    pub async fn put<B: Serialize>(&self, path: &str, body: &B) -> Result<(), ClientError> {
        self.send_no_content(Method::PUT, path, body).await
    }
}
