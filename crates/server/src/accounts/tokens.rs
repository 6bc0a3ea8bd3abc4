//! Access tokens: short-lived JWTs signed with Ed25519, validated with the algorithm, issuer
//! and audience pinned.

use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::Keys;
use iro_advice_model::accounts::Role;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The account id.
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session (refresh-token family) the token belongs to, so logout ends it at once.
    pub sid: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    lifetime_secs: i64,
}

impl TokenKeys {
    pub fn new(keys: &Keys, public_url: &str, lifetime_minutes: i64) -> Self {
        let issuer = public_url.to_owned();
        let audience = format!("{public_url}/api/v1");
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&keys.access_token_public);
        let decoding = DecodingKey::from_ed_components(&x).expect("a valid Ed25519 public key");
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp", "iat"]);
        validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_ed_der(&keys.access_token_pkcs8),
            decoding,
            validation,
            issuer,
            audience,
            lifetime_secs: lifetime_minutes * 60,
        }
    }

    pub fn lifetime_secs(&self) -> i64 {
        self.lifetime_secs
    }

    pub fn issue(&self, account_id: &str, role: Role, session_id: &str) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: account_id.to_owned(),
            role,
            iat: now,
            exp: now + self.lifetime_secs,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .expect("signing with a valid key cannot fail")
    }

    /// The claims of a token this service signed and that has not expired; `None` for
    /// anything else (another algorithm, key, issuer or audience, or a malformed token).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}
