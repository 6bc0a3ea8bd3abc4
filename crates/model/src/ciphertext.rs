//! The only content the server accepts: age files (https://age-encryption.org/v1).
//!
//! The server never decrypts, but it checks the form strictly — the version line, every
//! recipient stanza, the header MAC line, and a payload whose length a real STREAM payload
//! can have — so that plaintext, or anything else, is refused with a clear 400.

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
/// A header larger than this is not one a real client writes: one X25519 stanza is under
/// 100 bytes, and content has two or three readers.
const MAX_HEADER: usize = 4 * 1024;
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
    #[error("{0}: content must be encrypted to age X25519 recipients (age1…) only")]
    NotX25519(String),
    #[error("the age payload is not ciphertext: it reads as text")]
    PlaintextPayload,
    #[error("the age payload is not ciphertext: it is compressed data")]
    CompressedPayload,
    #[error("a recipient stanza is not key material: it reads as text")]
    PlaintextStanza,
    #[error(
        "wrapped_identity must be one age scrypt stanza with a work factor from 18 to 22: {0}"
    )]
    WeakWrap(String),
}

impl AgeFormatError {
    /// The problem type a client sees for this refusal.
    pub fn problem(&self) -> crate::problem::ProblemType {
        use crate::problem::ProblemType;
        match self {
            AgeFormatError::NotX25519(_) => ProblemType::AgeNotX25519,
            AgeFormatError::PlaintextPayload
            | AgeFormatError::CompressedPayload
            | AgeFormatError::PlaintextStanza => ProblemType::AgePlaintextPayload,
            AgeFormatError::WeakWrap(_) => ProblemType::WeakWrappedIdentity,
            _ => ProblemType::NotAge,
        }
    }
}

/// Content encrypted to another number of X25519 recipients than it has readers: someone who
/// should read it cannot, or a stanza is there for someone (or something) else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("encrypted to {recipients} recipient(s), but it has {readers} readers")]
pub struct TooFewRecipients {
    pub recipients: usize,
    pub readers: usize,
}

/// Refuses content with other than one recipient stanza per reader.
pub fn require_readers(recipients: usize, readers: usize) -> Result<(), TooFewRecipients> {
    if recipients != readers {
        return Err(TooFewRecipients {
            recipients,
            readers,
        });
    }
    Ok(())
}

/// One recipient stanza: its type, arguments and decoded body.
#[derive(Debug, Clone)]
struct Stanza {
    tag: String,
    args: Vec<String>,
    body: Vec<u8>,
}

/// What the header holds: its length in bytes and its stanzas.
struct Header {
    len: usize,
    stanzas: Vec<Stanza>,
    /// The header MAC's 32 bytes.
    mac: Vec<u8>,
}

fn b64_unpadded(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text)
        .ok()
}

/// An X25519 stanza exactly as age writes one: one argument, the 32-byte ephemeral share,
/// and a 32-byte wrapped file key.
fn is_x25519(stanza: &Stanza) -> bool {
    stanza.tag == "X25519"
        && stanza.args.len() == 1
        && stanza.args[0].len() == 43
        && b64_unpadded(&stanza.args[0]).is_some_and(|a| a.len() == 32)
        && stanza.body.len() == 32
}

/// Content (bodies, narratives, attachments): X25519 stanzas only, each its exact size and
/// none reading as text. No grease: a stanza of free form is room for anything. Returns how
/// many X25519 recipients there are.
fn content_recipients(stanzas: &[Stanza]) -> Result<usize, AgeFormatError> {
    for stanza in stanzas {
        if !is_x25519(stanza) {
            return Err(AgeFormatError::NotX25519(if stanza.tag == "X25519" {
                "an X25519 stanza of the wrong shape".into()
            } else {
                format!(
                    "a {:?} stanza",
                    stanza.tag.chars().take(20).collect::<String>()
                )
            }));
        }
        let mut key_material = b64_unpadded(&stanza.args[0]).unwrap_or_default();
        key_material.extend_from_slice(&stanza.body);
        if reads_as_text(&key_material) {
            return Err(AgeFormatError::PlaintextStanza);
        }
    }
    if stanzas.is_empty() {
        return Err(AgeFormatError::NoRecipients);
    }
    Ok(stanzas.len())
}

