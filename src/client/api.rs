//! The client's HTTPS connection to the service: rustls with ring, trusting the profile's
//! certificate (or the system's roots), bearer tokens refreshed before they expire.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::profile::{Profile, Tokens};
use super::ClientError;

pub struct Api {
    http: reqwest::Client,
    base: String,
    profile: Profile,
}

/// An HTTPS client trusting `ca` (PEM) if given, else the system's roots.
pub fn http_client(ca: Option<&[u8]>) -> Result<reqwest::Client, ClientError> {
    use rustls::pki_types::pem::PemObject;
    let provider = crate::tls::provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Profile(e.to_string()))?;
    let tls = match ca {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| ClientError::Profile(format!("--ca: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| ClientError::Profile(format!("--ca: {e}")))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| ClientError::Profile(format!("system certificates: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    let mut tls = tls;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(Duration::from_secs(20))
        .build()
        .map_err(ClientError::Http)
}

/// Turns a non-success answer into the problem it carries.
pub async fn check(res: Response) -> Result<Response, ClientError> {
    if res.status().is_success() {
        return Ok(res);
    }
    let status = res.status().as_u16();
    let problem: Value = res.json().await.unwrap_or_default();
    Err(ClientError::Api {
        status,
        kind: problem["type"].as_str().unwrap_or("").to_owned(),
        detail: problem["detail"]
            .as_str()
            .or_else(|| problem["title"].as_str())
            .unwrap_or("")
            .to_owned(),
    })
}

fn expires_soon(access_token: &str) -> bool {
    let Some(payload) = access_token.split('.').nth(1) else {
        return true;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return true;
    };
    let Ok(claims) = serde_json::from_slice::<Value>(&bytes) else {
        return true;
    };
    let exp = claims["exp"].as_i64().unwrap_or(0);
    exp - chrono::Utc::now().timestamp() < 60
}

impl Api {
    pub fn open(profile: Profile) -> Result<Self, ClientError> {
        let settings = profile.settings()?;
        let ca = std::fs::read(profile.ca_path()).ok();
        Ok(Api {
            http: http_client(ca.as_deref())?,
            base: settings.server,
            profile,
        })
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
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
            .post(format!("{}/api/v1/auth/refresh", self.base))
            .json(&serde_json::json!({"refresh_token": tokens.refresh_token}))
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

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, ClientError> {
        let res = self.request(method, path).await?.json(body).send().await?;
        let res = check(res).await?;
        if res.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        Ok(res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send_json(Method::POST, path, body).await
    }
}
