//! What can go wrong in the client, said so that the user knows what to do.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Profile(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{}", describe_http(.0))]
    Http(#[from] reqwest::Error),
    #[error("the server refused ({status} {kind}): {detail}")]
    Api {
        status: u16,
        kind: String,
        detail: String,
    },
    #[error("encryption: {0}")]
    Crypto(String),
    /// The service's log went back or forked: the one failure with its own exit status (3).
    #[error("{0}")]
    Rewritten(String),
    /// A correspondent's key could not be trusted; nothing was encrypted to it.
    #[error("{0}")]
    KeyRefused(String),
    /// A key event for the user's own account that this profile did not make (exit 4).
    #[error("{0}")]
    KeyAlarm(String),
    /// NAIRO's audit found the log or a release wrong (exit 5).
    #[error("{0}")]
    Audit(String),
}

/// Says which failure a connection had, in terms of what to do about it: a certificate not
/// trusted (or not the one given with --ca), a name it is not for, a service not answering,
/// or one that does not speak TLS.
fn describe_http(e: &reqwest::Error) -> String {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let has = |needle: &str| chain.contains(needle);
    let what = if has("UnknownIssuer") || has("unknown issuer") || has("BadSignature") {
        "the server's certificate is not one this profile trusts: give the certificate to \
         trust with --ca FILE (for a development service, its data/tls/dev-cert.pem), or check \
         that the --ca given is this server's"
    } else if has("NotValidForName") || has("not valid for name") {
        "the server's certificate is for another name than the address given with --server"
    } else if has("Expired") || has("expired") || has("NotValidYet") {
        "the server's certificate has expired (or is not valid yet): tell the operator"
    } else if has("InvalidContentType") || has("invalid message") || has("CorruptMessage") {
        "the server did not answer in TLS: is the address an http:// service, or the wrong port?"
    } else if e.is_timeout() {
        "the server did not answer in time"
    } else if e.is_connect() {
        "cannot connect to the server: is the address right, and is it running?"
    } else {
        "the connection to the server failed"
    };
    format!("{what} ({chain})")
}

impl ClientError {
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        ClientError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// A file the user named, read whole.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::io(path, e))
}
