//! What the log keeps for an IRO: pressure reports, and the receipts of every act.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::api::Api;
use super::crypto::encrypt_armored;
use super::error::{read_file, ClientError};
use super::output::Output;
use iro_advice_api::paths;
use iro_advice_api::Receipt;
use iro_advice_api::{
    AuthorSignature, Me, NairoRecipient, ReportCreated, ReportRequest, ReportView,
};
use iro_advice_model::pressure::{report_digest, PressureKind, SIGNED_AS};
use iro_advice_model::signing::{sign_digest, verify_digest};
use iro_advice_tlog::trust::Trust;

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
                let nairo: NairoRecipient = api.get(paths::NAIRO_RECIPIENT).await?;
                recipients.push(
                    super::keys::verified_recipient(
                        api,
                        "NAIRO",
                        iro_advice_model::leaf::NAIRO_DIRECTORY_NAME,
                        &nairo.age_recipient,
                        nairo.key_proof.as_ref(),
                    )
                    .await?,
                );
            }
            Some(encrypt_armored(&read_file(file)?, &recipients)?)
        }
        None => None,
    };
    // Signed for the IRO's own client to check later; the service shows it to no one else.
    let digest = report_digest(
        kind,
        &date.to_string(),
        share_with_nairo,
        narrative
            .as_ref()
            .map(iro_advice_model::ciphertext::AgeArmored::as_str),
    );
    let signed_at = chrono::Utc::now().timestamp();
    let signature = {
        use age::secrecy::ExposeSecret;
        let secret = api.identity()?.to_string();
        sign_digest(
            secret.expose_secret(),
            SIGNED_AS,
            &api.account_id()?,
            signed_at,
            &digest,
        )
        .ok_or_else(|| ClientError::Crypto("cannot sign with this identity".into()))?
    };
    let request = ReportRequest {
        kind,
        occurred_on: date,
        narrative: narrative.map(Into::into),
        share_with_nairo,
        signature: Some(AuthorSignature {
            signed_at,
            signature,
        }),
    };
    let created: ReportCreated = api.post(paths::PRESSURE_REPORTS, &request).await?;
    Output::new(
        format!(
            "{}\n{}",
            match created.receipt.leaf_index {
                Some(index) => format!("Recorded in the log as leaf {index}."),
                None => "Recorded; the log publishes it with its next batch.".to_owned(),
            },
            created.id
        ),
        created,
    )
}

/// Stops with an alarm when the service holds a pressure report in this IRO's name that
/// their key did not sign: one the operator made for them (to plant a report, or to put
/// words in a narrative NAIRO reads). Checked at every command, once this profile has a key.
pub async fn check_own_reports(api: &Api, me: &Me) -> Result<(), ClientError> {
    if me.role != iro_advice_model::accounts::Role::Iro {
        return Ok(());
    }
    // The keys this profile made, and the one in an identity file given to it in the clear
    // (a recovery file from the page): never the key the service says the account has.
    let mut keys = api.profile().own_keys()?;
    keys.extend(super::crypto::plain_identity_recipient(
        &api.profile().identity_path(),
    ));
    if keys.is_empty() {
        return Ok(());
    }
    let reports: Vec<ReportView> = api.get(paths::PRESSURE_REPORTS).await?;
    for r in &reports {
        let digest = report_digest(
            r.kind,
            &r.occurred_on,
            r.shared_with_nairo,
            r.narrative.as_deref(),
        );
        let signed = r.signature.as_ref().is_some_and(|s| {
            keys.iter().any(|k| {
                verify_digest(
                    k,
                    SIGNED_AS,
                    me.id.as_str(),
                    s.signed_at,
                    &digest,
                    &s.signature,
                )
            })
        });
        if !signed {
            return Err(ClientError::KeyAlarm(format!(
                "ALARM: the service holds a pressure report in your name that your key did not \
                 sign ({}, {}, made {}): someone made it for you, or changed it. Do not rely on \
                 it; tell NAIRO and your service operator.",
                r.kind, r.occurred_on, r.created_at
            )));
        }
    }
    Ok(())
}

/// Fetches this account's receipts; with `--out`, saves those whose checkpoint the pinned
/// witnesses have cosigned (the others are completed by the service later), each under its
/// leaf hash, never overwriting, with the newest checkpoint.
pub async fn receipts(api: &Api, out: Option<&Path>) -> Result<Output, ClientError> {
    let receipts: Vec<Receipt> = api.get(paths::ME_RECEIPTS).await?;
    let pinned = api.profile().pinned()?.ok_or_else(|| {
        ClientError::Profile("this profile has no pinned log key: log in again".into())
    })?;
    let trust = Trust::new(&pinned.log_key, &pinned.witnesses, pinned.quorum)
        .map_err(|e| ClientError::Profile(format!("trust.json: {e}")))?;
    let mut complete = Vec::new();
    let (mut pending, mut unpublished) = (0, 0);
    for r in &receipts {
        // Every receipt's opening must open its leaf, published or not.
        r.read()
            .map_err(|e| ClientError::Profile(format!("a receipt of yours: {e}")))?;
        let (Some(index), Some(checkpoint)) = (r.leaf_index, &r.checkpoint) else {
            unpublished += 1;
            continue;
        };
        r.verify(&pinned.log_key)
            .map_err(|e| ClientError::Profile(format!("receipt {index}: {e}")))?;
        if trust.open(checkpoint).is_ok() {
            complete.push(r);
        } else {
            pending += 1;
        }
    }
    let mut text = format!("{} receipt(s).", receipts.len());
    if unpublished > 0 {
        text.push_str(&format!(
            " {unpublished} wait for the log's next publication (it publishes in batches, so that no act can be dated to the minute)."
        ));
    }
    if pending > 0 {
        text.push_str(&format!(
            " {pending} await the witnesses' cosignatures; run this again shortly to keep them."
        ));
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| ClientError::io(dir, e))?;
        let mut kept = 0;
        for r in &complete {
            let bytes =
                serde_json::to_vec_pretty(r).map_err(|e| ClientError::Profile(e.to_string()))?;
            let name = format!("receipt-{}.json", leaf_hash_hex(r)?);
            let path = dir.join(name);
            kept += usize::from(
                iro_advice_model::files::write_new(&path, &bytes)
                    .map_err(|e| ClientError::io(&path, e))?,
            );
        }
        // The newest checkpoint too: evidence of what the log had signed, should it later
        // show a shorter or different tree.
        if let Some(newest) = complete
            .iter()
            .max_by_key(|r| r.leaf_index)
            .and_then(|r| r.checkpoint.as_ref())
        {
            let digest = Sha256::digest(newest.as_bytes());
            let name = format!("checkpoint-{}.txt", hex(&digest[..8]));
            let path = dir.join(name);
            iro_advice_model::files::write_new(&path, newest.as_bytes())
                .map_err(|e| ClientError::io(&path, e))?;
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
    Ok(hex(&iro_advice_tlog::merkle::leaf_hash(&data)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
