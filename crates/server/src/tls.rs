//! The server's TLS: rustls with the ring provider, TLS 1.2 and 1.3 only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

use iro_advice_tlog::https::provider;

use crate::config::{ServerSettings, Settings};

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    Files(TlsFiles),
    /// A self-signed certificate kept under the data directory (dev profile only).
    Generated,
}

/// The certificate's files, or a generated one (the settings' check refused the rest).
pub fn source(server: &ServerSettings) -> TlsSource {
    match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => TlsSource::Files(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => TlsSource::Generated,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{setting}: cannot read {path}: {reason}")]
    Read {
        setting: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{setting}: {path} holds no {what}")]
    Empty {
        setting: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("{setting}: the certificate and key do not make a usable pair: {reason}")]
    Pair {
        setting: &'static str,
        reason: rustls::Error,
    },
    #[error("cannot write the development certificate under {path}: {reason}")]
    Generate { path: PathBuf, reason: String },
}

/// Builds the server configuration, generating a development certificate if allowed and
/// none exists yet. Its certificate is read again from the files by
/// [`ReloadableCertificate::reload`] (on SIGHUP), so a renewed certificate needs no restart.
pub fn server_config(
    settings: &Settings,
) -> Result<(ServerConfig, Arc<ReloadableCertificate>), TlsError> {
    let files = match source(&settings.server) {
        TlsSource::Files(files) => files,
        TlsSource::Generated => ensure_dev_certificate(&settings.server.data_dir)?,
    };
    let names = ("IRO_ADVICE_TLS_CERT", "IRO_ADVICE_TLS_KEY");
    let certificate = Arc::new(ReloadableCertificate::load(files, names)?);
    Ok((config_for(certificate.clone(), names.0)?, certificate))
}

/// A server configuration from PEM files; errors name them by `names` (the settings or
/// flags they came from).
pub fn server_config_from(
    files: &TlsFiles,
    names: (&'static str, &'static str),
) -> Result<ServerConfig, TlsError> {
    config_for(
        Arc::new(ReloadableCertificate::load(files.clone(), names)?),
        names.0,
    )
}

fn config_for(
    certificate: Arc<ReloadableCertificate>,
    setting: &'static str,
) -> Result<ServerConfig, TlsError> {
    // actix-web adds the http/1.1 ALPN protocol itself when it binds; it is built without
    // HTTP/2 (see Cargo.toml), so h2 is never offered.
    Ok(ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|reason| TlsError::Pair { setting, reason })?
        .with_no_client_auth()
        .with_cert_resolver(certificate))
}

/// The service's certificate and key, as last read from their files. New connections get
/// whatever is current; a reload that fails (a half-written file, a key that does not match)
/// changes nothing, so a mistake while renewing never takes the service down.
#[derive(Debug)]
pub struct ReloadableCertificate {
    files: TlsFiles,
    names: (&'static str, &'static str),
    current: std::sync::RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCertificate {
    fn load(files: TlsFiles, names: (&'static str, &'static str)) -> Result<Self, TlsError> {
        let key = certified_key(&files, names)?;
        Ok(ReloadableCertificate {
            files,
            names,
            current: std::sync::RwLock::new(Arc::new(key)),
        })
    }

    /// Reads the files again; on success new connections get the new certificate. Returns
    /// its fingerprint.
    pub fn reload(&self) -> Result<String, TlsError> {
        let key = certified_key(&self.files, self.names)?;
        let fingerprint = fingerprint(&key.cert[0]);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(fingerprint)
    }
}

impl ResolvesServerCert for ReloadableCertificate {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn certified_key(
    files: &TlsFiles,
    names: (&'static str, &'static str),
) -> Result<CertifiedKey, TlsError> {
    let certs = read_certs(&files.cert, names.0)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Read {
        setting: names.1,
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(|reason| TlsError::Pair {
        setting: names.0,
        reason,
    })
}

fn read_certs(
    path: &Path,
    setting: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Read {
            setting,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            setting,
            path: path.to_owned(),
            what: "certificate",
        });
    }
    Ok(certs)
}

/// Where the development certificate lives under a data directory.
pub fn dev_certificate_files(data_dir: &Path) -> TlsFiles {
    let dir = data_dir.join("tls");
    TlsFiles {
        cert: dir.join("dev-cert.pem"),
        key: dir.join("dev-key.pem"),
    }
}

/// Returns the development certificate's files, creating a self-signed certificate for
/// 127.0.0.1 and localhost on first use.
pub fn ensure_dev_certificate(data_dir: &Path) -> Result<TlsFiles, TlsError> {
    let files = dev_certificate_files(data_dir);
    if files.cert.is_file() && files.key.is_file() {
        return Ok(files);
    }
    let fail = |reason: String| TlsError::Generate {
        path: files.cert.clone(),
        reason,
    };
    let certified = rcgen::generate_simple_self_signed(vec![
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(|e| fail(e.to_string()))?;
    let dir = files
        .cert
        .parent()
        .expect("the dev certificate path has a parent directory");
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    iro_advice_model::files::write_private(
        &files.key,
        certified.signing_key.serialize_pem().as_bytes(),
    )
    .map_err(|e| fail(e.to_string()))?;
    std::fs::write(&files.cert, certified.cert.pem()).map_err(|e| fail(e.to_string()))?;
    tracing::info!(
        certificate = %files.cert.display(),
        sha256 = %fingerprint(certified.cert.der()),
        "generated a self-signed development certificate; trust it with `--ca {}`",
        files.cert.display()
    );
    Ok(files)
}

/// The SHA-256 fingerprint of the first certificate in a PEM file, as colon-separated hex.
pub fn certificate_fingerprint(path: &Path) -> Result<String, TlsError> {
    let certs = read_certs(path, "IRO_ADVICE_TLS_CERT")?;
    Ok(fingerprint(&certs[0]))
}

fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
