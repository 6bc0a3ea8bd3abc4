//! RFC 9162 (RFC 6962) Merkle tree hashing and proofs.
//!
//! Leaf hash `SHA-256(0x00 ‖ data)`, node hash `SHA-256(0x01 ‖ left ‖ right)`, and the split
//! at the largest power of two smaller than the size. Proofs are built from a
//! [`SubtreeHashes`] source that answers the hash of any range the recursion asks for; the
//! store answers from stored perfect-subtree hashes, so a proof costs O(log n) lookups.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
pub fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Answers MTH(D[start..end]) for the ranges proofs need.
pub trait SubtreeHashes {
    type Error;
    fn subtree(&mut self, start: u64, end: u64) -> Result<Hash, Self::Error>;
}

/// The tree head of a range, from perfect subtrees `perfect(level, index)` (the hash of
/// leaves `index·2^level .. (index+1)·2^level`): O(log n) lookups.
pub fn range_hash<E>(
    start: u64,
    end: u64,
    perfect: &mut impl FnMut(u32, u64) -> Result<Hash, E>,
) -> Result<Hash, E> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start % n == 0 {
        return perfect(n.trailing_zeros(), start / n);
    }
    let k = split(n);
    let left = range_hash(start, start + k, perfect)?;
    let right = range_hash(start + k, end, perfect)?;
    Ok(node_hash(&left, &right))
}

