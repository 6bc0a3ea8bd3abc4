//! `POST /api/v1/queries`: an IRO asks an adviser.

use actix_web::{web, HttpResponse};

use crate::accounts::IroCaller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::queries::service::{self, AskInput};
use iro_advice_api::{paths, AskRequest, Asked};
use iro_advice_model::queries::QueryStatus;

#[utoipa::path(post, path = paths::QUERIES, tag = "queries", request_body = AskRequest,
    responses((status = 201, body = Asked), (status = 400, body = iro_advice_api::Problem),
              (status = 422, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn ask(
    state: web::Data<AppState>,
    iro: IroCaller,
    body: web::Json<AskRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let input = AskInput {
        adviser_id: req.adviser_id,
        category: req.category,
        stage: req.stage,
        urgency: req.urgency,
        body: req.body.content()?,
    };
    let (id, receipt) = state.write(move |tx| service::ask(tx, &iro, input)).await?;
    Ok(HttpResponse::Created().json(Asked {
        id,
        status: QueryStatus::Submitted,
        receipt,
    }))
}
