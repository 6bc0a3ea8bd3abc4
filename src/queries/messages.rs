//! `POST /api/v1/queries/{id}/messages`: a reply, either way.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::domain::QueryStatus;
use super::{notify, store, visible, wrong_state};
use crate::access::Caller;
use crate::accounts::domain::Role;
use crate::ciphertext::AgeArmored;
use crate::error::ApiError;
use crate::log::{Kind, Receipt};
use crate::server::AppState;

#[derive(Deserialize, ToSchema)]
pub struct MessageRequest {
    #[schema(value_type = String)]
    body: AgeArmored,
}

#[derive(Serialize, ToSchema)]
pub struct MessageCreated {
    id: String,
    created_at: String,
    receipt: Receipt,
}

/// The IRO may write while the query waits or is accepted; the adviser once they have
/// accepted it.
pub fn may_write(role: Role, status: QueryStatus) -> bool {
    match role {
        Role::Iro => matches!(status, QueryStatus::Submitted | QueryStatus::Accepted),
        Role::Adviser => status == QueryStatus::Accepted,
        Role::Nairo | Role::Admin => false,
    }
}

#[utoipa::path(post, path = "/api/v1/queries/{id}/messages", tag = "queries", params(("id" = String, Path)),
    request_body = MessageRequest,
    responses((status = 201, body = MessageCreated), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn post(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<MessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = body.into_inner().body;
    super::ask::check_recipients(&body)?;
    let public_url = state.settings.public_url.clone();
    let log = state.log.clone();
    let ((message_id, created_at), receipt) = state
        .db
        .write(move |conn| {
            let q = visible(conn, &caller, &id)?;
            if !may_write(caller.role, q.status) {
                return Err(wrong_state(format!(
                    "no {} message on a {} query",
                    caller.role, q.status
                )));
            }
            let created =
                store::insert_message(conn, &q.id, &caller.account_id, caller.role, body.as_str())?;
            let counterpart = if caller.role == Role::Iro {
                &q.adviser_id
            } else {
                &q.iro_id
            };
            notify(conn, counterpart, &public_url)?;
            let receipt = super::record(conn, &log, Kind::MessageSent, &caller.account_id, &q)?;
            Ok::<_, ApiError>((created, receipt))
        })
        .await?;
    Ok(HttpResponse::Created().json(MessageCreated {
        id: message_id,
        created_at: created_at.and_utc().to_rfc3339(),
        receipt,
    }))
}
