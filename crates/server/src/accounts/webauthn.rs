//! WebAuthn (Level 2) verification for passkeys, on `ring`: the registration's attested
//! credential and each assertion's signature, with the small part of CBOR (RFC 8949) and
//! COSE (RFC 9053) that authenticators use. A crate such as webauthn-rs brings OpenSSL; the
//! checks the specification requires of a relying party that asks for no attestation fit in
//! this file. Attestation statements are not verified: the service asks for none, since it
//! does not restrict which authenticators people may use.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};
use serde::Deserialize;

/// COSE algorithm identifiers the service accepts (ES256 and EdDSA), in its order of preference.
pub const ES256: i32 = -7;
pub const EDDSA: i32 = -8;
pub const ALGORITHMS: [i32; 2] = [ES256, EDDSA];

const FLAG_USER_PRESENT: u8 = 0x01;
const FLAG_ATTESTED: u8 = 0x40;
const MAX_CREDENTIAL_ID: usize = 1023;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WebAuthnError {
    #[error("not valid base64url: {0}")]
    Encoding(&'static str),
    #[error("the client data is not what this service asked for: {0}")]
    ClientData(&'static str),
    #[error("the authenticator data is malformed or for another site: {0}")]
    AuthenticatorData(&'static str),
    #[error("the attestation object is malformed: {0}")]
    Attestation(&'static str),
    #[error("the public key is not ES256 or EdDSA: {0}")]
    PublicKey(&'static str),
    #[error("the signature does not verify")]
    Signature,
    #[error("the authenticator's counter went backwards: it may have been cloned")]
    Counter,
}

/// Who the credentials are for: the RP ID (the service's host name) and the origin pages
/// that use them are served from, both from the public URL.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    pub id: String,
    pub origin: String,
}

impl RelyingParty {
    pub fn from_public_url(public_url: &str) -> Option<RelyingParty> {
        let url = url::Url::parse(public_url).ok()?;
        let host = url.host_str()?.to_owned();
        Some(RelyingParty {
            origin: url.origin().ascii_serialization(),
            id: host,
        })
    }
}

/// A credential's public key, checked at registration to be one the service can verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: i32,
    /// An uncompressed P-256 point (65 bytes) or an Ed25519 key (32 bytes).
    pub bytes: Vec<u8>,
}

impl PublicKey {
    pub fn new(algorithm: i32, bytes: Vec<u8>) -> Result<PublicKey, WebAuthnError> {
        match (algorithm, bytes.len()) {
            (ES256, 65) if bytes[0] == 4 => Ok(PublicKey { algorithm, bytes }),
            (EDDSA, 32) => Ok(PublicKey { algorithm, bytes }),
            _ => Err(WebAuthnError::PublicKey(
                "unsupported algorithm or key length",
            )),
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), WebAuthnError> {
        let algorithm: &dyn ring::signature::VerificationAlgorithm = match self.algorithm {
            ES256 => &ECDSA_P256_SHA256_ASN1,
            _ => &ED25519,
        };
        UnparsedPublicKey::new(algorithm, &self.bytes)
            .verify(message, signature)
            .map_err(|_| WebAuthnError::Signature)
    }
}

/// What a registration proves: a new credential, and the challenge it answered (which the
/// caller must check was issued to this account for this purpose, and not used before).
#[derive(Debug)]
pub struct Registration {
    pub challenge: Vec<u8>,
    pub credential_id: String,
    pub public_key: PublicKey,
    pub sign_count: u32,
}

/// What an assertion proves: possession of the credential's key, for `challenge`.
#[derive(Debug)]
pub struct Assertion {
    pub challenge: Vec<u8>,
    pub sign_count: u32,
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str, what: &'static str) -> Result<Vec<u8>, WebAuthnError> {
    // Browsers' toJSON() gives unpadded base64url; tolerate padding from other clients.
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| WebAuthnError::Encoding(what))
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: bool,
}

/// Checks the client data of a ceremony of `kind` and returns its challenge.
fn client_data(
    rp: &RelyingParty,
    json: &[u8],
    kind: &'static str,
) -> Result<Vec<u8>, WebAuthnError> {
    let data: ClientData =
        serde_json::from_slice(json).map_err(|_| WebAuthnError::ClientData("not JSON"))?;
    if data.kind != kind {
        return Err(WebAuthnError::ClientData("wrong ceremony type"));
    }
    if data.origin != rp.origin {
        return Err(WebAuthnError::ClientData("another origin"));
    }
    if data.cross_origin {
        return Err(WebAuthnError::ClientData("made in a cross-origin frame"));
    }
    unb64(&data.challenge, "challenge")
}

/// The fixed part of authenticator data, checked against the RP ID; returns flags, counter
/// and whatever follows.
fn authenticator_data<'a>(
    rp: &RelyingParty,
    data: &'a [u8],
) -> Result<(u8, u32, &'a [u8]), WebAuthnError> {
    if data.len() < 37 {
        return Err(WebAuthnError::AuthenticatorData("too short"));
    }
    let rp_id_hash = ring::digest::digest(&ring::digest::SHA256, rp.id.as_bytes());
    if data[..32] != *rp_id_hash.as_ref() {
        return Err(WebAuthnError::AuthenticatorData("made for another RP ID"));
    }
    let flags = data[32];
    if flags & FLAG_USER_PRESENT == 0 {
        return Err(WebAuthnError::AuthenticatorData("no user presence"));
    }
    let counter = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    Ok((flags, counter, &data[37..]))
}

/// Verifies `navigator.credentials.create()`'s response.
pub fn verify_registration(
    rp: &RelyingParty,
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<Registration, WebAuthnError> {
    let challenge = client_data(rp, client_data_json, "webauthn.create")?;
    let (object, used) =
        cbor::decode(attestation_object).map_err(|_| WebAuthnError::Attestation("not CBOR"))?;
    if used != attestation_object.len() {
        return Err(WebAuthnError::Attestation("trailing bytes"));
    }
    let auth_data = object
        .get_text("authData")
        .and_then(cbor::Value::as_bytes)
        .ok_or(WebAuthnError::Attestation("no authData"))?;
    let (flags, sign_count, rest) = authenticator_data(rp, auth_data)?;
    if flags & FLAG_ATTESTED == 0 || rest.len() < 18 {
        return Err(WebAuthnError::AuthenticatorData("no attested credential"));
    }
    // AAGUID (16 bytes), then the credential id with its length.
    let id_len = u16::from_be_bytes([rest[16], rest[17]]) as usize;
    let rest = &rest[18..];
    if id_len == 0 || id_len > MAX_CREDENTIAL_ID || rest.len() < id_len {
        return Err(WebAuthnError::AuthenticatorData("bad credential id"));
    }
    let (credential_id, key_cbor) = rest.split_at(id_len);
    let (cose, _) =
        cbor::decode(key_cbor).map_err(|_| WebAuthnError::PublicKey("not a COSE key"))?;
    Ok(Registration {
        challenge,
        credential_id: b64(credential_id),
        public_key: cose_key(&cose)?,
        sign_count,
    })
}

/// Reads a COSE_Key (RFC 9053 §7.1): EC2 P-256 with ES256, or OKP Ed25519 with EdDSA.
fn cose_key(key: &cbor::Value) -> Result<PublicKey, WebAuthnError> {
    let int = |label| key.get_int(label).and_then(cbor::Value::as_int);
    let bytes = |label| key.get_int(label).and_then(cbor::Value::as_bytes);
    let missing = WebAuthnError::PublicKey("missing parameter");
    match (int(1), int(3)) {
        (Some(2), Some(alg)) if alg == i128::from(ES256) => {
            if int(-1) != Some(1) {
                return Err(WebAuthnError::PublicKey("not P-256"));
            }
            let (x, y) = (bytes(-2).ok_or(missing.clone())?, bytes(-3).ok_or(missing)?);
            if x.len() != 32 || y.len() != 32 {
                return Err(WebAuthnError::PublicKey("bad coordinate"));
            }
            let mut point = vec![4];
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            PublicKey::new(ES256, point)
        }
        (Some(1), Some(alg)) if alg == i128::from(EDDSA) => {
            if int(-1) != Some(6) {
                return Err(WebAuthnError::PublicKey("not Ed25519"));
            }
            PublicKey::new(EDDSA, bytes(-2).ok_or(missing)?.to_vec())
        }
        _ => Err(WebAuthnError::PublicKey("unsupported key type")),
    }
}

/// Verifies `navigator.credentials.get()`'s response against a stored credential.
pub fn verify_assertion(
    rp: &RelyingParty,
    key: &PublicKey,
    stored_count: u32,
    client_data_json: &[u8],
    auth_data: &[u8],
    signature: &[u8],
) -> Result<Assertion, WebAuthnError> {
    let challenge = client_data(rp, client_data_json, "webauthn.get")?;
    let (_, sign_count, _) = authenticator_data(rp, auth_data)?;
    let mut signed = auth_data.to_vec();
    signed
        .extend_from_slice(ring::digest::digest(&ring::digest::SHA256, client_data_json).as_ref());
    key.verify(&signed, signature)?;
    // Authenticators that keep no counter send 0 every time (synced passkeys do).
    if (sign_count != 0 || stored_count != 0) && sign_count <= stored_count {
        return Err(WebAuthnError::Counter);
    }
    Ok(Assertion {
        challenge,
        sign_count,
    })
}

/// The definite-length CBOR that CTAP2 authenticators emit (its canonical form has no
/// indefinite lengths), with a depth limit so hostile input cannot exhaust the stack.
pub mod cbor {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Int(i128),
        Bytes(Vec<u8>),
        Text(String),
        Array(Vec<Value>),
        Map(Vec<(Value, Value)>),
        Bool(bool),
        Null,
        Float,
    }

    #[derive(Debug, PartialEq, Eq)]
    pub struct Malformed;

    const MAX_DEPTH: usize = 16;

    impl Value {
        fn get(&self, key: &Value) -> Option<&Value> {
            match self {
                Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
        pub fn get_text(&self, key: &str) -> Option<&Value> {
            self.get(&Value::Text(key.to_owned()))
        }
        pub fn get_int(&self, key: i128) -> Option<&Value> {
            self.get(&Value::Int(key))
        }
        pub fn as_bytes(&self) -> Option<&[u8]> {
            match self {
                Value::Bytes(b) => Some(b),
                _ => None,
            }
        }
        pub fn as_int(&self) -> Option<i128> {
            match self {
                Value::Int(i) => Some(*i),
                _ => None,
            }
        }
    }

    /// Decodes one item; returns it and the number of bytes it took.
    pub fn decode(input: &[u8]) -> Result<(Value, usize), Malformed> {
        let mut at = 0;
        let value = item(input, &mut at, 0)?;
        Ok((value, at))
    }

    fn take<'a>(input: &'a [u8], at: &mut usize, n: u64) -> Result<&'a [u8], Malformed> {
        let n = usize::try_from(n).map_err(|_| Malformed)?;
        let end = at.checked_add(n).ok_or(Malformed)?;
        let bytes = input.get(*at..end).ok_or(Malformed)?;
        *at = end;
        Ok(bytes)
    }

    fn argument(input: &[u8], at: &mut usize, info: u8) -> Result<u64, Malformed> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(Malformed),
        };
        Ok(take(input, at, width)?
            .iter()
            .fold(0u64, |n, b| (n << 8) | u64::from(*b)))
    }

    fn item(input: &[u8], at: &mut usize, depth: usize) -> Result<Value, Malformed> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        let initial = *take(input, at, 1)?.first().ok_or(Malformed)?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == 7 {
            return match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 | 23 => Ok(Value::Null),
                25..=27 => argument(input, at, info).map(|_| Value::Float),
                _ => Err(Malformed),
            };
        }
        let n = argument(input, at, info)?;
        // Every element takes at least one byte: a count beyond what is left is a lie.
        let remaining = (input.len() - *at) as u64;
        Ok(match major {
            0 => Value::Int(i128::from(n)),
            1 => Value::Int(-1 - i128::from(n)),
            2 => Value::Bytes(take(input, at, n)?.to_vec()),
            3 => {
                Value::Text(String::from_utf8(take(input, at, n)?.to_vec()).map_err(|_| Malformed)?)
            }
            4 if n <= remaining => Value::Array(
                (0..n)
                    .map(|_| item(input, at, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            5 if n <= remaining / 2 => Value::Map(
                (0..n)
                    .map(|_| Ok((item(input, at, depth + 1)?, item(input, at, depth + 1)?)))
                    .collect::<Result<_, _>>()?,
            ),
            // Tags carry nothing WebAuthn needs: read the tagged item.
            6 => item(input, at, depth + 1)?,
            _ => return Err(Malformed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cbor::{decode, Malformed, Value};
    use super::*;

    #[test]
    fn cbor_reads_what_authenticators_write() {
        // {1: 2, 3: -7, -1: 1, "fmt": "none", "b": h'0102', "a": [true, null]}
        let bytes = [
            0xa6, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x63, b'f', b'm', b't', 0x64, b'n', b'o',
            b'n', b'e', 0x61, b'b', 0x42, 1, 2, 0x61, b'a', 0x82, 0xf5, 0xf6,
        ];
        let (value, used) = decode(&bytes).expect("valid");
        assert_eq!(used, bytes.len());
        assert_eq!(value.get_int(1), Some(&Value::Int(2)));
        assert_eq!(value.get_int(3), Some(&Value::Int(-7)));
        assert_eq!(value.get_int(-1), Some(&Value::Int(1)));
        assert_eq!(value.get_text("fmt"), Some(&Value::Text("none".into())));
        assert_eq!(
            value.get_text("b").and_then(Value::as_bytes),
            Some(&[1u8, 2][..])
        );
        assert_eq!(
            value.get_text("a"),
            Some(&Value::Array(vec![Value::Bool(true), Value::Null]))
        );
    }

    #[test]
    fn cbor_refuses_what_would_overrun_or_recurse() {
        // A byte string claiming 2^32 bytes, an array claiming more items than bytes left,
        // indefinite length, a truncated integer, and nesting deeper than any key needs.
        for bad in [
            &[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00][..],
            &[0x9a, 0x7f, 0xff, 0xff, 0xff, 0x01],
            &[0x9f, 0x01, 0xff],
            &[0x19, 0x01],
            &[0x81; 64],
        ] {
            assert_eq!(decode(bad).map(|_| ()), Err(Malformed), "{bad:02x?}");
        }
    }

    #[test]
    fn the_relying_party_is_the_public_urls_host_and_origin() {
        let rp =
            RelyingParty::from_public_url("https://advice.example.org:8443/base").expect("url");
        assert_eq!(rp.id, "advice.example.org");
        assert_eq!(rp.origin, "https://advice.example.org:8443");
        let rp = RelyingParty::from_public_url("https://advice.example.org").expect("url");
        assert_eq!(rp.origin, "https://advice.example.org");
    }

    #[test]
    fn client_data_must_be_for_this_origin_and_ceremony() {
        let rp = RelyingParty::from_public_url("https://advice.example.org").expect("url");
        let data = |kind: &str, origin: &str| {
            format!(r#"{{"type":"{kind}","challenge":"AAEC","origin":"{origin}"}}"#)
        };
        let ok = data("webauthn.get", "https://advice.example.org");
        assert_eq!(
            client_data(&rp, ok.as_bytes(), "webauthn.get"),
            Ok(vec![0, 1, 2])
        );
        assert!(client_data(&rp, ok.as_bytes(), "webauthn.create").is_err());
        let phish = data("webauthn.get", "https://advice.example.org.evil.test");
        assert!(client_data(&rp, phish.as_bytes(), "webauthn.get").is_err());
    }
}
