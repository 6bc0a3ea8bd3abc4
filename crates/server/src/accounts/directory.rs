//! The directory IROs ask from: the advisers an IRO may ask, and the proofs of the keys
//! correspondents encrypt to.

use std::collections::HashMap;

use iro_advice_model::accounts::AccountId;
use iro_advice_model::authorities::AuthorityCode;

use super::error::AccountError;
use super::store::{self, EligibleAdviser};
use crate::db::DbConnection;
use crate::log::witnessing::Witnessing;
use crate::log::KeyProof;

/// The advisers an IRO of `authority` may ask: active, accepting, with a key, and not
/// conflicted with the authority.
pub fn advisers_for(
    conn: &mut DbConnection,
    authority: &AuthorityCode,
) -> Result<Vec<EligibleAdviser>, AccountError> {
    Ok(eligible(conn, authority, None)?)
}

/// The advisers an IRO of `authority` may ask (or only `only`, if they may), as the database
/// holds them and the log agrees: one whose availability or conflicts the database holds
/// otherwise than their latest logged change is left out (see [`super::logged`]).
pub fn eligible(
    conn: &mut DbConnection,
    authority: &AuthorityCode,
    only: Option<&AccountId>,
) -> diesel::QueryResult<Vec<EligibleAdviser>> {
    let listed = store::eligible_advisers(conn, authority, only)?;
    let ids: Vec<AccountId> = listed.iter().map(|a| a.id.clone()).collect();
    let agreed = super::logged::as_logged(conn, &ids)?;
    let left_out = listed.len() - agreed.len();
    if left_out > 0 {
        tracing::warn!(
            advisers = left_out,
            "advisers left out of an IRO's list: the database holds their availability or \
             conflicts otherwise than the log"
        );
    }
    Ok(listed
        .into_iter()
        .filter(|a| agreed.contains(&a.id))
        .collect())
}

/// The proofs of these accounts' current key events in the served checkpoint, each with the
/// identity the event commits to (as the database holds it: a client refuses one that the
/// event does not commit to).
pub fn key_proofs(
    conn: &mut DbConnection,
    witnessing: &Witnessing,
    ids: &[AccountId],
) -> Result<HashMap<AccountId, KeyProof>, AccountError> {
    let size = witnessing.served_size(conn)?;
    let mut out = HashMap::new();
    let mut entries = store::directory_entries(conn, ids)?;
    for (id, leaf) in store::key_leaves(conn, ids)? {
        if let Some(mut proof) = crate::log::store::key_proof(conn, leaf, size)? {
            if let Some((identity, handover)) = entries.remove(&id) {
                proof.identity = Some(identity);
                proof.handover = handover;
            }
            out.insert(id, proof);
        }
    }
    Ok(out)
}
