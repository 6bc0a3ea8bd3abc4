//! `POST` and `GET /api/v1/pressure-reports`, `GET /api/v1/nairo/recipient`.

use actix_web::{web, HttpResponse};
use iro_advice_api::{paths, NairoRecipient, ReportCreated, ReportRequest, ReportView};

use super::{nairo_key_proof, record_report, visible_reports, NewReport};
use crate::accounts::{Caller, IroCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;

#[utoipa::path(post, path = paths::PRESSURE_REPORTS, tag = "pressure", request_body = ReportRequest,
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
        signature: req.signature,
    };
    let (id, receipt) = state
        .write(move |tx| record_report(tx, &iro, req, nairo_configured))
        .await?;
    Ok(HttpResponse::Created().json(ReportCreated { id, receipt }))
}

/// An IRO sees their own reports; a NAIRO reviewer only those shared with NAIRO.
#[utoipa::path(get, path = paths::PRESSURE_REPORTS, tag = "pressure",
    responses((status = 200, body = [ReportView])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let viewer = caller.role;
    let reports = state
        .read(move |conn| visible_reports(conn, &caller))
        .await?;
    let views: Vec<ReportView> = reports.into_iter().map(|r| r.view(viewer)).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// NAIRO's age public key, to encrypt a shared narrative to.
#[utoipa::path(get, path = paths::NAIRO_RECIPIENT, tag = "pressure",
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
        .read(move |conn| nairo_key_proof(conn, &witnessing, &configured))
        .await?;
    Ok(HttpResponse::Ok().json(NairoRecipient {
        age_recipient: recipient,
        key_proof,
    }))
}
