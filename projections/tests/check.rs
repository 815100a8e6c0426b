//! `Projections::check` folds every view again from offset 0 into a scratch store and finds a
//! view whose tables or counters differ, without touching the store's views.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::run;
use mindlog_ledger::Identity;
use mindlog_ledger::Ledger;
use mindlog_ledger::redb::{self, ReadableTable};
use mindlog_projections::Projections;

const T0: u64 = 1_767_225_600_000_000;
const PERSONAS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("view.personas");
const MEMORIES: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("view.memories");

/// A store with a persona, its memories and an erasure, its views caught up one command at a time.
fn store(path: &Path) {
    let ledger = Ledger::create(path).unwrap();
    let projections = Projections::new(&ledger);
    let alice = Identity::from_secret(&[1; 32]);
    run(&ledger, &projections, &alice, T0, serde_json::json!({"command": "persona.create", "name": "Echo"}));
    for i in 0..5u64 {
        let text = format!("memory {i}");
        let memory = serde_json::json!({"command": "memory.add", "persona": "Echo", "text": text, "importance": 0.5});
        let added = run(&ledger, &projections, &alice, T0 + 1 + i, memory);
        if i == 2 {
            ledger.erase(&alice, &[added.offset], "forget it", T0 + 10).unwrap();
            projections.catch_up(&|_, _| {}).unwrap();
        }
    }
}

fn check(path: &Path) -> Vec<mindlog_projections::ViewFinding> {
    let ledger = Ledger::open(path).unwrap();
    let scratch = Ledger::in_memory().unwrap();
    Projections::new(&ledger).check(&scratch, &|_, _| {}).unwrap()
}

fn change(path: &Path, edit: impl FnOnce(&redb::WriteTransaction)) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    edit(&txn);
    txn.commit().unwrap();
}

#[test]
fn a_changed_view_row_is_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    store(&path);
    assert!(check(&path).is_empty(), "views folded incrementally equal a fold from offset 0");

    // One byte of the persona's row flipped.
    change(&path, |txn| {
        let mut t = txn.open_table(PERSONAS).unwrap();
        let (key, mut value) = {
            let (k, v) = t.first().unwrap().unwrap();
            (k.value().to_vec(), v.value().to_vec())
        };
        let middle = value.len() / 2;
        value[middle] ^= 0x04;
        t.insert(key.as_slice(), value.as_slice()).unwrap();
    });
    let findings = check(&path);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].view, "persona");
    assert_ne!(findings[0].expected_digest, findings[0].found_digest);
    // The check changed nothing: the damage is still there.
    assert_eq!(check(&path).len(), 1);

    // A rebuild repairs it.
    let ledger = Ledger::open(&path).unwrap();
    Projections::new(&ledger).rebuild(None, &|_, _| {}).unwrap();
    drop(ledger);
    assert!(check(&path).is_empty());

    // A row missing.
    change(&path, |txn| {
        let mut t = txn.open_table(MEMORIES).unwrap();
        let key = t.last().unwrap().unwrap().0.value().to_vec();
        t.remove(key.as_slice()).unwrap();
    });
    let findings = check(&path);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].view, "persona");
    assert!(findings[0].problem.contains("rows expected"), "{}", findings[0].problem);
}
