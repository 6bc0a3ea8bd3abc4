//! The owner's watch over its own account: every leaf appended since this profile last
//! looked is read from the log's tiles, checked to rebuild the root of the checkpoint the
//! profile holds (so none can be left out or altered), and any key event for this account
//! that this profile did not make raises the alarm. The service cannot show the owner one
//! history and correspondents another.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::api::Api;
use super::error::ClientError;
use super::profile::Watch;
use iro_advice_api::paths;
use iro_advice_api::{InclusionProof, Me, OpenedLeaf, Receipt};
use iro_advice_model::leaf::opaque::{self, MAX_WATCHED_VERSION};
use iro_advice_model::leaf::{
    directory_pseudonym, recipient_digest, ConflictsEvent, KeyEvent, LeafSummary,
};
use iro_advice_tlog::decode_hashes;
use iro_advice_tlog::merkle::{leaf_hash, verify_inclusion, Frontier, Hash};
use iro_advice_tlog::note::Checkpoint;
use iro_advice_tlog::tiles::{TileRef, WIDTH};

fn profile_error(why: impl std::fmt::Display) -> ClientError {
    ClientError::Profile(why.to_string())
}

fn decode(hashes: &[String]) -> Result<Vec<Hash>, ClientError> {
    decode_hashes(hashes).ok_or_else(|| profile_error("a malformed hash from the service"))
}

/// The leaves `from..to` of the log, from its entry bundles.
pub(crate) async fn entries(api: &Api, from: u64, to: u64) -> Result<Vec<Vec<u8>>, ClientError> {
    let mut out = Vec::new();
    let mut index = from / WIDTH;
    while index * WIDTH < to {
        let width = (to - index * WIDTH).min(WIDTH);
        let tile = TileRef {
            level: None,
            index,
            width,
        };
        let bytes = api
            .get_bytes(&paths::fill(paths::LOG_TILE, &[&tile.path()]))
            .await?;
        let mut rest = &bytes[..];
        let mut position = index * WIDTH;
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_first_chunk::<2>()
                .ok_or_else(|| profile_error("a malformed entry bundle"))?;
            let len = u16::from_be_bytes(*len) as usize;
            let entry = tail
                .get(..len)
                .ok_or_else(|| profile_error("a malformed entry bundle"))?;
            if position >= from && position < to {
                out.push(entry.to_vec());
            }
            position += 1;
            rest = &tail[len..];
        }
        if position != index * WIDTH + width {
            return Err(profile_error("an entry bundle of the wrong width"));
        }
        index += 1;
    }
    Ok(out)
}

/// The verified right edge of the tree of `checkpoint.size` leaves: the last leaf's
/// inclusion proof is the edge before it; with the leaf it must give the signed root.
async fn bootstrap(api: &Api, checkpoint: &Checkpoint) -> Result<Frontier, ClientError> {
    let size = checkpoint.size;
    if size == 0 {
        return Ok(Frontier::default());
    }
    let proof: InclusionProof = api
        .get(&format!(
            "{}?index={}&size={size}",
            paths::LOG_INCLUSION,
            size - 1
        ))
        .await?;
    let mut edge = decode(&proof.hashes)?;
    edge.reverse();
    let mut frontier = Frontier::resume(size - 1, edge)
        .ok_or_else(|| profile_error("an inclusion proof of the wrong shape"))?;
    let last = entries(api, size - 1, size).await?;
    let leaf = last
        .first()
        .ok_or_else(|| profile_error("the log's last entry is missing"))?;
    frontier.push(leaf_hash(leaf));
    if frontier.root() != checkpoint.root {
        return Err(profile_error("the log's tiles do not match its checkpoint"));
    }
    Ok(frontier)
}

