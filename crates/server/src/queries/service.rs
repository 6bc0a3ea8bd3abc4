//! What happens to a query, as plain functions over one write transaction and a typed
//! caller: asked, accepted, declined, routed, answered, closed. The HTTP handlers only adapt
//! requests to these, so each rule can be tested on both databases without HTTPS.

use std::collections::HashSet;

use chrono::NaiveDateTime;

use super::store::{self, NewQuery, Query};
use super::QueryError;
use crate::accounts::directory::eligible as eligible_advisers;
use crate::accounts::{Caller, IroCaller};
use crate::db::DbConnection;
use crate::log::{Actor, Details, Event, Kind, LogKeys, Receipt, Subject};
use crate::mail::When;
use crate::tx::Tx;
use iro_advice_model::accounts::AccountId;
use iro_advice_model::accounts::Role;
use iro_advice_model::ciphertext::{require_readers, AgeArmored};
use iro_advice_model::queries::{
    Category, DeclineReason, MessageId, Outcome, QueryId, QueryStatus, Stage, Urgency,
};

/// The query if the caller may see it (otherwise 404, as if it did not exist), checked
/// against its latest status act in the log (see [`super::logged`]): opening a query, and
/// every act on it, comes through here.
pub fn visible(
    conn: &mut DbConnection,
    keys: &LogKeys,
    caller: &Caller,
    id: &QueryId,
) -> Result<Query, QueryError> {
    let q = store::visible_query(conn, id, &caller.account_id, caller.role)?
        .ok_or(QueryError::NotFound)?;
    super::logged::check(conn, keys, &q)?;
    Ok(q)
}

/// A refusal because the query is not in a state that allows the act.
pub fn wrong_state(detail: impl Into<String>) -> QueryError {
    QueryError::WrongState(detail.into())
}

/// Refuses ciphertext with fewer X25519 recipients than it has readers: content that
/// someone who should read it cannot, or that was never encrypted to them.
pub fn check_recipients(recipients: usize, readers: usize) -> Result<(), QueryError> {
    Ok(require_readers(recipients, readers)?)
}

/// When a notice about a query goes: at once for an urgent one, in the next digest for a
/// routine one, so that a mail's timing says little about when a query was asked.
pub fn notice_timing(urgency: Urgency) -> When {
    match urgency {
        Urgency::Urgent => When::Now,
        Urgency::Routine => When::Digest,
    }
}

/// A query's readers: its IRO and its adviser.
pub const QUERY_READERS: usize = 2;

/// Records an act on a query in the log, in the act's transaction; returns the receipt.
pub fn record(
    tx: &mut Tx<'_>,
    kind: Kind,
    actor: &AccountId,
    query: &Query,
    details: Details,
) -> Result<Receipt, QueryError> {
    Ok(tx.record(Event {
        details,
        kind,
        actor: Actor::Account(actor.as_str()),
        subject: Subject::Query(query.id.as_str()),
        authority: Some(&query.authority_code),
    })?)
}

/// An act that sets the query's status: its next numbered status act (see
/// [`super::logged`]).
fn record_status(
    tx: &mut Tx<'_>,
    kind: Kind,
    actor: &AccountId,
    query: &QueryId,
    authority: &str,
    details: Details,
) -> Result<Receipt, QueryError> {
    let change = store::count_status_change(tx.conn, query)?;
    Ok(tx.record(Event {
        details,
        kind,
        actor: Actor::Account(actor.as_str()),
        subject: Subject::QueryStatus {
            query: query.as_str(),
            change,
        },
        authority: Some(authority),
    })?)
}

/// The other participant of a query, from the caller's side.
fn counterpart<'q>(caller: &Caller, query: &'q Query) -> &'q AccountId {
    if caller.role == Role::Iro {
        &query.adviser_id
    } else {
        &query.iro_id
    }
}

fn not_eligible() -> QueryError {
    QueryError::AdviserNotEligible(
        "that adviser cannot take this query (unknown, unavailable, without a key, or conflicted with your authority)",
    )
}

pub struct AskInput {
    pub adviser_id: AccountId,
    pub category: Category,
    pub stage: Stage,
    pub urgency: Urgency,
    pub body: AgeArmored,
}