/// A passphrase wrap: exactly one scrypt stanza, a 16-byte salt, a work factor from 18 to 22
/// and a 32-byte wrapped file key.
fn check_wrap(stanzas: &[Stanza]) -> Result<(), AgeFormatError> {
    let [stanza] = stanzas else {
        return Err(AgeFormatError::WeakWrap(format!(
            "{} stanzas",
            stanzas.len()
        )));
    };
    if stanza.tag != "scrypt" || stanza.args.len() != 2 || stanza.body.len() != 32 {
        return Err(AgeFormatError::WeakWrap("not an scrypt stanza".into()));
    }
    if stanza.args[0].len() != 22 || b64_unpadded(&stanza.args[0]).is_none_or(|s| s.len() != 16) {
        return Err(AgeFormatError::WeakWrap("the salt is not 16 bytes".into()));
    }
    let log_n = &stanza.args[1];
    let work: u8 = log_n
        .parse()
        .ok()
        .filter(|_| !log_n.starts_with('0'))
        .ok_or_else(|| AgeFormatError::WeakWrap("the work factor is not a number".into()))?;
    if !(18..=22).contains(&work) {
        return Err(AgeFormatError::WeakWrap(format!("work factor {work}")));
    }
    Ok(())
}

/// The bytes text is made of: printable ASCII, tab and the line ends.
fn printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r')
}

/// The chance that a random byte is printable.
const P_PRINTABLE: f64 = 98.0 / 256.0;

/// The chance each test allows of refusing real ciphertext (random bytes).
const FALSE_ALARM: f64 = 1e-9;

/// The shortest run of printable bytes that `n` random bytes hold with less than
/// [`FALSE_ALARM`] chance: 26 in a 32-byte payload, 41 in a 48 MiB one.
fn text_run(n: usize) -> usize {
    ((FALSE_ALARM / n.max(1) as f64).ln() / P_PRINTABLE.ln()).ceil() as usize
}

/// Whether `printable` of `n` random bytes being printable is beyond [`FALSE_ALARM`]:
/// the binomial upper tail, exactly for short runs of bytes, by six standard deviations
/// (about the same odds) for long ones.
fn too_printable(n: u64, printable: u64) -> bool {
    let (nf, p) = (n as f64, P_PRINTABLE);
    if n == 0 || printable == 0 {
        return false;
    }
    if n >= 2048 {
        return printable as f64 > nf * p + 6.0 * (nf * p * (1.0 - p)).sqrt() + 1.0;
    }
    // ln C(n, k) p^k (1-p)^(n-k), then the terms above it, added while they matter.
    let k = printable;
    let ln_choose: f64 = (1..=k).map(|j| ((n - k + j) as f64 / j as f64).ln()).sum();
    let mut term = ln_choose + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln();
    let mut tail = 0.0;
    for i in k..=n {
        tail += term.exp();
        term += ((n - i) as f64 / (i + 1) as f64).ln() + (p / (1.0 - p)).ln();
    }
    tail < FALSE_ALARM
}

