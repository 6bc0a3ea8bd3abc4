//! Attachments in and out with constant memory: files are encrypted or decrypted on a worker
//! thread while the bytes stream to or from the server through small bounded channels.

use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use tokio::sync::mpsc;

use super::api::{check, Api};
use super::crypto;
use super::envelope::Envelope;
use super::error::ClientError;
use iro_advice_api::paths;
use iro_advice_api::AttachmentCreated;

/// Bytes per piece handed between the worker and the network.
const PIECE: usize = 256 * 1024;
/// Pieces in flight: with PIECE, the most either side buffers.
const IN_FLIGHT: usize = 4;

/// A progress bar for anything over a megabyte, drawn only on a terminal.
fn progress(len: Option<u64>) -> ProgressBar {
    match len {
        Some(len) if len > 1024 * 1024 => {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .expect("a valid template"),
            );
            bar
        }
        _ => ProgressBar::hidden(),
    }
}

/// A `Write` that hands full pieces to an async receiver.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = PIECE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// A `Read` over pieces arriving from an async sender.
struct ChannelReader {
    rx: mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(piece) => self.current = piece,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

fn join<T>(worker: std::thread::JoinHandle<Result<T, ClientError>>) -> Result<T, ClientError> {
    worker
        .join()
        .map_err(|_| ClientError::Crypto("the encryption worker failed".into()))?
}

/// Streams the encrypted bytes produced by `produce` (on a worker thread) as the body of a
/// request, and returns the server's JSON answer.
async fn stream_up(
    api: &Api,
    path: &str,
    method: Method,
    produce: impl FnOnce(ChannelWriter) -> Result<(), ClientError> + Send + 'static,
) -> Result<AttachmentCreated, ClientError> {
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let worker = std::thread::spawn(move || {
        produce(ChannelWriter {
            tx,
            buf: Vec::with_capacity(PIECE),
        })
    });
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|piece| (piece, rx))
    }));
    let request = api.request(method, path).await?;
    let sent = request
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .send()
        .await;
    let produced = join(worker);
    let res = check(sent?).await?;
    produced?;
    let created: AttachmentCreated = res.json().await?;
    if let Some(receipt) = &created.receipt {
        super::kept::keep(api.profile(), receipt)?;
    }
    Ok(created)
}

