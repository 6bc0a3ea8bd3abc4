//! What the log keeps for an IRO: pressure reports, and the receipts of every act.

use std::path::Path;

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
        for r in &receipts {
            let path = dir.join(format!("receipt-{}.json", r.leaf_index));
            let bytes =
                serde_json::to_vec_pretty(r).map_err(|e| ClientError::Profile(e.to_string()))?;
            std::fs::write(&path, bytes).map_err(|e| ClientError::io(&path, e))?;
        }
        text.push_str(&format!(
            " Written to {}; verify each with `iro-advice receipt verify FILE --key KEY`.",
            dir.display()
        ));
    }
    Output::new(text, receipts)
}
