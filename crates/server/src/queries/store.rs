//! Data access for queries, messages and declines.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::now;
use crate::db::schema::{accounts, messages, queries, query_declines};
use crate::db::DbConnection;
use iro_advice_model::accounts::AccountId;
use iro_advice_model::accounts::Role;
use iro_advice_model::queries::{
    Category, DeclineReason, MessageId, Outcome, QueryId, QueryStatus, Stage, Urgency,
};

/// A query's metadata, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = queries)]
pub struct Query {
    pub id: QueryId,
    pub iro_id: AccountId,
    pub adviser_id: AccountId,
    pub authority_code: String,
    pub category: Category,
    pub stage: Stage,
    pub urgency: Urgency,
    pub status: QueryStatus,
    pub outcome: Option<Outcome>,
    pub created_at: NaiveDateTime,
    pub routed_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// How many acts have set its status, each a numbered leaf (see `queries::logged`).
    pub status_changes: i64,
}

/// Counts one more act setting the query's status and returns its number (from 1).
pub fn count_status_change(conn: &mut DbConnection, id: &QueryId) -> QueryResult<u64> {
    diesel::update(queries::table.find(id))
        .set(queries::status_changes.eq(queries::status_changes + 1))
        .execute(conn)?;
    queries::table
        .find(id)
        .select(queries::status_changes)
        .first::<i64>(conn)
        .map(|n| n as u64)
}

/// The query, if `account` may see it: its IRO, or its current adviser unless they have
/// declined it. Anyone else gets `None`, exactly as for a query that does not exist.
pub fn visible_query(
    conn: &mut DbConnection,
    id: &QueryId,
    account: &AccountId,
    role: Role,
) -> QueryResult<Option<Query>> {
    let base = queries::table.find(id).select(Query::as_select());
    match role {
        Role::Iro => base
            .filter(queries::iro_id.eq(account))
            .first(conn)
            .optional(),
        Role::Adviser => base
            .filter(queries::adviser_id.eq(account))
            .filter(queries::status.ne(QueryStatus::Declined))
            .first(conn)
            .optional(),
        Role::Nairo | Role::Admin => Ok(None),
    }
}

/// A list entry: the query and the names of the people on it.
pub struct Listed {
    pub query: Query,
    pub iro_name: String,
    pub adviser_name: String,
    pub messages: i64,
}

pub fn list_for(
    conn: &mut DbConnection,
    account: &AccountId,
    role: Role,
) -> QueryResult<Vec<Listed>> {
    let queries = match role {
        Role::Iro => queries::table
            .filter(queries::iro_id.eq(account))
            .order((queries::created_at.desc(), queries::id))
            .select(Query::as_select())
            .load(conn)?,
        Role::Adviser => queries::table
            .filter(queries::adviser_id.eq(account))
            .filter(queries::status.ne(QueryStatus::Declined))
            .order((queries::created_at.desc(), queries::id))
            .select(Query::as_select())
            .load(conn)?,
        Role::Nairo | Role::Admin => Vec::new(),
    };
    let mut listed = Vec::with_capacity(queries.len());
    for query in queries {
        let iro_name = display_name(conn, &query.iro_id)?;
        let adviser_name = display_name(conn, &query.adviser_id)?;
        let messages = messages::table
            .filter(messages::query_id.eq(&query.id))
            .count()
            .get_result(conn)?;
        listed.push(Listed {
            query,
            iro_name,
            adviser_name,
            messages,
        });
    }
    Ok(listed)
}

pub fn display_name(conn: &mut DbConnection, account: &AccountId) -> QueryResult<String> {
    accounts::table
        .find(account)
        .select(accounts::display_name)
        .first(conn)
}

pub struct NewQuery<'a> {
    pub id: &'a QueryId,
    pub iro_id: &'a AccountId,
    pub adviser_id: &'a AccountId,
    pub authority_code: &'a str,
    pub category: Category,
    pub stage: Stage,
    pub urgency: Urgency,
}

