//! The views on storage that fails: a catch-up whose I/O fails from the Nth operation on errs
//! without panicking, and after the "crash" the views catch up to exactly what a fold on sound
//! storage gives (same digests).

#![allow(clippy::unwrap_used)]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::workload;
use mindlog_ledger::testing::{Disk, Plan};
use mindlog_ledger::{Hash, Ledger};
use mindlog_projections::Projections;

fn digests(projections: &Projections) -> Vec<(String, Hash, u64)> {
    projections.status().unwrap().into_iter().map(|s| (s.view, s.digest, s.rows)).collect()
}

#[test]
fn a_catch_up_on_failing_storage_errs_without_panic_and_ends_as_a_sound_fold() {
    let events = workload(11, 4, 2_000);
    let sound = Ledger::in_memory().unwrap();
    sound.ingest(&events).unwrap();
    let projections = Projections::new(&sound);
    projections.catch_up(&|_, _| {}).unwrap();
    let expected = digests(&projections);

    // A disk holding the events, views not folded yet.
    let loaded = || {
        let disk = Disk::default();
        disk.open(&Plan::new(u64::MAX, false)).unwrap().ingest(&events).unwrap();
        disk
    };
    let counted = Plan::new(u64::MAX, false);
    let disk = loaded();
    Projections::new(&disk.open(&counted).unwrap()).catch_up(&|_, _| {}).unwrap();
    let total = counted.ops();
    assert!(total > 10, "{total} operations");

    let mut failed = 0;
    for (run, fail_at) in (0..total).step_by((total / 25).max(1) as usize).enumerate() {
        let disk = loaded();
        let reads = run % 2 == 1;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            disk.open(&Plan::new(fail_at, reads)).map(|ledger| Projections::new(&ledger).catch_up(&|_, _| {}).is_ok())
        }))
        .unwrap_or_else(|_| panic!("a fault at I/O operation {fail_at} (reads: {reads}) made a catch-up panic"));
        failed += usize::from(!matches!(outcome, Ok(true)));
        let ledger = disk.open(&Plan::new(u64::MAX, false)).unwrap();
        let projections = Projections::new(&ledger);
        projections.catch_up(&|_, _| {}).unwrap();
        assert_eq!(digests(&projections), expected, "after a fault at operation {fail_at} (reads: {reads})");
    }
    assert!(failed > 0, "the faults never bit");
}
