//! Each feed's Merkle tree as the store keeps it (`feed_tree`, tiles of 256 hashes per level from
//! height 8 up, written by every commit that indexes events; the leaves read from the events): its roots and proofs are the ones worked out
//! from the feed's leaves in memory, at every size, across commits of every shape.

#![allow(clippy::unwrap_used)]

use mindlog_ledger::tlog::{self, TreeHash};
use mindlog_ledger::{Draft, Expect, Identity, Ledger};

const TS: u64 = 1_767_225_600_000_000;

fn drafts(from: u64, n: u64) -> Vec<Draft> {
    (from..from + n)
        .map(|i| Draft {
            kind: "note.added/1".into(),
            payload: vec![i as u8],
            refs: vec![],
            ts: TS + i,
            private: false,
        })
        .collect()
}

/// The leaf hashes of `author`'s feed, read event by event.
fn leaves(ledger: &Ledger, author: &mindlog_ledger::PublicKey) -> Vec<TreeHash> {
    let snapshot = ledger.snapshot().unwrap();
    let head = snapshot.head(author).unwrap().map_or(0, |h| h.seq);
    snapshot
        .feed(author, 1..=head)
        .unwrap()
        .map(|e| {
            let offset = e.unwrap().1;
            tlog::leaf_hash(&snapshot.event(offset).unwrap().unwrap().hash.0)
        })
        .collect()
}

#[test]
fn the_stored_tree_gives_the_roots_and_proofs_of_the_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let (a, b) = (Identity::from_secret(&[1; 32]), Identity::from_secret(&[2; 32]));
    // Commits of every shape: single events, a tile's worth and a little more, batches that
    // straddle tile edges, and enough for a node at height 16 (65,536 leaves), interleaving feeds.
    let mut written = 0u64;
    for batch in [1u64, 1, 254, 1, 1, 300, 511, 3, 65_000, 1, 700] {
        ledger.append(&a, drafts(written, batch), Expect::Any).unwrap();
        ledger.append_one(&b, drafts(written, 1).pop().unwrap()).unwrap();
        written += batch;
    }
    let all = leaves(&ledger, &a.public_key());
    assert_eq!(all.len() as u64, written);
    let snapshot = ledger.snapshot().unwrap();
    let mut tree = snapshot.feed_tree(&a.public_key()).unwrap();
    let mut sizes: Vec<u64> = (1..=600).collect();
    sizes.extend([1023, 1024, 1025, 65_535, 65_536, 65_537, 66_000, written]);
    for &size in &sizes {
        let prefix = &all[..size as usize];
        let root = tlog::root(prefix);
        assert_eq!(tlog::tree_root(&mut tree, size).unwrap(), root, "root at size {size}");
        for index in [0, size / 3, size / 2, size - 1] {
            let proof = tlog::prove_inclusion(&mut tree, size, index).unwrap().unwrap();
            assert_eq!(Some(&proof), tlog::inclusion_proof(prefix, index as usize).as_ref(), "{index} in {size}");
            tlog::verify_inclusion(index, size, &prefix[index as usize], &proof, &root).unwrap();
        }
        for old in [1, size / 2, size - 1, size].into_iter().filter(|&o| o > 0) {
            let proof = tlog::prove_consistency(&mut tree, old, size).unwrap().unwrap();
            assert_eq!(Some(&proof), tlog::consistency_proof(prefix, old as usize).as_ref(), "{old} to {size}");
        }
    }
    // The other feed, one event per commit, has its own tree.
    let other = leaves(&ledger, &b.public_key());
    let mut tree = snapshot.feed_tree(&b.public_key()).unwrap();
    assert_eq!(tlog::tree_root(&mut tree, other.len() as u64).unwrap(), tlog::root(&other));
    drop((tree, snapshot));
    assert!(ledger.verify(&|_| {}).unwrap().ok);
}

/// `publish_checkpoint` appends the feed's signed checkpoint as its next event (once: signing
/// again at once gives the same one); `verify` checks every published checkpoint against the
/// tree, and reports one signed by the author with another root as evidence against it.
#[test]
fn checkpoints_are_published_in_their_feed_and_verified() {
    use mindlog_ledger::note::{Checkpoint, sign_note};
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let me = Identity::from_secret(&[7; 32]);
    let author = me.public_key();
    ledger.append(&me, drafts(0, 5), Expect::Any).unwrap();
    let first = ledger.publish_checkpoint(&me, TS + 10).unwrap();
    assert_eq!((first.seq, first.checkpoint.size), (6, 5));
    assert_eq!(first.checkpoint.root, tlog::root(&leaves(&ledger, &author)[..5]));
    let again = ledger.publish_checkpoint(&me, TS + 11).unwrap();
    assert_eq!((again.seq, again.event, &again.note), (6, first.event, &first.note), "nothing new to sign");
    let stored = ledger.snapshot().unwrap().event(first.offset).unwrap().unwrap();
    assert_eq!(stored.envelope().unwrap().kind, mindlog_ledger::CHECKPOINT_KIND);

    ledger.append(&me, drafts(5, 3), Expect::Any).unwrap();
    let second = ledger.publish_checkpoint(&me, TS + 20).unwrap();
    assert_eq!((second.seq, second.checkpoint.size), (10, 9), "the first checkpoint is a leaf like any event");
    let snapshot = ledger.snapshot().unwrap();
    assert_eq!(snapshot.published_checkpoint(&author, 0).unwrap().unwrap().seq, 10);
    assert_eq!(snapshot.published_checkpoint(&author, 9).unwrap().unwrap().seq, 10);
    assert!(snapshot.published_checkpoint(&author, 10).unwrap().is_none());
    drop(snapshot);
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok && report.checkpoints == 2, "{report:?}");

    // A checkpoint the author signed with a root that is not the feed's, published in the feed.
    let head = ledger.snapshot().unwrap().head(&author).unwrap().unwrap();
    let lie = Checkpoint { origin: tlog::feed_origin(&author), size: 10, root: [9; 32], extensions: vec![] };
    let note = sign_note(&lie.text(), &lie.origin, &me).unwrap().to_bytes();
    let draft = Draft {
        kind: mindlog_ledger::CHECKPOINT_KIND.into(),
        payload: note,
        refs: vec![],
        ts: TS + 30,
        private: false,
    };
    let event = draft.seal(author, 11, Some(head.hash), [3; 32]).unwrap().sign(&me);
    ledger.ingest(&[event]).unwrap();
    // Evidence against its author, like a fork proof: not a failure of this store.
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok && report.failed_events == 0 && report.checkpoints == 2, "{report:?}");
    let [lie] = report.false_checkpoints.as_slice() else { panic!("{report:?}") };
    assert_eq!((lie.author, lie.seq), (author, 11));
    assert!(lie.problem.contains("its root at size 10 is not the feed's"), "{lie:?}");
    // Readers pass it over: the newest checkpoint that holds is still seq 10's.
    assert_eq!(ledger.snapshot().unwrap().published_checkpoint(&author, 0).unwrap().unwrap().seq, 10);
}