/// An IRO asks an adviser; returns the new query's id and the receipt.
pub fn ask(
    tx: &mut Tx<'_>,
    iro: &IroCaller,
    input: AskInput,
) -> Result<(QueryId, Receipt), QueryError> {
    // Checked again here, whatever the client was shown: active, accepting, keyed, and not
    // conflicted with the IRO's authority. (An adviser with no key cannot be a recipient,
    // so this comes before counting them.)
    if eligible_advisers(tx.conn, &iro.authority, Some(&input.adviser_id))?.is_empty() {
        return Err(not_eligible());
    }
    check_recipients(input.body.recipients(), QUERY_READERS)?;
    let id = QueryId::generate();
    store::insert_query(
        tx.conn,
        &NewQuery {
            id: &id,
            iro_id: &iro.account_id,
            adviser_id: &input.adviser_id,
            authority_code: iro.authority.as_str(),
            category: input.category,
            stage: input.stage,
            urgency: input.urgency,
        },
    )?;
    store::insert_message(
        tx.conn,
        &id,
        &iro.account_id,
        Role::Iro,
        input.body.as_str(),
    )?;
    crate::accounts::notices::notify(tx, &input.adviser_id, notice_timing(input.urgency))?;
    let receipt = record_status(
        tx,
        Kind::QuerySubmitted,
        &iro.account_id,
        &id,
        iro.authority.as_str(),
        Details::Query {
            category: input.category,
            stage: input.stage,
        },
    )?;
    Ok((id, receipt))
}

/// The adviser's answer to a query put to them: from `submitted` to `to`, telling the IRO.
fn answer(
    tx: &mut Tx<'_>,
    adviser: &Caller,
    id: &QueryId,
    to: QueryStatus,
    kind: Kind,
    details: Details,
) -> Result<(Query, Receipt), QueryError> {
    let keys = tx.log_keys();
    let q = visible(tx.conn, &keys, adviser, id)?;
    if !store::answer(tx.conn, &q.id, &adviser.account_id, to)? {
        return Err(wrong_state(format!(
            "a {} query cannot become {to}",
            q.status
        )));
    }
    crate::accounts::notices::notify(tx, &q.iro_id, notice_timing(q.urgency))?;
    let receipt = record_status(
        tx,
        kind,
        &adviser.account_id,
        &q.id,
        &q.authority_code,
        details,
    )?;
    Ok((q, receipt))
}

/// The adviser takes the query on.
pub fn accept(tx: &mut Tx<'_>, adviser: &Caller, id: &QueryId) -> Result<Receipt, QueryError> {
    answer(
        tx,
        adviser,
        id,
        QueryStatus::Accepted,
        Kind::QueryAccepted,
        Details::None,
    )
    .map(|(_, r)| r)
}

/// The adviser declines; the IRO may then route the query elsewhere. The adviser no longer
/// sees it.
pub fn decline(
    tx: &mut Tx<'_>,
    adviser: &Caller,
    id: &QueryId,
    reason: DeclineReason,
) -> Result<Receipt, QueryError> {
    let (q, receipt) = answer(
        tx,
        adviser,
        id,
        QueryStatus::Declined,
        Kind::QueryDeclined,
        Details::Decline(reason),
    )?;
    store::record_decline(tx.conn, &q.id, &adviser.account_id, reason)?;
    Ok(receipt)
}

pub struct RouteInput {
    pub adviser_id: AccountId,
    /// Every message of the query, re-encrypted to the IRO and the new adviser: (id, body).
    pub messages: Vec<(MessageId, AgeArmored)>,
}

/// The IRO hands the query to another adviser, after a decline or while it waits unaccepted.
pub fn route(
    tx: &mut Tx<'_>,
    iro: &IroCaller,
    id: &QueryId,
    input: RouteInput,
) -> Result<Receipt, QueryError> {
    for (_, body) in &input.messages {
        check_recipients(body.recipients(), QUERY_READERS)?;
    }
    let keys = tx.log_keys();
    let q = visible(tx.conn, &keys, iro, id)?;
    if !q.status.routable() {
        return Err(wrong_state(format!(
            "a {} query cannot be routed",
            q.status
        )));
    }
    if input.adviser_id == q.adviser_id || store::has_declined(tx.conn, &q.id, &input.adviser_id)? {
        return Err(QueryError::AdviserNotEligible(
            "that adviser already has, or has declined, this query",
        ));
    }
    if eligible_advisers(tx.conn, &iro.authority, Some(&input.adviser_id))?.is_empty() {
        return Err(not_eligible());
    }
    replace_every_message(tx, &q, &input.messages)?;
    if !store::reroute(tx.conn, &q.id, &input.adviser_id)? {
        return Err(wrong_state("the query changed while it was being routed"));
    }
    crate::accounts::notices::notify(tx, &input.adviser_id, notice_timing(q.urgency))?;
    record_status(
        tx,
        Kind::QueryRouted,
        &iro.account_id,
        &q.id,
        &q.authority_code,
        Details::None,
    )
}

