//! Pressure reports: an IRO records being discouraged from seeking advice (or worse), with
//! an optional narrative encrypted on their machine — to themselves, and to NAIRO when they
//! want NAIRO to act on it. Every report is a leaf of the request log.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::Caller;
use crate::accounts::domain::Role;
use crate::accounts::store::{now, parse_stored};
use crate::ciphertext::AgeArmored;
use crate::db::schema::pressure_reports;
use crate::error::ApiError;
use crate::log::{Actor, Event, Kind, Receipt, Subject};
use crate::server::AppState;
use crate::vocabulary::string_enum;

string_enum!(
    /// What kind of pressure.
    PressureKind {
        DiscouragedFromAdvice = "discouraged_from_advice",
        RefusedFunding = "refused_funding",
        ThreatenedDiscipline = "threatened_discipline",
        ToldToUseAuthorityLawyers = "told_to_use_authority_lawyers",
        EscalationBlocked = "escalation_blocked",
        Other = "other",
    }
);

#[derive(Deserialize, ToSchema)]
pub struct ReportRequest {
    kind: PressureKind,
    /// The day it happened, `YYYY-MM-DD`; not in the future.
    #[schema(value_type = String)]
    occurred_on: NaiveDate,
    /// Armored age ciphertext, to the IRO and, when shared, to NAIRO's recipient.
    #[schema(value_type = Option<String>)]
    narrative: Option<AgeArmored>,
    #[serde(default)]
    share_with_nairo: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ReportCreated {
    id: String,
    receipt: Receipt,
}

#[utoipa::path(post, path = "/api/v1/pressure-reports", tag = "pressure", request_body = ReportRequest,
    responses((status = 201, body = ReportCreated), (status = 400, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn report(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let today = now().date();
    if req.occurred_on > today {
        return Err(ApiError::unprocessable(
            "invalid-date",
            "occurred_on is in the future",
        ));
    }
    if req.occurred_on < NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date") {
        return Err(ApiError::unprocessable(
            "invalid-date",
            "occurred_on is before 2000",
        ));
    }
    if let Some(n) = &req.narrative {
        crate::queries::ask::check_recipients(n)?;
    }
    if req.share_with_nairo && state.settings.nairo_recipient.is_none() {
        return Err(ApiError::unprocessable(
            "nairo-recipient-unset",
            "this service has no NAIRO key configured, so nothing can be shared with NAIRO",
        ));
    }
    let authority = caller
        .authority
        .clone()
        .ok_or_else(|| ApiError::Internal("an IRO without an authority".into()))?;
    let id = uuid::Uuid::new_v4().to_string();
    let report_id = id.clone();
    let log = state.log.clone();
    let receipt = state
        .db
        .write(move |conn| -> Result<Receipt, ApiError> {
            diesel::insert_into(pressure_reports::table)
                .values((
                    pressure_reports::id.eq(&report_id),
                    pressure_reports::iro_id.eq(&caller.account_id),
                    pressure_reports::authority_code.eq(authority.as_str()),
                    pressure_reports::kind.eq(req.kind.as_str()),
                    pressure_reports::occurred_on.eq(req.occurred_on),
                    pressure_reports::narrative.eq(req.narrative.as_ref().map(AgeArmored::as_str)),
                    pressure_reports::shared_with_nairo.eq(req.share_with_nairo),
                    pressure_reports::created_at.eq(now()),
                ))
                .execute(conn)?;
            Ok(crate::log::record(
                conn,
                &log,
                Event {
                    kind: Kind::PressureReported,
                    actor: Actor::Account(&caller.account_id),
                    subject: Subject::PressureReport(&report_id),
                    authority: Some(authority.as_str()),
                },
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(ReportCreated { id, receipt }))
}

#[derive(Serialize, ToSchema)]
pub struct ReportView {
    id: String,
    kind: PressureKind,
    occurred_on: String,
    authority_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    narrative: Option<String>,
    shared_with_nairo: bool,
    created_at: String,
}

/// An IRO sees their own reports; a NAIRO reviewer only those shared with NAIRO.
#[utoipa::path(get, path = "/api/v1/pressure-reports", tag = "pressure",
    responses((status = 200, body = [ReportView])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    type Row = (
        String,
        String,
        NaiveDate,
        String,
        Option<String>,
        bool,
        chrono::NaiveDateTime,
    );
    let rows = state
        .db
        .run(move |conn| -> Result<Vec<Row>, ApiError> {
            let query = pressure_reports::table
                .order((pressure_reports::created_at.desc(), pressure_reports::id))
                .select((
                    pressure_reports::id,
                    pressure_reports::kind,
                    pressure_reports::occurred_on,
                    pressure_reports::authority_code,
                    pressure_reports::narrative,
                    pressure_reports::shared_with_nairo,
                    pressure_reports::created_at,
                ))
                .into_boxed();
            let query = match caller.role {
                Role::Iro => query.filter(pressure_reports::iro_id.eq(caller.account_id)),
                Role::Nairo => query.filter(pressure_reports::shared_with_nairo.eq(true)),
                Role::Adviser | Role::Admin => return Ok(Vec::new()),
            };
            Ok(query.load(conn)?)
        })
        .await?;
    let views = rows
        .into_iter()
        .map(
            |(id, kind, occurred_on, authority_code, narrative, shared, created_at)| {
                Ok(ReportView {
                    id,
                    kind: parse_stored(&kind)?,
                    occurred_on: occurred_on.to_string(),
                    authority_code,
                    narrative,
                    shared_with_nairo: shared,
                    created_at: created_at.and_utc().to_rfc3339(),
                })
            },
        )
        .collect::<Result<Vec<_>, diesel::result::Error>>()?;
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Serialize, ToSchema)]
pub struct NairoRecipient {
    age_recipient: String,
}

/// NAIRO's age public key, to encrypt a shared narrative to.
#[utoipa::path(get, path = "/api/v1/nairo/recipient", tag = "pressure",
    responses((status = 200, body = NairoRecipient), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn nairo_recipient(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let recipient = state
        .settings
        .nairo_recipient
        .clone()
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(NairoRecipient {
        age_recipient: recipient,
    }))
}
