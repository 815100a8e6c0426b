//! Merkle trees over a feed, exactly as RFC 9162 §2.1 defines them (SHA-256, as the checkpoint
//! and witness ecosystem is SHA-256 by definition; event hashes and chains stay blake3): the
//! tree hash, inclusion proofs and consistency proofs, made and checked.
//!
//! A leaf's data is an event's 32-byte hash; leaves are in seq order. Roots and proofs are made
//! from any [`Subtrees`] source: the leaves in memory ([`Leaves`]) or a store's tiles
//! (`FeedTree`); checking them needs only the proof, the sizes and the roots.
//!
//! **Consistency from size 0** (the RFC leaves it open): refused. Every tree extends the empty
//! tree, so such a proof says nothing; a checker that has no earlier checkpoint has nothing to
//! compare and should say so, not accept a proof. [`verify_consistency`] fails for `old == 0`.

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash of the tree: a leaf's, a node's or a root.
pub type TreeHash = [u8; 32];

/// Why a proof does not hold (each variant's message says it).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the old size {old} is larger than the new size {new}")]
    SizesReversed { old: u64, new: u64 },
    #[error("a consistency proof from size 0 proves nothing (every tree extends the empty tree)")]
    FromEmpty,
    #[error("the proof has {got} hashes; sizes {old} and {new} need {want}")]
    WrongLength { got: usize, want: usize, old: u64, new: u64 },
    #[error("hash {at} of the proof is {len} bytes, not 32")]
    NotAHash { at: usize, len: usize },
    #[error("the inclusion proof has {got} hashes: more than its tree's height")]
    TooLong { got: usize },
    #[error("a root is {len} bytes, not 32")]
    RootNotAHash { len: usize },
    #[error("the proof does not lead to the root")]
    RootMismatch,
}

/// The hash of a leaf: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> TreeHash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> TreeHash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    let k = n.next_power_of_two() / 2;
    if k == n { k / 2 } else { k }
}

/// Where the hashes of a tree's complete subtrees come from: the leaves in memory ([`Leaves`]),
/// or the tiles a store keeps of each feed (`Snapshot::feed_tree`). Roots and proofs are worked
/// out from these alone, so the same code makes them from either.
pub trait Subtrees {
    /// Why a hash could not be read.
    type Error;
    /// The hash of the complete subtree of `2^height` leaves whose first leaf is
    /// `index << height`. Callers ask only for subtrees inside the tree.
    fn subtree(&mut self, height: u32, index: u64) -> Result<TreeHash, Self::Error>;
}

/// A tree's leaf hashes, in memory.
#[derive(Debug)]
pub struct Leaves<'a>(pub &'a [TreeHash]);

impl Subtrees for Leaves<'_> {
    type Error = std::convert::Infallible;
    fn subtree(&mut self, height: u32, index: u64) -> Result<TreeHash, Self::Error> {
        let lo = (index << height) as usize;
        Ok(perfect_root(&self.0[lo..lo + (1usize << height)]))
    }
}

/// The root of a complete subtree given its `2^k` leaves (or its `2^k` nodes of one height).
pub fn perfect_root(hashes: &[TreeHash]) -> TreeHash {
    match hashes.len() {
        0 => empty_root(),
        1 => hashes[0],
        n => {
            let half = n / 2;
            node_hash(&perfect_root(&hashes[..half]), &perfect_root(&hashes[half..]))
        }
    }
}

/// MTH(D[lo:hi]) (RFC 9162 §2.1.1) for a range the RFC's recursion visits: `lo` is a multiple
/// of the smallest power of two ≥ `hi − lo` (true of every range below the root).
fn range_root<S: Subtrees>(tree: &mut S, lo: u64, hi: u64) -> Result<TreeHash, S::Error> {
    let n = hi - lo;
    if n.is_power_of_two() {
        let height = n.trailing_zeros();
        return tree.subtree(height, lo >> height);
    }
    let k = split(n);
    Ok(node_hash(&range_root(tree, lo, lo + k)?, &range_root(tree, lo + k, hi)?))
}

/// The root of the tree of the first `size` leaves (MTH, RFC 9162 §2.1.1).
pub fn tree_root<S: Subtrees>(tree: &mut S, size: u64) -> Result<TreeHash, S::Error> {
    if size == 0 { Ok(empty_root()) } else { range_root(tree, 0, size) }
}

