//! The only content the server accepts: age files (https://age-encryption.org/v1).
//!
//! The server never decrypts, but it checks the form strictly — the version line, every
//! recipient stanza, the header MAC line, and a payload whose length a real STREAM payload
//! can have — so that plaintext, or anything else, is refused with a clear 400.

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
/// A header larger than this is not one a real client writes.
const MAX_HEADER: usize = 64 * 1024;
const NONCE: u64 = 16;
const TAG: u64 = 16;
const CHUNK: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgeFormatError {
    #[error("not an age file: it must start with \"age-encryption.org/v1\"")]
    NotAge,
    #[error("malformed age header: {0}")]
    Header(&'static str),
    #[error("the age header has no recipient stanza")]
    NoRecipients,
    #[error("the age file has no payload, or a payload of impossible length")]
    Payload,
    #[error("not an ASCII-armored age file")]
    Armor,
    #[error("the encrypted text is larger than {0} bytes")]
    TooLarge(usize),
}

fn is_b64(line: &[u8]) -> bool {
    line.iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// Parses an age header at the start of `buf`: `Ok(Some(length, stanza types))` when it is
/// complete, `Ok(None)` when more bytes are needed.
fn parse_header(buf: &[u8]) -> Result<Option<(usize, Vec<String>)>, AgeFormatError> {
    let prefix = buf.len().min(VERSION_LINE.len());
    if buf[..prefix] != VERSION_LINE[..prefix] {
        return Err(AgeFormatError::NotAge);
    }
    if buf.len() < VERSION_LINE.len() {
        return Ok(None);
    }
    let mut pos = VERSION_LINE.len();
    let mut types = Vec::new();
    let next_line = |pos: usize| -> Option<(&[u8], usize)> {
        let rest = &buf[pos..];
        let end = rest.iter().position(|b| *b == b'\n')?;
        Some((&rest[..end], pos + end + 1))
    };
    loop {
        let Some((line, after)) = next_line(pos) else {
            return if buf.len() - pos > MAX_HEADER {
                Err(AgeFormatError::Header("a line is too long"))
            } else {
                Ok(None)
            };
        };
        if let Some(mac) = line.strip_prefix(b"--- ") {
            if mac.len() != 43 || !is_b64(mac) {
                return Err(AgeFormatError::Header(
                    "the MAC line is not 32 bytes of base64",
                ));
            }
            if types.is_empty() {
                return Err(AgeFormatError::NoRecipients);
            }
            return Ok(Some((after, types)));
        }
        let Some(stanza) = line.strip_prefix(b"-> ") else {
            return Err(AgeFormatError::Header(
                "expected a stanza (\"-> \") or the MAC line (\"--- \")",
            ));
        };
        let args: Vec<&[u8]> = stanza.split(|b| *b == b' ').collect();
        if args
            .iter()
            .any(|a| a.is_empty() || !a.iter().all(|b| (33..=126).contains(b)))
        {
            return Err(AgeFormatError::Header(
                "a stanza argument is empty or not printable",
            ));
        }
        types.push(String::from_utf8_lossy(args[0]).into_owned());
        // The stanza body: full 64-character lines, ended by a shorter one (maybe empty).
        pos = after;
        loop {
            let Some((body, after)) = next_line(pos) else {
                return Ok(None);
            };
            if body.len() > 64 || !is_b64(body) {
                return Err(AgeFormatError::Header(
                    "a stanza body line is not base64 of at most 64 characters",
                ));
            }
            pos = after;
            if body.len() < 64 {
                break;
            }
        }
        if pos > MAX_HEADER {
            return Err(AgeFormatError::Header("the header is too large"));
        }
    }
}

/// Whether `len` bytes after the header can be a STREAM payload: a nonce, then chunks of
/// 64 KiB plus a tag, the last of which may be shorter but is empty only if it is the only one.
fn payload_length_ok(len: u64) -> bool {
    if len < NONCE + TAG {
        return false;
    }
    let chunks = len - NONCE;
    let last = chunks % (CHUNK + TAG);
    match last {
        0 => true,
        TAG => chunks == TAG,
        l => l > TAG,
    }
}

/// Checks a binary age stream piece by piece, holding at most the header in memory.
#[derive(Default)]
pub struct StreamCheck {
    header: Vec<u8>,
    header_done: bool,
    payload: u64,
}

impl StreamCheck {
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), AgeFormatError> {
        if !self.header_done {
            let room = (MAX_HEADER + VERSION_LINE.len()).saturating_sub(self.header.len());
            let take = bytes.len().min(room);
            self.header.extend_from_slice(&bytes[..take]);
            match parse_header(&self.header)? {
                Some((len, _)) => {
                    self.header_done = true;
                    let extra = self.header.len() - len;
                    self.payload += extra as u64;
                    self.header.truncate(len);
                    self.header.shrink_to_fit();
                    bytes = &bytes[take..];
                }
                None if take < bytes.len() || self.header.len() >= MAX_HEADER => {
                    return Err(AgeFormatError::Header("the header is too large"));
                }
                None => return Ok(()),
            }
        }
        self.payload += bytes.len() as u64;
        Ok(())
    }

    pub fn finish(&self) -> Result<(), AgeFormatError> {
        if !self.header_done {
            return Err(if self.header.is_empty() {
                AgeFormatError::NotAge
            } else {
                AgeFormatError::Header("the header is incomplete")
            });
        }
        if !payload_length_ok(self.payload) {
            return Err(AgeFormatError::Payload);
        }
        Ok(())
    }
}

/// Checks a complete binary age file.
pub fn check_binary(bytes: &[u8]) -> Result<(), AgeFormatError> {
    let mut check = StreamCheck::default();
    check.feed(bytes)?;
    check.finish()
}

/// An ASCII-armored age file, as `body`, `narrative` and `wrapped_identity` must be.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AgeArmored(String);

/// Largest armored text accepted in a JSON field.
pub const MAX_ARMORED: usize = 512 * 1024;

impl AgeArmored {
    pub fn parse(text: &str) -> Result<Self, AgeFormatError> {
        if text.len() > MAX_ARMORED {
            return Err(AgeFormatError::TooLarge(MAX_ARMORED));
        }
        if !text
            .trim_start()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
        {
            return Err(AgeFormatError::Armor);
        }
        let mut binary = Vec::with_capacity(text.len() * 3 / 4);
        age::armor::ArmoredReader::new(text.as_bytes())
            .read_to_end(&mut binary)
            .map_err(|_| AgeFormatError::Armor)?;
        check_binary(&binary)?;
        Ok(AgeArmored(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stanza types of the header (`X25519`, `scrypt`, …), less the random "grease"
    /// stanzas age adds so that parsers stay tolerant of unknown types.
    pub fn stanza_types(&self) -> Vec<String> {
        let mut binary = Vec::new();
        let _ = age::armor::ArmoredReader::new(self.0.as_bytes()).read_to_end(&mut binary);
        let mut types = parse_header(&binary)
            .ok()
            .flatten()
            .map(|(_, t)| t)
            .unwrap_or_default();
        types.retain(|t| !t.ends_with("-grease"));
        types
    }
}

impl fmt::Debug for AgeArmored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgeArmored({} bytes)", self.0.len())
    }
}

impl<'de> Deserialize<'de> for AgeArmored {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        AgeArmored::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn encrypt(plain: &[u8], armor: bool) -> Vec<u8> {
        let id = age::x25519::Identity::generate();
        let r = id.to_public();
        let e =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let mut out = Vec::new();
        let format = if armor {
            age::armor::Format::AsciiArmor
        } else {
            age::armor::Format::Binary
        };
        let mut w = e
            .wrap_output(age::armor::ArmoredWriter::wrap_output(&mut out, format).unwrap())
            .unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap().finish().unwrap();
        out
    }

    #[test]
    fn real_age_files_pass_in_any_piece_sizes() {
        for size in [0usize, 1, 100, 65536, 65537, 200_000] {
            let file = encrypt(&vec![7u8; size], false);
            check_binary(&file).unwrap();
            for piece in [1usize, 7, 4096] {
                let mut check = StreamCheck::default();
                for chunk in file.chunks(piece) {
                    check.feed(chunk).unwrap();
                }
                check.finish().unwrap();
            }
        }
        let armored = String::from_utf8(encrypt(b"hello", true)).unwrap();
        let parsed = AgeArmored::parse(&armored).unwrap();
        assert_eq!(parsed.stanza_types(), vec!["X25519".to_owned()]);
    }

    #[test]
    fn anything_else_is_refused() {
        let file = encrypt(b"some secret text", false);
        assert_eq!(
            check_binary(b"some secret text"),
            Err(AgeFormatError::NotAge)
        );
        assert_eq!(check_binary(b""), Err(AgeFormatError::NotAge));
        // Header only, no payload.
        let header_end = file.windows(4).position(|w| w == b"--- ").unwrap() + 4 + 43 + 1;
        assert_eq!(
            check_binary(&file[..header_end]),
            Err(AgeFormatError::Payload)
        );
        // A truncated payload of impossible length.
        assert_eq!(
            check_binary(&file[..header_end + 20]),
            Err(AgeFormatError::Payload)
        );
        // No stanza.
        let mut no_stanza = b"age-encryption.org/v1\n--- ".to_vec();
        no_stanza.extend_from_slice(&file[header_end - 44..]);
        assert_eq!(check_binary(&no_stanza), Err(AgeFormatError::NoRecipients));
        // A damaged MAC line.
        let mut bad_mac = file.clone();
        bad_mac[header_end - 2] = b'!';
        assert!(matches!(
            check_binary(&bad_mac),
            Err(AgeFormatError::Header(_))
        ));
        // Armor problems.
        assert_eq!(
            AgeArmored::parse("hello").unwrap_err(),
            AgeFormatError::Armor
        );
        let armored = String::from_utf8(encrypt(b"hello", true)).unwrap();
        let damaged = armored.replace("-----END AGE ENCRYPTED FILE-----", "");
        assert!(AgeArmored::parse(&damaged).is_err());
        let plain_armor = "-----BEGIN AGE ENCRYPTED FILE-----\naGVsbG8gd29ybGQ=\n-----END AGE ENCRYPTED FILE-----\n";
        assert!(AgeArmored::parse(plain_armor).is_err());
    }

    #[test]
    fn payload_lengths_follow_the_stream_format() {
        assert!(!payload_length_ok(31));
        assert!(payload_length_ok(32)); // empty plaintext
        assert!(payload_length_ok(33));
        assert!(payload_length_ok(16 + 65536 + 16));
        assert!(!payload_length_ok(16 + 65536 + 16 + 16)); // an empty final chunk after a full one
        assert!(payload_length_ok(16 + 65536 + 16 + 17));
        assert!(!payload_length_ok(16 + 65536 + 16 + 5));
    }
}