/// Reads what was appended since the last look; alarms on a key event for this account
/// that this profile did not register. The watch only moves on when nothing is wrong, so
/// an alarm repeats until it is dealt with.
pub async fn watch(api: &Api, me: &Me) -> Result<(), ClientError> {
    let profile = api.profile();
    let Some(pinned) = profile.pinned()? else {
        return Ok(());
    };
    let Some((checkpoint, _)) = super::trust::held_checkpoint(profile, &pinned)? else {
        return Ok(());
    };
    // The conflicts the service holds for this adviser must be the set this profile last
    // declared: a row added or removed in the database alone leaves no leaf to find.
    if let (Some(held), Some(declared)) = (&me.conflicts, profile.own_conflicts()?.last()) {
        let codes: Vec<&str> = held.iter().map(String::as_str).collect();
        if iro_advice_model::hex(&iro_advice_model::leaf::conflicts_digest(&codes)) != *declared {
            return Err(ClientError::KeyAlarm(format!(
                "ALARM: the service holds conflicts for you ({}) that are not the set you last \
                 declared here, and no logged change of yours made them: queries from an \
                 authority you declared may now be routed to you, or ones you may take hidden. \
                 Check them with `client conflicts`, and tell NAIRO and your service operator.",
                if held.is_empty() {
                    "none".to_owned()
                } else {
                    held.join(", ")
                }
            )));
        }
    }
    // So must whether they take new queries: flipped in the database alone, it hides them
    // from IROs, or sends them queries they said they could not take.
    if let (Some(held), Some(said)) = (me.accepting, profile.own_availability()?) {
        if held != said {
            return Err(ClientError::KeyAlarm(format!(
                "ALARM: the service says you are {} new queries, but you last said here that \
                 you are {}, and no change of yours made it so. Set it again with `client \
                 availability`, and tell NAIRO and your service operator.",
                if held { "accepting" } else { "not accepting" },
                if said { "accepting them" } else { "not" }
            )));
        }
    }
    let Some(last) = profile.watch()? else {
        let frontier = bootstrap(api, &checkpoint).await?;
        return save(api, &frontier);
    };
    if last.size >= checkpoint.size {
        return Ok(());
    }
    let mut frontier = Frontier::resume(last.size, decode(&last.edge)?)
        .ok_or_else(|| profile_error("watch.json is damaged"))?;
    let mine = directory_pseudonym(me.id.as_str());
    let own: Vec<[u8; 32]> = profile
        .own_keys()?
        .iter()
        .map(|k| recipient_digest(k))
        .collect();
    let own_conflicts = profile.own_conflicts()?;
    let tags = own_tags(me.id.as_str());
    let mut strangers = Vec::new();
    let mut conflict_changes = Vec::new();
    let mut sign_ins = Vec::new();
    let mut availability = None;
    let mut tagged = Vec::new();
    for (offset, entry) in entries(api, last.size, checkpoint.size)
        .await?
        .iter()
        .enumerate()
    {
        let index = last.size + offset as u64;
        frontier.push(leaf_hash(entry));
        if let Some(tag) = opaque::tag_of(entry) {
            if tags.contains_key(&tag) {
                tagged.push((index, entry.clone()));
            }
            continue;
        }
        // A leaf written before leaves were opaque says what it is in the clear.
        let Some(summary) = LeafSummary::decode(entry) else {
            continue;
        };
        if let Some(event) = KeyEvent::from_summary(&summary) {
            if event.account == mine && !own.contains(&event.recipient) {
                strangers.push((index, event.version));
            }
        }
        if let Some(event) = ConflictsEvent::from_summary(&summary) {
            if event.account == mine
                && !own_conflicts.contains(&iro_advice_model::hex(&event.digest))
            {
                conflict_changes.push(index);
            }
        }
    }
    if !tagged.is_empty() {
        // Leaves about this account: the service must give each one's opening.
        let opened: Vec<OpenedLeaf> = api.get(paths::ME_DIRECTORY).await?;
        for (index, entry) in &tagged {
            let opening = opened
                .iter()
                .find(|o| o.leaf_index == *index)
                .and_then(|o| o.opening.as_ref())
                .and_then(|o| o.parse());
            let Some(opening) = opening else {
                return Err(ClientError::KeyAlarm(format!(
                    "ALARM: the log holds a leaf about your account (leaf {index}) that the service will not open for you: it may record a key or a change of your conflicts that you did not make. Do not use this service for case material; tell NAIRO and your service operator."
                )));
            };
            if let Some((at, session)) = opaque::sign_in_event(entry, &opening, me.id.as_str()) {
                sign_ins.push((*index, at, iro_advice_model::hex(&session)));
            } else if let Some(event) = opaque::key_event(entry, &opening, me.id.as_str()) {
                if !own.contains(&event.recipient) {
                    strangers.push((*index, event.version));
                }
            } else if let Some(event) = opaque::conflicts_event(entry, &opening) {
                if !own_conflicts.contains(&iro_advice_model::hex(&event.digest)) {
                    conflict_changes.push(*index);
                }
            } else if let Some(event) = opaque::availability_event(entry, &opening) {
                // In the log's order: the last one found is the latest.
                availability = Some((*index, event.accepting));
            } else {
                return Err(ClientError::KeyAlarm(format!(
                    "ALARM: the opening the service gave for leaf {index}, a leaf about your account, does not open it. Tell NAIRO and your service operator."
                )));
            }
        }
    }
    if frontier.size() != checkpoint.size || frontier.root() != checkpoint.root {
        return Err(profile_error(
            "the log's tiles do not rebuild the checkpoint this profile holds",
        ));
    }
    if !own.is_empty() {
        if let Some((leaf, version)) = strangers.first() {
            return Err(ClientError::KeyAlarm(format!(
                "ALARM: the log records a key for your account that you did not register here \
                 (leaf {leaf}, key version {version}). Anyone writing to you may now be \
                 encrypting to someone else. Do not use this service for case material; tell \
                 NAIRO and your service operator."
            )));
        }
    }
    if !own_conflicts.is_empty() {
        if let Some(leaf) = conflict_changes.first() {
            return Err(ClientError::KeyAlarm(format!(
                "ALARM: the log records a change to your declared conflicts that you did not \
                 make here (leaf {leaf}): queries from an authority you declared may now be \
                 routed to you, or ones you may take hidden. Check them with `client conflicts`, \
                 and tell NAIRO and your service operator."
            )));
        }
    }
    if let (Some(said), Some((leaf, logged))) = (profile.own_availability()?, availability) {
        if logged != said {
            return Err(ClientError::KeyAlarm(format!(
                "ALARM: the log records that you are {} new queries (leaf {leaf}), but you last \
                 said here that you are {}. Set it again with `client availability`, and tell \
                 NAIRO and your service operator.",
                if logged { "accepting" } else { "not accepting" },
                if said { "accepting them" } else { "not" }
            )));
        }
    }
    profile.add_sign_ins(&sign_ins)?;
    save(api, &frontier)
}

