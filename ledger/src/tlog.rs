//! Merkle trees over a feed, exactly as RFC 9162 §2.1 defines them (SHA-256, as the checkpoint
//! and witness ecosystem is SHA-256 by definition; event hashes and chains stay blake3): the
//! tree hash, inclusion proofs and consistency proofs, made and checked.
//!
//! A leaf's data is an event's 32-byte hash; leaves are in seq order. Making proofs here works on
//! the leaves' hashes in memory; checking them needs only the proof, the sizes and the roots.
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
fn split(n: usize) -> usize {
    let k = n.next_power_of_two() / 2;
    if k == n { k / 2 } else { k }
}

/// MTH(D[n]) over leaf hashes (RFC 9162 §2.1.1).
pub fn root(leaves: &[TreeHash]) -> TreeHash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree of `leaves` (PATH, RFC 9162 §2.1.3.1);
/// `None` if the index is out of range.
pub fn inclusion_proof(leaves: &[TreeHash], index: usize) -> Option<Vec<TreeHash>> {
    fn path(m: usize, d: &[TreeHash], out: &mut Vec<TreeHash>) {
        if d.len() <= 1 {
            return;
        }
        let k = split(d.len());
        if m < k {
            path(m, &d[..k], out);
            out.push(root(&d[k..]));
        } else {
            path(m - k, &d[k..], out);
            out.push(root(&d[..k]));
        }
    }
    (index < leaves.len()).then(|| {
        let mut out = Vec::new();
        path(index, leaves, &mut out);
        out
    })
}

/// The consistency proof from the tree of the first `old` leaves to the tree of all `leaves`
/// (PROOF, RFC 9162 §2.1.4.1); `None` unless 0 < old ≤ len.
pub fn consistency_proof(leaves: &[TreeHash], old: usize) -> Option<Vec<TreeHash>> {
    fn subproof(m: usize, d: &[TreeHash], whole: bool, out: &mut Vec<TreeHash>) {
        if m == d.len() {
            if !whole {
                out.push(root(d));
            }
            return;
        }
        let k = split(d.len());
        if m <= k {
            subproof(m, &d[..k], whole, out);
            out.push(root(&d[k..]));
        } else {
            subproof(m - k, &d[k..], false, out);
            out.push(root(&d[..k]));
        }
    }
    (old > 0 && old <= leaves.len()).then(|| {
        let mut out = Vec::new();
        subproof(old, leaves, true, &mut out);
        out
    })
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

/// The leaves of `author`'s feed up to seq `size` (the first `size` events, in seq order): each
/// event hash's leaf hash. Fails if the store holds fewer.
pub fn feed_leaves(
    snapshot: &crate::Snapshot,
    author: &crate::PublicKey,
    size: u64,
) -> Result<Vec<TreeHash>, crate::StorageError> {
    let mut leaves = Vec::with_capacity(size as usize);
    if size == 0 {
        return Ok(leaves);
    }
    for entry in snapshot.feed(author, 1..=size)? {
        let (_, offset) = entry?;
        let hash = snapshot.with_event(offset, |e| e.hash)?.ok_or_else(|| crate::StorageError::Corrupt {
            offset,
            problem: "the feed index names this offset, which holds no event".into(),
        })?;
        leaves.push(leaf_hash(&hash.0));
    }
    if leaves.len() as u64 != size {
        return Err(crate::StorageError::Corrupt {
            offset: 0,
            problem: format!("the feed index of {author} has {} events up to seq {size}", leaves.len()),
        });
    }
    Ok(leaves)
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
