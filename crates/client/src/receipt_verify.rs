//! `iro-advice receipt verify`: what a receipt proves, to anyone holding it and the log's
//! key, and whether the log still holds it. Offline for the signatures and the inclusion
//! proof; a newer checkpoint (a file, or the service's current one) shows whether the tree
//! the receipt is in was later rolled back or forked.

use std::path::PathBuf;

use iro_advice_api::paths;
use iro_advice_api::ConsistencyProof;
use iro_advice_api::Receipt;
use iro_advice_tlog::merkle::Hash;
use iro_advice_tlog::note::Checkpoint;
use iro_advice_tlog::trust::{check_extends, Trust};

pub struct Request {
    pub file: PathBuf,
    pub key: String,
    pub witnesses: Vec<String>,
    pub quorum: Option<usize>,
    pub checkpoint: Option<PathBuf>,
    pub server: Option<String>,
    pub ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Receipt(#[from] iro_advice_api::ReceiptError),
    #[error("{0}")]
    Trust(#[from] iro_advice_tlog::trust::TrustError),
    #[error("--server: {0}")]
    Server(String),
    #[error(
        "the receipt's tree ({held} leaves) and the newer checkpoint ({newer} leaves) differ in \
         size: give --server URL to fetch the proof that one extends the other"
    )]
    NeedsProof { held: u64, newer: u64 },
    #[error(
        "FAILED: {0}. The log no longer holds the tree this receipt is in: the act it records \
         may have been erased. Keep this receipt and both checkpoints, and tell NAIRO."
    )]
    Rewritten(iro_advice_tlog::trust::Rewrite),
}

fn read(path: &std::path::Path) -> Result<String, VerifyError> {
    std::fs::read_to_string(path).map_err(|e| VerifyError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Checks the receipt and prints what it proves; Err when anything fails to verify.
pub fn verify(request: Request) -> Result<(), VerifyError> {
    let text = read(&request.file)?;
    let receipt: Receipt = serde_json::from_str(&text).map_err(|e| VerifyError::File {
        path: request.file.display().to_string(),
        reason: format!("not a receipt: {e}"),
    })?;
    let key = match std::fs::read_to_string(&request.key) {
        Ok(contents) => contents.trim().to_owned(),
        Err(_) => request.key.trim().to_owned(),
    };
    let checkpoint = receipt.verify(&key)?;
    let quorum = request.quorum.unwrap_or(request.witnesses.len());
    let trust = Trust::new(&key, &request.witnesses, quorum)?;
    let (_, cosigned) = trust.open(receipt.checkpoint.as_deref().unwrap_or_default())?;
    // An opaque leaf says nothing by itself: the receipt's opening must open it, or the
    // receipt proves nothing about the act it claims.
    let summary = receipt.read()?;
    println!(
        "receipt verified: a {} event at {} UTC{}{}, leaf {} of the log {}",
        summary.kind,
        summary.at.format("%Y-%m-%d %H:%M:%S"),
        summary
            .authority
            .map(|a| format!(" for authority {a}"))
            .unwrap_or_default(),
        receipt
            .opening
            .as_ref()
            .filter(|o| !o.details.is_empty())
            .map(|o| format!(" ({})", o.details.replace(';', ", ")))
            .unwrap_or_default(),
        receipt.leaf_index.unwrap_or_default(),
        checkpoint.origin
    );
    println!(
        "in its tree of {} leaves, root {}",
        checkpoint.size,
        iro_advice_model::hex(&checkpoint.root)
    );
    for (name, time) in &cosigned {
        let at = chrono::DateTime::from_timestamp(*time as i64, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| time.to_string());
        println!("cosigned by the witness {name} at {at}");
    }
    if request.checkpoint.is_none() && request.server.is_none() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| VerifyError::Server(e.to_string()))?;
    runtime.block_on(check_newer(&request, &trust, &checkpoint))
}

/// Checks that the newer checkpoint (from the file, else the server) extends the receipt's.
async fn check_newer(
    request: &Request,
    trust: &Trust,
    held: &Checkpoint,
) -> Result<(), VerifyError> {
    let http = match &request.server {
        Some(_) => {
            let ca = request.ca.as_deref().map(read).transpose()?;
            Some(
                iro_advice_tlog::https::client(
                    ca.as_deref().map(str::as_bytes),
                    std::time::Duration::from_secs(20),
                )
                .map_err(VerifyError::Server)?,
            )
        }
        None => None,
    };
    let server = request.server.as_deref().map(|s| s.trim_end_matches('/'));
    let note = match (&request.checkpoint, &http, server) {
        (Some(path), _, _) => read(path)?,
        (None, Some(http), Some(server)) => {
            fetch(http, &format!("{server}{}", paths::LOG_CHECKPOINT))
                .await?
                .text()
                .await
                .map_err(|e| VerifyError::Server(e.to_string()))?
        }
        _ => return Ok(()),
    };
    let (newer, _) = trust.open(&note)?;
    let proof: Vec<Hash> = if newer.size > held.size {
        let (Some(http), Some(server)) = (&http, server) else {
            return Err(VerifyError::NeedsProof {
                held: held.size,
                newer: newer.size,
            });
        };
        let url = format!(
            "{server}{}?from={}&to={}",
            paths::LOG_CONSISTENCY,
            held.size,
            newer.size
        );
        let answer: ConsistencyProof = match fetch(http, &url).await {
            Ok(res) => res
                .json()
                .await
                .map_err(|e| VerifyError::Server(e.to_string()))?,
            // A log that shrank below the newer size cannot prove anything about it.
            Err(VerifyError::Server(why)) => {
                return Err(VerifyError::Server(format!(
                    "no consistency proof from {} to {} leaves: {why}",
                    held.size, newer.size
                )))
            }
            Err(e) => return Err(e),
        };
        iro_advice_tlog::decode_hashes(&answer.hashes)
            .ok_or_else(|| VerifyError::Server("a malformed consistency proof".into()))?
    } else {
        Vec::new()
    };
    check_extends(held, &newer, &proof).map_err(VerifyError::Rewritten)?;
    println!(
        "still in the log: the newer checkpoint of {} leaves extends the receipt's tree",
        newer.size
    );
    Ok(())
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<reqwest::Response, VerifyError> {
    let res = http
        .get(url)
        .send()
        .await
        .map_err(|e| VerifyError::Server(e.to_string()))?;
    if !res.status().is_success() {
        return Err(VerifyError::Server(format!(
            "{url} answered {}",
            res.status()
        )));
    }
    Ok(res)
}
