//! `verify` compares every derived table with what `events` implies, entry by entry: each test
//! changes one entry of one table through redb directly, and verify must name that table.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use mindlog_ledger::redb::{self, ReadableTable};
use mindlog_ledger::{DerivedFinding, Draft, Identity, Ledger, VerifyReport};

const BY_FEED: redb::TableDefinition<&[u8; 12], u64> = redb::TableDefinition::new("event_by_feed");
const FEED_NUMBERS: redb::TableDefinition<&[u8; 32], u32> = redb::TableDefinition::new("feed_numbers");
const KIND_NUMBERS: redb::TableDefinition<&str, u32> = redb::TableDefinition::new("kind_numbers");
const BY_KIND: redb::TableDefinition<&[u8; 12], ()> = redb::TableDefinition::new("event_by_kind");
const BY_TIME: redb::TableDefinition<&[u8; 16], ()> = redb::TableDefinition::new("event_by_time");
const HEADS: redb::TableDefinition<&[u8; 32], &[u8; 48]> = redb::TableDefinition::new("feed_heads");
const KIND_COUNTS: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("kind_counts");
const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
const CHECKPOINTS: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("checkpoints");
const FEED_TREE: redb::TableDefinition<&[u8; 41], &[u8]> = redb::TableDefinition::new("feed_tree");

const TS: u64 = 1_767_225_600_000_000;
const KINDS: [&str; 3] = ["note.added/1", "memo.kept/1", "chat.said/2"];
const AUTHORS: u64 = 3;
const PER_AUTHOR: u64 = 40;

fn identity(n: u8) -> Identity {
    Identity::from_secret(&[n; 32])
}

/// A store of 3 feeds × 40 events of three kinds, closed; returns its path.
fn pristine(dir: &Path) -> PathBuf {
    pristine_of(dir, AUTHORS, PER_AUTHOR)
}

/// A store of `authors` feeds × `per_author` events of three kinds, closed; returns its path.
fn pristine_of(dir: &Path, authors: u64, per_author: u64) -> PathBuf {
    let path = dir.join("pristine.redb");
    let ledger = Ledger::create(&path).unwrap();
    for a in 0..authors {
        let drafts = (0..per_author)
            .map(|i| Draft {
                kind: KINDS[((i + a) % 3) as usize].into(),
                payload: format!("event {a}/{i}").into_bytes(),
                refs: vec![],
                ts: TS + i * 1_000 + a,
                private: false,
            })
            .collect();
        ledger.append(&identity(a as u8 + 1), drafts, mindlog_ledger::Expect::Any).unwrap();
    }
    assert!(ledger.verify(&|_| {}).unwrap().ok);
    drop(ledger);
    path
}

/// A copy of the pristine store with `change` applied to it through redb, then verified.
fn tampered(dir: &Path, name: &str, change: impl FnOnce(&redb::WriteTransaction)) -> VerifyReport {
    let path = dir.join(format!("{name}.redb"));
    std::fs::copy(dir.join("pristine.redb"), &path).unwrap();
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        change(&txn);
        txn.commit().unwrap();
    }
    Ledger::open(&path).unwrap().verify(&|_| {}).unwrap()
}

/// The report's only finding, which must be about `table`.
fn only_finding(report: &VerifyReport, table: &str) -> DerivedFinding {
    assert!(!report.ok, "verify passed a damaged {table}");
    assert_eq!(report.failed_events, 0, "no event is damaged: {report:?}");
    assert_eq!(report.derived.len(), 1, "one table is wrong: {:?}", report.derived);
    let finding = report.derived[0].clone();
    assert_eq!(finding.table, table);
    finding
}

/// The `event_by_feed` key of `author`'s event at `seq`: the pristine store numbers the feeds of
/// authors 1, 2, 3 as 0, 1, 2 (the order they were first indexed).
fn feed_key(author: u8, seq: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&u32::from(author - 1).to_be_bytes());
    key[4..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The `event_by_kind` key of an event of `kind` at `offset`: the pristine store numbers KINDS
/// 0, 1, 2 (the order author 1's first events have them).
fn kind_key(kind: &str, offset: u64) -> [u8; 12] {
    let number = KINDS.iter().position(|k| *k == kind).unwrap() as u32;
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&number.to_be_bytes());
    key[4..].copy_from_slice(&offset.to_be_bytes());
    key
}

fn time_key(ts: u64, offset: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&ts.to_be_bytes());
    key[8..].copy_from_slice(&offset.to_be_bytes());
    key
}

