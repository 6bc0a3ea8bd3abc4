//! Pressure reports: an IRO records being discouraged from seeking advice (or worse), with
//! an optional narrative encrypted on their machine — to themselves, and to NAIRO when they
//! want NAIRO to act on it. Every report is a leaf of the request log.

pub use iro_advice_model::pressure::{PressureKind, PressureReportId};

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::pressure_reports;
use crate::db::DbConnection;
use crate::http::access::{Caller, IroCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::log::{Actor, Event, Kind, Receipt, Subject};
use crate::tx::Tx;
use iro_advice_api::{NairoRecipient, ReportCreated, ReportRequest, ReportView};
use iro_advice_model::accounts::Role;
use iro_advice_model::ciphertext::AgeArmored;
use iro_advice_model::problem::ProblemType;

pub use iro_advice_model::leaf::NAIRO_DIRECTORY_NAME;

/// Logs NAIRO's configured recipient as a key event when it is not the one last logged, so
/// that a client can be proven the key it encrypts shared narratives to, like any other.
/// Run at start; a second instance starting at once finds it logged already.
pub fn log_nairo_key(tx: &mut Tx<'_>, recipient: &str) -> Result<(), ApiError> {
    use crate::db::meta;
    if meta::get(tx.conn, "nairo_key_recipient")?.as_deref() == Some(recipient) {
        return Ok(());
    }
    let version = meta::get(tx.conn, "nairo_key_version")?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let receipt = tx.record(Event {
        kind: Kind::KeyRegistered,
        actor: Actor::Operator,
        subject: Subject::Key {
            account: NAIRO_DIRECTORY_NAME,
            version,
            recipient,
        },
        authority: None,
    })?;
    meta::set(tx.conn, "nairo_key_recipient", recipient)?;
    meta::set(tx.conn, "nairo_key_version", &version.to_string())?;
    meta::set(tx.conn, "nairo_key_leaf", &receipt.leaf_index.to_string())?;
    Ok(())
}

/// A pressure report as an IRO makes it, parsed.
pub struct NewReport {
    pub kind: PressureKind,
    pub occurred_on: NaiveDate,
    pub narrative: Option<AgeArmored>,
    pub share_with_nairo: bool,
}

/// Records a pressure report for the IRO, in one transaction with its log leaf; returns the
/// report's id and the receipt. `nairo_configured` says whether sharing is possible at all.
pub fn record_report(
    tx: &mut Tx<'_>,
    iro: &IroCaller,
    req: NewReport,
    nairo_configured: bool,
) -> Result<(PressureReportId, Receipt), ApiError> {
    if req.occurred_on > tx.now().date() {
        return Err(ApiError::unprocessable(
            ProblemType::InvalidDate,
            "occurred_on is in the future",
        ));
    }
    if req.occurred_on < EARLIEST {
        return Err(ApiError::unprocessable(
            ProblemType::InvalidDate,
            "occurred_on is before 2000",
        ));
    }
    if let Some(n) = &req.narrative {
        // The IRO, and NAIRO when shared.
        let readers = 1 + usize::from(req.share_with_nairo);
        crate::queries::service::check_recipients(n.recipients(), readers)?;
    }
    if req.share_with_nairo && !nairo_configured {
        return Err(ApiError::unprocessable(
            ProblemType::NairoRecipientUnset,
            "this service has no NAIRO key configured, so nothing can be shared with NAIRO",
        ));
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
        ))
        .execute(tx.conn)?;
    let receipt = tx.record(Event {
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

#[utoipa::path(post, path = "/api/v1/pressure-reports", tag = "pressure", request_body = ReportRequest,
    responses((status = 201, body = ReportCreated), (status = 400, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn report(
    state: web::Data<AppState>,
    iro: IroCaller,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let nairo_configured = state.settings.nairo.recipient.is_some();
    let req = body.into_inner();
    let req = NewReport {
        kind: req.kind,
        occurred_on: req.occurred_on,
        narrative: req.narrative.map(|n| n.content()).transpose()?,
        share_with_nairo: req.share_with_nairo,
    };
    let (id, receipt) = state
        .write(move |tx| record_report(tx, &iro, req, nairo_configured))
        .await?;
    Ok(HttpResponse::Created().json(ReportCreated { id, receipt }))
}

/// An IRO sees their own reports; a NAIRO reviewer only those shared with NAIRO.
#[utoipa::path(get, path = "/api/v1/pressure-reports", tag = "pressure",
    responses((status = 200, body = [ReportView])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let reports = state
        .read(move |conn| visible_reports(conn, &caller))
        .await?;
    let views: Vec<ReportView> = reports.into_iter().map(ReportView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

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
}

impl From<StoredReport> for ReportView {
    fn from(r: StoredReport) -> Self {
        ReportView {
            id: r.id,
            kind: r.kind,
            occurred_on: r.occurred_on.to_string(),
            authority_code: r.authority_code,
            narrative: r.narrative,
            shared_with_nairo: r.shared_with_nairo,
            created_at: r.created_at.and_utc().to_rfc3339(),
        }
    }
}

/// An IRO's own reports; for NAIRO, those shared with it; nobody else's, newest first.
pub fn visible_reports(
    conn: &mut DbConnection,
    caller: &Caller,
) -> Result<Vec<StoredReport>, ApiError> {
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

/// NAIRO's age public key, to encrypt a shared narrative to.
#[utoipa::path(get, path = "/api/v1/nairo/recipient", tag = "pressure",
    responses((status = 200, body = NairoRecipient), (status = 404, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn nairo_recipient(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let recipient = state
        .settings
        .nairo
        .recipient
        .clone()
        .ok_or(ApiError::NotFound)?;
    let (witnessing, configured) = (state.storage.witnessing.clone(), recipient.clone());
    let key_proof = state
        .read(move |conn| -> Result<_, ApiError> {
            use crate::db::meta;
            // Only the logged key event of exactly this recipient proves it.
            if meta::get(conn, "nairo_key_recipient")?.as_deref() != Some(configured.as_str()) {
                return Ok(None);
            }
            let Some(leaf) = meta::get(conn, "nairo_key_leaf")?.and_then(|l| l.parse().ok()) else {
                return Ok(None);
            };
            let size = witnessing.served_size(conn)?;
            Ok(crate::log::store::key_proof(conn, leaf, size)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(NairoRecipient {
        age_recipient: recipient,
        key_proof,
    }))
}
