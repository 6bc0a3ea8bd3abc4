//! `POST /api/v1/queries`: an IRO asks an adviser.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::{Category, QueryStatus, Stage, Urgency};
use super::store::{self, NewQuery};
use crate::access::Caller;
use crate::accounts::domain::Role;
use crate::accounts::store::eligible_advisers;
use crate::ciphertext::AgeArmored;
use crate::error::ApiError;
use crate::log::{Actor, Event, Kind, Receipt, Subject};
use crate::server::AppState;

#[derive(Deserialize, ToSchema)]
pub struct AskRequest {
    adviser_id: String,
    category: Category,
    stage: Stage,
    urgency: Urgency,
    /// The question, ASCII-armored age ciphertext encrypted to the IRO and the adviser.
    #[schema(value_type = String)]
    body: AgeArmored,
}

#[derive(Serialize, ToSchema)]
pub struct Asked {
    pub id: String,
    pub status: QueryStatus,
    pub receipt: Receipt,
}

/// Refuses ciphertext that a passphrase, rather than people's keys, can open.
pub fn check_recipients(body: &AgeArmored) -> Result<(), ApiError> {
    if body.stanza_types().iter().any(|t| t == "scrypt") {
        return Err(ApiError::bad_request(
            "not-age",
            "encrypt to the participants' age keys, not to a passphrase",
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/queries", tag = "queries", request_body = AskRequest,
    responses((status = 201, body = Asked), (status = 400, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn ask(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AskRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    check_recipients(&req.body)?;
    let authority = caller
        .authority
        .clone()
        .ok_or_else(|| ApiError::Internal("an IRO without an authority".into()))?;
    let public_url = state.settings.public_url.clone();
    let id = uuid::Uuid::new_v4().to_string();
    let query_id = id.clone();
    let log = state.log.clone();
    let receipt = state
        .db
        .write(move |conn| -> Result<Receipt, ApiError> {
            // Checked again here, whatever the client was shown: active, accepting, keyed,
            // and not conflicted with the IRO's authority.
            if eligible_advisers(conn, &authority, Some(&req.adviser_id))?.is_empty() {
                return Err(ApiError::unprocessable(
                    "adviser-not-eligible",
                    "that adviser cannot take this query (unknown, unavailable, without a key, or conflicted with your authority)",
                ));
            }
            store::insert_query(
                conn,
                &NewQuery {
                    id: &query_id,
                    iro_id: &caller.account_id,
                    adviser_id: &req.adviser_id,
                    authority_code: authority.as_str(),
                    category: req.category,
                    stage: req.stage,
                    urgency: req.urgency,
                },
            )?;
            store::insert_message(conn, &query_id, &caller.account_id, Role::Iro, req.body.as_str())?;
                        super::notify(conn, &req.adviser_id, &public_url)?;
            Ok(crate::log::record(
                conn,
                &log,
                Event {
                    kind: Kind::QuerySubmitted,
                    actor: Actor::Account(&caller.account_id),
                    subject: Subject::Query(&query_id),
                    authority: Some(authority.as_str()),
                },
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(Asked {
        id,
        status: QueryStatus::Submitted,
        receipt,
    }))
}