/// The tags of every key event, change of conflicts or availability and sign-in this account
/// could have: the
/// service cannot log one under a version the owner's watch does not look for, because
/// clients refuse a key proof beyond [`MAX_WATCHED_VERSION`].
fn own_tags(account: &str) -> std::collections::HashMap<[u8; 32], u64> {
    (1..=MAX_WATCHED_VERSION)
        .flat_map(|v| {
            [
                (opaque::key_tag(account, v), v),
                (opaque::conflicts_tag(account, v), v),
                (opaque::sign_in_tag(account, v), v),
                (opaque::availability_tag(account, v), v),
            ]
        })
        .collect()
}

fn save(api: &Api, frontier: &Frontier) -> Result<(), ClientError> {
    api.profile().save_watch(&Watch {
        size: frontier.size(),
        edge: frontier.edge().iter().map(|h| B64.encode(h)).collect(),
    })
}

fn leaf_of(receipt: &Receipt) -> Result<iro_advice_tlog::merkle::Hash, ClientError> {
    let data = base64::engine::general_purpose::STANDARD
        .decode(&receipt.leaf_data)
        .map_err(|_| ClientError::Profile("a kept receipt's leaf is not base64".into()))?;
    Ok(leaf_hash(&data))
}

/// Checks every kept receipt against `cosigned` (the served checkpoint, already checked to
/// carry the pinned witnesses' quorum and to extend the one this profile held): those it
/// includes are done with; one whose index holds another leaf, or that is still missing
/// after the deadline, is the alarm.
pub async fn check_kept(
    api: &Api,
    cosigned: &Checkpoint,
    cosigned_note: &str,
) -> Result<(), ClientError> {
    let profile = api.profile();
    let kept = super::kept::load(profile)?;
    if kept.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    let mut still = Vec::new();
    for k in kept {
        let leaf = leaf_of(&k.receipt)?;
        let index = match k.receipt.leaf_index {
            Some(i) => Some(i),
            // Published in a batch after the answer: the service's copy says where.
            None => published_index(api, &k.receipt).await?,
        };
        match index {
            Some(i) if i < cosigned.size => {
                let proof: InclusionProof = api
                    .get(&format!(
                        "{}?index={i}&size={}",
                        paths::LOG_INCLUSION,
                        cosigned.size
                    ))
                    .await?;
                let hashes = decode_hashes(&proof.hashes).unwrap_or_default();
                if !verify_inclusion(&leaf, i, cosigned.size, &hashes, &cosigned.root) {
                    return Err(super::kept::erased(
                        profile,
                        &k,
                        cosigned_note,
                        &format!(
                        "the witnessed log holds another entry at index {i}, where the service \
                         recorded your act"
                    ),
                    )?);
                }
            }
            _ if now - k.kept_at > super::kept::DEADLINE_HOURS * 3600 => {
                return Err(super::kept::erased(
                    profile,
                    &k,
                    cosigned_note,
                    &format!(
                        "{} hours after the service recorded your act, no checkpoint \
                         the witnesses cosigned includes it",
                        super::kept::DEADLINE_HOURS
                    ),
                )?);
            }
            _ => still.push(k),
        }
    }
    super::kept::save(profile, &still)
}

/// Where the service says a receipt's leaf was published, from its list of the account's
/// receipts; None while it is not.
async fn published_index(api: &Api, receipt: &Receipt) -> Result<Option<u64>, ClientError> {
    let theirs: Vec<Receipt> = api.get(paths::ME_RECEIPTS).await?;
    Ok(theirs
        .iter()
        .find(|r| r.leaf_data == receipt.leaf_data)
        .and_then(|r| r.leaf_index))
}
