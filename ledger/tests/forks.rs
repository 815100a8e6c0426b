//! Fork proofs in the store (`forks` table), and `ingest_prefix`, which a replicator uses to take
//! the good part of a page of events and learn where a fork starts.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mindlog_ledger::redb::{self, ReadableDatabase as _};
use mindlog_ledger::{
    Draft, FeedProblem, ForkProof, Hash, Identity, IngestError, Ingested, Ledger, StorageError, VerifiedEvent,
};

const FORKS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("forks");
const TS: u64 = 1_767_225_600_000_000;

fn identity(n: u8) -> Identity {
    Identity::from_secret(&[n; 32])
}

/// `identity`'s feed of `texts`, seq 1 on, signed here.
fn feed(identity: &Identity, texts: &[&str]) -> Vec<VerifiedEvent> {
    let mut prev: Option<Hash> = None;
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let draft = Draft {
                kind: "note.added/1".into(),
                payload: text.as_bytes().to_vec(),
                refs: vec![],
                ts: TS + i as u64,
                private: false,
            };
            let event = draft.seal(identity.public_key(), i as u64 + 1, prev, [i as u8; 32]).unwrap().sign(identity);
            prev = Some(event.hash());
            event
        })
        .collect()
}

fn signed(event: &VerifiedEvent) -> (Vec<u8>, mindlog_ledger::Signature) {
    (event.bytes().to_vec(), event.signature())
}

/// A proof that `identity` forked its feed at seq 2.
fn proof(identity: &Identity) -> ForkProof {
    let (left, right) = (feed(identity, &["a", "b"]), feed(identity, &["a", "c"]));
    ForkProof::new(signed(&left[1]), signed(&right[1])).unwrap()
}

#[test]
fn ingest_prefix_commits_up_to_the_fork_and_names_it() {
    let me = identity(1);
    let (held, other) = (feed(&me, &["a", "b", "c"]), feed(&me, &["a", "b", "x", "y"]));
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    ledger.ingest(&held[..1]).unwrap();

    // A page: one held, one new, then a fork, then one never looked at.
    let page = [held[0].clone(), held[1].clone(), other[2].clone(), other[3].clone()];
    let (answers, stopped) = ledger.ingest_prefix(&page[..2]).unwrap();
    assert_eq!(answers, [Ingested::AlreadyHeld(0), Ingested::Stored(1)]);
    assert!(stopped.is_none());
    ledger.ingest(&held[2..]).unwrap();
    let (answers, stopped) = ledger.ingest_prefix(&page).unwrap();
    assert_eq!(answers, [Ingested::AlreadyHeld(0), Ingested::AlreadyHeld(1)]);
    let (index, error) = stopped.unwrap();
    assert_eq!(index, 2);
    match error {
        IngestError::Feed { author, seq: 3, problem: FeedProblem::Fork { held: h } } => {
            assert_eq!((author, h), (me.public_key(), held[2].hash()));
        }
        other => panic!("not a fork: {other}"),
    }
    assert_eq!(ledger.snapshot().unwrap().len().unwrap(), 3);
    assert!(ledger.verify(&|_| {}).unwrap().ok);

    // The refused event and the one held make a proof, which the store keeps.
    let stored = ledger.snapshot().unwrap().event(2).unwrap().unwrap();
    let proof = ForkProof::new(signed(&other[2]), (stored.bytes, stored.signature)).unwrap();
    assert!(ledger.record_fork(&proof).unwrap());
}

#[test]
fn ingest_prefix_stores_the_events_before_a_gap_and_leaves_the_batch_usable() {
    let (me, you) = (identity(1), identity(2));
    let (mine, yours) = (feed(&me, &["a", "b", "c"]), feed(&you, &["x", "y"]));
    let ledger = Ledger::in_memory().unwrap();
    let page = [mine[0].clone(), yours[1].clone(), mine[1].clone()];
    let (answers, stopped) = ledger.ingest_prefix(&page).unwrap();
    assert_eq!(answers, [Ingested::Stored(0)]);
    let (index, error) = stopped.unwrap();
    assert_eq!(index, 1);
    assert!(matches!(error, IngestError::Feed { seq: 2, problem: FeedProblem::Gap { expected: 1 }, .. }), "{error}");
    // The rest of the page, and more, go in afterwards.
    let (answers, stopped) = ledger.ingest_prefix(&[yours[0].clone(), yours[1].clone(), mine[1].clone()]).unwrap();
    assert_eq!(answers, [Ingested::Stored(1), Ingested::Stored(2), Ingested::Stored(3)]);
    assert!(stopped.is_none());
    assert_eq!(ledger.head(&me.public_key()).unwrap().seq, 2);
    // `ingest` stays all or nothing: a good event followed by a gap writes neither.
    ledger.ingest(&mine[2..]).unwrap();
    let before = ledger.snapshot().unwrap().len().unwrap();
    let (yours, mine) = (feed(&you, &["x", "y", "z"]), feed(&me, &["a", "b", "c", "d", "e"]));
    assert!(matches!(
        ledger.ingest(&[yours[2].clone(), mine[4].clone()]),
        Err(IngestError::Feed { seq: 5, problem: FeedProblem::Gap { expected: 4 }, .. })
    ));
    assert_eq!(ledger.snapshot().unwrap().len().unwrap(), before, "a refused ingest writes nothing");
    assert!(ledger.verify(&|_| {}).unwrap().ok);
}

