//! Fault injection as redb's own tests do it: a storage backend that fails its I/O on a schedule
//! drives the ledger through append, import and verify. Every operation either succeeds or fails
//! with an error — none panics — and after the "crash" (the store opened again on what the
//! storage holds, without faults) `verify` passes and every acknowledged event is there.

#![allow(clippy::unwrap_used)]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::draft;
use mindlog_ledger::testing::{Disk, Plan};
use mindlog_ledger::{Expect, ExportOptions, Hash, Identity, Ledger};

fn open(disk: &Disk, fail_at: u64, reads: bool) -> Result<Ledger, mindlog_ledger::OpenError> {
    disk.open(&Plan::new(fail_at, reads))
}

/// A small export from another store, to import under faults.
fn foreign_export() -> Vec<u8> {
    let other = Identity::from_secret(&[8; 32]);
    let ledger = Ledger::in_memory().unwrap();
    let drafts = (0..40).map(|i| draft(&format!("foreign {i}"), false)).collect();
    ledger.append(&other, drafts, Expect::Any).unwrap();
    let mut out = Vec::new();
    ledger.export_jsonl(&ExportOptions::default(), &mut out, &|_| {}).unwrap();
    out
}

/// Runs the workload on a store whose I/O fails from the `fail_at`-th operation on; returns the
/// hashes of the events whose appends or import were acknowledged.
fn workload(ledger: &Ledger, me: &Identity, export: &[u8]) -> Vec<Hash> {
    let mut acknowledged = Vec::new();
    for i in 0..12 {
        if let Ok(appended) = ledger.append(me, vec![draft(&format!("single {i}"), i % 3 == 0)], Expect::Any) {
            acknowledged.extend(appended.iter().map(|a| a.hash));
        }
    }
    let batch = (0..30).map(|i| draft(&format!("batch {i} {}", "x".repeat(300)), false)).collect();
    if let Ok(appended) = ledger.append(me, batch, Expect::Any) {
        acknowledged.extend(appended.iter().map(|a| a.hash));
    }
    if ledger.import_jsonl(&mut std::io::Cursor::new(export), &|_| {}).is_ok() {
        let imported = Ledger::in_memory().unwrap();
        imported.import_jsonl(&mut std::io::Cursor::new(export), &|_| {}).unwrap();
        let snapshot = imported.snapshot().unwrap();
        for offset in 0..snapshot.len().unwrap() {
            acknowledged.push(snapshot.event(offset).unwrap().unwrap().hash);
        }
    }
    let _ = ledger.verify(&|_| {});
    let _ = ledger.snapshot().map(|s| s.len());
    acknowledged
}

/// One crash at `fail_at`; how many events were acknowledged before and despite it.
fn run(fail_at: u64, reads: bool, export: &[u8]) -> usize {
    let me = Identity::from_secret(&[5; 32]);
    let disk = Disk::default();
    // The store is created without faults; the schedule starts with the workload.
    drop(open(&disk, u64::MAX, false).unwrap());
    let acknowledged = catch_unwind(AssertUnwindSafe(|| match open(&disk, fail_at, reads) {
        Ok(ledger) => workload(&ledger, &me, export),
        Err(_) => Vec::new(),
    }))
    .unwrap_or_else(|_| panic!("a fault at I/O operation {fail_at} (reads: {reads}) made the ledger panic"));

    // The crash is over: the storage holds what it holds, and the store opens on it.
    let ledger = open(&disk, u64::MAX, false)
        .unwrap_or_else(|e| panic!("after a fault at operation {fail_at}, the store does not open: {e}"));
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok, "after a fault at operation {fail_at} (reads: {reads}): {report:?}");
    let snapshot = ledger.snapshot().unwrap();
    let held: std::collections::HashSet<Hash> =
        (0..snapshot.len().unwrap()).map(|o| snapshot.event(o).unwrap().unwrap().hash).collect();
    for hash in &acknowledged {
        assert!(held.contains(hash), "after a fault at operation {fail_at}: acknowledged event {hash} lost");
    }
    acknowledged.len()
}

#[test]
fn a_store_whose_writes_fail_errs_without_panic_and_loses_no_acknowledged_event() {
    let export = foreign_export();
    // How many I/O operations the workload makes when nothing fails, to spread the faults over.
    let counted = Plan::new(u64::MAX, false);
    let disk = Disk::default();
    drop(open(&disk, u64::MAX, false).unwrap());
    let ledger = disk.open(&counted).unwrap();
    let acknowledged = workload(&ledger, &Identity::from_secret(&[5; 32]), &export);
    drop(ledger);
    let total = counted.ops();
    assert!(
        total > 20 && acknowledged.len() == 12 + 30 + 40,
        "{total} operations, {} acknowledged",
        acknowledged.len()
    );
    let acknowledged: Vec<usize> =
        (0..total).step_by((total / 60).max(1) as usize).map(|fail_at| run(fail_at, false, &export)).collect();
    // The schedule bites: early faults cost acknowledgements, late ones fewer.
    assert_eq!(acknowledged.first(), Some(&0), "{acknowledged:?}");
    assert!(acknowledged.iter().any(|&n| n > 0 && n < 82), "{acknowledged:?}");
}

#[test]
fn a_store_whose_reads_fail_too_errs_without_panic() {
    let export = foreign_export();
    let acknowledged: Vec<usize> = [0, 1, 5, 20, 60, 150, 400].map(|fail_at| run(fail_at, true, &export)).to_vec();
    assert_eq!(acknowledged[0], 0, "{acknowledged:?}");
}
