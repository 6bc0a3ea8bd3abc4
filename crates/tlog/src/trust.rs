//! What someone outside the service checks before believing a checkpoint: the log's
//! signature, enough witnesses' cosignatures, and that it extends the newest checkpoint they
//! already hold. Used by the client on every command and by `receipt verify`.

use super::merkle::{verify_consistency, Hash};
use super::note::{Checkpoint, Verifier};
use crate::cosignature::CosignatureVerifier;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    #[error("not a log verifier key: {0}")]
    LogKey(String),
    #[error("not a witness's cosignature/v1 verifier key: {0}")]
    WitnessKey(String),
    #[error("a quorum of {quorum} cannot be met by {witnesses} witness(es)")]
    Quorum { quorum: usize, witnesses: usize },
    #[error("the checkpoint is not validly signed by the log's key: {0}")]
    Signature(String),
    #[error(
        "the checkpoint carries valid cosignatures from {valid} of the witnesses, but {quorum} \
         are required"
    )]
    TooFewCosignatures { valid: usize, quorum: usize },
}

/// The keys a checkpoint must be signed with, and how many witnesses must agree.
pub struct Trust {
    log: Verifier,
    witnesses: Vec<CosignatureVerifier>,
    quorum: usize,
}

impl Trust {
    pub fn new(log_key: &str, witnesses: &[String], quorum: usize) -> Result<Self, TrustError> {
        let log = Verifier::parse(log_key).map_err(|_| TrustError::LogKey(log_key.to_owned()))?;
        let witnesses = witnesses
            .iter()
            .map(|k| CosignatureVerifier::parse(k).map_err(|_| TrustError::WitnessKey(k.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        if quorum > witnesses.len() {
            return Err(TrustError::Quorum {
                quorum,
                witnesses: witnesses.len(),
            });
        }
        Ok(Trust {
            log,
            witnesses,
            quorum,
        })
    }

    /// The checkpoint, if the log signed it and at least the quorum of witnesses cosigned
    /// it; also the names of the witnesses whose cosignatures are valid, with their times.
    pub fn open(&self, note: &str) -> Result<(Checkpoint, Vec<(String, u64)>), TrustError> {
        let checkpoint = super::note::open_checkpoint(&self.log, note)
            .map_err(|e| TrustError::Signature(e.to_string()))?;
        // The signed text, exactly (extension lines included), then the signature lines.
        let body = self
            .log
            .open(note)
            .map_err(|e| TrustError::Signature(e.to_string()))?;
        let lines = note.get(body.len() + 1..).unwrap_or_default();
        let cosigned: Vec<(String, u64)> = self
            .witnesses
            .iter()
            .filter_map(|w| w.verify(body, lines).map(|t| (w.name().to_owned(), t)))
            .collect();
        if cosigned.len() < self.quorum {
            return Err(TrustError::TooFewCosignatures {
                valid: cosigned.len(),
                quorum: self.quorum,
            });
        }
        Ok((checkpoint, cosigned))
    }
}

/// How a newer checkpoint contradicts one already held.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rewrite {
    #[error("the log now shows {served} leaves, fewer than the {held} it signed before")]
    Smaller { held: u64, served: u64 },
    #[error("the log signed two different trees of {size} leaves")]
    Forked { size: u64 },
    #[error("the tree of {to} leaves does not extend the one of {from} leaves it signed before")]
    NotExtended { from: u64, to: u64 },
}

/// Checks that `newer` extends `held`, with `proof` the consistency proof between them
/// (needed only when `newer` is larger).
pub fn check_extends(held: &Checkpoint, newer: &Checkpoint, proof: &[Hash]) -> Result<(), Rewrite> {
    if newer.size < held.size {
        return Err(Rewrite::Smaller {
            held: held.size,
            served: newer.size,
        });
    }
    if newer.size == held.size {
        return if newer.root == held.root {
            Ok(())
        } else {
            Err(Rewrite::Forked { size: held.size })
        };
    }
    if held.size == 0 || verify_consistency(held.size, newer.size, &held.root, &newer.root, proof) {
        Ok(())
    } else {
        Err(Rewrite::NotExtended {
            from: held.size,
            to: newer.size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::Cosigner;
    use crate::merkle::{empty_root, Frontier};
    use crate::note::Signer;

    fn pkcs8() -> Vec<u8> {
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    fn tree(leaves: u8) -> Checkpoint {
        let mut f = Frontier::resume(0, Vec::new()).unwrap();
        for i in 0..leaves {
            f.push(crate::merkle::leaf_hash(&[i]));
        }
        Checkpoint {
            origin: "log.test".into(),
            size: leaves as u64,
            root: if leaves == 0 { empty_root() } else { f.root() },
        }
    }

    #[test]
    fn a_checkpoint_needs_the_logs_signature_and_the_quorum() {
        let log = Signer::new("log.test", &pkcs8()).unwrap();
        let w1 = Cosigner::new("w1.test", &pkcs8()).unwrap();
        let w2 = Cosigner::new("w2.test", &pkcs8()).unwrap();
        let keys = vec![w1.verifier_key(), w2.verifier_key()];
        let body = tree(3).text();
        let note = log.sign(&body);
        let one = format!("{note}{}", w1.cosign(&body, 7));
        let both = format!("{one}{}", w2.cosign(&body, 9));

        let trust = Trust::new(&log.verifier_key(), &keys, 2).unwrap();
        assert_eq!(
            trust.open(&one).unwrap_err(),
            TrustError::TooFewCosignatures {
                valid: 1,
                quorum: 2
            }
        );
        let (checkpoint, cosigned) = trust.open(&both).unwrap();
        assert_eq!(checkpoint, tree(3));
        assert_eq!(cosigned, vec![("w1.test".into(), 7), ("w2.test".into(), 9)]);
        assert!(Trust::new(&log.verifier_key(), &keys, 1)
            .unwrap()
            .open(&one)
            .is_ok());
        // A cosignature of another tree does not count.
        let stale = format!("{note}{}", w1.cosign(&tree(2).text(), 7));
        assert!(Trust::new(&log.verifier_key(), &keys, 1)
            .unwrap()
            .open(&stale)
            .is_err());
        let impostor = Signer::new("log.test", &pkcs8()).unwrap();
        assert!(matches!(
            trust.open(&impostor.sign(&body)),
            Err(TrustError::Signature(_))
        ));
        assert!(Trust::new(&log.verifier_key(), &keys, 3).is_err());
    }

    #[test]
    fn a_newer_checkpoint_must_extend_the_one_held() {
        use crate::merkle::{consistency_proof, leaf_hash, node_hash, split, SubtreeHashes};
        struct Leaves(Vec<Hash>);
        fn mth(l: &[Hash]) -> Hash {
            match l.len() {
                0 => empty_root(),
                1 => l[0],
                n => {
                    let k = split(n as u64) as usize;
                    node_hash(&mth(&l[..k]), &mth(&l[k..]))
                }
            }
        }
        impl SubtreeHashes for Leaves {
            type Error = ();
            fn subtree(&mut self, start: u64, end: u64) -> Result<Hash, ()> {
                Ok(mth(&self.0[start as usize..end as usize]))
            }
        }
        let proof = |m: u64, n: u64| {
            let mut leaves = Leaves((0..n as u8).map(|i| leaf_hash(&[i])).collect());
            consistency_proof(&mut leaves, m, n).unwrap()
        };
        assert_eq!(check_extends(&tree(3), &tree(7), &proof(3, 7)), Ok(()));
        assert_eq!(check_extends(&tree(3), &tree(3), &[]), Ok(()));
        assert_eq!(
            check_extends(&tree(5), &tree(3), &[]),
            Err(Rewrite::Smaller { held: 5, served: 3 })
        );
        let mut other = tree(3);
        other.root[0] ^= 1;
        assert_eq!(
            check_extends(&tree(3), &other, &[]),
            Err(Rewrite::Forked { size: 3 })
        );
        assert_eq!(
            check_extends(&other, &tree(7), &proof(3, 7)),
            Err(Rewrite::NotExtended { from: 3, to: 7 })
        );
    }
}
