//! Writing age files of the strict form the service accepts (see [`crate::ciphertext`]): one
//! X25519 stanza per recipient and nothing else.
//!
//! The age crate adds a random "grease" stanza to every header it writes, to keep other
//! parsers tolerant of unknown stanzas. The service refuses grease, because a stanza of free
//! form is room for a message anyone can read, so this encryptor keeps the file key its
//! recipients wrap, and rewrites the header without the grease, with the header MAC made
//! again as the age spec defines it (HMAC-SHA-256 under HKDF(file key, "header")). The
//! payload is age's own, untouched; any age implementation decrypts the result.

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Write};

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;

/// An age encryptor to X25519 recipients whose header holds their stanzas only.
pub struct StrictEncryptor {
    encryptor: age::Encryptor,
    mac_key: [u8; 32],
}

/// Wraps a recipient to learn the file key it is asked to wrap.
struct Keeping<'a> {
    recipient: &'a age::x25519::Recipient,
    mac_key: &'a Cell<Option<[u8; 32]>>,
}

impl age::Recipient for Keeping<'_> {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        self.mac_key.set(Some(age_core::primitives::hkdf(
            &[],
            b"header",
            file_key.expose_secret(),
        )));
        age::Recipient::wrap_file_key(self.recipient, file_key)
    }
}

impl StrictEncryptor {
    pub fn with_recipients(
        recipients: &[age::x25519::Recipient],
    ) -> Result<Self, age::EncryptError> {
        let mac_key = Cell::new(None);
        let keeping: Vec<Keeping<'_>> = recipients
            .iter()
            .map(|recipient| Keeping {
                recipient,
                mac_key: &mac_key,
            })
            .collect();
        let encryptor =
            age::Encryptor::with_recipients(keeping.iter().map(|k| k as &dyn age::Recipient))?;
        let mac_key = mac_key.get().ok_or(age::EncryptError::MissingRecipients)?;
        Ok(StrictEncryptor { encryptor, mac_key })
    }

    /// Like `age::Encryptor::wrap_output`: what is written to the returned writer is
    /// encrypted to `output`. Finish it, then take `output` back with
    /// [`Ungreased::into_inner`].
    pub fn wrap_output<W: Write>(
        self,
        output: W,
    ) -> io::Result<age::stream::StreamWriter<Ungreased<W>>> {
        self.encryptor.wrap_output(Ungreased {
            inner: output,
            header: Some(Vec::new()),
            mac_key: self.mac_key,
        })
    }

    /// A whole message encrypted at once, as a binary file.
    pub fn encrypt(self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let mut w = self.wrap_output(Vec::new())?;
        w.write_all(plain)?;
        Ok(w.finish()?.into_inner())
    }

    /// A whole message encrypted at once, ASCII-armored.
    pub fn encrypt_armored(self, plain: &[u8]) -> io::Result<String> {
        let armor =
            age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)?;
        let mut w = self.wrap_output(armor)?;
        w.write_all(plain)?;
        let out = w.finish()?.into_inner().finish()?;
        String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// The writer under age's: holds the header until it is whole, writes it again without
/// grease, then passes the payload through.
pub struct Ungreased<W> {
    inner: W,
    /// The header so far; None once it is written.
    header: Option<Vec<u8>>,
    mac_key: [u8; 32],
}

impl<W> Ungreased<W> {
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Where the header in `buf` ends (just after the MAC line), once it is whole.
fn header_end(buf: &[u8]) -> Option<usize> {
    let mac = buf.windows(5).position(|w| w == b"\n--- ")? + 1;
    let newline = buf[mac..].iter().position(|b| *b == b'\n')?;
    Some(mac + newline + 1)
}

/// The header without grease stanzas, with its MAC made again.
fn rewrite(header: &[u8], mac_key: &[u8; 32]) -> io::Result<Vec<u8>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "age wrote an unexpected header");
    let text = std::str::from_utf8(header).map_err(|_| bad())?;
    let mut lines = text.split_inclusive('\n');
    let mut out = lines.next().ok_or_else(bad)?.to_owned();
    loop {
        let line = lines.next().ok_or_else(bad)?;
        if line.starts_with("---") {
            break;
        }
        let stanza = line.strip_prefix("-> ").ok_or_else(bad)?;
        let mut block = line.to_owned();
        loop {
            let body = lines.next().ok_or_else(bad)?;
            block.push_str(body);
            if body.trim_end_matches('\n').len() < 64 {
                break;
            }
        }
        let tag = stanza.split([' ', '\n']).next().unwrap_or_default();
        if !tag.ends_with("-grease") {
            out.push_str(&block);
        }
    }
    out.push_str("---");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, mac_key);
    let mac = ring::hmac::sign(&key, out.as_bytes());
    use base64::Engine;
    out.push(' ');
    out.push_str(&base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.as_ref()));
    out.push('\n');
    Ok(out.into_bytes())
}

impl<W: Write> Write for Ungreased<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(header) = &mut self.header else {
            return self.inner.write(buf);
        };
        header.extend_from_slice(buf);
        if let Some(end) = header_end(header) {
            let rest = header.split_off(end);
            let rewritten = rewrite(header, &self.mac_key)?;
            self.header = None;
            self.inner.write_all(&rewritten)?;
            self.inner.write_all(&rest)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_file_has_one_stanza_per_recipient_and_decrypts() {
        let ids: Vec<_> = (0..3).map(|_| age::x25519::Identity::generate()).collect();
        let recipients: Vec<_> = ids.iter().map(|i| i.to_public()).collect();
        let plain = vec![42u8; 100_000];
        let file = StrictEncryptor::with_recipients(&recipients)
            .unwrap()
            .encrypt(&plain)
            .unwrap();
        let end = header_end(&file).unwrap();
        let header = std::str::from_utf8(&file[..end]).unwrap();
        assert_eq!(header.matches("\n-> ").count(), 3, "{header}");
        assert!(!header.contains("grease"));
        assert_eq!(crate::ciphertext::check_binary(&file), Ok(3));
        for id in &ids {
            let mut out = Vec::new();
            age::Decryptor::new(&file[..])
                .unwrap()
                .decrypt(std::iter::once(id as &dyn age::Identity))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, plain);
        }
        // A wrong MAC is caught by age: the rewrite is what makes the file whole.
        let mut damaged = file.clone();
        damaged[end - 3] = if damaged[end - 3] == b'A' { b'B' } else { b'A' };
        let refused = age::Decryptor::new(&damaged[..])
            .unwrap()
            .decrypt(std::iter::once(&ids[0] as &dyn age::Identity));
        assert!(refused.is_err());
        let armored = StrictEncryptor::with_recipients(&recipients[..1])
            .unwrap()
            .encrypt_armored(b"hello")
            .unwrap();
        assert_eq!(
            crate::ciphertext::AgeArmored::parse(&armored)
                .unwrap()
                .recipients(),
            1
        );
    }
}
