//! Pressure reports: an IRO records being discouraged from seeking advice (or worse), with
//! an optional narrative encrypted on their machine — to themselves, and to NAIRO when they
//! want NAIRO to act on it. Every report is a leaf of the request log.

pub use iro_advice_model::pressure::{PressureKind, PressureReportId};

pub mod handlers;

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::accounts::profile::logged_key;
use crate::accounts::{Caller, IroCaller};
use crate::db::schema::pressure_reports;
use crate::db::{DbConnection, DbError};
use crate::log::witnessing::Witnessing;
use crate::log::{Actor, Event, KeyProof, Kind, LogError, Receipt, Subject};
use crate::tx::Tx;
use iro_advice_api::{AuthorSignature, ReportView};
use iro_advice_model::accounts::Role;
use iro_advice_model::ciphertext::{require_readers, AgeArmored, TooFewRecipients};
use iro_advice_model::pressure::{report_digest, SIGNED_AS};
use iro_advice_model::signing::verify_digest;

/// What the pressure-report services refuse.
#[derive(Debug, thiserror::Error)]
pub enum PressureError {
    #[error("occurred_on {0}")]
    InvalidDate(&'static str),
    #[error(transparent)]
    TooFewRecipients(#[from] TooFewRecipients),
    #[error("this service has no NAIRO key configured, so nothing can be shared with NAIRO")]
    NairoRecipientUnset,
    #[error("the report's signature is not by the key registered for this account")]
    InvalidSignature,
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Log(#[from] LogError),
}

pub use iro_advice_model::leaf::NAIRO_DIRECTORY_NAME;

/// Logs NAIRO's configured recipient as a key event when it is not the one last logged, so
/// that a client can be proven the key it encrypts shared narratives to, like any other.
/// Run at start; a second instance starting at once finds it logged already.
pub fn log_nairo_key(tx: &mut Tx<'_>, recipient: &str) -> Result<(), PressureError> {
    use crate::db::meta;
    // A key logged before identities were is logged again, with NAIRO's.
    if meta::get(tx.conn, "nairo_key_recipient")?.as_deref() == Some(recipient)
        && meta::get(tx.conn, "nairo_key_identified")?.is_some()
    {
        return Ok(());
    }
    let version = meta::get(tx.conn, "nairo_key_version")?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let receipt = tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::KeyIdentified,
        actor: Actor::Operator,
        subject: Subject::Key {
            account: NAIRO_DIRECTORY_NAME,
            version,
            recipient,
            identity: Some(nairo_identity().identity().digest()),
        },
        authority: None,
    })?;
    meta::set(tx.conn, "nairo_key_recipient", recipient)?;
    meta::set(tx.conn, "nairo_key_version", &version.to_string())?;
    meta::set(tx.conn, "nairo_key_identified", "1")?;
    meta::set(
        tx.conn,
        "nairo_key_leaf",
        &crate::log::published(&receipt)?.to_string(),
    )?;
    Ok(())
}

/// A pressure report as an IRO makes it, parsed.
pub struct NewReport {
    pub kind: PressureKind,
    pub occurred_on: NaiveDate,
    pub narrative: Option<AgeArmored>,
    pub share_with_nairo: bool,
    pub signature: Option<AuthorSignature>,
}

/// Records a pressure report for the IRO, in one transaction with its log leaf; returns the
/// report's id and the receipt. `nairo_configured` says whether sharing is possible at all.
pub fn record_report(
    tx: &mut Tx<'_>,
    iro: &IroCaller,
    req: NewReport,
    nairo_configured: bool,
) -> Result<(PressureReportId, Receipt), PressureError> {
    if req.occurred_on > tx.now().date() {
        return Err(PressureError::InvalidDate("is in the future"));
    }
    if req.occurred_on < EARLIEST {
        return Err(PressureError::InvalidDate("is before 2000"));
    }
    if let Some(n) = &req.narrative {
        // The IRO, and NAIRO when shared.
        let readers = 1 + usize::from(req.share_with_nairo);
        require_readers(n.recipients(), readers)?;
    }
    if req.share_with_nairo && !nairo_configured {
        return Err(PressureError::NairoRecipientUnset);
    }
    // A signature is the IRO's client's to check; one that does not verify against the key
    // the log holds for them is a client's mistake, refused rather than stored to raise a
    // false alarm later.
    if let Some(sig) = &req.signature {
        let digest = report_digest(
            req.kind,
            &req.occurred_on.to_string(),
            req.share_with_nairo,
            req.narrative.as_ref().map(AgeArmored::as_str),
        );
        let refused = logged_key(tx.conn, &iro.account_id)?.is_some_and(|key| {
            !verify_digest(
                &key,
                SIGNED_AS,
                iro.account_id.as_str(),
                sig.signed_at,
                &digest,
                &sig.signature,
            )
        });
        if refused {
            return Err(PressureError::InvalidSignature);
        }
    }
    let id = PressureReportId::generate();
    diesel::insert_into(pressure_reports::table)
        .values((
            pressure_reports::id.eq(&id),
            pressure_reports::iro_id.eq(&iro.account_id),
            pressure_reports::authority_code.eq(iro.authority.as_str()),
            pressure_reports::kind.eq(req.kind.as_str()),
            pressure_reports::occurred_on.eq(req.occurred_on),
            pressure_reports::narrative.eq(req.narrative.as_ref().map(AgeArmored::as_str)),
            pressure_reports::shared_with_nairo.eq(req.share_with_nairo),
            pressure_reports::created_at.eq(tx.now()),
            pressure_reports::signed_at.eq(req.signature.as_ref().map(|s| s.signed_at)),
            pressure_reports::signature.eq(req.signature.as_ref().map(|s| s.signature.as_str())),
        ))
        .execute(tx.conn)?;
    let receipt = tx.record(Event {
        details: crate::log::Details::Pressure(req.kind),
        kind: Kind::PressureReported,
        actor: Actor::Account(iro.account_id.as_str()),
        subject: Subject::PressureReport(id.as_str()),
        authority: Some(iro.authority.as_str()),
    })?;
    Ok((id, receipt))
}

/// No report of pressure can predate the service's subject matter by this much.
const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(date) => date,
    None => panic!("2000-01-01 is a date"),
};

