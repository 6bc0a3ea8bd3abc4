//! `GET /api/v1/queries` and `GET /api/v1/queries/{id}`.

use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;

use super::domain::QueryId;
use super::{attachments, store};
use crate::access::Caller;
use crate::app::AppState;
use crate::error::ApiError;
use crate::wire::{AttachmentView, MessageView, QueryDetail, QuerySummary};

fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339()
}

/// The caller's own queries (IRO) or those addressed to them (adviser), newest first.
#[utoipa::path(get, path = "/api/v1/queries", tag = "queries",
    responses((status = 200, body = [QuerySummary])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let listed = state
        .db
        .run(move |conn| {
            store::list_for(conn, &caller.account_id, caller.role).map_err(ApiError::from)
        })
        .await?;
    let out: Vec<QuerySummary> = listed
        .into_iter()
        .map(|l| QuerySummary {
            id: l.query.id,
            status: l.query.status,
            category: l.query.category,
            stage: l.query.stage,
            urgency: l.query.urgency,
            outcome: l.query.outcome,
            authority_code: l.query.authority_code,
            iro_name: l.iro_name,
            adviser_id: l.query.adviser_id,
            adviser_name: l.adviser_name,
            message_count: l.messages,
            created_at: rfc3339(l.query.created_at),
            routed_at: rfc3339(l.query.routed_at),
            accepted_at: l.query.accepted_at.map(rfc3339),
            closed_at: l.query.closed_at.map(rfc3339),
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/queries/{id}", tag = "queries",
    params(("id" = String, Path)),
    responses((status = 200, body = QueryDetail), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<QueryId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let detail = state
        .db
        .run(move |conn| -> Result<QueryDetail, ApiError> {
            let q = super::service::visible(conn, &caller, &id)?;
            let iro_name = store::display_name(conn, &q.iro_id)?;
            let adviser_name = store::display_name(conn, &q.adviser_id)?;
            let iro_recipient = store::recipient(conn, &q.iro_id)?;
            let adviser_recipient = store::recipient(conn, &q.adviser_id)?;
            let messages: Vec<MessageView> = store::messages_of(conn, &q.id)?
                .into_iter()
                .map(|m| MessageView {
                    id: m.id,
                    sender_role: m.sender_role,
                    created_at: rfc3339(m.created_at),
                    body: m.body,
                })
                .collect();
            let attachments = attachments::list(conn, &q.id)?
                .into_iter()
                .map(|a| AttachmentView {
                    id: a.id,
                    size: a.size,
                    created_at: rfc3339(a.created_at),
                })
                .collect();
            Ok(QueryDetail {
                summary: QuerySummary {
                    message_count: messages.len() as i64,
                    id: q.id,
                    status: q.status,
                    category: q.category,
                    stage: q.stage,
                    urgency: q.urgency,
                    outcome: q.outcome,
                    authority_code: q.authority_code,
                    iro_name,
                    adviser_id: q.adviser_id,
                    adviser_name,
                    created_at: rfc3339(q.created_at),
                    routed_at: rfc3339(q.routed_at),
                    accepted_at: q.accepted_at.map(rfc3339),
                    closed_at: q.closed_at.map(rfc3339),
                },
                iro_recipient,
                adviser_recipient,
                messages,
                attachments,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}