/// SHA-256 of a file, read once through.
fn file_digest(file: &Path) -> Result<[u8; 32], ClientError> {
    use sha2::{Digest, Sha256};
    let mut input = std::fs::File::open(file).map_err(|e| ClientError::io(file, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut input, &mut h).map_err(|e| ClientError::io(file, e))?;
    Ok(h.finalize().into())
}

/// Encrypts a file to the recipients and uploads it to `query`, signed by the user's key as
/// theirs there (the signature travels in the envelope, inside the encryption).
pub async fn upload(
    api: &Api,
    query: &str,
    method: Method,
    file: &Path,
    recipients: &[age::x25519::Recipient],
) -> Result<AttachmentCreated, ClientError> {
    let path = paths::fill(paths::QUERY_ATTACHMENTS, &[query]);
    let digest = file_digest(file)?;
    let mut envelope = Envelope::for_file(file);
    envelope.signed = Some(super::envelope::FileSignature::new(
        api,
        &api.identity()?,
        query,
        &digest,
    )?);
    let input = std::fs::File::open(file).map_err(|e| ClientError::io(file, e))?;
    let len = input
        .metadata()
        .map_err(|e| ClientError::io(file, e))?
        .len();
    let bar = progress(Some(len));
    let worker_bar = bar.clone();
    let recipients = recipients.to_vec();
    let header = envelope.header();
    let result = stream_up(api, &path, method, move |out| {
        let mut reader = worker_bar.wrap_read(BufReader::with_capacity(PIECE, input));
        crypto::encrypt_stream(&header, &mut reader, out, &recipients)
    })
    .await;
    bar.finish_and_clear();
    result
}

/// A file that hashes what is written to it.
struct Hashed {
    inner: std::fs::File,
    hash: sha2::Sha256,
}

impl Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hash, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Feeds a download's bytes to a worker-side reader.
async fn stream_down(
    res: reqwest::Response,
    tx: mpsc::Sender<bytes::Bytes>,
) -> Result<(), ClientError> {
    let mut stream = res.bytes_stream();
    while let Some(piece) = stream.next().await {
        if tx.send(piece?).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// A decrypted attachment, not yet under its final name.
pub struct Downloaded {
    /// A hidden file beside where it will go; the caller renames or removes it.
    pub partial: PathBuf,
    pub bytes: u64,
    /// The name and type sent inside the encryption; None for an older attachment.
    pub envelope: Option<Envelope>,
    /// SHA-256 of the file as written, which its sender's signature must cover.
    pub digest: [u8; 32],
}

/// Downloads and decrypts an attachment into a hidden partial file in `dir` (owner-only);
/// on any failure nothing is left.
pub async fn download(
    api: &Api,
    id: &str,
    dir: &Path,
    identity: &age::x25519::Identity,
) -> Result<Downloaded, ClientError> {
    let res = check(
        api.request(Method::GET, &paths::fill(paths::ATTACHMENT, &[id]))
            .await?
            .send()
            .await?,
    )
    .await?;
    let bar = progress(res.content_length());
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let partial = dir.join(format!(".{id}.partial"));
    let (worker_partial, worker_bar, identity) = (partial.clone(), bar.clone(), identity.clone());
    let worker = std::thread::spawn(
        move || -> Result<(u64, Option<Envelope>, [u8; 32]), ClientError> {
            let reader = worker_bar.wrap_read(ChannelReader {
                rx,
                current: bytes::Bytes::new(),
            });
            let mut plain = crypto::decrypt_reader(reader, &identity)?;
            let (envelope, start) =
                Envelope::read(&mut plain).map_err(|e| ClientError::Crypto(e.to_string()))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let io = |e| ClientError::io(&worker_partial, e);
            let mut file = Hashed {
                inner: options.open(&worker_partial).map_err(io)?,
                hash: <sha2::Sha256 as sha2::Digest>::new(),
            };
            file.write_all(&start).map_err(io)?;
            let rest = std::io::copy(&mut plain, &mut file)
                .map_err(|e| ClientError::Crypto(e.to_string()))?;
            file.inner.sync_all().map_err(io)?;
            let digest = sha2::Digest::finalize(file.hash).into();
            Ok((start.len() as u64 + rest, envelope, digest))
        },
    );
    let fed = stream_down(res, tx).await;
    let decrypted = join(worker);
    bar.finish_and_clear();
    match (fed, decrypted) {
        (Ok(()), Ok((bytes, envelope, digest))) => Ok(Downloaded {
            partial,
            bytes,
            envelope,
            digest,
        }),
        (Err(e), _) | (_, Err(e)) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Re-encrypts an attachment for new recipients: download, decrypt, encrypt and upload at
/// once, never holding the file. The upload goes to `target`: the attachment itself (`PUT`)
/// or, when that may no longer be replaced, its query as a new copy (`POST`).
pub async fn reencrypt(
    api: &Api,
    id: &str,
    target: (Method, &str),
    identity: &age::x25519::Identity,
    recipients: &[age::x25519::Recipient],
) -> Result<AttachmentCreated, ClientError> {
    let res = check(
        api.request(Method::GET, &paths::fill(paths::ATTACHMENT, &[id]))
            .await?
            .send()
            .await?,
    )
    .await?;
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let (identity, recipients) = (identity.clone(), recipients.to_vec());
    let (method, path) = target;
    let upload = stream_up(api, path, method, move |out| {
        // Decrypt straight into the encrypting writer.
        let encryptor = iro_advice_model::age_writer::StrictEncryptor::with_recipients(&recipients)
            .map_err(|e| ClientError::Crypto(e.to_string()))?;
        let mut writer = encryptor
            .wrap_output(out)
            .map_err(|e| ClientError::Crypto(e.to_string()))?;
        let reader = ChannelReader {
            rx,
            current: bytes::Bytes::new(),
        };
        crypto::decrypt_stream(reader, &mut writer, &identity)?;
        writer
            .finish()
            .map(iro_advice_model::age_writer::Ungreased::into_inner)
            .and_then(|mut w| w.flush())
            .map_err(|e| ClientError::Crypto(e.to_string()))
    });
    let (fed, uploaded) = tokio::join!(stream_down(res, tx), upload);
    fed?;
    uploaded
}
