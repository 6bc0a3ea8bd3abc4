//! The client's side of the key directory: a recipient is encrypted to only when its key
//! event is proven in the witnessed log under the right account, is the newest version this
//! profile has seen, and is the key the profile pinned, unless the user accepts a change by
//! name. `client keys` shows fingerprints to compare by phone.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::api::Api;
use super::error::ClientError;
use super::profile::PinnedKey;
use iro_advice_api::paths;
use iro_advice_api::KeyProof;
use iro_advice_api::{InclusionProof, Me};
use iro_advice_model::leaf::{directory_pseudonym, recipient_digest};
use iro_advice_tlog::decode_hashes;
use iro_advice_tlog::merkle::{leaf_hash, verify_inclusion};

/// A short fingerprint of a recipient, to read aloud: the first 80 bits of its SHA-256 in
/// five groups of four hex digits.
pub fn fingerprint(recipient: &str) -> String {
    let digest = recipient_digest(recipient);
    digest[..10]
        .chunks(2)
        .map(|c| format!("{:02X}{:02X}", c[0], c[1]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a recipient was not used.
fn refuse(who: &str, why: impl std::fmt::Display) -> ClientError {
    ClientError::KeyRefused(format!(
        "refusing to encrypt to {who}: {why}. Nothing was sent."
    ))
}

/// Checks a served recipient against its proven key event and this profile's pins; on
/// success, returns it (and pins it, or records an accepted change).
pub async fn verified_recipient(
    api: &Api,
    who: &str,
    account: &str,
    recipient: &str,
    proof: Option<&KeyProof>,
) -> Result<age::x25519::Recipient, ClientError> {
    let proof = proof.ok_or_else(|| {
        refuse(
            who,
            "the service cannot prove their key is in the witnessed log yet (a key registered \
             in the last few seconds is); try again in a minute",
        )
    })?;
    let data = B64
        .decode(&proof.leaf_data)
        .map_err(|_| refuse(who, "the key proof is malformed"))?;
    let event = proof.read(account).ok_or_else(|| {
        refuse(
            who,
            "the key proof is not a key event of theirs that its opening proves",
        )
    })?;
    if event.account != directory_pseudonym(account) {
        return Err(refuse(who, "the key proof is for another account"));
    }
    if event.recipient != recipient_digest(recipient) {
        return Err(refuse(
            who,
            "the key the service gave is not the key the log holds for them; the service's \
             database may have been altered. Tell NAIRO",
        ));
    }
    // The name shown is the one the key event commits to, or nothing is sent: renaming an
    // insider in the database, with no leaf, makes no one anyone else.
    proof
        .check_identity(&event, who)
        .map_err(|e| refuse(who, format!("{e}. Tell NAIRO")))?;
    prove_included(api, &data, proof)
        .await
        .map_err(|e| refuse(who, e))?;
    let profile = api.profile();
    let mut pins = profile.pins()?;
    match pins.get(account) {
        Some(pinned) if event.version < pinned.version => {
            return Err(refuse(
                who,
                format!(
                    "the service offered key version {} but this profile has already seen \
                     version {}: an older key is being served",
                    event.version, pinned.version
                ),
            ))
        }
        Some(pinned) if pinned.recipient != recipient && !api.accepts_key_change(account) => {
            let handed_over = if proof.handed_over_from(account, recipient, &pinned.recipient) {
                "The new key is signed by the key you pinned: it was changed on a device that \
                 held the old one."
            } else {
                "The new key is NOT signed by the key you pinned: a new device, a lost one, or \
                 someone else."
            };
            return Err(ClientError::KeyRefused(format!(
                "{who}'s key has CHANGED (version {} → {}).\n  was: {}\n  now: {}\n\
                 {handed_over}\n\
                 Nothing was sent. If {who} tells you (by phone, not through this service) \
                 that the new fingerprint is theirs, run the command again with \
                 --accept-key-change {account}. If not, tell NAIRO.",
                pinned.version,
                event.version,
                fingerprint(&pinned.recipient),
                fingerprint(recipient)
            )));
        }
        _ => {}
    }
    // Pins are by identity too: the operator can rename accounts in its database without a
    // leaf, so an insider given the name of someone this profile wrote to, or a pinned
    // account under a new name, waits for the user's word.
    if !api.accepts_key_change(account) {
        let same = |n: &str| n.trim().eq_ignore_ascii_case(who.trim());
        if let Some((other, pinned)) = pins
            .iter()
            .find(|(a, p)| a.as_str() != account && p.name.as_deref().is_some_and(same))
        {
            return Err(ClientError::KeyRefused(format!(
                "another account ({other}) that this profile wrote to before is also called \
                 {who}; this one ({account}) is not the one you pinned.\n  pinned: {}\n  \
                 this one: {}\nNothing was sent. Someone who can change the service's \
                 database can give an insider the name of a person you trust. If {who} tells \
                 you (by phone, not through this service) that this account is theirs, run the \
                 command again with --accept-key-change {account}. If not, tell NAIRO.",
                fingerprint(&pinned.recipient),
                fingerprint(recipient)
            )));
        }
        if let Some(was) = pins.get(account).and_then(|p| p.name.as_deref()) {
            if !same(was) {
                return Err(ClientError::KeyRefused(format!(
                    "the account this profile knew as {was} is now called {who}. Nothing was \
                     sent. The log records the change, but not who asked for it: it can be the \
                     operator's. If they tell you (by phone) that this is right, run the \
                     command again with --accept-key-change {account}. If not, tell NAIRO."
                )));
            }
        }
    }
    pins.insert(
        account.to_owned(),
        PinnedKey {
            version: event.version,
            recipient: recipient.to_owned(),
            name: Some(who.to_owned()),
        },
    );
    profile.save_pins(&pins)?;
    super::crypto::recipient(recipient)
}

/// Checks that the leaf is in the newest checkpoint this profile holds, fetching a proof to
/// that size when the served one reaches another.
async fn prove_included(api: &Api, data: &[u8], proof: &KeyProof) -> Result<(), String> {
    let profile = api.profile();
    let pinned = profile
        .pinned()
        .map_err(|e| e.to_string())?
        .ok_or("this profile has no pinned log key")?;
    let held = || -> Result<iro_advice_tlog::note::Checkpoint, String> {
        super::trust::held_checkpoint(profile, &pinned)
            .map_err(|e| e.to_string())?
            .map(|(c, _)| c)
            .ok_or_else(|| "this profile holds no checkpoint yet".to_owned())
    };
    let mut checkpoint = held()?;
    if proof.leaf_index >= checkpoint.size {
        // Cosigned since this command began: catch up (checking consistency, as always).
        let (http, server) = api.public();
        super::trust::check_log(http, server, profile, &pinned)
            .await
            .map_err(|e| e.to_string())?;
        checkpoint = held()?;
    }
    if proof.leaf_index >= checkpoint.size {
        return Err("their key event is newer than the checkpoint this profile holds".into());
    }
    let hashes = if proof.tree_size == checkpoint.size {
        proof.inclusion_proof.clone()
    } else {
        let fetched: InclusionProof = api
            .get(&format!(
                "{}?index={}&size={}",
                paths::LOG_INCLUSION,
                proof.leaf_index,
                checkpoint.size
            ))
            .await
            .map_err(|e| e.to_string())?;
        fetched.hashes
    };
    let hashes = decode_hashes(&hashes).ok_or("a malformed inclusion proof")?;
    if verify_inclusion(
        &leaf_hash(data),
        proof.leaf_index,
        checkpoint.size,
        &hashes,
        &checkpoint.root,
    ) {
        Ok(())
    } else {
        Err("their key event is not in the log this profile has verified".into())
    }
}

/// Stops with an alarm when the service holds, for this account, a key this profile did not
/// register (once it has registered one).
pub async fn watch_own_key(api: &Api, me: &Me) -> Result<(), ClientError> {
    let own = api.profile().own_keys()?;
    if own.is_empty() {
        return Ok(());
    }
    let Some(proof) = &me.key_proof else {
        return Ok(());
    };
    let data = B64
        .decode(&proof.leaf_data)
        .map_err(|_| ClientError::Profile("a malformed key proof".into()))?;
    let event = proof.read(me.id.as_str()).ok_or_else(|| {
        ClientError::Profile(
            "the key proof is not a key event of yours that its opening proves".into(),
        )
    })?;
    if event.account != directory_pseudonym(me.id.as_str()) {
        return Err(ClientError::Profile(
            "the service proved a key of another account as yours".into(),
        ));
    }
    prove_included(api, &data, proof)
        .await
        .map_err(ClientError::Profile)?;
    if own.iter().any(|k| recipient_digest(k) == event.recipient) {
        return watch_own_identity(api, me, proof, &event);
    }
    let served = me.age_recipient.clone().unwrap_or_default();
    Err(ClientError::KeyAlarm(format!(
        "ALARM: the log holds a key for your account that you did not register here (version {}, fingerprint {}). Anyone writing to you may now be encrypting to someone else. Do not use this service for case material; tell NAIRO and your service operator, and register your own key again with `client keygen --force` only when they have found how it happened.",
        event.version,
        if served.is_empty() {
            "unknown".to_owned()
        } else {
            fingerprint(&served)
        }
    )))
}

/// Stops with an alarm when the log records this account under a name, role or affiliation
/// other than the one this profile first saw logged: correspondents would see it. A new
/// verification is no alarm (an administrator checked the adviser; the leaf names them).
fn watch_own_identity(
    api: &Api,
    me: &Me,
    proof: &KeyProof,
    event: &iro_advice_model::leaf::KeyEvent,
) -> Result<(), ClientError> {
    if event.identity.is_none() {
        return Ok(());
    }
    proof.check_identity(event, &me.display_name).map_err(|e| {
        ClientError::KeyAlarm(format!(
            "ALARM: your account, as the service shows it to you, is not what your key event \
             in the log records ({e}). Your correspondents are shown what the log records. \
             Tell NAIRO and your service operator."
        ))
    })?;
    let Some(claim) = &proof.identity else {
        return Ok(());
    };
    let now = (
        claim.display_name.clone(),
        claim.role.clone(),
        claim.affiliation.clone(),
    );
    let profile = api.profile();
    match profile.own_identity()? {
        None => profile.save_own_identity(&now),
        Some(was) if was == now => Ok(()),
        Some(was) => Err(ClientError::KeyAlarm(format!(
            "ALARM: the log now records your account as {} ({}, {}); this profile first saw it \
             as {} ({}, {}). Your correspondents are shown the new name. If you did not ask \
             for the change, tell NAIRO and your service operator.",
            now.0, now.1, now.2, was.0, was.1, was.2
        ))),
    }
}

/// `client keys`: this user's fingerprint, and every pinned correspondent's.
pub async fn show(api: &Api) -> Result<super::output::Output, ClientError> {
    let own = api.identity()?.to_public().to_string();
    let pins = api.profile().pins()?;
    let mut text = format!(
        "Your key:  {}\n\nRead it to someone who has pinned you, and compare theirs with the \
         list below, by phone.\n",
        fingerprint(&own)
    );
    for (account, pin) in &pins {
        text.push_str(&format!(
            "\n{account}  version {}  {}",
            pin.version,
            fingerprint(&pin.recipient)
        ));
    }
    if pins.is_empty() {
        text.push_str("\nNo correspondent's key is pinned yet.");
    }
    super::output::Output::new(
        text,
        serde_json::json!({
            "own": {"recipient": own, "fingerprint": fingerprint(&own)},
            "pinned": pins.iter().map(|(a, p)| serde_json::json!({
                "account": a, "version": p.version, "recipient": p.recipient,
                "fingerprint": fingerprint(&p.recipient)})).collect::<Vec<_>>(),
        }),
    )
}
