//! A small SMTP server on loopback, with STARTTLS, for tests to receive real mail with.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: String,
    pub over_tls: bool,
}

pub struct SmtpServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// While set, a message is stored when its data ends but its `250` is held back: the
    /// sender has handed it over and does not yet know.
    held: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
    /// Dropping it stops the server.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl SmtpServer {
    /// Starts on `port` (0 for any free one), on its own runtime so it is independent of the
    /// server under test.
    pub fn start(port: u16) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        std::fs::write(dir.path().join("smtp-ca.pem"), certified.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("smtp-key.der"),
            certified.signing_key.serialize_der(),
        )
        .unwrap();
        Self::serve(dir, port)
    }

    /// Another server with the same certificate as `other` (a restart of the same host).
    pub fn start_with_ca_of(other: &SmtpServer, port: u16) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        for f in ["smtp-ca.pem", "smtp-key.der"] {
            std::fs::copy(other._dir.path().join(f), dir.path().join(f)).unwrap();
        }
        Self::serve(dir, port)
    }

    pub fn ca(&self) -> PathBuf {
        self._dir.path().join("smtp-ca.pem")
    }

    fn serve(dir: tempfile::TempDir, port: u16) -> SmtpServer {
        use rustls::pki_types::pem::PemObject;
        let ca = dir.path().join("smtp-ca.pem");
        let cert = rustls::pki_types::CertificateDer::from_pem_file(&ca).unwrap();
        let key_der = std::fs::read(dir.path().join("smtp-key.der")).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(key_der).unwrap();
        let config =
            rustls::ServerConfig::builder_with_provider(iro_advice_tlog::https::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        // Its own thread and runtime: the test's runtime cannot host another.
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let held = Arc::new(AtomicBool::new(false));
        let hold = held.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let accept_loop = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            break;
                        };
                        let acceptor = acceptor.clone();
                        let store = store.clone();
                        let hold = hold.clone();
                        tokio::spawn(async move {
                            if let Some(plain) = session(stream, false, &store, true, &hold).await {
                                if let Ok(tls) = acceptor.accept(plain).await {
                                    session(tls, true, &store, false, &hold).await;
                                }
                            }
                        });
                    }
                };
                tokio::select! {
                    _ = accept_loop => {}
                    _ = stopped => {}
                }
            });
        });
        SmtpServer {
            port,
            received,
            held,
            _dir: dir,
            _stop: stop,
        }
    }

    /// Holds back (or lets go) the answer to each message's data: see `held`.
    pub fn hold(&self, on: bool) {
        self.held.store(on, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` messages have arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} messages arrived",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One SMTP conversation; returns the stream when the client asks for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    over_tls: bool,
    store: &Mutex<Vec<Received>>,
    greet: bool,
    held: &AtomicBool,
) -> Option<S> {
    let mut io = BufReader::new(stream);
    if greet {
        io.get_mut()
            .write_all(b"220 127.0.0.1 ESMTP test\r\n")
            .await
            .ok()?;
    }
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if over_tls {
                b"250-127.0.0.1\r\n250 8BITMIME\r\n"
            } else {
                b"250-127.0.0.1\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
            }
        } else if upper.starts_with("STARTTLS") && !over_tls {
            io.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
            return Some(io.into_inner());
        } else if upper.starts_with("MAIL FROM") {
            to.clear();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO") {
            let addr = line[8..].trim().trim_start_matches(':').trim();
            to.push(addr.trim_matches(|c| c == '<' || c == '>').to_owned());
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            io.get_mut().write_all(b"354 go on\r\n").await.ok()?;
            let mut data = String::new();
            loop {
                line.clear();
                if io.read_line(&mut line).await.ok()? == 0 {
                    return None;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().unwrap().push(Received {
                to: std::mem::take(&mut to),
                data,
                over_tls,
            });
            while held.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = io.get_mut().write_all(b"221 bye\r\n").await;
            return None;
        } else {
            b"250 ok\r\n"
        };
        io.get_mut().write_all(reply).await.ok()?;
    }
}