/// Whether a short piece of what should be random bytes (a stanza's key material) reads as
/// text: a run of printable bytes, or more of them, than random bytes give.
fn reads_as_text(bytes: &[u8]) -> bool {
    let mut run = 0;
    let mut longest = 0;
    for b in bytes {
        run = if printable(*b) { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let count = bytes.iter().filter(|b| printable(**b)).count();
    longest >= text_run(bytes.len()) || too_printable(bytes.len() as u64, count as u64)
}

/// How much of the payload's start is kept to look for compressed data.
const COMPRESSION_PROBE: usize = 4096;

/// Compressed data where ciphertext should be: a deflate stream (raw, zlib or gzip) at the
/// payload's start or after the nonce that inflates to text, or the magic number of another
/// common format there. Ciphertext inflates to nothing but a few random bytes, and a 4-byte
/// magic number comes up by chance once in four billion.
fn looks_compressed(start: &[u8]) -> bool {
    const MAGIC: [&[u8]; 6] = [
        b"\x28\xb5\x2f\xfd",   // zstd
        b"\xfd7zXZ\x00",       // xz
        b"BZh",                // bzip2, with the block magic below
        b"PK\x03\x04",         // zip
        b"7z\xbc\xaf\x27\x1c", // 7-Zip
        b"\x04\x22\x4d\x18",   // LZ4 frame
    ];
    [0usize, NONCE as usize].iter().any(|&at| {
        let Some(data) = start.get(at..) else {
            return false;
        };
        let magic = MAGIC.iter().any(|m| {
            data.starts_with(m) && (*m != b"BZh" || data.get(4..10) == Some(b"1AY&SY".as_slice()))
        });
        magic || inflates_to_text(data)
    })
}

/// Whether `data` starts a deflate stream (gzip, zlib or raw) that inflates to text.
fn inflates_to_text(data: &[u8]) -> bool {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    let gzip_body = data
        .strip_prefix(b"\x1f\x8b\x08".as_slice())
        .and_then(|_| data.get(10..));
    let candidates = [
        (data, inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER),
        (data, 0),
        (gzip_body.unwrap_or_default(), 0),
    ];
    candidates.iter().any(|(input, flags)| {
        if input.is_empty() {
            return false;
        }
        let mut state = DecompressorOxide::new();
        let mut out = vec![0u8; 4 * COMPRESSION_PROBE];
        let (status, _, written) = decompress(
            &mut state,
            input,
            &mut out,
            0,
            flags | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
        );
        // A stream that breaks is not one: random bits inflate to a few bytes and repeats of
        // them, then hit an impossible code. Text that inflates is mostly printable, and of
        // many letters.
        if status == miniz_oxide::inflate::TINFLStatus::Failed
            || status == miniz_oxide::inflate::TINFLStatus::FailedCannotMakeProgress
        {
            return false;
        }
        let out = &out[..written];
        let mut seen = [false; 256];
        out.iter().for_each(|b| seen[*b as usize] = true);
        let distinct = (0..=255u8)
            .filter(|b| printable(*b) && seen[*b as usize])
            .count();
        out.len() >= 64
            && distinct >= 20
            && out.iter().filter(|b| printable(**b)).count() * 10 >= out.len() * 9
    })
}

/// The whole payload, checked as it streams past in STREAM's own chunks: no chunk may hold
/// more printable bytes (or more of one byte value) than random bytes give, no run of
/// printable bytes may be longer than random bytes give in a payload of its length, and
/// its start may not be compressed data.
#[derive(Clone)]
struct PayloadCheck {
    counts: [u32; 256],
    /// Bytes counted in the current chunk (the first includes the nonce).
    in_chunk: u64,
    total: u64,
    run: usize,
    longest_run: usize,
    start: Vec<u8>,
    text: bool,
}

impl Default for PayloadCheck {
    fn default() -> Self {
        PayloadCheck {
            counts: [0; 256],
            in_chunk: 0,
            total: 0,
            run: 0,
            longest_run: 0,
            start: Vec::new(),
            text: false,
        }
    }
}

impl PayloadCheck {
    fn add(&mut self, mut bytes: &[u8]) {
        let room = COMPRESSION_PROBE.saturating_sub(self.start.len());
        self.start
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        while !bytes.is_empty() {
            let chunk_len = if self.total < NONCE + CHUNK + TAG {
                NONCE + CHUNK + TAG
            } else {
                CHUNK + TAG
            };
            let take = (chunk_len - self.in_chunk).min(bytes.len() as u64) as usize;
            for b in &bytes[..take] {
                self.counts[*b as usize] += 1;
                self.run = if printable(*b) { self.run + 1 } else { 0 };
                self.longest_run = self.longest_run.max(self.run);
            }
            self.in_chunk += take as u64;
            self.total += take as u64;
            bytes = &bytes[take..];
            if self.in_chunk == chunk_len {
                self.end_chunk();
            }
        }
    }

    fn end_chunk(&mut self) {
        let n = self.in_chunk;
        if n > 0 {
            let printable: u64 = (0..=255u8)
                .filter(|b| printable(*b))
                .map(|b| u64::from(self.counts[b as usize]))
                .sum();
            let most = u64::from(self.counts.iter().copied().max().unwrap_or(0));
            let q = 1.0 / 256.0;
            let nf = n as f64;
            let skewed = n >= 4096 && most as f64 > nf * q + 8.0 * (nf * q * (1.0 - q)).sqrt();
            self.text |= too_printable(n, printable) || skewed;
        }
        self.counts = [0; 256];
        self.in_chunk = 0;
    }

    /// What is wrong with the payload fed, if anything.
    fn finish(&self) -> Result<(), AgeFormatError> {
        let mut last = self.clone();
        last.end_chunk();
        if last.text || self.longest_run >= text_run(self.total as usize) {
            return Err(AgeFormatError::PlaintextPayload);
        }
        if looks_compressed(&self.start) {
            return Err(AgeFormatError::CompressedPayload);
        }
        Ok(())
    }
}

fn is_b64(line: &[u8]) -> bool {
    line.iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

/// Parses an age header at the start of `buf`: `Ok(Some(header))` when it is complete,
/// `Ok(None)` when more bytes are needed.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, AgeFormatError> {
    let prefix = buf.len().min(VERSION_LINE.len());
    if buf[..prefix] != VERSION_LINE[..prefix] {
        return Err(AgeFormatError::NotAge);
    }
    if buf.len() < VERSION_LINE.len() {
        return Ok(None);
    }
    let mut pos = VERSION_LINE.len();
    let mut stanzas = Vec::new();
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
            if stanzas.is_empty() {
                return Err(AgeFormatError::NoRecipients);
            }
            return Ok(Some(Header {
                len: after,
                stanzas,
                mac: b64_unpadded(&String::from_utf8_lossy(mac)).unwrap_or_default(),
            }));
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
        let text = |a: &[u8]| String::from_utf8_lossy(a).into_owned();
        // The stanza body: full 64-character lines, ended by a shorter one (maybe empty).
        let mut body = String::new();
        pos = after;
        loop {
            let Some((line, after)) = next_line(pos) else {
                return Ok(None);
            };
            if line.len() > 64 || !is_b64(line) {
                return Err(AgeFormatError::Header(
                    "a stanza body line is not base64 of at most 64 characters",
                ));
            }
            body.push_str(&String::from_utf8_lossy(line));
            pos = after;
            if line.len() < 64 {
                break;
            }
        }
        if pos > MAX_HEADER {
            return Err(AgeFormatError::Header("the header is too large"));
        }
        stanzas.push(Stanza {
            tag: text(args[0]),
            args: args[1..].iter().map(|a| text(a)).collect(),
            body: b64_unpadded(&body)
                .ok_or(AgeFormatError::Header("a stanza body is not base64"))?,
        });
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

/// Checks a binary age stream piece by piece, holding at most the header in memory: a
/// header of X25519 recipients (and grease), a payload of STREAM length that reads as
/// ciphertext.
#[derive(Default)]
pub struct StreamCheck {
    header: Vec<u8>,
    recipients: Option<usize>,
    payload: u64,
    sample: PayloadCheck,
}

impl StreamCheck {
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), AgeFormatError> {
        if self.recipients.is_none() {
            let room = (MAX_HEADER + VERSION_LINE.len()).saturating_sub(self.header.len());
            let take = bytes.len().min(room);
            self.header.extend_from_slice(&bytes[..take]);
            match parse_header(&self.header)? {
                Some(header) => {
                    self.recipients = Some(content_recipients(&header.stanzas)?);
                    if reads_as_text(&header.mac) {
                        return Err(AgeFormatError::PlaintextStanza);
                    }
                    let extra = self.header.split_off(header.len);
                    self.payload += extra.len() as u64;
                    self.sample.add(&extra);
                    self.header = Vec::new();
                    bytes = &bytes[take..];
                }
                None if take < bytes.len() || self.header.len() >= MAX_HEADER => {
                    return Err(AgeFormatError::Header("the header is too large"));
                }
                None => return Ok(()),
            }
        }
        self.payload += bytes.len() as u64;
        self.sample.add(bytes);
        Ok(())
    }

    /// The number of X25519 recipients, once the whole file has been fed and is sound.
    pub fn finish(&self) -> Result<usize, AgeFormatError> {
        let Some(recipients) = self.recipients else {
            return Err(if self.header.is_empty() {
                AgeFormatError::NotAge
            } else {
                AgeFormatError::Header("the header is incomplete")
            });
        };
        if !payload_length_ok(self.payload) {
            return Err(AgeFormatError::Payload);
        }
        self.sample.finish()?;
        Ok(recipients)
    }
}

/// Checks a complete binary age file of content; returns its X25519 recipients' number.
pub fn check_binary(bytes: &[u8]) -> Result<usize, AgeFormatError> {
    let mut check = StreamCheck::default();
    check.feed(bytes)?;
    check.finish()
}

/// Decodes ASCII armor to the binary file.
fn dearmor(text: &str) -> Result<Vec<u8>, AgeFormatError> {
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
    Ok(binary)
}

/// An ASCII-armored age file of content, as `body` and `narrative` must be: encrypted to
/// X25519 recipients only, its payload ciphertext.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AgeArmored {
    text: String,
    #[serde(skip)]
    recipients: usize,
}

/// Largest armored text accepted in a JSON field.
pub const MAX_ARMORED: usize = 512 * 1024;

impl AgeArmored {
    pub fn parse(text: &str) -> Result<Self, AgeFormatError> {
        let recipients = check_binary(&dearmor(text)?)?;
        Ok(AgeArmored {
            text: text.to_owned(),
            recipients,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How many X25519 recipients the file is encrypted to (grease not counted).
    pub fn recipients(&self) -> usize {
        self.recipients
    }
}

/// An age identity wrapped with a passphrase, as `wrapped_identity` must be: one scrypt
/// stanza of a work factor from 18 to 22, and a payload of ciphertext.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PassphraseWrapped(String);

impl PassphraseWrapped {
    pub fn parse(text: &str) -> Result<Self, AgeFormatError> {
        let binary = dearmor(text)?;
        let header = parse_header(&binary)?.ok_or(AgeFormatError::Header("incomplete"))?;
        check_wrap(&header.stanzas)?;
        let payload = &binary[header.len..];
        if !payload_length_ok(payload.len() as u64) {
            return Err(AgeFormatError::Payload);
        }
        let mut sample = PayloadCheck::default();
        sample.add(payload);
        sample.finish()?;
        Ok(PassphraseWrapped(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PassphraseWrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PassphraseWrapped({} bytes)", self.0.len())
    }
}

impl fmt::Debug for AgeArmored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgeArmored({} bytes)", self.text.len())
    }
}

/// An armored age file as a request carries it, not yet checked: the server parses it into
/// an [`AgeArmored`] or a [`PassphraseWrapped`] where it takes the request, and refuses it
/// there with the problem type its [`AgeFormatError`] names; a client makes one from a file
/// it encrypted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct ArmoredText(String);

impl ArmoredText {
    pub fn new(text: String) -> Self {
        ArmoredText(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The content it carries, if it is an acceptable age file of content.
    pub fn content(&self) -> Result<AgeArmored, AgeFormatError> {
        AgeArmored::parse(&self.0)
    }

    /// The wrapped identity it carries, if it is strongly wrapped.
    pub fn wrapped_identity(&self) -> Result<PassphraseWrapped, AgeFormatError> {
        PassphraseWrapped::parse(&self.0)
    }
}

impl fmt::Debug for ArmoredText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArmoredText({} bytes)", self.0.len())
    }
}

impl From<AgeArmored> for ArmoredText {
    fn from(a: AgeArmored) -> Self {
        ArmoredText(a.text)
    }
}

impl From<PassphraseWrapped> for ArmoredText {
    fn from(w: PassphraseWrapped) -> Self {
        ArmoredText(w.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn encrypt(plain: &[u8], armor: bool) -> Vec<u8> {
        let r = age::x25519::Identity::generate().to_public();
        let e = crate::age_writer::StrictEncryptor::with_recipients(&[r]).unwrap();
        if armor {
            e.encrypt_armored(plain).unwrap().into_bytes()
        } else {
            e.encrypt(plain).unwrap()
        }
    }

    #[test]
    fn age_itself_writes_grease_which_is_refused() {
        let r = age::x25519::Identity::generate().to_public();
        let e =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        w.write_all(b"hello").unwrap();
        w.finish().unwrap();
        assert!(matches!(
            check_binary(&out),
            Err(AgeFormatError::NotX25519(_))
        ));
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
        assert_eq!(parsed.recipients(), 1);
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

    /// A real file's header split into its stanza lines and MAC line, and its payload.
    fn parts(file: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mac = file.windows(4).position(|w| w == b"--- ").unwrap();
        let end = mac + 4 + 43 + 1;
        (
            file[VERSION_LINE.len()..mac].to_vec(),
            file[mac..end].to_vec(),
            file[end..].to_vec(),
        )
    }

    fn assemble(stanzas: &[&[u8]], mac: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut out = VERSION_LINE.to_vec();
        for s in stanzas {
            out.extend_from_slice(s);
        }
        out.extend_from_slice(mac);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn smuggled_plaintext_is_refused_each_with_its_reason() {
        let file = encrypt(b"a real question", false);
        let (x25519, mac, payload) = parts(&file);
        // The attack as tried: a made-up stanza carrying a child's details, and a payload of
        // printable text of a length a real payload could have.
        let text_payload =
            b"Child=Jane-Smith DOB=2015-03-01 placement breaking down, please advise".to_vec();
        assert!(payload_length_ok(text_payload.len() as u64));
        let smuggled = assemble(
            &[b"-> Child=Jane-Smith DOB=2015-03-01\n\n"],
            &mac,
            &text_payload,
        );
        assert!(matches!(
            check_binary(&smuggled),
            Err(AgeFormatError::NotX25519(_))
        ));
        // Real stanzas, but text where the ciphertext should be.
        let text_body = assemble(&[&x25519], &mac, &text_payload);
        assert_eq!(
            check_binary(&text_body),
            Err(AgeFormatError::PlaintextPayload)
        );
        assert_eq!(
            AgeFormatError::PlaintextPayload.problem(),
            crate::problem::ProblemType::AgePlaintextPayload
        );
        // Streamed, as attachments are.
        let mut stream = StreamCheck::default();
        for piece in text_body.chunks(5) {
            stream.feed(piece).unwrap();
        }
        assert_eq!(stream.finish(), Err(AgeFormatError::PlaintextPayload));
        // An X25519 stanza of the wrong shape, and a passphrase stanza among recipients.
        let short_share = b"-> X25519 c2hvcnQ\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
        assert!(matches!(
            check_binary(&assemble(&[short_share], &mac, &payload)),
            Err(AgeFormatError::NotX25519(_))
        ));
        let scrypt =
            b"-> scrypt AAAAAAAAAAAAAAAAAAAAAA 18\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
        assert!(matches!(
            check_binary(&assemble(&[&x25519, scrypt], &mac, &payload)),
            Err(AgeFormatError::NotX25519(_))
        ));
        // Grease, even as small as age writes it, is room for a message: refused.
        let grease = b"-> a1-grease x y\nAAECAwQ\n";
        assert!(matches!(
            check_binary(&assemble(&[grease, &x25519], &mac, &payload)),
            Err(AgeFormatError::NotX25519(_))
        ));
        // Text inside an X25519 stanza of the right shape: its share and its body.
        let b64 = |b: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
        };
        let in_share = format!(
            "-> X25519 {}\n{}\n",
            b64(b"CHILD: Jayden Smith, born 3 Mar."),
            b64(&[7u8; 32])
        );
        let in_body = format!(
            "-> X25519 {}\n{}\n",
            b64(&[0xa5u8; 32]),
            b64(b"placement breaking down, advise!")
        );
        for stanza in [&in_share, &in_body] {
            assert_eq!(
                check_binary(&assemble(&[stanza.as_bytes()], &mac, &payload)),
                Err(AgeFormatError::PlaintextStanza)
            );
        }
        // Text in the MAC.
        let text_mac = format!("--- {}\n", b64(b"Jayden Smith born 3 March 2015!!"));
        assert_eq!(
            check_binary(&assemble(&[&x25519], text_mac.as_bytes(), &payload)),
            Err(AgeFormatError::PlaintextStanza)
        );
        // A header beyond any real one.
        let many: Vec<&[u8]> = std::iter::repeat_n(x25519.as_slice(), 60).collect();
        assert!(matches!(
            check_binary(&assemble(&many, &mac, &payload)),
            Err(AgeFormatError::Header(_))
        ));
    }

    #[test]
    fn a_wrapped_identity_must_be_one_strong_scrypt_stanza() {
        let id = age::x25519::Identity::generate();
        let secret = {
            use age::secrecy::ExposeSecret;
            id.to_string().expose_secret().to_owned()
        };
        let wrap = |log_n: u8| {
            let mut r =
                age::scrypt::Recipient::new(age::secrecy::SecretString::from("pass".to_owned()));
            r.set_work_factor(log_n);
            let e = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
                .unwrap();
            let mut out = Vec::new();
            let mut w = e
                .wrap_output(
                    age::armor::ArmoredWriter::wrap_output(
                        &mut out,
                        age::armor::Format::AsciiArmor,
                    )
                    .unwrap(),
                )
                .unwrap();
            w.write_all(secret.as_bytes()).unwrap();
            w.finish().unwrap().finish().unwrap();
            String::from_utf8(out).unwrap()
        };
        PassphraseWrapped::parse(&wrap(18)).unwrap();
        assert!(matches!(
            PassphraseWrapped::parse(&wrap(1)),
            Err(AgeFormatError::WeakWrap(_))
        ));
        // The attack as tried: work factor 1 and the secret key in the clear as the payload;
        // and the same payload under a header of a proper work factor.
        for (log_n, refusal) in [(1, "weak"), (18, "plaintext")] {
            let weak = wrap(log_n);
            let mut binary = dearmor(&weak).unwrap();
            let header = parse_header(&binary).unwrap().unwrap();
            binary.truncate(header.len);
            let mut key_text = secret.clone().into_bytes();
            while !payload_length_ok(key_text.len() as u64) {
                key_text.push(b'\n');
            }
            binary.extend_from_slice(&key_text);
            let armored = {
                let mut out = Vec::new();
                let mut w = age::armor::ArmoredWriter::wrap_output(
                    &mut out,
                    age::armor::Format::AsciiArmor,
                )
                .unwrap();
                w.write_all(&binary).unwrap();
                w.finish().unwrap();
                String::from_utf8(out).unwrap()
            };
            match (refusal, PassphraseWrapped::parse(&armored)) {
                ("weak", Err(AgeFormatError::WeakWrap(_)))
                | ("plaintext", Err(AgeFormatError::PlaintextPayload)) => {}
                (_, other) => panic!("{refusal}: {other:?}"),
            }
        }
        // A file to people's keys is not a wrapped identity, nor a wrap content.
        let to_keys = String::from_utf8(encrypt(secret.as_bytes(), true)).unwrap();
        assert!(PassphraseWrapped::parse(&to_keys).is_err());
        assert!(matches!(
            AgeArmored::parse(&wrap(18)),
            Err(AgeFormatError::NotX25519(_))
        ));
    }

    #[test]
    fn the_ciphertext_test_passes_random_bytes_and_refuses_text() {
        use ring::rand::SecureRandom;
        let rng = ring::rand::SystemRandom::new();
        let check = |bytes: &[u8]| {
            let mut sample = PayloadCheck::default();
            sample.add(bytes);
            sample.finish()
        };
        for n in [32usize, 33, 64, 100, 1000, 5000, 65_536, 200_000] {
            for _ in 0..100 {
                let mut bytes = vec![0u8; n];
                rng.fill(&mut bytes).unwrap();
                assert_eq!(check(&bytes), Ok(()), "{n} random bytes refused");
                assert!(n > 64 || !reads_as_text(&bytes), "{n} random bytes as text");
            }
        }
        let text = "Jane Smith, born 1 March 2015, placed with foster carers; ".repeat(200);
        for n in [32usize, 100, 5000] {
            assert_eq!(
                check(&text.as_bytes()[..n]),
                Err(AgeFormatError::PlaintextPayload),
                "{n} bytes of text passed"
            );
        }
        // UTF-16 text: half zeros.
        let utf16: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(check(&utf16[..8192]), Err(AgeFormatError::PlaintextPayload));
        // Text after 64 KiB (and after 1 MiB) of random bytes, and a short text between two
        // random halves: the whole payload is read, not its start.
        for lead in [65_536usize, 1 << 20] {
            let mut bytes = vec![0u8; lead];
            rng.fill(&mut bytes).unwrap();
            bytes.extend_from_slice(&text.as_bytes()[..3000]);
            assert_eq!(check(&bytes), Err(AgeFormatError::PlaintextPayload));
        }
        let mut bytes = vec![0u8; 300_000];
        rng.fill(&mut bytes).unwrap();
        bytes[150_000..150_064].copy_from_slice(&text.as_bytes()[..64]);
        assert_eq!(check(&bytes), Err(AgeFormatError::PlaintextPayload));
        // A short payload: the nonce's 16 random bytes, then the child's details.
        let mut short = vec![0u8; 16];
        rng.fill(&mut short).unwrap();
        short.extend_from_slice(b"CHILD: Jayden Smith, born 3 March");
        assert_eq!(check(&short), Err(AgeFormatError::PlaintextPayload));
    }

    #[test]
    fn compressed_text_is_refused() {
        use ring::rand::SecureRandom;
        let rng = ring::rand::SystemRandom::new();
        let text = "Jayden Smith, born 3 March 2015, placement breaking down. ".repeat(50);
        let deflated = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 9);
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), 9);
        let mut gzip = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03".to_vec();
        gzip.extend_from_slice(&deflated);
        gzip.extend_from_slice(&[0; 8]);
        let mut nonce = vec![0u8; 16];
        rng.fill(&mut nonce).unwrap();
        let after_nonce = [nonce.clone(), deflated.clone()].concat();
        for (what, payload) in [
            ("raw", &deflated),
            ("zlib", &zlib),
            ("gzip", &gzip),
            ("after the nonce", &after_nonce),
        ] {
            let mut sample = PayloadCheck::default();
            sample.add(payload);
            assert_eq!(
                sample.finish(),
                Err(AgeFormatError::CompressedPayload),
                "{what}"
            );
        }
        let mut zstd = b"\x28\xb5\x2f\xfd".to_vec();
        let mut rest = vec![0u8; 300];
        rng.fill(&mut rest).unwrap();
        zstd.extend_from_slice(&rest);
        let mut sample = PayloadCheck::default();
        sample.add(&zstd);
        assert_eq!(sample.finish(), Err(AgeFormatError::CompressedPayload));
        // Random bytes almost never inflate to anything: many tries, none refused.
        for _ in 0..20_000 {
            let mut bytes = vec![0u8; 200];
            rng.fill(&mut bytes).unwrap();
            assert!(!looks_compressed(&bytes));
        }
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
