//! Fault tests: a process killed in the middle of appending loses nothing it acknowledged, and
//! the next open indexes whatever single appends left unindexed.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use mindlog_ledger::redb::{self, ReadableTable};
use mindlog_ledger::{Draft, Hash, Identity, Ledger};

const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");

/// Runs in the child process: appends until killed, printing each acknowledged append.
#[test]
fn child_appender() {
    let Ok(path) = std::env::var("MINDLOG_CRASH_CHILD_STORE") else { return };
    let count: u64 = std::env::var("MINDLOG_CRASH_CHILD_COUNT").unwrap().parse().unwrap();
    let ledger = Ledger::open(Path::new(&path)).unwrap();
    let me = Identity::from_secret(&[3; 32]);
    let mut out = std::io::stdout().lock();
    for i in 0..count {
        let draft =
            Draft { kind: "note.added/1".into(), payload: vec![i as u8; 200], refs: vec![], ts: i, private: false };
        let appended = ledger.append_one(&me, draft).unwrap();
        writeln!(out, "\nACK {} {} {}", appended.offset, appended.seq, appended.hash).unwrap();
        out.flush().unwrap();
    }
    // Die without closing anything: no destructor, no index catch-up, no clean redb shutdown.
    std::process::abort();
}

fn run_child(store: &Path, count: u64) -> Vec<(u64, u64, Hash)> {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_appender", "--nocapture", "--test-threads", "1"])
        .env("MINDLOG_CRASH_CHILD_STORE", store)
        .env("MINDLOG_CRASH_CHILD_COUNT", count.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "the child must have died");
    BufReader::new(output.stdout.as_slice())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            let mut parts = l.strip_prefix("ACK ")?.split(' ');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

#[test]
fn acknowledged_appends_survive_a_crash_and_get_indexed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mind.redb");
    drop(Ledger::create(&store).unwrap());
    let acknowledged = run_child(&store, 300);
    assert_eq!(acknowledged.len(), 300);
    let ledger = Ledger::open(&store).unwrap();
    let snapshot = ledger.snapshot().unwrap();
    for (offset, seq, hash) in &acknowledged {
        let event = snapshot.event(*offset).unwrap().expect("acknowledged event present");
        assert_eq!(event.hash, *hash);
        assert_eq!(event.envelope().unwrap().seq, *seq);
    }
    // The indexes caught up on open: the feed index and the head know every event.
    let me = Identity::from_secret(&[3; 32]).public_key();
    assert_eq!(snapshot.head(&me).unwrap().unwrap().seq, 300);
    assert_eq!(snapshot.feed(&me, 1..=u64::MAX).unwrap().count(), 300);
    assert!(ledger.verify(&|_| {}).unwrap().ok);
    // And the feed continues where it was.
    let next = ledger
        .append_one(
            &Identity::from_secret(&[3; 32]),
            Draft { kind: "a/1".into(), payload: vec![], refs: vec![], ts: 0, private: false },
        )
        .unwrap();
    assert_eq!(next.seq, 301);
}

#[test]
fn a_damaged_unindexed_record_stops_writes_but_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mind.redb");
    drop(Ledger::create(&store).unwrap());
    let acknowledged = run_child(&store, 10);
    // Damage the version byte of the fifth event (past the indexes: the child never indexed).
    {
        let db = redb::Database::open(&store).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(EVENTS).unwrap();
            let mut record = table.get(4).unwrap().unwrap().value().to_vec();
            record[96] = 9;
            table.insert(4, record.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let ledger = Ledger::open(&store).unwrap();
    let me = Identity::from_secret(&[3; 32]);
    let err = ledger
        .append_one(&me, Draft { kind: "a/1".into(), payload: vec![], refs: vec![], ts: 0, private: false })
        .unwrap_err();
    assert!(err.to_string().contains("offset 4"), "{err}");
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(!report.ok);
    assert_eq!(report.unattributed[0].offset, 4, "{report:?}");
    assert_eq!(acknowledged.len(), 10);
}