pub fn insert_query(conn: &mut DbConnection, q: &NewQuery<'_>) -> QueryResult<()> {
    let now = now();
    diesel::insert_into(queries::table)
        .values((
            queries::id.eq(q.id),
            queries::iro_id.eq(q.iro_id),
            queries::adviser_id.eq(q.adviser_id),
            queries::authority_code.eq(q.authority_code),
            queries::category.eq(q.category.as_str()),
            queries::stage.eq(q.stage.as_str()),
            queries::urgency.eq(q.urgency.as_str()),
            queries::status.eq(QueryStatus::Submitted.as_str()),
            queries::created_at.eq(now),
            queries::routed_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn insert_message(
    conn: &mut DbConnection,
    query_id: &QueryId,
    sender_id: &AccountId,
    sender_role: Role,
    body: &str,
) -> QueryResult<(MessageId, NaiveDateTime)> {
    let id = MessageId::generate();
    let now = now();
    diesel::insert_into(messages::table)
        .values((
            messages::id.eq(&id),
            messages::query_id.eq(query_id),
            messages::sender_id.eq(sender_id),
            messages::sender_role.eq(sender_role.as_str()),
            messages::body.eq(body),
            messages::created_at.eq(now),
        ))
        .execute(conn)?;
    if sender_role == Role::Adviser {
        diesel::update(
            queries::table
                .find(query_id)
                .filter(queries::first_reply_at.is_null()),
        )
        .set(queries::first_reply_at.eq(now))
        .execute(conn)?;
    }
    Ok((id, now))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct StoredMessage {
    pub id: MessageId,
    pub sender_id: AccountId,
    pub sender_role: Role,
    pub body: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn messages_of(conn: &mut DbConnection, query_id: &QueryId) -> QueryResult<Vec<StoredMessage>> {
    messages::table
        .filter(messages::query_id.eq(query_id))
        .order((messages::created_at, messages::id))
        .select(StoredMessage::as_select())
        .load(conn)
}

/// The adviser's answer moves a query from submitted to `to`, only if it is still submitted
/// and still theirs: concurrent answers cannot both succeed, and an adviser the query was
/// routed away from meanwhile cannot answer for the new one. False if it had moved on.
pub fn answer(
    conn: &mut DbConnection,
    id: &QueryId,
    adviser: &AccountId,
    to: QueryStatus,
) -> QueryResult<bool> {
    let target = queries::table
        .find(id)
        .filter(queries::status.eq(QueryStatus::Submitted.as_str()))
        .filter(queries::adviser_id.eq(adviser));
    let now = now();
    let updated = match to {
        QueryStatus::Accepted => diesel::update(target)
            .set((
                queries::status.eq(to.as_str()),
                queries::accepted_at.eq(now),
            ))
            .execute(conn)?,
        _ => diesel::update(target)
            .set(queries::status.eq(to.as_str()))
            .execute(conn)?,
    };
    Ok(updated == 1)
}

pub fn close(conn: &mut DbConnection, id: &QueryId, outcome: Outcome) -> QueryResult<bool> {
    let updated = diesel::update(
        queries::table
            .find(id)
            .filter(queries::status.ne(QueryStatus::Closed.as_str())),
    )
    .set((
        queries::status.eq(QueryStatus::Closed.as_str()),
        queries::outcome.eq(outcome.as_str()),
        queries::closed_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn record_decline(
    conn: &mut DbConnection,
    query_id: &QueryId,
    adviser_id: &AccountId,
    reason: DeclineReason,
) -> QueryResult<()> {
    diesel::insert_into(query_declines::table)
        .values((
            query_declines::query_id.eq(query_id),
            query_declines::adviser_id.eq(adviser_id),
            query_declines::reason.eq(reason.as_str()),
            query_declines::declined_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

/// A decline as the IRO sees it: who, why and when.
pub struct Decline {
    pub adviser_name: String,
    pub reason: DeclineReason,
    pub declined_at: NaiveDateTime,
}

/// The query's declines, oldest first.
pub fn declines_of(conn: &mut DbConnection, query_id: &QueryId) -> QueryResult<Vec<Decline>> {
    let rows: Vec<(String, String, NaiveDateTime)> = query_declines::table
        .inner_join(accounts::table.on(accounts::id.eq(query_declines::adviser_id)))
        .filter(query_declines::query_id.eq(query_id))
        .order(query_declines::declined_at)
        .select((
            accounts::display_name,
            query_declines::reason,
            query_declines::declined_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(adviser_name, reason, declined_at)| {
            let reason = reason
                .parse()
                .map_err(|e: String| diesel::result::Error::DeserializationError(e.into()))?;
            Ok(Decline {
                adviser_name,
                reason,
                declined_at,
            })
        })
        .collect()
}

pub fn has_declined(
    conn: &mut DbConnection,
    query_id: &QueryId,
    adviser_id: &AccountId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        query_declines::table
            .filter(query_declines::query_id.eq(query_id))
            .filter(query_declines::adviser_id.eq(adviser_id)),
    ))
    .get_result(conn)
}

/// Hands the query to another adviser, only if it is still routable.
pub fn reroute(conn: &mut DbConnection, id: &QueryId, adviser_id: &AccountId) -> QueryResult<bool> {
    let updated = diesel::update(queries::table.find(id).filter(queries::status.eq_any([
        QueryStatus::Submitted.as_str(),
        QueryStatus::Declined.as_str(),
    ])))
    .set((
        queries::adviser_id.eq(adviser_id),
        queries::status.eq(QueryStatus::Submitted.as_str()),
        queries::routed_at.eq(now()),
        queries::accepted_at.eq(None::<NaiveDateTime>),
        queries::reminded_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn replace_message_body(
    conn: &mut DbConnection,
    query_id: &QueryId,
    message_id: &MessageId,
    body: &str,
) -> QueryResult<bool> {
    let updated = diesel::update(
        messages::table
            .find(message_id)
            .filter(messages::query_id.eq(query_id)),
    )
    .set(messages::body.eq(body))
    .execute(conn)?;
    Ok(updated == 1)
}

/// An account's age recipient, if it has registered one.
pub fn recipient(conn: &mut DbConnection, account: &AccountId) -> QueryResult<Option<String>> {
    accounts::table
        .find(account)
        .select(accounts::age_recipient)
        .first(conn)
}

/// How many queries each adviser has waiting or accepted.
pub fn open_queries_by_adviser(
    conn: &mut DbConnection,
) -> QueryResult<std::collections::HashMap<AccountId, i64>> {
    #[derive(Queryable)]
    struct Load {
        adviser_id: AccountId,
        open: i64,
    }
    let rows: Vec<Load> = queries::table
        .filter(queries::status.eq_any([QueryStatus::Submitted, QueryStatus::Accepted]))
        .group_by(queries::adviser_id)
        .select((queries::adviser_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().map(|l| (l.adviser_id, l.open)).collect())
}
