//! Encryption on the user's machine, with the age crate: armored text for messages,
//! streamed binary files for attachments. Nothing here ever leaves unencrypted.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};

use super::error::ClientError;
use iro_advice_model::age_writer::StrictEncryptor;
use iro_advice_model::ciphertext::AgeArmored;

fn crypto(e: impl std::fmt::Display) -> ClientError {
    ClientError::Crypto(e.to_string())
}

pub fn recipient(text: &str) -> Result<age::x25519::Recipient, ClientError> {
    age::x25519::Recipient::from_str(text.trim())
        .map_err(|e| crypto(format!("bad age recipient: {e}")))
}

/// The text of a standard age identity file for `identity`.
pub fn identity_file_text(identity: &age::x25519::Identity) -> String {
    format!(
        "# created: {}\n# public key: {}\n{}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        identity.to_public(),
        identity.to_string().expose_secret()
    )
}

/// The scrypt work factor (log2 N) of a wrapped identity: fixed, not calibrated to this
/// machine, because the server accepts 18 to 22 only.
const WRAP_WORK_FACTOR: u8 = 18;

/// Encrypts `plain` to a passphrase (scrypt), ASCII-armored.
pub fn encrypt_with_passphrase(plain: &[u8], passphrase: &str) -> Result<String, ClientError> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(WRAP_WORK_FACTOR);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(crypto)?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(crypto)?;
    let mut w = encryptor.wrap_output(armor).map_err(crypto)?;
    w.write_all(plain).map_err(crypto)?;
    w.finish().and_then(|a| a.finish()).map_err(crypto)?;
    String::from_utf8(out).map_err(crypto)
}

/// Reads the X25519 identity from an age identity file, decrypting it first if it is
/// passphrase-protected (the passphrase from `IRO_ADVICE_IDENTITY_PASSPHRASE` or a prompt).
/// The public key of an identity file held in the clear (as the page's recovery file is),
/// without asking for a passphrase; None for an encrypted one, or none at all.
pub fn plain_identity_recipient(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.starts_with(b"age-encryption.org/")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    {
        return None;
    }
    load_identity(path)
        .ok()
        .map(|identity| identity.to_public().to_string())
}

/// The identity in `path` if it opens without asking: in the clear, or with the passphrase in
/// `IRO_ADVICE_IDENTITY_PASSPHRASE`.
pub fn load_identity_quietly(path: &Path) -> Option<age::x25519::Identity> {
    let bytes = std::fs::read(path).ok()?;
    let encrypted = bytes.starts_with(b"age-encryption.org/")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----");
    if encrypted && std::env::var_os("IRO_ADVICE_IDENTITY_PASSPHRASE").is_none() {
        return None;
    }
    load_identity(path).ok()
}

pub fn load_identity(path: &Path) -> Result<age::x25519::Identity, ClientError> {
    let bytes = std::fs::read(path).map_err(|_| {
        ClientError::Profile(format!(
            "no identity at {}: run `iro-advice client keygen`",
            path.display()
        ))
    })?;
    let text = if bytes.starts_with(b"age-encryption.org/")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    {
        let passphrase = match std::env::var("IRO_ADVICE_IDENTITY_PASSPHRASE") {
            Ok(p) => p,
            Err(_) => {
                rpassword::prompt_password("Passphrase for your identity: ").map_err(crypto)?
            }
        };
        let identity = age::scrypt::Identity::new(SecretString::from(passphrase));
        let decryptor =
            age::Decryptor::new(age::armor::ArmoredReader::new(&bytes[..])).map_err(crypto)?;
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|_| ClientError::Crypto("wrong passphrase for the identity file".into()))?;
        let mut plain = Vec::new();
        reader.read_to_end(&mut plain).map_err(crypto)?;
        plain
    } else {
        bytes
    };
    BufReader::new(&text[..])
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .ok_or_else(|| ClientError::Crypto(format!("{} holds no age secret key", path.display())))
        .and_then(|l| {
            age::x25519::Identity::from_str(l.trim())
                .map_err(|e| crypto(format!("bad secret key: {e}")))
        })
}

/// Encrypts text to the recipients, ASCII-armored, as the API wants it: one stanza per
/// recipient and nothing else (see `iro_advice_model::age_writer`).
pub fn encrypt_armored(
    plain: &[u8],
    recipients: &[age::x25519::Recipient],
) -> Result<AgeArmored, ClientError> {
    // The strict form check refuses real ciphertext about once in a billion files; a fresh
    // encryption is another draw.
    let mut last = None;
    for _ in 0..3 {
        let text = StrictEncryptor::with_recipients(recipients)
            .map_err(crypto)?
            .encrypt_armored(plain)
            .map_err(crypto)?;
        match armored(&text) {
            Ok(a) => return Ok(a),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| crypto("cannot encrypt")))
}

/// Text this client encrypted, as the API takes it: checked by the same parser the server
/// uses, so a message that would be refused is never sent.
pub fn armored(text: &str) -> Result<AgeArmored, ClientError> {
    AgeArmored::parse(text).map_err(crypto)
}

pub fn decrypt_armored(
    text: &str,
    identity: &age::x25519::Identity,
) -> Result<Vec<u8>, ClientError> {
    let decryptor =
        age::Decryptor::new(age::armor::ArmoredReader::new(text.as_bytes())).map_err(crypto)?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| ClientError::Crypto("this message is not encrypted to your key".into()))?;
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).map_err(crypto)?;
    Ok(plain)
}

/// Encrypts `header` and then a reader into a binary age stream written to `out`.
pub fn encrypt_stream(
    header: &[u8],
    input: &mut dyn Read,
    out: impl Write,
    recipients: &[age::x25519::Recipient],
) -> Result<(), ClientError> {
    let encryptor = StrictEncryptor::with_recipients(recipients).map_err(crypto)?;
    let mut w = encryptor.wrap_output(out).map_err(crypto)?;
    w.write_all(header).map_err(crypto)?;
    std::io::copy(input, &mut w).map_err(crypto)?;
    let mut out = w.finish().map_err(crypto)?.into_inner();
    out.flush().map_err(crypto)
}

/// The plaintext of a binary age stream from `input`, as it is read.
pub fn decrypt_reader<R: Read>(
    input: R,
    identity: &age::x25519::Identity,
) -> Result<impl Read, ClientError> {
    let decryptor = age::Decryptor::new(input).map_err(crypto)?;
    decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| ClientError::Crypto("this file is not encrypted to your key".into()))
}

/// Decrypts a binary age stream from `input` into `out`.
pub fn decrypt_stream(
    input: impl Read,
    out: &mut dyn Write,
    identity: &age::x25519::Identity,
) -> Result<u64, ClientError> {
    let mut reader = decrypt_reader(input, identity)?;
    std::io::copy(&mut reader, out).map_err(crypto)
}
