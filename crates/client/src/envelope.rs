//! What an attachment's plaintext carries besides the file: its name and media type, inside
//! the encryption, so that the adviser gets "minutes.pdf" while the server (and whoever reads
//! its disk) learns neither. The web application writes and reads the same format:
//!
//! ```text
//! IRO-ADVICE-ATTACHMENT/1\n
//! {"name":"minutes.pdf","type":"application/pdf"}\n
//! <the file's bytes>
//! ```
//!
//! The JSON line is at most 4 KiB. A plaintext that does not start with the first line is an
//! attachment from before envelopes, and is the file itself.

use std::io::{self, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8] = b"IRO-ADVICE-ATTACHMENT/1\n";
const MAX_HEADER: usize = 4096;
const MAX_NAME: usize = 200;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub name: String,
    #[serde(rename = "type")]
    pub media_type: String,
    /// The sender's signature over the file (see `iro_advice_model::signing`): absent on an
    /// attachment from before attachments were signed, and then shown as not signed.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<FileSignature>,
}

impl FileSignature {
    /// The user's signature over a file of SHA-256 `digest`, as theirs in `query`.
    pub fn new(
        api: &super::api::Api,
        identity: &age::x25519::Identity,
        query: &str,
        digest: &[u8; 32],
    ) -> Result<Self, super::error::ClientError> {
        use age::secrecy::ExposeSecret;
        let sender = api.account_id()?;
        let signed_at = chrono::Utc::now().timestamp();
        let signature = iro_advice_model::signing::sign_digest(
            identity.to_string().expose_secret(),
            query,
            &sender,
            signed_at,
            digest,
        )
        .ok_or_else(|| {
            super::error::ClientError::Crypto("cannot sign with this identity".into())
        })?;
        Ok(FileSignature {
            query: query.to_owned(),
            sender,
            signed_at,
            signature,
        })
    }

    /// Whether `recipient`'s key signed a file of SHA-256 `digest` as this says.
    pub fn verifies(&self, recipient: &str, digest: &[u8; 32]) -> bool {
        iro_advice_model::signing::verify_digest(
            recipient,
            &self.query,
            &self.sender,
            self.signed_at,
            digest,
            &self.signature,
        )
    }
}

/// Who signed a file, for which query, when, and the signature over its SHA-256.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FileSignature {
    pub query: String,
    pub sender: String,
    pub signed_at: i64,
    pub signature: String,
}

impl Envelope {
    /// The envelope of a file about to be sent.
    pub fn for_file(path: &Path) -> Envelope {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".into());
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        Envelope {
            name,
            media_type: media_type(&extension).into(),
            signed: None,
        }
    }

    /// The bytes that go before the file's.
    pub fn header(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out.push(b'\n');
        out
    }

    /// Reads the envelope from the start of a plaintext. Without one (an older attachment),
    /// returns the bytes it read, which are the start of the file.
    pub fn read(reader: &mut dyn Read) -> io::Result<(Option<Envelope>, Vec<u8>)> {
        let mut start = Vec::with_capacity(MAGIC.len());
        reader.take(MAGIC.len() as u64).read_to_end(&mut start)?;
        if start != MAGIC {
            return Ok((None, start));
        }
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            if reader.read(&mut byte)? == 0 || line.len() > MAX_HEADER {
                return Err(damaged());
            }
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
        }
        let mut envelope: Envelope = serde_json::from_slice(&line).map_err(|_| damaged())?;
        envelope.name = without_bidi_controls(&envelope.name);
        Ok((Some(envelope), Vec::new()))
    }

    /// The name to save under: the sender's file name without any directory, or None when
    /// it could not be saved safely as it is (a path, a hidden or reserved name, controls).
    pub fn safe_name(&self) -> Option<&str> {
        let name = self.name.trim();
        let unsafe_name = name.is_empty()
            || name.starts_with('.')
            || name.chars().count() > MAX_NAME
            || name
                .chars()
                .any(|c| c.is_control() || matches!(c, '/' | '\\' | ':'));
        (!unsafe_name).then_some(name)
    }
}

/// The name as the sender's characters show it: the controls that reorder text (U+202E
/// makes `evil\u{202e}txt.exe` show as `evilexe.txt`) removed, so that what is shown and
/// saved is the name the file really has.
pub fn without_bidi_controls(name: &str) -> String {
    name.chars()
        .filter(|c| {
            !matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn damaged() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the attachment's name and type inside the encryption are damaged",
    )
}

/// The media types of what IROs and advisers exchange; anything else is bytes.
fn media_type(extension: &str) -> &'static str {
    match extension {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "odt" => "application/vnd.oasis.opendocument.text",
        "rtf" => "application/rtf",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "csv" => "text/csv",
        "txt" => "text/plain",
        "eml" => "message/rfc822",
        "msg" => "application/vnd.ms-outlook",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "heic" => "image/heic",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_before_the_files_bytes() {
        let envelope = Envelope::for_file(Path::new("/home/iro/Review Minutes.PDF"));
        assert_eq!(envelope.name, "Review Minutes.PDF");
        assert_eq!(envelope.media_type, "application/pdf");
        let mut plain = envelope.header();
        plain.extend_from_slice(b"%PDF-1.7 body");
        let mut reader = &plain[..];
        let (read, leftover) = Envelope::read(&mut reader).expect("readable");
        assert_eq!(read, Some(envelope));
        assert!(leftover.is_empty());
        assert_eq!(reader, b"%PDF-1.7 body");
    }

    #[test]
    fn a_sender_cannot_reorder_a_file_name() {
        let sent = Envelope {
            name: "evil\u{202e}txt.exe".into(),
            media_type: "text/plain".into(),
            signed: None,
        };
        let plain = sent.header();
        let (read, _) = Envelope::read(&mut &plain[..]).expect("readable");
        let read = read.expect("an envelope");
        assert_eq!(read.name, "eviltxt.exe");
        assert_eq!(read.safe_name(), Some("eviltxt.exe"));
        for c in [
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{200f}', '\u{061c}',
        ] {
            assert_eq!(without_bidi_controls(&format!("a{c}b.pdf")), "ab.pdf");
        }
    }

    #[test]
    fn an_older_attachment_is_the_file_itself() {
        for plain in [&b"%PDF-1.7 a file from before envelopes"[..], b"tiny"] {
            let mut reader = plain;
            let (read, leftover) = Envelope::read(&mut reader).expect("readable");
            assert_eq!(read, None);
            let mut whole = leftover;
            whole.extend_from_slice(reader);
            assert_eq!(whole, plain);
        }
    }

    #[test]
    fn a_hostile_name_is_not_used_as_a_path() {
        let named = |name: &str| Envelope {
            name: name.into(),
            media_type: "text/plain".into(),
            signed: None,
        };
        assert_eq!(named("minutes.pdf").safe_name(), Some("minutes.pdf"));
        for bad in [
            "../../.bashrc",
            "/etc/passwd",
            ".profile",
            "a\\b",
            "C:x",
            "a\u{7}b",
            "",
        ] {
            assert_eq!(named(bad).safe_name(), None, "{bad:?}");
        }
        let mut damaged = MAGIC.to_vec();
        damaged.extend_from_slice(&[b'x'; 5000]);
        assert!(Envelope::read(&mut &damaged[..]).is_err());
    }
}
