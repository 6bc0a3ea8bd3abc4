//! Unanswered queries are a form of pressure too: an adviser who has not accepted within the
//! configured time is reminded, and the IRO told they may route the query elsewhere. Each
//! query is reminded once per adviser, however many instances run the check.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use diesel::prelude::*;

use super::QueryError;
use crate::config::Settings;
use crate::db::now;
use crate::db::schema::queries;
use crate::db::{write_transaction, Database, DbConnection};
use crate::log::{Actor, Event, Kind, Subject};
use crate::tx::{Tx, WriteContext};
use iro_advice_model::accounts::AccountId;
use iro_advice_model::queries::{QueryId, QueryStatus, Urgency};

/// Sends the reminders that are due; returns how many queries were reminded.
pub fn send_due(
    conn: &mut DbConnection,
    settings: &Settings,
    context: &WriteContext,
) -> Result<usize, QueryError> {
    let now = now();
    let routine_due = now - Duration::minutes(settings.queries.reminder_routine_minutes);
    let urgent_due = now - Duration::minutes(settings.queries.reminder_urgent_minutes);
    #[derive(Queryable, Selectable)]
    #[diesel(table_name = queries)]
    struct Due {
        id: QueryId,
        iro_id: AccountId,
        adviser_id: AccountId,
        authority_code: String,
        urgency: Urgency,
    }
    let due: Vec<Due> = queries::table
        .filter(queries::status.eq(QueryStatus::Submitted.as_str()))
        .filter(queries::reminded_at.is_null())
        .filter(
            queries::urgency
                .eq(Urgency::Routine.as_str())
                .and(queries::routed_at.le(routine_due))
                .or(queries::urgency
                    .eq(Urgency::Urgent.as_str())
                    .and(queries::routed_at.le(urgent_due))),
        )
        .select(Due::as_select())
        .load(conn)?;
    let mut sent = 0;
    for Due {
        id,
        iro_id: iro,
        adviser_id: adviser,
        authority_code: authority,
        urgency,
    } in due
    {
        let reminded = write_transaction(conn, |conn| -> Result<bool, QueryError> {
            let mut tx = Tx::new(conn, context);
            // Conditional, so that of several instances only one reminds.
            let claimed = diesel::update(
                queries::table
                    .find(&id)
                    .filter(queries::reminded_at.is_null())
                    .filter(queries::status.eq(QueryStatus::Submitted.as_str()))
                    .filter(queries::adviser_id.eq(&adviser)),
            )
            .set(queries::reminded_at.eq(now))
            .execute(tx.conn)?;
            if claimed == 0 {
                return Ok(false);
            }
            crate::accounts::notices::notify(
                &mut tx,
                &adviser,
                super::service::notice_timing(urgency),
            )?;
            crate::accounts::notices::notify(
                &mut tx,
                &iro,
                super::service::notice_timing(urgency),
            )?;
            tx.record(Event {
                details: crate::log::Details::None,
                kind: Kind::ReminderSent,
                actor: Actor::System,
                subject: Subject::Query(id.as_str()),
                authority: Some(&authority),
            })?;
            Ok(true)
        })?;
        if reminded {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Runs the reminder check, and the sweep of abandoned uploads, until the process stops.
pub fn spawn(db: Database, settings: Arc<Settings>, context: WriteContext) {
    let every = StdDuration::from_secs(settings.queries.reminder_check_secs);
    tokio::task::spawn_local(async move {
        loop {
            let (s, c) = (settings.clone(), context.clone());
            let result = db
                .run(move |conn| -> Result<(usize, usize, usize), QueryError> {
                    let reminded = send_due(conn, &s, &c)?;
                    let swept = super::attachments::sweep_abandoned(conn)?;
                    let erased =
                        super::erasure::apply_retention(conn, &c.log, s.queries.retention_days)?;
                    Ok((reminded, swept, erased))
                })
                .await;
            match result {
                Ok((0, 0, 0)) => {}
                Ok((reminded, swept, erased)) => {
                    tracing::info!(reminded, swept, erased, "query housekeeping")
                }
                Err(e) => tracing::warn!(error = %e, "query housekeeping failed"),
            }
            tokio::time::sleep(every).await;
        }
    });
}
