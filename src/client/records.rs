//! What the log keeps for an IRO: pressure reports, and the receipts of every act.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::api::Api;
use super::crypto::{self, encrypt_armored};
use super::error::{read_file, ClientError};
use super::output::Output;
use crate::log::Receipt;
use crate::pressure::domain::PressureKind;
use crate::wire::{NairoRecipient, ReportCreated, ReportRequest};

pub async fn pressure(
    api: &Api,
    kind: PressureKind,
    date: chrono::NaiveDate,
    narrative: Option<&Path>,
    share_with_nairo: bool,
) -> Result<Output, ClientError> {
    let narrative = match narrative {
        Some(file) => {
            let mut recipients = vec![api.identity()?.to_public()];
            if share_with_nairo {
                let nairo: NairoRecipient = api.get("/api/v1/nairo/recipient").await?;
                recipients.push(crypto::recipient(&nairo.age_recipient)?);
            }
            Some(encrypt_armored(&read_file(file)?, &recipients)?)
        }
        None => None,
    };
    let request = ReportRequest {
        kind,
        occurred_on: date,
        narrative,
        share_with_nairo,
    };
    let created: ReportCreated = api.post("/api/v1/pressure-reports", &request).await?;
    Output::new(
        format!(
            "Recorded in the log as leaf {}.\n{}",
            created.receipt.leaf_index, created.id
        ),
        created,
    )
}

pub async fn receipts(api: &Api, out: Option<&Path>) -> Result<Output, ClientError> {
    let receipts: Vec<Receipt> = api.get("/api/v1/me/receipts").await?;
    let mut text = format!("{} receipt(s).", receipts.len());
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| ClientError::io(dir, e))?;
        let mut kept = 0;
        for r in &receipts {
            let bytes =
                serde_json::to_vec_pretty(r).map_err(|e| ClientError::Profile(e.to_string()))?;
            let name = format!("receipt-{}.json", leaf_hash_hex(r)?);
            kept += usize::from(write_new(&dir.join(name), &bytes)?);
        }
        // The newest checkpoint too: evidence of what the log had signed, should it later
        // show a shorter or different tree.
        if let Some(newest) = receipts.iter().max_by_key(|r| r.leaf_index) {
            let digest = Sha256::digest(newest.checkpoint.as_bytes());
            let name = format!("checkpoint-{}.txt", hex(&digest[..8]));
            write_new(&dir.join(name), newest.checkpoint.as_bytes())?;
        }
        text.push_str(&format!(
            " {kept} new, written to {}; none is ever overwritten. Verify each with \
             `iro-advice receipt verify FILE --key KEY`.",
            dir.display()
        ));
    }
    Output::new(text, receipts)
}

/// The leaf's hash (RFC 9162: SHA-256 of 0x00 and the leaf data), in hex: a receipt's name
/// that no other leaf can take, whatever index a rewritten log gives it.
fn leaf_hash_hex(receipt: &Receipt) -> Result<String, ClientError> {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(&receipt.leaf_data)
        .map_err(|e| ClientError::Profile(format!("a receipt's leaf data: {e}")))?;
    Ok(hex(&crate::log::merkle::leaf_hash(&data)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file that does not exist yet; true if it was written, false if it was there.
fn write_new(path: &Path, bytes: &[u8]) -> Result<bool, ClientError> {
    use std::io::Write;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(bytes)
                .map_err(|e| ClientError::io(path, e))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(ClientError::io(path, e)),
    }
}
