//! `GET /api/v1/queries` and `GET /api/v1/queries/{id}`: the queries a person may see, as
//! lists and threads show them.

use actix_web::{web, HttpResponse};
use chrono::NaiveDateTime;

use crate::accounts::Caller;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::queries::{attachments, store, QueryError};
use iro_advice_api::{paths, AttachmentView, DeclineView, MessageView, QueryDetail, QuerySummary};
use iro_advice_model::queries::{QueryId, QueryStatus, Urgency};

fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339()
}

/// How long a query waits for acceptance before the adviser is reminded, by urgency.
#[derive(Clone, Copy)]
pub struct ReminderTimes {
    pub routine_minutes: i64,
    pub urgent_minutes: i64,
}

impl ReminderTimes {
    fn of(state: &AppState) -> ReminderTimes {
        ReminderTimes {
            routine_minutes: state.settings.queries.reminder_routine_minutes,
            urgent_minutes: state.settings.queries.reminder_urgent_minutes,
        }
    }

    /// When a query still waiting for acceptance is due a reminder.
    fn due(self, query: &store::Query) -> Option<NaiveDateTime> {
        let minutes = match query.urgency {
            Urgency::Urgent => self.urgent_minutes,
            Urgency::Routine => self.routine_minutes,
        };
        (query.status == QueryStatus::Submitted)
            .then(|| query.routed_at + chrono::Duration::minutes(minutes))
    }
}

/// A query as lists show it, with its participants' names and its message count.
fn summary(
    query: store::Query,
    iro_name: String,
    adviser_name: String,
    messages: i64,
    reminders: ReminderTimes,
) -> QuerySummary {
    let reminder = reminders.due(&query);
    QuerySummary {
        reminder_at: reminder.map(rfc3339),
        waited_past_reminder: reminder.is_some_and(|due| due <= crate::db::now()),
        id: query.id,
        status: query.status,
        category: query.category,
        stage: query.stage,
        urgency: query.urgency,
        outcome: query.outcome,
        authority_code: query.authority_code,
        iro_id: query.iro_id,
        iro_name,
        adviser_id: query.adviser_id,
        adviser_name,
        message_count: messages,
        created_at: rfc3339(query.created_at),
        routed_at: rfc3339(query.routed_at),
        accepted_at: query.accepted_at.map(rfc3339),
        closed_at: query.closed_at.map(rfc3339),
    }
}

/// The query with its messages and attachments, if the caller may see it.
pub fn detail(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &QueryId,
    witnessing: &crate::log::witnessing::Witnessing,
    keys: &crate::log::LogKeys,
    reminders: ReminderTimes,
) -> Result<QueryDetail, QueryError> {
    let q = crate::queries::service::visible(conn, keys, caller, id)?;
    let iro_name = store::display_name(conn, &q.iro_id)?;
    let adviser_name = store::display_name(conn, &q.adviser_id)?;
    let iro_recipient = store::recipient(conn, &q.iro_id)?;
    let adviser_recipient = store::recipient(conn, &q.adviser_id)?;
    let mut proofs = crate::accounts::directory::key_proofs(
        conn,
        witnessing,
        &[q.iro_id.clone(), q.adviser_id.clone()],
    )?;
    let iro_key_proof = proofs.remove(&q.iro_id);
    let adviser_key_proof = proofs.remove(&q.adviser_id);
    let messages: Vec<MessageView> = store::messages_of(conn, &q.id)?
        .into_iter()
        .map(|m| MessageView {
            id: m.id,
            sender_id: m.sender_id,
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
            replaceable: a.uploader_id == caller.account_id && a.first_read_at.is_none(),
        })
        .collect();
    let declines = if q.iro_id == caller.account_id {
        store::declines_of(conn, &q.id)?
            .into_iter()
            .map(|d| DeclineView {
                adviser_name: d.adviser_name,
                reason: d.reason,
                declined_at: rfc3339(d.declined_at),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(QueryDetail {
        declines,
        summary: summary(q, iro_name, adviser_name, messages.len() as i64, reminders),
        iro_recipient,
        adviser_recipient,
        iro_key_proof,
        adviser_key_proof,
        messages,
        attachments,
    })
}

/// The caller's own queries (IRO) or those addressed to them (adviser), newest first.
#[utoipa::path(get, path = paths::QUERIES, tag = "queries",
    responses((status = 200, body = [QuerySummary])), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let reminders = ReminderTimes::of(&state);
    let listed = state
        .read(move |conn| {
            store::list_for(conn, &caller.account_id, caller.role).map_err(QueryError::from)
        })
        .await?;
    let out: Vec<QuerySummary> = listed
        .into_iter()
        .map(|l| summary(l.query, l.iro_name, l.adviser_name, l.messages, reminders))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = paths::QUERY, tag = "queries",
    params(("id" = String, Path)),
    responses((status = 200, body = QueryDetail), (status = 404, body = iro_advice_api::Problem)),
    security(("bearer" = [])))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<QueryId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let witnessing = state.storage.witnessing.clone();
    let keys = state.storage.context.log.clone();
    let reminders = ReminderTimes::of(&state);
    let detail = state
        .read(move |conn| detail(conn, &caller, &id, &witnessing, &keys, reminders))
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}