#[test]
fn every_derived_table_is_compared_entry_by_entry() {
    let dir = tempfile::tempdir().unwrap();
    pristine(dir.path());
    // Author 1 wrote offsets 0..40: seq s is at offset s − 1, kind KINDS[(s − 1) % 3], ts TS + (s − 1)·1000.
    let who = identity(1).public_key();

    // event_by_feed: one value points at the wrong event.
    let report = tampered(dir.path(), "feed-value", |txn| {
        txn.open_table(BY_FEED).unwrap().insert(&feed_key(1, 5), 7).unwrap();
    });
    let f = only_finding(&report, "event_by_feed");
    assert_eq!((f.wrong_entries, f.first_key.as_str()), (1, format!("{who}/5").as_str()));
    assert_eq!((f.expected.as_str(), f.found.as_str()), ("offset 4", "offset 7"));

    // event_by_feed: an entry missing, and one extra beyond a feed's end.
    let report = tampered(dir.path(), "feed-missing", |txn| {
        let mut t = txn.open_table(BY_FEED).unwrap();
        t.remove(&feed_key(2, 3)).unwrap();
        t.insert(&feed_key(3, PER_AUTHOR + 1), 0).unwrap();
    });
    assert_eq!(only_finding(&report, "event_by_feed").wrong_entries, 2);

    // feed_numbers: a number for a key that has no feed.
    let report = tampered(dir.path(), "numbers-extra", |txn| {
        txn.open_table(FEED_NUMBERS).unwrap().insert(identity(9).public_key().as_bytes(), 3).unwrap();
    });
    let f = only_finding(&report, "feed_numbers");
    assert_eq!(
        (f.first_key, f.expected.as_str(), f.found.as_str()),
        (identity(9).public_key().to_string(), "absent", "3")
    );

    // kind_numbers: a number for a kind no event has.
    let report = tampered(dir.path(), "kind-numbers-extra", |txn| {
        txn.open_table(KIND_NUMBERS).unwrap().insert("zzz.none/1", 3).unwrap();
    });
    let f = only_finding(&report, "kind_numbers");
    assert_eq!((f.first_key.as_str(), f.expected.as_str(), f.found.as_str()), ("zzz.none/1", "absent", "3"));

    // kind_numbers: a number past the table's length (numbers are 0, 1, 2, … in order); the
    // kind's index entries are then looked up under it and missed as well.
    let report = tampered(dir.path(), "kind-numbers-past", |txn| {
        txn.open_table(KIND_NUMBERS).unwrap().insert(KINDS[2], 7).unwrap();
    });
    let f = report.derived.iter().find(|f| f.table == "kind_numbers").expect("kind_numbers is named");
    assert_eq!((f.first_key.as_str(), f.expected.as_str(), f.found.as_str()), (KINDS[2], "a number below 3", "7"));

    // event_by_kind: one byte of a key flipped: the right key is missing, a wrong one is there.
    let report = tampered(dir.path(), "kind-flip", |txn| {
        let mut t = txn.open_table(BY_KIND).unwrap();
        let key = kind_key(KINDS[0], 3);
        t.remove(&key).unwrap();
        let mut flipped = key;
        *flipped.last_mut().unwrap() ^= 0x01; // offset 3 → 2, whose kind is KINDS[2]
        t.insert(&flipped, ()).unwrap();
    });
    let f = only_finding(&report, "event_by_kind");
    assert_eq!(f.wrong_entries, 2);
    assert_eq!((f.first_key.as_str(), f.expected.as_str(), f.found.as_str()), ("note.added/1@3", "present", "absent"));

    // event_by_kind: an entry for an offset beyond the log.
    let report = tampered(dir.path(), "kind-extra", |txn| {
        txn.open_table(BY_KIND).unwrap().insert(&kind_key(KINDS[1], 10_000), ()).unwrap();
    });
    let f = only_finding(&report, "event_by_kind");
    assert_eq!((f.wrong_entries, f.first_key.as_str(), f.found.as_str()), (1, "memo.kept/1@10000", "present"));

    // event_by_time: an entry's timestamp changed.
    let report = tampered(dir.path(), "time", |txn| {
        let mut t = txn.open_table(BY_TIME).unwrap();
        t.remove(&time_key(TS + 9_000, 9)).unwrap();
        t.insert(&time_key(TS + 9_001, 9), ()).unwrap();
    });
    let f = only_finding(&report, "event_by_time");
    assert_eq!(f.wrong_entries, 2);
    assert_eq!(f.first_key, format!("{}@9", TS + 9_000));

    // feed_heads: one byte of a head flipped (its seq).
    let report = tampered(dir.path(), "heads", |txn| {
        let mut t = txn.open_table(HEADS).unwrap();
        let key = *who.as_bytes();
        let mut value = *t.get(&key).unwrap().unwrap().value();
        value[7] ^= 0x01;
        t.insert(&key, &value).unwrap();
    });
    let f = only_finding(&report, "feed_heads");
    assert_eq!((f.wrong_entries, f.first_key.clone()), (1, who.to_string()));
    assert!(f.expected.starts_with("seq 40 at offset 39") && f.found.starts_with("seq 41 at offset 39"), "{f:?}");

    // feed_heads: a head missing.
    let report = tampered(dir.path(), "heads-missing", |txn| {
        txn.open_table(HEADS).unwrap().remove(identity(2).public_key().as_bytes()).unwrap();
    });
    assert_eq!(only_finding(&report, "feed_heads").found, "absent");

    // kind_counts: a count changed, and a kind that has no events.
    let report = tampered(dir.path(), "counts", |txn| {
        let mut t = txn.open_table(KIND_COUNTS).unwrap();
        t.insert(KINDS[2], 3).unwrap();
        t.insert("zzz.none/1", 1).unwrap();
    });
    let f = only_finding(&report, "kind_counts");
    assert_eq!((f.wrong_entries, f.first_key.as_str()), (2, KINDS[2]));
    assert_eq!((f.expected.as_str(), f.found.as_str()), ("40", "3"));

    // meta.indexed_to beyond the log.
    let report = tampered(dir.path(), "meta", |txn| {
        txn.open_table(META).unwrap().insert("indexed_to", 500).unwrap();
    });
    let f = only_finding(&report, "meta");
    assert_eq!((f.first_key.as_str(), f.found.as_str()), ("indexed_to", "500"));

    // A checkpoint beyond the log.
    let report = tampered(dir.path(), "checkpoint", |txn| {
        txn.open_table(CHECKPOINTS).unwrap().insert("view.persona", 121).unwrap();
    });
    assert_eq!(only_finding(&report, "checkpoints").first_key, "view.persona");

    // Two tables at once: both named, in table order.
    let report = tampered(dir.path(), "two", |txn| {
        txn.open_table(KIND_COUNTS).unwrap().remove(KINDS[0]).unwrap();
        txn.open_table(BY_TIME).unwrap().remove(&time_key(TS, 0)).unwrap();
    });
    let tables: Vec<&str> = report.derived.iter().map(|f| f.table.as_str()).collect();
    assert_eq!(tables, ["event_by_time", "kind_counts"]);
}

