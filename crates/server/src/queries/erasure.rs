//! Erasure: for retention or an erasure request, a query's ciphertext and attachments are
//! deleted. Its metadata row and every log leaf stay, so the log still verifies and the
//! statistics still count it; the erasure itself becomes a leaf.

use chrono::Duration;
use diesel::prelude::*;

use crate::db::now;
use crate::db::schema::{attachment_chunks, attachments, messages, pressure_reports, queries};
use crate::db::{write_transaction, DbConnection};
use crate::log::{Actor, Event, Kind, LogError, LogKeys, Subject};

#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("no such query")]
    NotFound,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Erases a query's content; false if it was erased already.
pub fn erase_query(
    conn: &mut DbConnection,
    log: &LogKeys,
    id: &str,
    actor: Actor<'_>,
) -> Result<bool, EraseError> {
    write_transaction(conn, |conn| {
        #[derive(Queryable, Selectable)]
        #[diesel(table_name = queries)]
        struct Erasable {
            authority_code: String,
            erased_at: Option<chrono::NaiveDateTime>,
        }
        let Erasable {
            authority_code: authority,
            erased_at,
        } = queries::table
            .find(id)
            .select(Erasable::as_select())
            .first(conn)
            .optional()?
            .ok_or(EraseError::NotFound)?;
        if erased_at.is_some() {
            return Ok(false);
        }
        diesel::update(messages::table.filter(messages::query_id.eq(id)))
            .set(messages::body.eq(None::<String>))
            .execute(conn)?;
        let attached: Vec<String> = attachments::table
            .filter(attachments::query_id.eq(id))
            .select(attachments::id)
            .load(conn)?;
        for a in &attached {
            diesel::delete(attachment_chunks::table.filter(attachment_chunks::attachment_id.eq(a)))
                .execute(conn)?;
        }
        diesel::update(attachments::table.filter(attachments::query_id.eq(id)))
            .set(attachments::state.eq("erased"))
            .execute(conn)?;
        diesel::update(queries::table.find(id))
            .set(queries::erased_at.eq(now()))
            .execute(conn)?;
        crate::log::record(
            conn,
            log,
            Event {
                details: crate::log::Details::None,
                kind: Kind::ContentErased,
                actor,
                subject: Subject::Query(id),
                authority: Some(&authority),
            },
        )?;
        Ok(true)
    })
}

/// Erases a pressure report's narrative; false if it had none.
pub fn erase_pressure_report(
    conn: &mut DbConnection,
    log: &LogKeys,
    id: &str,
    actor: Actor<'_>,
) -> Result<bool, EraseError> {
    write_transaction(conn, |conn| {
        #[derive(Queryable, Selectable)]
        #[diesel(table_name = pressure_reports)]
        struct Erasable {
            authority_code: String,
            narrative: Option<String>,
        }
        let Erasable {
            authority_code: authority,
            narrative,
        } = pressure_reports::table
            .find(id)
            .select(Erasable::as_select())
            .first(conn)
            .optional()?
            .ok_or(EraseError::NotFound)?;
        if narrative.is_none() {
            return Ok(false);
        }
        diesel::update(pressure_reports::table.find(id))
            .set(pressure_reports::narrative.eq(None::<String>))
            .execute(conn)?;
        crate::log::record(
            conn,
            log,
            Event {
                details: crate::log::Details::None,
                kind: Kind::ContentErased,
                actor,
                subject: Subject::PressureReport(id),
                authority: Some(&authority),
            },
        )?;
        Ok(true)
    })
}

/// Erases the content of queries closed more than `days` ago; returns how many.
pub fn apply_retention(
    conn: &mut DbConnection,
    log: &LogKeys,
    days: i64,
) -> Result<usize, EraseError> {
    if days <= 0 {
        return Ok(0);
    }
    let cutoff = now() - Duration::days(days);
    let due: Vec<String> = queries::table
        .filter(queries::closed_at.lt(cutoff))
        .filter(queries::erased_at.is_null())
        .select(queries::id)
        .load(conn)?;
    let mut erased = 0;
    for id in due {
        if erase_query(conn, log, &id, Actor::System)? {
            erased += 1;
        }
    }
    Ok(erased)
}
