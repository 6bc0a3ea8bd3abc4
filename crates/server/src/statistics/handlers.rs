//! `GET /api/v1/stats/access` (the access report, as JSON or CSV, from the frozen releases
//! only) and `GET /api/v1/stats/releases`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use serde::Serialize;
use serde_json::value::RawValue;

use super::disclosure;
use super::model::{RULE_ENDED, RULE_MEDIANS, RULE_SMALL_AUTHORITIES};
use super::report::{AccessReport, AccessRequest, By};
use super::store::{self, ReleaseListing};
use super::StatisticsError;
use crate::db::now;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use iro_advice_api::paths;
use iro_advice_api::statistics::to_csv;
use iro_advice_model::period::{Month, PeriodLength};

/// The longest range one report covers, in months.
pub const MAX_MONTHS: i64 = 120;

#[derive(Debug, Deserialize, IntoParams)]
pub struct AccessParams {
    /// `authority` or `region` (default `region`).
    #[param(value_type = Option<String>, pattern = "^(authority|region)$")]
    by: Option<String>,
    /// `month`, `quarter` or `year` (default `quarter`).
    #[param(value_type = Option<String>, pattern = "^(month|quarter|year)$")]
    period: Option<String>,
    /// First month, `YYYY-MM`.
    #[param(required = true, value_type = String, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    from: Option<String>,
    /// Last month, `YYYY-MM`, not before `from` and at most 120 months after it; periods
    /// that have not ended are left out.
    #[param(required = true, value_type = String, pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    to: Option<String>,
    /// `json` (default) or `csv`.
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    format: Option<String>,
}

fn invalid(detail: impl Into<String>) -> StatisticsError {
    StatisticsError::InvalidRequest(detail.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl AccessParams {
    pub fn parse(self) -> Result<(AccessRequest, Format), StatisticsError> {
        let by = match self.by.as_deref() {
            None => By::Region,
            Some(s) => s.parse().map_err(|e| invalid(format!("by: {e}")))?,
        };
        let length = match self.period.as_deref() {
            None => PeriodLength::Quarter,
            Some(s) => s.parse().map_err(|e| invalid(format!("period: {e}")))?,
        };
        let month = |name: &str, v: Option<String>| -> Result<Month, StatisticsError> {
            v.ok_or_else(|| invalid(format!("{name} is required (YYYY-MM)")))?
                .parse()
                .map_err(|e| invalid(format!("{name}: {e}")))
        };
        let (from, to) = (month("from", self.from)?, month("to", self.to)?);
        if from > to {
            return Err(invalid("from must not be after to"));
        }
        if from.span(to) > MAX_MONTHS {
            return Err(invalid(format!(
                "a report covers at most {MAX_MONTHS} months"
            )));
        }
        let format = match self.format.as_deref() {
            None | Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some(other) => return Err(invalid(format!("format {other:?} is not json or csv"))),
        };
        Ok((
            AccessRequest {
                by,
                length,
                from,
                to,
            },
            format,
        ))
    }
}

/// The report as served: its header, and each period's table exactly as its release stored
/// it (spliced in, not re-serialised).
#[derive(Serialize)]
struct Served<'a> {
    by: By,
    period: PeriodLength,
    from: String,
    to: String,
    rules: Vec<String>,
    round_totals_to: u64,
    not_yet_ended: Vec<String>,
    /// Ended periods whose release is not built yet (their follow-up window has not passed,
    /// or the service was down): listed, never computed on request.
    not_released: Vec<String>,
    periods: Vec<&'a RawValue>,
}

/// Disclosure-controlled counts of access to advice, from the frozen releases only.
#[utoipa::path(get, path = paths::STATS_ACCESS, tag = "statistics", params(AccessParams),
    responses(
        (status = 200, body = AccessReport, description = "JSON, or text/csv with format=csv"),
        (status = 400, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn access(
    state: web::Data<AppState>,
    params: web::Query<AccessParams>,
) -> Result<HttpResponse, ApiError> {
    let (request, format) = params.into_inner().parse()?;
    let now = now();
    let (ended, not_yet): (Vec<_>, Vec<_>) = request
        .length
        .periods(request.from, request.to)
        .into_iter()
        .partition(|p| p.end.and_hms_opt(0, 0, 0).is_some_and(|end| end <= now));
    let keys: Vec<String> = ended.iter().map(|p| p.key.clone()).collect();
    let by = request.by;
    let stored = state
        .read(move |conn| -> Result<_, StatisticsError> { Ok(store::views(conn, &keys, by)?) })
        .await?;
    let mut rules = vec![
        RULE_ENDED.to_owned(),
        disclosure::RULE_PRIMARY.to_owned(),
        disclosure::RULE_SECONDARY.to_owned(),
    ];
    let round_to = state.settings.statistics.round_totals_to;
    if round_to > 1 {
        rules.push(disclosure::rounding_rule(round_to));
    }
    if by == By::Authority {
        rules.push(RULE_SMALL_AUTHORITIES.to_owned());
    }
    rules.push(RULE_MEDIANS.to_owned());
    let mut periods = Vec::new();
    let mut not_released = Vec::new();
    for p in &ended {
        match stored.get(&p.key) {
            Some(json) => periods.push(
                serde_json::from_str::<&RawValue>(json)
                    .map_err(|e| ApiError::Internal(format!("release {}: {e}", p.key)))?,
            ),
            None => not_released.push(p.key.clone()),
        }
    }
    let served = Served {
        by,
        period: request.length,
        from: request.from.to_string(),
        to: request.to.to_string(),
        rules,
        round_totals_to: round_to,
        not_yet_ended: not_yet.into_iter().map(|p| p.key).collect(),
        not_released,
        periods,
    };
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(served),
        Format::Csv => {
            // The CSV is written from the typed report: read the served JSON back.
            let text =
                serde_json::to_string(&served).map_err(|e| ApiError::Internal(e.to_string()))?;
            let report: AccessReport =
                serde_json::from_str(&text).map_err(|e| ApiError::Internal(e.to_string()))?;
            HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .body(to_csv(&report))
        }
    })
}

/// The frozen releases, each with the hash its log leaf carries.
#[utoipa::path(get, path = paths::STATS_RELEASES, tag = "statistics",
    responses((status = 200, body = [ReleaseListing])),
    security(("bearer" = [])))]
pub async fn releases(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list = state
        .read(|conn| -> Result<_, StatisticsError> { Ok(store::list(conn)?) })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