/// The inclusion proof of leaf `index` in the tree of the first `size` leaves (PATH, RFC 9162
/// §2.1.3.1), the leaf's sibling first; `None` if the index is out of range.
pub fn prove_inclusion<S: Subtrees>(tree: &mut S, size: u64, index: u64) -> Result<Option<Vec<TreeHash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    // Walk down from the root, noting each sibling; the proof lists them from the leaf up.
    let (mut lo, mut hi, mut out) = (0, size, Vec::new());
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            out.push(range_root(tree, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_root(tree, lo, lo + k)?);
            lo += k;
        }
    }
    out.reverse();
    Ok(Some(out))
}

/// The consistency proof from the tree of the first `old` leaves to the tree of the first `new`
/// (PROOF, RFC 9162 §2.1.4.1); `None` unless 0 < old ≤ new.
pub fn prove_consistency<S: Subtrees>(tree: &mut S, old: u64, new: u64) -> Result<Option<Vec<TreeHash>>, S::Error> {
    if old == 0 || old > new {
        return Ok(None);
    }
    // SUBPROOF(m, D[lo:hi], b), walked down from the root; the proof lists from the bottom up.
    let (mut lo, mut hi, mut whole, mut out) = (0, new, true, Vec::new());
    let m = old;
    loop {
        if m - lo == hi - lo {
            if !whole {
                out.push(range_root(tree, lo, hi)?);
            }
            break;
        }
        let k = split(hi - lo);
        if m - lo <= k {
            out.push(range_root(tree, lo + k, hi)?);
            hi = lo + k;
        } else {
            out.push(range_root(tree, lo, lo + k)?);
            lo += k;
            whole = false;
        }
    }
    out.reverse();
    Ok(Some(out))
}

/// MTH(D[n]) over leaf hashes in memory (RFC 9162 §2.1.1).
pub fn root(leaves: &[TreeHash]) -> TreeHash {
    let Ok(root) = tree_root(&mut Leaves(leaves), leaves.len() as u64);
    root
}

/// The inclusion proof of leaf `index` in the tree of `leaves` (in memory).
pub fn inclusion_proof(leaves: &[TreeHash], index: usize) -> Option<Vec<TreeHash>> {
    let Ok(proof) = prove_inclusion(&mut Leaves(leaves), leaves.len() as u64, index as u64);
    proof
}

/// The consistency proof from the tree of the first `old` leaves to the tree of all `leaves`
/// (in memory); `None` unless 0 < old ≤ len.
pub fn consistency_proof(leaves: &[TreeHash], old: usize) -> Option<Vec<TreeHash>> {
    let Ok(proof) = prove_consistency(&mut Leaves(leaves), old as u64, leaves.len() as u64);
    proof
}

/// The proof's hashes, each checked to be 32 bytes.
fn hashes<T: AsRef<[u8]>>(proof: &[T]) -> Result<Vec<TreeHash>, ProofError> {
    proof
        .iter()
        .enumerate()
        .map(|(at, p)| TreeHash::try_from(p.as_ref()).map_err(|_| ProofError::NotAHash { at, len: p.as_ref().len() }))
        .collect()
}

fn root_of(bytes: &[u8]) -> Result<TreeHash, ProofError> {
    TreeHash::try_from(bytes).map_err(|_| ProofError::RootNotAHash { len: bytes.len() })
}

/// Checks that the leaf whose hash is `leaf` is at `index` in the tree of `size` leaves whose root
/// is `root` (RFC 9162 §2.1.3.2). Hashes of the wrong length are a failed proof, never a panic.
pub fn verify_inclusion<T: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[T],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let root = root_of(root)?;
    let mut r = TreeHash::try_from(leaf).map_err(|_| ProofError::NotAHash { at: 0, len: leaf.len() })?;
    let proof = hashes(proof)?;
    let (mut f, mut s) = (index, size - 1);
    for p in &proof {
        if s == 0 {
            return Err(ProofError::TooLong { got: proof.len() });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::RootMismatch);
    }
    if r == root { Ok(()) } else { Err(ProofError::RootMismatch) }
}

