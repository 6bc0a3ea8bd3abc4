//! The body of a C2SP tlog-witness `add-checkpoint` request, parsed strictly: an old size
//! line, at most 63 consistency proof lines, an empty line, then the signed checkpoint; the
//! log's side writes it with [`AddCheckpoint::format`], the witness's side reads it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::merkle::Hash;

/// The most consistency proof lines a client may send.
pub const MAX_PROOF_LINES: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed note, exactly as sent: its text, a blank line, its signature lines.
    pub note: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed add-checkpoint request: {0}")]
pub struct MalformedRequest(pub &'static str);

/// An ASCII decimal with no leading zeroes (but `0` itself).
fn decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

impl AddCheckpoint {
    pub fn parse(body: &str) -> Result<Self, MalformedRequest> {
        let (head, note) = body
            .split_once("\n\n")
            .ok_or(MalformedRequest("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old_size = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(decimal)
            .ok_or(MalformedRequest("the first line must be `old <size>`"))?;
        let proof = lines
            .map(|l| {
                B64.decode(l)
                    .ok()
                    .and_then(|h| Hash::try_from(h).ok())
                    .ok_or(MalformedRequest(
                        "a proof line is not a base64 SHA-256 hash",
                    ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(MalformedRequest("more than 63 consistency proof lines"));
        }
        if note.is_empty() || !note.ends_with('\n') {
            return Err(MalformedRequest("the checkpoint must end with a newline"));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            note: note.to_owned(),
        })
    }

    /// The request body, as a log submits it.
    pub fn format(old_size: u64, proof: &[Hash], note: &str) -> String {
        let mut body = format!("old {old_size}\n");
        for line in crate::encode_hashes(proof) {
            body.push_str(&line);
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        body
    }

    /// The note's text (the checkpoint body, with its final newline) and its signature lines.
    pub fn split_note(&self) -> Option<(&str, &str)> {
        let at = self.note.rfind("\n\n")?;
        Some((&self.note[..at + 1], &self.note[at + 2..]))
    }
}

/// A witness a log submits its checkpoints to: where `add-checkpoint` is posted, and the
/// cosignature/v1 key its cosignatures verify with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessEndpoint {
    pub url: url::Url,
    pub key: String,
}

/// What is wrong with a witness as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("{0}")]
    Url(String),
    #[error("must be a witness's cosignature/v1 verifier key, as `witness init` prints it")]
    Key,
}

impl WitnessEndpoint {
    /// A witness's base URL (`http://` or `https://` with a host, no query), to which
    /// `/add-checkpoint` is appended, and its verifier key.
    pub fn parse(base: &str, key: &str) -> Result<Self, EndpointError> {
        let bad = |why: &str| EndpointError::Url(format!("{base:?} {why}"));
        let mut url =
            url::Url::parse(base.trim()).map_err(|e| bad(&format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(bad("must be an http:// or https:// URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not carry a query or fragment"));
        }
        let path = format!("{}/add-checkpoint", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let key = key.trim().to_owned();
        crate::cosignature::CosignatureVerifier::parse(&key).map_err(|_| EndpointError::Key)?;
        Ok(WitnessEndpoint { url, key })
    }

    /// The witness's name, as its key gives it.
    pub fn name(&self) -> &str {
        self.key.split('+').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example request body of c2sp.org/tlog-witness.
    const SPEC_EXAMPLE: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";

    #[test]
    fn the_specs_example_parses() {
        let r = AddCheckpoint::parse(SPEC_EXAMPLE).unwrap();
        assert_eq!(r.old_size, 20852014);
        assert_eq!(r.proof.len(), 4);
        assert_eq!(
            B64.encode(r.proof[3]),
            "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0="
        );
        let (text, sigs) = r.split_note().unwrap();
        assert_eq!(
            text,
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        assert_eq!(sigs.lines().count(), 2);
    }

    #[test]
    fn an_empty_proof_is_allowed() {
        let r = AddCheckpoint::parse("old 0\n\nlog\n0\nroot\n\nsig\n").unwrap();
        assert_eq!((r.old_size, r.proof.len()), (0, 0));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let hash = "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n";
        for body in [
            "".to_owned(),
            "old 5\n".to_owned(),
            "old 05\n\nlog\n5\nr\n\ns\n".to_owned(),
            "old -1\n\nlog\n5\nr\n\ns\n".to_owned(),
            "old  5\n\nlog\n5\nr\n\ns\n".to_owned(),
            "new 5\n\nlog\n5\nr\n\ns\n".to_owned(),
            "old 5\nnot base64!\n\nlog\n5\nr\n\ns\n".to_owned(),
            "old 5\nAAAA\n\nlog\n5\nr\n\ns\n".to_owned(),
            format!("old 5\n{}\nlog\n5\nr\n\ns\n", hash.repeat(64)),
            "old 5\n\nlog\n5\nr\n\ns".to_owned(),
        ] {
            assert!(AddCheckpoint::parse(&body).is_err(), "{body:?}");
        }
        let most = format!("old 5\n{}\nlog\n5\nr\n\ns\n", hash.repeat(63));
        assert!(AddCheckpoint::parse(&most).is_ok());
    }
}