/// Indexes the ledger wrote itself over several catch-ups (single appends, private payloads)
/// pass.
#[test]
fn indexes_written_by_single_appends_pass() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    for i in 0..30u64 {
        let draft = Draft {
            kind: KINDS[(i % 3) as usize].into(),
            payload: vec![1],
            refs: vec![],
            ts: TS + i,
            private: i % 2 == 0,
        };
        ledger.append_one(&identity((i % 4) as u8 + 1), draft).unwrap();
        if i == 17 {
            assert!(ledger.verify(&|_| {}).unwrap().ok);
        }
    }
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok && report.derived.is_empty(), "{:?}", report.derived);
}

#[test]
fn the_stored_tree_is_compared_with_the_events() {
    // One feed of 600 events: level 1 holds the roots of leaves 0..256 and 256..512 (tile 1/0),
    // and level 0, the leaves, is the events' own.
    let dir = tempfile::tempdir().unwrap();
    pristine_of(dir.path(), 1, 600);
    let who = identity(1).public_key();
    let tile = |level: u8, tile: u64| {
        let mut key = [0u8; 41];
        key[..32].copy_from_slice(who.as_bytes());
        key[32] = level;
        key[33..].copy_from_slice(&tile.to_be_bytes());
        key
    };
    // One node's hash changed (node 1 at height 8).
    let report = tampered(dir.path(), "tree-node", |txn| {
        let mut t = txn.open_table(FEED_TREE).unwrap();
        let mut row = t.get(&tile(1, 0)).unwrap().unwrap().value().to_vec();
        assert_eq!(row.len(), 2 * 32);
        row[32] ^= 0x01;
        t.insert(&tile(1, 0), row.as_slice()).unwrap();
    });
    let f = only_finding(&report, "feed_tree");
    assert_eq!((f.wrong_entries, f.first_key.clone()), (1, format!("{who}@8/1")));
    // A tile one hash too wide, a tile of a level the feed does not reach, and a level-0 tile
    // (format 3 kept one; format 4 reads the leaves from the events).
    let report = tampered(dir.path(), "tree-wide", |txn| {
        let mut t = txn.open_table(FEED_TREE).unwrap();
        let mut row = t.get(&tile(1, 0)).unwrap().unwrap().value().to_vec();
        row.extend([7; 32]);
        t.insert(&tile(1, 0), row.as_slice()).unwrap();
        t.insert(&tile(2, 0), [0u8; 32].as_slice()).unwrap();
        t.insert(&tile(0, 0), [0u8; 32 * 256].as_slice()).unwrap();
    });
    let f = only_finding(&report, "feed_tree");
    assert_eq!(f.wrong_entries, 3);
    assert_eq!((f.expected.as_str(), f.found.as_str()), ("absent", "256 hashes"));
    // The feed's tile gone: both its nodes are missing.
    let report = tampered(dir.path(), "tree-missing", |txn| {
        txn.open_table(FEED_TREE).unwrap().remove(&tile(1, 0)).unwrap();
    });
    let f = only_finding(&report, "feed_tree");
    assert_eq!((f.wrong_entries, f.found.as_str()), (2, "absent"));
}