/// A stored pressure report, as its IRO (or NAIRO, when shared) may see it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = pressure_reports)]
pub struct StoredReport {
    id: PressureReportId,
    kind: PressureKind,
    occurred_on: NaiveDate,
    authority_code: String,
    narrative: Option<String>,
    shared_with_nairo: bool,
    created_at: chrono::NaiveDateTime,
    signed_at: Option<i64>,
    signature: Option<String>,
}

impl StoredReport {
    /// The report as `viewer` sees it: its IRO with their signature, NAIRO without (the
    /// signature would name the IRO).
    pub fn view(self, viewer: Role) -> ReportView {
        let signature = match (viewer, self.signed_at, self.signature) {
            (Role::Iro, Some(signed_at), Some(signature)) => Some(AuthorSignature {
                signed_at,
                signature,
            }),
            _ => None,
        };
        ReportView {
            id: self.id,
            kind: self.kind,
            occurred_on: self.occurred_on.to_string(),
            authority_code: self.authority_code,
            narrative: self.narrative,
            shared_with_nairo: self.shared_with_nairo,
            created_at: self.created_at.and_utc().to_rfc3339(),
            signature,
        }
    }
}

/// An IRO's own reports; for NAIRO, those shared with it; nobody else's, newest first.
pub fn visible_reports(
    conn: &mut DbConnection,
    caller: &Caller,
) -> Result<Vec<StoredReport>, PressureError> {
    let query = pressure_reports::table
        .order((pressure_reports::created_at.desc(), pressure_reports::id))
        .select(StoredReport::as_select())
        .into_boxed();
    let query = match caller.role {
        Role::Iro => query.filter(pressure_reports::iro_id.eq(caller.account_id.clone())),
        Role::Nairo => query.filter(pressure_reports::shared_with_nairo.eq(true)),
        Role::Adviser | Role::Admin => return Ok(Vec::new()),
    };
    Ok(query.load(conn)?)
}

/// NAIRO's configured key and the proof of its key event in the served checkpoint, when the
/// logged key is exactly this one.
pub fn nairo_key_proof(
    conn: &mut DbConnection,
    witnessing: &Witnessing,
    configured: &str,
) -> Result<Option<KeyProof>, PressureError> {
    use crate::db::meta;
    // Only the logged key event of exactly this recipient proves it.
    if meta::get(conn, "nairo_key_recipient")?.as_deref() != Some(configured) {
        return Ok(None);
    }
    let Some(leaf) = meta::get(conn, "nairo_key_leaf")?.and_then(|l| l.parse().ok()) else {
        return Ok(None);
    };
    let size = witnessing.served_size(conn)?;
    let proof = crate::log::store::key_proof(conn, leaf, size)?;
    Ok(proof.map(|p| KeyProof {
        identity: Some(nairo_identity()),
        ..p
    }))
}

/// Who NAIRO's key belongs to, as its key event commits to it.
pub fn nairo_identity() -> iro_advice_api::IdentityClaim {
    iro_advice_api::IdentityClaim {
        display_name: "NAIRO".into(),
        role: NAIRO_DIRECTORY_NAME.into(),
        affiliation: String::new(),
        verified: false,
        sra_number: None,
    }
}
