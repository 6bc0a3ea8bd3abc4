//! Receipts: what an act's causer keeps, verifiable offline with the log's public key alone.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use iro_advice_model::leaf::opaque::{self, Opening, OpeningError};
use iro_advice_model::leaf::{KeyEvent, LeafSummary};
use iro_advice_tlog::note::Checkpoint;
use iro_advice_tlog::{verify_inclusion_in_note, InclusionError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The opening of an opaque leaf (base64 salt and body, and the details text): given only to
/// whoever caused the act, to a correspondent for a key event, and to NAIRO's auditor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeafOpening {
    pub salt: String,
    pub body: String,
    pub details: String,
}

impl From<&Opening> for LeafOpening {
    fn from(o: &Opening) -> Self {
        LeafOpening {
            salt: B64.encode(o.salt),
            body: B64.encode(&o.body),
            details: o.details.clone(),
        }
    }
}

impl LeafOpening {
    pub fn parse(&self) -> Option<Opening> {
        Some(Opening {
            salt: B64.decode(&self.salt).ok()?.try_into().ok()?,
            body: B64.decode(&self.body).ok()?,
            details: self.details.clone(),
        })
    }
}

/// `{leaf_index, leaf_data, opening, checkpoint, inclusion_proof}`: the leaf's exact bytes
/// (base64), its opening (for an opaque leaf), a signed checkpoint, and the RFC 9162
/// inclusion proof (base64 hashes) of the leaf in it. The index, checkpoint and proof are
/// absent until the leaf's batch is published (see the book's log chapter).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub leaf_index: Option<u64>,
    pub leaf_data: String,
    pub opening: Option<LeafOpening>,
    pub checkpoint: Option<String>,
    pub inclusion_proof: Vec<String>,
}

/// A key event leaf, served with every recipient a client is to encrypt to: its exact bytes
/// (base64), its opening, its index, and its inclusion proof in the tree of `tree_size`
/// leaves (the served, cosigned checkpoint's).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyProof {
    pub leaf_index: u64,
    pub leaf_data: String,
    /// Absent only for a key registered before leaves were opaque.
    pub opening: Option<LeafOpening>,
    pub tree_size: u64,
    pub inclusion_proof: Vec<String>,
    /// Who the key belongs to, as its key event commits to it (absent for a key registered
    /// before identities were logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityClaim>,
    /// The previous key's signature on this one, when it was handed over from a device that
    /// held the old key (see [`iro_advice_model::signing::key_change_digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<crate::AuthorSignature>,
}

/// The name, role, affiliation and verification a key event commits to (see
/// [`iro_advice_model::leaf::Identity`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdentityClaim {
    pub display_name: String,
    pub role: String,
    /// An IRO's authority code; an adviser's kind, then a peer adviser's authority code after
    /// a space; empty for the rest.
    pub affiliation: String,
    pub verified: bool,
    pub sra_number: Option<String>,
}

impl IdentityClaim {
    pub fn identity(&self) -> iro_advice_model::leaf::Identity<'_> {
        iro_advice_model::leaf::Identity {
            display_name: &self.display_name,
            role: &self.role,
            affiliation: &self.affiliation,
            verified: self.verified,
            sra_number: self.sra_number.as_deref(),
        }
    }
}

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error(transparent)]
    Inclusion(#[from] InclusionError),
    #[error("the act is recorded but its batch is not yet published; fetch the receipt again after the next publication")]
    NotYetPublished,
    #[error("the receipt's opening does not open its leaf: {0}")]
    Opening(#[from] OpeningError),
    #[error("the receipt's leaf or opening is not well-formed base64")]
    Malformed,
}

impl Receipt {
    /// Checks the signature, that the leaf data hashes to the leaf the proof starts from,
    /// and that the proof reaches the signed root. Returns the checkpoint.
    pub fn verify(&self, vkey: &str) -> Result<Checkpoint, ReceiptError> {
        let (Some(index), Some(checkpoint)) = (self.leaf_index, &self.checkpoint) else {
            return Err(ReceiptError::NotYetPublished);
        };
        Ok(verify_inclusion_in_note(
            vkey,
            checkpoint,
            &self.leaf_data,
            index,
            &self.inclusion_proof,
        )?)
    }

    /// What the receipt's act was, from its leaf and (for an opaque leaf) its opening,
    /// checked against each other.
    pub fn read(&self) -> Result<LeafSummary, ReceiptError> {
        let leaf = B64
            .decode(&self.leaf_data)
            .map_err(|_| ReceiptError::Malformed)?;
        let opening = match &self.opening {
            Some(o) => Some(o.parse().ok_or(ReceiptError::Malformed)?),
            None => None,
        };
        Ok(opaque::read(&leaf, opening.as_ref())?)
    }
}

/// Why the identity served with a key does not stand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the service did not say whose key the log records this as")]
    Missing,
    #[error(
        "the name, role or verification the service gives for this account is not what its \
         key event in the log holds; the service's database may have been altered"
    )]
    NotLogged,
    #[error("the service shows this account as {shown}, but its logged name is {logged}")]
    OtherName { shown: String, logged: String },
}

impl KeyProof {
    /// Whether the key this proof is for (`recipient`, of `account`) carries a handover
    /// signature by `previous`: changed on a device that held the previous key.
    pub fn handed_over_from(&self, account: &str, recipient: &str, previous: &str) -> bool {
        use iro_advice_model::signing::{key_change_digest, verify_digest, KEY_CHANGE};
        self.handover.as_ref().is_some_and(|h| {
            verify_digest(
                previous,
                KEY_CHANGE,
                account,
                h.signed_at,
                &key_change_digest(recipient),
                &h.signature,
            )
        })
    }

    /// Checks that the identity served with this proof is the one `event` commits to, and
    /// that it names the account as the service shows it (`shown`). A key event from before
    /// identities were logged proves no name: it passes, and the name pins stand alone.
    pub fn check_identity(&self, event: &KeyEvent, shown: &str) -> Result<(), IdentityError> {
        let Some(logged) = event.identity else {
            return Ok(());
        };
        let claim = self.identity.as_ref().ok_or(IdentityError::Missing)?;
        if claim.identity().digest() != logged {
            return Err(IdentityError::NotLogged);
        }
        if claim.display_name.trim() != shown.trim() {
            return Err(IdentityError::OtherName {
                shown: shown.to_owned(),
                logged: claim.display_name.clone(),
            });
        }
        Ok(())
    }

    /// The key event this proof's leaf records for `account`, its opening and tag checked;
    /// None when it is no such event.
    pub fn read(&self, account: &str) -> Option<KeyEvent> {
        let leaf = B64.decode(&self.leaf_data).ok()?;
        match &self.opening {
            Some(o) => opaque::key_event(&leaf, &o.parse()?, account),
            None => KeyEvent::from_summary(&LeafSummary::decode(&leaf)?),
        }
    }
}