/// Exactly every message, once: a message left out would stay unreadable to the new
/// adviser, one added would be a message nobody sent.
fn replace_every_message(
    tx: &mut Tx<'_>,
    q: &Query,
    messages: &[(MessageId, AgeArmored)],
) -> Result<(), QueryError> {
    let stored: HashSet<MessageId> = store::messages_of(tx.conn, &q.id)?
        .into_iter()
        .filter(|m| m.body.is_some())
        .map(|m| m.id)
        .collect();
    let given: HashSet<&MessageId> = messages.iter().map(|(id, _)| id).collect();
    if given.len() != messages.len() || given != stored.iter().collect() {
        return Err(QueryError::MessagesMismatch);
    }
    for (message, body) in messages {
        store::replace_message_body(tx.conn, &q.id, message, body.as_str())?;
    }
    Ok(())
}

/// The IRO closes the query with its outcome.
pub fn close(
    tx: &mut Tx<'_>,
    iro: &IroCaller,
    id: &QueryId,
    outcome: Outcome,
) -> Result<Receipt, QueryError> {
    let keys = tx.log_keys();
    let q = visible(tx.conn, &keys, iro, id)?;
    if !store::close(tx.conn, &q.id, outcome)? {
        return Err(wrong_state("the query is already closed"));
    }
    // The adviser hears of it only if they were working on it.
    if q.status == QueryStatus::Accepted {
        crate::accounts::notices::notify(tx, &q.adviser_id, notice_timing(q.urgency))?;
    }
    record_status(
        tx,
        Kind::QueryClosed,
        &iro.account_id,
        &q.id,
        &q.authority_code,
        Details::Outcome(outcome),
    )
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

/// A reply, either way; returns the message's id, its time and the receipt.
pub fn reply(
    tx: &mut Tx<'_>,
    caller: &Caller,
    id: &QueryId,
    body: &AgeArmored,
) -> Result<(MessageId, NaiveDateTime, Receipt), QueryError> {
    check_recipients(body.recipients(), QUERY_READERS)?;
    let keys = tx.log_keys();
    let q = visible(tx.conn, &keys, caller, id)?;
    if !may_write(caller.role, q.status) {
        return Err(wrong_state(format!(
            "no {} message on a {} query",
            caller.role, q.status
        )));
    }
    let (message, created_at) = store::insert_message(
        tx.conn,
        &q.id,
        &caller.account_id,
        caller.role,
        body.as_str(),
    )?;
    crate::accounts::notices::notify(tx, counterpart(caller, &q), notice_timing(q.urgency))?;
    let receipt = record(tx, Kind::MessageSent, &caller.account_id, &q, Details::None)?;
    Ok((message, created_at, receipt))
}

/// Tells the other participant an attachment arrived and records it; the upload itself is
/// streamed outside any transaction.
pub fn attachment_added(
    tx: &mut Tx<'_>,
    caller: &Caller,
    q: &Query,
) -> Result<Receipt, QueryError> {
    // A copy the IRO adds to a declined query is for the next adviser, who is told on routing.
    if q.status != QueryStatus::Declined {
        crate::accounts::notices::notify(tx, counterpart(caller, q), notice_timing(q.urgency))?;
    }
    record(
        tx,
        Kind::AttachmentAdded,
        &caller.account_id,
        q,
        Details::None,
    )
}

/// Records that the IRO put a re-encrypted stream in place of an attachment nobody else
/// has had; nobody is told, as nobody else has it.
pub fn attachment_replaced(
    tx: &mut Tx<'_>,
    iro: &Caller,
    q: &Query,
) -> Result<Receipt, QueryError> {
    record(
        tx,
        Kind::AttachmentReplaced,
        &iro.account_id,
        q,
        Details::None,
    )
}
