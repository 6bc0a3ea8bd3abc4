//! HTTPS as every part of the project speaks it: rustls with the ring provider (the one
//! crypto provider in the process, client or server), TLS 1.2 and 1.3 only.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The one crypto provider used by every TLS endpoint in the process, client or server.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTP(S) client with this process's TLS: trusting `ca` (PEM) if given, else the
/// system's roots. Errors are one line, for the setting or flag that named the CA.
pub fn client(
    ca: Option<&[u8]>,
    connect_timeout: std::time::Duration,
) -> Result<reqwest::Client, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut tls = match ca {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("--ca: {e}"))?;
                roots.add(cert).map_err(|e| format!("--ca: {e}"))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider())
                .map_err(|e| format!("system certificates: {e}"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(connect_timeout)
        // actix closes a connection idle for 5 s; reusing one at that moment fails a POST
        // (which is not retried) with "incomplete message". Idle connections are dropped
        // first, so a pause between requests (a passphrase prompt) costs a handshake instead.
        .pool_idle_timeout(POOL_IDLE)
        .build()
        .map_err(|e| e.to_string())
}

/// Below the server's keep-alive (actix's default, 5 s).
pub const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(3);
