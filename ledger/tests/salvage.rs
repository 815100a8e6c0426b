//! `salvage`: every event of a damaged store that still reads and verifies goes into a new
//! store; what was lost is reported per feed; the damaged file is never written.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::draft;
use mindlog_ledger::redb::{self, ReadableTable as _, TableDefinition};
use mindlog_ledger::{Expect, FeedLoss, Identity, Ledger, SalvageError};

/// Three feeds of 200 events each, appended in interleaved batches; returns each event's
/// (author index, seq) by offset.
fn build(path: &Path) -> (Vec<Identity>, Vec<(usize, u64)>) {
    let ids: Vec<Identity> = (1..=3).map(|i| Identity::from_secret(&[i; 32])).collect();
    let ledger = Ledger::create(path).unwrap();
    let mut layout = Vec::new();
    for round in 0..20 {
        for (a, id) in ids.iter().enumerate() {
            let drafts = (0..10).map(|i| draft(&format!("{a} {round} {i} {}", "p".repeat(200)), false)).collect();
            for appended in ledger.append(id, drafts, Expect::Any).unwrap() {
                layout.push((a, appended.seq));
            }
        }
    }
    (ids, layout)
}

/// Flips one byte of the value under `offset` in `table`.
fn flip(path: &Path, table: &str, offset: u64, at: usize) {
    let definition: TableDefinition<u64, &[u8]> = TableDefinition::new(table);
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(definition).unwrap();
        let mut value = t.get(offset).unwrap().unwrap().value().to_vec();
        value[at] ^= 0x10;
        t.insert(offset, value.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn a_salvage_keeps_what_verifies_and_names_every_lost_seq() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.redb"), dir.path().join("new.redb"));
    let (ids, layout) = build(&old);
    let offset_of = |a: usize, seq: u64| layout.iter().position(|&l| l == (a, seq)).unwrap() as u64;
    // Feed 0's seq 50 no longer matches its hash; feed 1's seq 70 has a payload that fails.
    flip(&old, "events", offset_of(0, 50), 40);
    flip(&old, "payloads", offset_of(1, 70), 50);
    assert!(!Ledger::open(&old).unwrap().verify(&|_| {}).unwrap().ok, "the test can fail: the store is damaged");
    let digest = |path: &Path| blake3::hash(&std::fs::read(path).unwrap());
    let before = digest(&old);

    let report = Ledger::salvage(&old, &new).unwrap();
    assert_eq!(digest(&old), before, "the damaged file is untouched");
    assert_eq!((report.read, report.kept, report.payloads_withheld), (600, 449, 1));
    assert_eq!(report.unreadable, vec![offset_of(0, 50)]);
    assert_eq!(report.feeds, vec![FeedLoss { author: ids[0].public_key(), kept: 49, lost: vec![(50, 200)] }]);

    let salvaged = Ledger::open(&new).unwrap();
    let verified = salvaged.verify(&|_| {}).unwrap();
    assert!(verified.ok, "{verified:?}");
    assert_eq!((verified.events, verified.payloads.withheld), (449, 1));
    assert!(matches!(Ledger::salvage(&old, &new), Err(SalvageError::Open(_))), "never over an existing store");
}

#[test]
fn a_salvage_of_a_store_with_garbage_pages_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.redb");
    build(&old);
    let size = std::fs::metadata(&old).unwrap().len() as usize;
    // redb panics on the garbage (thousands of times, each caught by salvage): keep them quiet.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for (run, at) in [size / 3, size / 2, size * 2 / 3, size - 3 * 4096].into_iter().enumerate() {
        let damaged = dir.path().join(format!("damaged-{run}.redb"));
        let mut bytes = std::fs::read(&old).unwrap();
        let at = at / 4096 * 4096;
        bytes[at..at + 3 * 4096].fill(0xa5);
        std::fs::write(&damaged, &bytes).unwrap();
        let new = dir.path().join(format!("new-{run}.redb"));
        match Ledger::salvage(&damaged, &new) {
            Ok(report) => {
                let verified = Ledger::open(&new).unwrap().verify(&|_| {}).unwrap();
                assert!(verified.ok && verified.events == report.kept, "{report:?} {verified:?}");
                let lost: u64 = report.feeds.iter().flat_map(|f| &f.lost).map(|(a, b)| b - a + 1).sum();
                assert_eq!(report.kept + lost, 600, "every event kept or named lost: {report:?}");
            }
            Err(SalvageError::Open(e)) => eprintln!("run {run}: redb cannot open it: {e}"),
            Err(e) => panic!("run {run}: {e}"),
        }
    }
    std::panic::set_hook(hook);
}