/// PATH(m, D[n]) of RFC 9162 §2.1.3.1, for leaf `index` in a tree of `size` leaves.
pub fn inclusion_proof<S: SubtreeHashes>(
    tree: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    path(tree, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: SubtreeHashes>(
    tree: &mut S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(tree, m, start, start + k, out)?;
        out.push(tree.subtree(start + k, end)?);
    } else {
        path(tree, m - k, start + k, end, out)?;
        out.push(tree.subtree(start, start + k)?);
    }
    Ok(())
}

/// PROOF(m, D[n]) of RFC 9162 §2.1.4.1: that the tree of `old` leaves is a prefix of the
/// tree of `new` leaves.
pub fn consistency_proof<S: SubtreeHashes>(
    tree: &mut S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(tree, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: SubtreeHashes>(
    tree: &mut S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(tree.subtree(start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(tree, m, start, start + k, whole, out)?;
        out.push(tree.subtree(start + k, end)?);
    } else {
        subproof(tree, m - k, start + k, end, false, out)?;
        out.push(tree.subtree(start, start + k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && &r == root
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty();
    }
    let mut proof = proof.to_vec();
    if old.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let Some((first, rest)) = proof.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && &f_r == old_root && &s_r == new_root
}

/// An append-only tree held as its right edge (the roots of its perfect subtrees): O(log n)
/// memory, O(1) amortised per append, the root at every size. `log verify` rebuilds with it.
#[derive(Default, Clone)]
pub struct Frontier {
    size: u64,
    /// Perfect subtree roots, largest (leftmost) first.
    stack: Vec<Hash>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns the perfect subtrees completed by it as (level, index,
    /// hash), level 0 first.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u32, u64, Hash)> {
        let mut completed = vec![(0, self.size, leaf)];
        let mut hash = leaf;
        let mut level = 0u32;
        let mut index = self.size;
        self.size += 1;
        while index & 1 == 1 {
            let left = self.stack.pop().expect("a left sibling exists");
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed.push((level, index, hash));
        }
        self.stack.push(hash);
        completed
    }

    /// Resumes from a stored right edge (the roots of the perfect subtrees, largest first) of
    /// a tree of `size` leaves; `None` when the edge does not have that tree's shape.
    pub fn resume(size: u64, edge: Vec<Hash>) -> Option<Self> {
        (edge.len() == size.count_ones() as usize).then_some(Frontier { size, stack: edge })
    }

    /// The right edge: the roots of the perfect subtrees, largest first.
    pub fn edge(&self) -> &[Hash] {
        &self.stack
    }

    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn h(s: &str) -> Hash {
        unhex(s).try_into().unwrap()
    }

    /// A tree in memory, answering ranges by recomputing them from the leaves.
    struct Memory(Vec<Hash>);

    impl SubtreeHashes for Memory {
        type Error = ();
        fn subtree(&mut self, start: u64, end: u64) -> Result<Hash, ()> {
            Ok(reference_root(&self.0[start as usize..end as usize]))
        }
    }

    /// MTH straight from RFC 9162's definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    const RFC_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const RFC_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn rfc_leaves() -> Vec<Hash> {
        RFC_LEAVES.iter().map(|l| leaf_hash(&unhex(l))).collect()
    }

    #[test]
    fn roots_match_the_rfc_vectors_by_every_method() {
        let leaves = rfc_leaves();
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), h(RFC_ROOTS[0]));
        for n in 1..=8 {
            frontier.push(leaves[n - 1]);
            assert_eq!(
                reference_root(&leaves[..n]),
                h(RFC_ROOTS[n]),
                "definition, size {n}"
            );
            assert_eq!(frontier.root(), h(RFC_ROOTS[n]), "frontier, size {n}");
            let mut nodes = std::collections::HashMap::new();
            let mut f = Frontier::default();
            for l in &leaves[..n] {
                for (level, index, hash) in f.push(*l) {
                    nodes.insert((level, index), hash);
                }
            }
            let got = range_hash(0, n as u64, &mut |l, i| Ok::<_, ()>(nodes[&(l, i)])).unwrap();
            assert_eq!(got, h(RFC_ROOTS[n]), "stored subtrees, size {n}");
        }
    }

    #[test]
    fn proofs_match_the_rfc_vectors() {
        let mut tree = Memory(rfc_leaves());
        let cases: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, want) in cases {
            let proof = inclusion_proof(&mut tree, index, size).unwrap();
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(proof, want, "inclusion of {index} in {size}");
            let leaf = tree.0[index as usize];
            assert!(verify_inclusion(
                &leaf,
                index,
                size,
                &proof,
                &h(RFC_ROOTS[size as usize])
            ));
        }
        let consistency: [(u64, u64, &[&str]); 3] = [
            (1, 1, &[]),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                2,
                8,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
        ];
        for (old, new, want) in consistency {
            let proof = consistency_proof(&mut tree, old, new).unwrap();
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(proof, want, "consistency {old} -> {new}");
            assert!(verify_consistency(
                old,
                new,
                &h(RFC_ROOTS[old as usize]),
                &h(RFC_ROOTS[new as usize]),
                &proof
            ));
        }
    }

    /// A small deterministic generator, so the property tests need no extra crate and a
    /// failure can be replayed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_tree(rng: &mut Rng, size: u64) -> Memory {
        Memory(
            (0..size)
                .map(|_| leaf_hash(&rng.next().to_be_bytes()))
                .collect(),
        )
    }

    #[test]
    fn every_inclusion_proof_verifies_and_any_change_fails() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        // Every index of every size up to 70, then random ones up to 5000.
        let mut cases: Vec<(u64, u64)> =
            (1..=70).flat_map(|n| (0..n).map(move |i| (i, n))).collect();
        for _ in 0..300 {
            let n = 1 + rng.below(5000);
            cases.push((rng.below(n), n));
        }
        let mut trees: std::collections::HashMap<u64, (Memory, Hash)> = Default::default();
        for (index, size) in cases {
            let (tree, root) = trees.entry(size).or_insert_with(|| {
                let t = random_tree(&mut Rng(size * 7919 + 1), size);
                let r = reference_root(&t.0);
                (t, r)
            });
            let root = *root;
            let proof = inclusion_proof(tree, index, size).unwrap();
            let leaf = tree.0[index as usize];
            assert!(
                verify_inclusion(&leaf, index, size, &proof, &root),
                "({index}, {size})"
            );
            // A changed leaf, index, size, proof or root fails.
            let mut other = leaf;
            other[0] ^= 1;
            assert!(!verify_inclusion(&other, index, size, &proof, &root));
            if size > 1 {
                let wrong = (index + 1 + rng.below(size - 1)) % size;
                assert!(
                    !verify_inclusion(&leaf, wrong, size, &proof, &root),
                    "index ({index}, {size})"
                );
            }
            // Another size comes with that size's root (a checkpoint binds the two).
            let mut longer = tree.0.clone();
            longer.push(leaf_hash(b"one more"));
            assert!(!verify_inclusion(
                &leaf,
                index,
                size + 1,
                &proof,
                &reference_root(&longer)
            ));
            if size > 1 && index < size - 1 {
                let shorter = reference_root(&tree.0[..size as usize - 1]);
                assert!(
                    !verify_inclusion(&leaf, index, size - 1, &proof, &shorter),
                    "size ({index}, {size})"
                );
            }
            assert!(!verify_inclusion(&leaf, size, size, &proof, &root));
            if let Some(first) = proof.first() {
                let mut bent = proof.clone();
                bent[0] = {
                    let mut f = *first;
                    f[31] ^= 0x80;
                    f
                };
                assert!(!verify_inclusion(&leaf, index, size, &bent, &root));
                assert!(!verify_inclusion(&leaf, index, size, &proof[1..], &root));
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_any_change_fails() {
        let mut rng = Rng(0x5eed_1234_abcd_0002);
        let mut cases: Vec<(u64, u64)> = (1..=40)
            .flat_map(|n| (1..=n).map(move |m| (m, n)))
            .collect();
        for _ in 0..200 {
            let n = 2 + rng.below(4000);
            cases.push((1 + rng.below(n - 1), n));
        }
        for (old, new) in cases {
            let mut tree = random_tree(&mut Rng(new * 104_729 + old), new);
            let old_root = reference_root(&tree.0[..old as usize]);
            let new_root = reference_root(&tree.0);
            let proof = consistency_proof(&mut tree, old, new).unwrap();
            assert!(
                verify_consistency(old, new, &old_root, &new_root, &proof),
                "({old}, {new})"
            );
            if old < new {
                let mut bad = old_root;
                bad[5] ^= 4;
                assert!(!verify_consistency(old, new, &bad, &new_root, &proof));
                assert!(!verify_consistency(old, new, &old_root, &bad, &proof));
                let mut longer = tree.0.clone();
                longer.push(leaf_hash(b"one more"));
                assert!(!verify_consistency(
                    old,
                    new + 1,
                    &old_root,
                    &reference_root(&longer),
                    &proof
                ));
                if old > 1 {
                    let shorter = reference_root(&tree.0[..old as usize - 1]);
                    assert!(
                        !verify_consistency(old - 1, new, &shorter, &new_root, &proof),
                        "({old}, {new})"
                    );
                }
                if !proof.is_empty() {
                    assert!(!verify_consistency(
                        old,
                        new,
                        &old_root,
                        &new_root,
                        &proof[..proof.len() - 1]
                    ));
                }
            }
        }
    }

    #[test]
    fn the_frontier_reports_exactly_the_completed_subtrees() {
        let mut f = Frontier::default();
        let done: Vec<Vec<(u32, u64)>> = (0..8)
            .map(|i| {
                f.push(leaf_hash(&[i]))
                    .iter()
                    .map(|(l, i, _)| (*l, *i))
                    .collect()
            })
            .collect();
        assert_eq!(done[0], vec![(0, 0)]);
        assert_eq!(done[1], vec![(0, 1), (1, 0)]);
        assert_eq!(done[3], vec![(0, 3), (1, 1), (2, 0)]);
        assert_eq!(done[7], vec![(0, 7), (1, 3), (2, 1), (3, 0)]);
        assert_eq!(f.size(), 8);
    }
}
