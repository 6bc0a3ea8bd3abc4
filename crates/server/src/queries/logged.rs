//! A query's status as the log holds it. Every act that sets a query's status (asked,
//! accepted, declined, routed, closed) is its next numbered status act, under a tag keyed by
//! the log's secret; before anyone opens or acts on a query the service finds the act its
//! database row counts last and checks that it says this status, by this query's IRO or
//! current adviser, and that no later one exists. A status (or an adviser, or a count)
//! changed in the database alone stops the query for both participants with a problem that
//! says so, until the database and the log agree again. (Lists of queries show the status as
//! the database holds it; opening one shows whether it stands.)

use iro_advice_model::leaf::{Actor, Kind, Subject};
use iro_advice_model::queries::QueryStatus;

use super::error::QueryError;
use super::store::Query;
use crate::db::DbConnection;
use crate::log::LogKeys;

/// The kinds of act that set a query's status.
pub const STATUS_KINDS: [Kind; 5] = [
    Kind::QuerySubmitted,
    Kind::QueryAccepted,
    Kind::QueryDeclined,
    Kind::QueryRouted,
    Kind::QueryClosed,
];

/// Checks `q` against its latest status act in the log (published or waiting).
pub fn check(conn: &mut DbConnection, keys: &LogKeys, q: &Query) -> Result<(), QueryError> {
    let id = q.id.as_str();
    let n = u64::try_from(q.status_changes).map_err(|_| QueryError::NotAsLogged)?;
    let next = keys.query_status_tag(id, n + 1);
    let mut tags = vec![next];
    if n > 0 {
        tags.push(keys.query_status_tag(id, n));
    }
    let leaves = crate::log::store::tagged_or_waiting(conn, &STATUS_KINDS, &tags)?;
    if leaves.contains_key(&next) {
        return Err(QueryError::NotAsLogged);
    }
    // A query from before status acts were numbered has none: the first's tag is absent
    // (checked above), which no query asked since can say.
    if n == 0 {
        return Ok(());
    }
    let (data, opening) = leaves
        .get(&keys.query_status_tag(id, n))
        .ok_or(QueryError::NotAsLogged)?;
    let summary = opening
        .as_ref()
        .and_then(|o| o.open(data).ok())
        .ok_or(QueryError::NotAsLogged)?;
    let (status, by) = match summary.kind {
        Kind::QuerySubmitted | Kind::QueryRouted => (QueryStatus::Submitted, &q.iro_id),
        Kind::QueryAccepted => (QueryStatus::Accepted, &q.adviser_id),
        Kind::QueryDeclined => (QueryStatus::Declined, &q.adviser_id),
        Kind::QueryClosed => (QueryStatus::Closed, &q.iro_id),
        _ => return Err(QueryError::NotAsLogged),
    };
    let as_logged = status == q.status
        && summary.subject == keys.subject_pseudonym(Subject::Query(id))
        && summary.actor == keys.actor_pseudonym(Actor::Account(by.as_str()));
    if as_logged {
        Ok(())
    } else {
        Err(QueryError::NotAsLogged)
    }
}
