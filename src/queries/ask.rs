//! `POST /api/v1/queries`: an IRO asks an adviser.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::{Category, QueryId, QueryStatus, Stage, Urgency};
use super::service::{self, AskInput};
use crate::access::IroCaller;
use crate::accounts::domain::AccountId;
use crate::app::AppState;
use crate::ciphertext::AgeArmored;
use crate::error::ApiError;
use crate::log::Receipt;

#[derive(Deserialize, ToSchema)]
pub struct AskRequest {
    adviser_id: AccountId,
    category: Category,
    stage: Stage,
    urgency: Urgency,
    /// The question, ASCII-armored age ciphertext encrypted to the IRO and the adviser.
    #[schema(value_type = String)]
    body: AgeArmored,
}

#[derive(Serialize, ToSchema)]
pub struct Asked {
    pub id: QueryId,
    pub status: QueryStatus,
    pub receipt: Receipt,
}

#[utoipa::path(post, path = "/api/v1/queries", tag = "queries", request_body = AskRequest,
    responses((status = 201, body = Asked), (status = 400, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
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
        body: req.body,
    };
    let (id, receipt) = state.write(move |tx| service::ask(tx, &iro, input)).await?;
    Ok(HttpResponse::Created().json(Asked {
        id,
        status: QueryStatus::Submitted,
        receipt,
    }))
}