#[test]
fn a_fork_proof_is_recorded_once_survives_reopening_and_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    let (first, second) = (proof(&identity(1)), proof(&identity(2)));
    {
        let ledger = Ledger::create(&path).unwrap();
        assert_eq!(ledger.snapshot().unwrap().forks().unwrap(), [], "a store without the table holds none");
        let commits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commits);
        ledger.on_commit(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert!(ledger.record_fork(&second).unwrap());
        assert!(ledger.record_fork(&first).unwrap());
        assert!(!ledger.record_fork(&first).unwrap(), "held already");
        assert_eq!(commits.load(Ordering::SeqCst), 2, "each new proof wakes live readers once");
    }
    let ledger = Ledger::open(&path).unwrap();
    let mut expected = vec![first, second];
    expected.sort_by_key(|p| p.author());
    assert_eq!(ledger.snapshot().unwrap().forks().unwrap(), expected, "in key order, after reopening");
    for proof in &expected {
        assert_eq!(ledger.snapshot().unwrap().forks_by(&proof.author()).unwrap(), std::slice::from_ref(proof));
    }
    assert_eq!(ledger.snapshot().unwrap().forks_by(&identity(3).public_key()).unwrap(), []);
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.forks, report.bad_forks.len()), (2, 0));
}

#[test]
fn verify_flags_a_damaged_or_misfiled_fork_proof() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    let proof = proof(&identity(1));
    let ledger = Ledger::create(&path).unwrap();
    ledger
        .append_one(
            &identity(3),
            Draft { kind: "note.added/1".into(), payload: b"x".to_vec(), refs: vec![], ts: TS, private: false },
        )
        .unwrap();
    ledger.record_fork(&proof).unwrap();
    drop(ledger);

    let key = {
        let db = redb::Database::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        let table = read.open_table(FORKS).unwrap();
        let (k, _) = redb::ReadableTable::first(&table).unwrap().unwrap();
        k.value().to_vec()
    };

    // One byte of a signature changed.
    let mut bytes = proof.encode();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    tamper(&path, |t| {
        t.insert(key.as_slice(), bytes.as_slice()).unwrap();
    });
    let ledger = Ledger::open(&path).unwrap();
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(!report.ok);
    assert_eq!((report.forks, report.failed_events, report.bad_forks.len()), (0, 0, 1));
    assert_eq!(report.bad_forks[0].key, hex(&key));
    assert!(report.bad_forks[0].problem.contains("bad signature"), "{}", report.bad_forks[0].problem);
    assert!(matches!(ledger.snapshot().unwrap().forks(), Err(StorageError::BadForkProof { .. })));
    drop(ledger);

    // A valid proof under another key.
    tamper(&path, |t| {
        t.remove(key.as_slice()).unwrap();
        let mut other = key.clone();
        other[39] ^= 1;
        t.insert(other.as_slice(), proof.encode().as_slice()).unwrap();
    });
    let report = Ledger::open(&path).unwrap().verify(&|_| {}).unwrap();
    assert!(!report.ok);
    assert!(report.bad_forks[0].problem.contains("key"), "{}", report.bad_forks[0].problem);

    // Garbage.
    tamper(&path, |t| {
        t.insert(key.as_slice(), b"garbage".as_slice()).unwrap();
    });
    let report = Ledger::open(&path).unwrap().verify(&|_| {}).unwrap();
    assert_eq!(report.bad_forks.len(), 2);
}

type ForksTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// Changes the `forks` table of the closed store at `path` through redb directly.
fn tamper(path: &std::path::Path, change: impl FnOnce(&mut ForksTable<'_>)) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    change(&mut txn.open_table(FORKS).unwrap());
    txn.commit().unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_store_keeps_one_proof_per_author_the_lowest() {
    let me = identity(4);
    let (left, right) = (feed(&me, &["a", "b", "c"]), feed(&me, &["a", "x", "y"]));
    let at2 = ForkProof::new(signed(&left[1]), signed(&right[1])).unwrap();
    let at3 = ForkProof::new(signed(&left[2]), signed(&right[2])).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    assert!(ledger.record_fork(&at3).unwrap(), "the first proof of an author");
    assert!(ledger.record_fork(&at2).unwrap(), "a lower one replaces it");
    assert!(!ledger.record_fork(&at3).unwrap(), "a higher one is not kept");
    assert_eq!(ledger.snapshot().unwrap().forks().unwrap(), std::slice::from_ref(&at2));
    // In the other order, the same row in the end.
    let other = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&other.path().join("mind.redb")).unwrap();
    assert!(ledger.record_fork(&at2).unwrap());
    assert!(!ledger.record_fork(&at3).unwrap());
    assert_eq!(ledger.snapshot().unwrap().forks().unwrap(), [at2]);
}

#[test]
fn ingesting_only_held_events_commits_nothing() {
    let me = identity(5);
    let events = feed(&me, &["a", "b"]);
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    ledger.ingest(&events).unwrap();
    let commits = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&commits);
    ledger.on_commit(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let (out, stopped) = ledger.ingest_prefix(&events).unwrap();
    assert!(stopped.is_none() && out.iter().all(|i| matches!(i, Ingested::AlreadyHeld(_))), "{out:?}");
    assert_eq!(commits.load(Ordering::SeqCst), 0, "a page of held events wakes nobody");
    let more = feed(&me, &["a", "b", "c"]);
    ledger.ingest_prefix(&more).unwrap();
    assert_eq!(commits.load(Ordering::SeqCst), 1);
}

#[test]
fn salvage_copies_the_fork_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("mind.redb"), dir.path().join("saved.redb"));
    let me = identity(6);
    {
        let ledger = Ledger::create(&from).unwrap();
        ledger.ingest(&feed(&me, &["a", "b"])).unwrap();
        assert!(ledger.record_fork(&proof(&me)).unwrap());
    }
    let report = Ledger::salvage(&from, &to).unwrap();
    assert_eq!((report.kept, report.forks), (2, 1));
    let saved = Ledger::open(&to).unwrap();
    assert_eq!(saved.snapshot().unwrap().forks().unwrap(), [proof(&me)]);
}
