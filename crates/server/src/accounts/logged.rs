//! Directory state as the log holds it. Whether an adviser takes new queries and which
//! authorities they declared conflicts with are read from the database, and each is checked
//! against the latest logged change of it, found by its tag (the adviser's directory
//! pseudonym and the change's number, which the database counts): a change made in the
//! database alone, or a count wound back to an older leaf, leaves the adviser out of every
//! IRO's list until the database and the log agree again. A change that is logged is seen by
//! the adviser's own client, which reads every leaf tagged for them.

use std::collections::HashSet;

use diesel::QueryResult;
use iro_advice_model::accounts::AccountId;
use iro_advice_model::leaf::opaque;
use iro_advice_model::leaf::{
    conflicts_digest, directory_pseudonym, Actor, AvailabilityEvent, ConflictsEvent, Event, Kind,
    LeafSummary, Subject,
};

use super::error::AccountError;
use super::store::{self, HeldState};
use crate::db::DbConnection;
use crate::log::store::ByTag;
use crate::tx::Tx;

/// The advisers among `ids` whose availability and conflicts are what their latest logged
/// changes say.
pub fn as_logged(conn: &mut DbConnection, ids: &[AccountId]) -> QueryResult<HashSet<AccountId>> {
    let held = store::held_states(conn, ids)?;
    let tags: Vec<[u8; 32]> = held.iter().flat_map(wanted_tags).collect();
    let waiting = [Kind::AvailabilityChanged, Kind::ConflictsChanged];
    let leaves = crate::log::store::tagged_or_waiting(conn, &waiting, &tags)?;
    Ok(held
        .into_iter()
        .filter(|h| agrees(h, &leaves))
        .map(|h| h.id)
        .collect())
}

/// The tags of an adviser's latest change of each (as the database counts them) and of the
/// change after it, which must not exist.
fn wanted_tags(h: &HeldState) -> Vec<[u8; 32]> {
    let id = h.id.as_str();
    let mut tags = vec![
        opaque::availability_tag(id, h.availability_changes + 1),
        opaque::conflicts_tag(id, h.conflicts_changes + 1),
    ];
    if h.availability_changes > 0 {
        tags.push(opaque::availability_tag(id, h.availability_changes));
    }
    if h.conflicts_changes > 0 {
        tags.push(opaque::conflicts_tag(id, h.conflicts_changes));
    }
    tags
}

fn agrees(h: &HeldState, leaves: &ByTag) -> bool {
    let id = h.id.as_str();
    let mine = directory_pseudonym(id);
    let later = [
        opaque::availability_tag(id, h.availability_changes + 1),
        opaque::conflicts_tag(id, h.conflicts_changes + 1),
    ];
    if later.iter().any(|t| leaves.contains_key(t)) {
        return false;
    }
    let opened = |tag: [u8; 32]| -> Option<LeafSummary> {
        let (data, opening) = leaves.get(&tag)?;
        opening.as_ref()?.open(data).ok()
    };
    let availability = match h.availability_changes {
        // Every adviser starts out accepting.
        0 => h.accepting,
        n => opened(opaque::availability_tag(id, n))
            .and_then(|s| AvailabilityEvent::from_summary(&s))
            .is_some_and(|e| e.account == mine && e.accepting == h.accepting),
    };
    let codes: Vec<&str> = h.conflicts.iter().map(String::as_str).collect();
    let conflicts = match h.conflicts_changes {
        0 => codes.is_empty(),
        n => opened(opaque::conflicts_tag(id, n))
            .and_then(|s| ConflictsEvent::from_summary(&s))
            .is_some_and(|e| e.account == mine && e.digest == conflicts_digest(&codes)),
    };
    availability && conflicts
}

/// Logs, as the service's own act, the availability and conflicts of advisers whose state
/// predates tagged changes (none counted, but not the starting state), so that the check
/// above finds them; run at start. Each is a leaf tagged for the adviser, whose client raises
/// any it did not make, so an operator cannot use this to slip a change in unseen.
pub fn log_untagged_state(tx: &mut Tx<'_>) -> Result<usize, AccountError> {
    let advisers = store::advisers(tx.conn)?;
    let mut logged = 0;
    for h in store::held_states(tx.conn, &advisers)? {
        if h.availability_changes == 0 && !h.accepting {
            log_availability(tx, &h.id, Actor::System, false)?;
            logged += 1;
        }
        if h.conflicts_changes == 0 && !h.conflicts.is_empty() {
            let codes: Vec<&str> = h.conflicts.iter().map(String::as_str).collect();
            log_conflicts(tx, &h.id, Actor::System, &codes)?;
            logged += 1;
        }
    }
    Ok(logged)
}

/// Logs an adviser's declared conflicts as their next change of them.
pub fn log_conflicts(
    tx: &mut Tx<'_>,
    account: &AccountId,
    actor: Actor<'_>,
    codes: &[&str],
) -> Result<(), AccountError> {
    let change = store::count_conflicts_change(tx.conn, account)?;
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::ConflictsChanged,
        actor,
        subject: Subject::Conflicts {
            account: account.as_str(),
            digest: conflicts_digest(codes),
            change,
        },
        authority: None,
    })?;
    Ok(())
}

/// Logs an adviser's availability as their next change of it.
pub fn log_availability(
    tx: &mut Tx<'_>,
    account: &AccountId,
    actor: Actor<'_>,
    accepting: bool,
) -> Result<(), AccountError> {
    let change = store::count_availability_change(tx.conn, account)?;
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::AvailabilityChanged,
        actor,
        subject: Subject::Availability {
            account: account.as_str(),
            accepting,
            change,
        },
        authority: None,
    })?;
    Ok(())
}