/// Checks that the tree of `new` leaves with root `new_root` extends the tree of its first `old`
/// leaves with root `old_root` (RFC 9162 §2.1.4.2). Equal sizes need an empty proof and equal
/// roots; `old == 0` is refused (see the module's comment).
pub fn verify_consistency<T: AsRef<[u8]>>(
    old: u64,
    new: u64,
    proof: &[T],
    old_root: &[u8],
    new_root: &[u8],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesReversed { old, new });
    }
    if old == 0 {
        return Err(ProofError::FromEmpty);
    }
    if old == new {
        // The same tree: nothing to prove but that the roots are the same bytes (compared as
        // given, as the reference implementation does; a checkpoint's root is always 32 bytes).
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { got: proof.len(), want: 0, old, new });
        }
        return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    let (old_root, new_root) = (root_of(old_root)?, root_of(new_root)?);
    let mut proof = hashes(proof)?;
    if proof.is_empty() {
        return Err(ProofError::WrongLength { got: 0, want: 1, old, new });
    }
    if old.is_power_of_two() {
        proof.insert(0, old_root);
    }
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (proof[0], proof[0]);
    for c in &proof[1..] {
        if s == 0 {
            return Err(ProofError::RootMismatch);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && fr == old_root && sr == new_root { Ok(()) } else { Err(ProofError::RootMismatch) }
}

/// What starts the origin of every feed: then the author's key in hex.
pub const FEED_ORIGIN_PREFIX: &str = "mindlog.local/feed/";

/// The origin of `author`'s feed in checkpoints, and the name of the key that signs them.
pub fn feed_origin(author: &crate::PublicKey) -> String {
    format!("{FEED_ORIGIN_PREFIX}{author}")
}

/// The author whose feed `origin` names, if it names one.
pub fn feed_author(origin: &str) -> Option<crate::PublicKey> {
    origin.strip_prefix(FEED_ORIGIN_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<TreeHash> {
        (0..n).map(|i| leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    #[test]
    fn roots_of_small_trees() {
        let l = leaves(3);
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(hex::encode(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    /// Every leaf of every tree up to 64 leaves: its proof holds, and fails against a neighbour's
    /// index, a changed hash, or one hash less.
    #[test]
    fn inclusion_up_to_64() {
        let all = leaves(64);
        for size in 1..=64 {
            let tree = &all[..size];
            let r = root(tree);
            for i in 0..size {
                let proof = inclusion_proof(tree, i).unwrap();
                verify_inclusion(i as u64, size as u64, &tree[i], &proof, &r).unwrap();
                if size > 1 {
                    let other = (i + 1) % size;
                    assert!(verify_inclusion(other as u64, size as u64, &tree[i], &proof, &r).is_err());
                }
                if let Some((_, shorter)) = proof.split_last() {
                    assert!(verify_inclusion(i as u64, size as u64, &tree[i], shorter, &r).is_err());
                    let mut bent = proof.clone();
                    bent[0][0] ^= 1;
                    assert!(verify_inclusion(i as u64, size as u64, &tree[i], &bent, &r).is_err());
                }
            }
        }
    }

    /// Every pair of sizes up to 64 (the 1 → 2 case once shipped broken elsewhere): the proof
    /// holds, and fails with the sizes or roots changed or a hash flipped.
    #[test]
    fn consistency_every_size_pair_up_to_64() {
        let all = leaves(64);
        for new in 1..=64usize {
            let new_root = root(&all[..new]);
            for old in 1..=new {
                let old_root = root(&all[..old]);
                let proof = consistency_proof(&all[..new], old).unwrap();
                verify_consistency(old as u64, new as u64, &proof, &old_root, &new_root)
                    .unwrap_or_else(|e| panic!("{old} -> {new}: {e}"));
                if old < new {
                    assert!(verify_consistency(old as u64, new as u64, &proof, &new_root, &old_root).is_err());
                    assert!(verify_consistency(old as u64 + 1, new as u64, &proof, &old_root, &new_root).is_err());
                    let mut bent = proof.clone();
                    let last = bent.len() - 1;
                    bent[last][31] ^= 1;
                    assert!(verify_consistency(old as u64, new as u64, &bent, &old_root, &new_root).is_err());
                }
            }
        }
        assert_eq!(
            verify_consistency::<TreeHash>(0, 5, &[], &empty_root(), &root(&all[..5])),
            Err(ProofError::FromEmpty)
        );
    }

    /// An inner node's 64 bytes presented as a leaf: its leaf hash is not the node's hash, so no
    /// proof made for the node can hold for it.
    #[test]
    fn an_inner_node_is_not_a_leaf() {
        let l = leaves(4);
        let inner = node_hash(&l[0], &l[1]);
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&l[0]);
        bytes[32..].copy_from_slice(&l[1]);
        let posing = leaf_hash(&bytes);
        assert_ne!(posing, inner);
        let r = root(&l);
        // In a tree of size 2 (the node's level), the proof of the node is [hash of l2‖l3].
        let proof = [node_hash(&l[2], &l[3])];
        assert!(verify_inclusion(0, 2, &inner, &proof, &r).is_ok(), "the node is the left half");
        assert!(verify_inclusion(0, 2, &posing, &proof, &r).is_err());
        assert!(verify_inclusion(0, 4, &posing, &inclusion_proof(&l, 0).unwrap(), &r).is_err());
    }
}
