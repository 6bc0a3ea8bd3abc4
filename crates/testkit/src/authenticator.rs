//! A software authenticator written from the WebAuthn Level 2 and CTAP2 specifications: it
//! makes what a browser hands the page after `navigator.credentials.create()` and `.get()`
//! (client data, authenticator data, a "none" attestation in CBOR, a COSE public key and
//! signatures), with real P-256 or Ed25519 keys, so that the service's checks meet the bytes
//! a real passkey produces. It can also misbehave the ways a test needs: another origin, a
//! counter that goes back.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

enum Key {
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

pub struct Authenticator {
    key: Key,
    pub credential_id: Vec<u8>,
    /// The origin the "browser" reports in client data.
    pub origin: String,
    pub counter: u32,
    rp_id: Option<String>,
    user_handle: Option<String>,
}

/// CBOR (RFC 8949) items as CTAP2 writes them: definite lengths, shortest heads.
pub enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(&'static str),
    Map(Vec<(Cbor, Cbor)>),
}

fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend([major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

impl Cbor {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(i) if *i >= 0 => head(0, *i as u64, out),
            Cbor::Int(i) => head(1, (-1 - *i) as u64, out),
            Cbor::Bytes(b) => {
                head(2, b.len() as u64, out);
                out.extend(b);
            }
            Cbor::Text(t) => {
                head(3, t.len() as u64, out);
                out.extend(t.as_bytes());
            }
            Cbor::Map(entries) => {
                head(5, entries.len() as u64, out);
                for (k, v) in entries {
                    k.encode(out);
                    v.encode(out);
                }
            }
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

/// The origin a browser on the service's public URL reports.
pub fn origin_of(public_url: &str) -> String {
    url::Url::parse(public_url)
        .unwrap()
        .origin()
        .ascii_serialization()
}

impl Authenticator {
    pub fn p256(origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self::with(Key::P256(key), origin)
    }

    pub fn ed25519(origin: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self::with(Key::Ed25519(key), origin)
    }

    fn with(key: Key, origin: &str) -> Self {
        let mut credential_id = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut credential_id).unwrap();
        Authenticator {
            key,
            credential_id,
            origin: origin.to_owned(),
            counter: 0,
            rp_id: None,
            user_handle: None,
        }
    }

    pub fn id(&self) -> String {
        b64(&self.credential_id)
    }

    fn cose_key(&self) -> Cbor {
        match &self.key {
            Key::P256(k) => {
                let point = k.public_key().as_ref();
                Cbor::Map(vec![
                    (Cbor::Int(1), Cbor::Int(2)),
                    (Cbor::Int(3), Cbor::Int(-7)),
                    (Cbor::Int(-1), Cbor::Int(1)),
                    (Cbor::Int(-2), Cbor::Bytes(point[1..33].to_vec())),
                    (Cbor::Int(-3), Cbor::Bytes(point[33..65].to_vec())),
                ])
            }
            Key::Ed25519(k) => Cbor::Map(vec![
                (Cbor::Int(1), Cbor::Int(1)),
                (Cbor::Int(3), Cbor::Int(-8)),
                (Cbor::Int(-1), Cbor::Int(6)),
                (Cbor::Int(-2), Cbor::Bytes(k.public_key().as_ref().to_vec())),
            ]),
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// `navigator.credentials.create()` for these options, as `toJSON()` gives it.
    pub fn create(&mut self, options: &Value) -> Value {
        let rp_id = options["rp"]["id"].as_str().unwrap().to_owned();
        self.user_handle = Some(options["user"]["id"].as_str().unwrap().to_owned());
        let client_data =
            self.client_data("webauthn.create", options["challenge"].as_str().unwrap());
        // RP ID hash, flags UP|UV|AT, counter, AAGUID (zero: no attestation), credential.
        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(0x45);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        self.cose_key().encode(&mut auth_data);
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt"), Cbor::Text("none")),
            (Cbor::Text("attStmt"), Cbor::Map(vec![])),
            (Cbor::Text("authData"), Cbor::Bytes(auth_data)),
        ]);
        self.rp_id = Some(rp_id);
        json!({
            "id": self.id(), "rawId": self.id(), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation.to_vec()),
                "transports": ["internal"],
            },
        })
    }

    /// `navigator.credentials.get()` for these options, as `toJSON()` gives it.
    pub fn get(&mut self, options: &Value) -> Value {
        let rp_id = options["rpId"].as_str().unwrap();
        assert_eq!(
            Some(rp_id),
            self.rp_id.as_deref(),
            "a passkey answers only its own site"
        );
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", options["challenge"].as_str().unwrap());
        let mut auth_data = sha256(rp_id.as_bytes());
        auth_data.push(0x05);
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(sha256(&client_data));
        let signature = match &self.key {
            Key::P256(k) => k
                .sign(&SystemRandom::new(), &signed)
                .unwrap()
                .as_ref()
                .to_vec(),
            Key::Ed25519(k) => k.sign(&signed).as_ref().to_vec(),
        };
        json!({
            "id": self.id(), "rawId": self.id(), "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature),
                "userHandle": self.user_handle,
            },
        })
    }
}
