//! `mindlog verify` finds a wrong entry in every derived table and in every view, names it, and
//! exits 1; `mindlog repair` rebuilds them. Each case changes one entry of a real store through
//! redb directly.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{json, mindlog, ok};
use mindlog_ledger::redb::{self, ReadableDatabase, ReadableTable, TableHandle};

type Raw = redb::TableDefinition<'static, &'static [u8], &'static [u8]>;

/// A home with a generated workload and a few commands (so the views were caught up several
/// times), checked in full: the pristine copy every case starts from.
fn pristine(root: &Path) -> PathBuf {
    let home = root.join("pristine");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "2000", "--authors", "4"]);
    ok(&home, &["persona", "create", "Echo", "--description", "a test persona"]);
    ok(&home, &["gen", "--events", "500", "--authors", "4", "--seed", "2"]);
    ok(&home, &["projections", "status"]);
    let report = json(&ok(&home, &["--json", "verify", "--full"]));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["views"]["checked"], true);
    assert_eq!(report["views"]["findings"].as_array().unwrap().len(), 0, "{report}");
    home
}

/// A copy of the pristine home with `change` applied to its store through redb.
fn tampered(root: &Path, name: &str, change: impl FnOnce(&redb::WriteTransaction)) -> PathBuf {
    let home = root.join(name);
    std::fs::create_dir(&home).unwrap();
    for file in ["mind.redb", "identity.key"] {
        std::fs::copy(root.join("pristine").join(file), home.join(file)).unwrap();
    }
    let db = redb::Database::open(home.join("mind.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    change(&txn);
    txn.commit().unwrap();
    home
}

/// The `n`th key (in key order) of a table whose keys are byte strings of any length.
fn nth_key<K: redb::Key + 'static>(txn: &redb::WriteTransaction, def: redb::TableDefinition<K, ()>, n: usize) -> Vec<u8>
where
    for<'a> K::SelfType<'a>: AsRef<[u8]>,
{
    let table = txn.open_table(def).unwrap();
    let entry = table.iter().unwrap().nth(n).unwrap().unwrap();
    entry.0.value().as_ref().to_vec()
}

/// Runs `verify ARGS --json` on `home`: it must exit 1; the JSON report.
fn failing_verify(home: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json", "verify"];
    all.extend_from_slice(args);
    let out = mindlog(home, &all);
    assert_eq!(out.status.code(), Some(1), "verify {args:?} must fail: {}", String::from_utf8_lossy(&out.stdout));
    json(&String::from_utf8(out.stdout).unwrap())
}

/// The text of `verify ARGS`, which must exit `code`.
fn verify_text(home: &Path, args: &[&str], code: i32) -> String {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let out = mindlog(home, &all);
    assert_eq!(out.status.code(), Some(code));
    String::from_utf8(out.stdout).unwrap()
}

/// The one table the report names.
fn only_table(report: &serde_json::Value) -> String {
    let derived = report["derived"].as_array().unwrap();
    assert_eq!(derived.len(), 1, "{report}");
    assert!(derived[0]["wrong_entries"].as_u64().unwrap() >= 1);
    assert!(!derived[0]["first_key"].as_str().unwrap().is_empty());
    derived[0]["table"].as_str().unwrap().to_owned()
}

#[test]
fn a_flipped_byte_in_any_derived_table_fails_verify_and_names_the_table() {
    let root = tempfile::tempdir().unwrap();
    pristine(root.path());

    // event_by_kind and event_by_time: one byte of a key flipped (value-less tables).
    const BY_KIND: redb::TableDefinition<&[u8; 12], ()> = redb::TableDefinition::new("event_by_kind");
    const BY_TIME: redb::TableDefinition<&[u8; 16], ()> = redb::TableDefinition::new("event_by_time");
    let home = tampered(root.path(), "kind", |txn| {
        let key: [u8; 12] = nth_key(txn, BY_KIND, 700).try_into().unwrap();
        let mut t = txn.open_table(BY_KIND).unwrap();
        t.remove(&key).unwrap();
        let mut flipped = key;
        flipped[3] ^= 0x01; // the kind's number: another kind
        t.insert(&flipped, ()).unwrap();
    });
    let report = failing_verify(&home, &[]);
    assert_eq!(only_table(&report), "event_by_kind");
    assert_eq!(report["derived"][0]["wrong_entries"], 2, "one missing, one extra: {report}");
    let text = verify_text(&home, &[], 1);
    assert!(text.contains("event_by_kind: 2 wrong entries") && text.contains("mindlog repair"), "{text}");

    let home = tampered(root.path(), "time", |txn| {
        let key: [u8; 16] = nth_key(txn, BY_TIME, 1200).try_into().unwrap();
        let mut t = txn.open_table(BY_TIME).unwrap();
        t.remove(&key).unwrap();
        let mut flipped = key;
        flipped[6] ^= 0x01;
        t.insert(&flipped, ()).unwrap();
    });
    assert_eq!(only_table(&failing_verify(&home, &[])), "event_by_time");

    // event_by_feed, feed_heads, kind_counts: one byte of a value flipped.
    const BY_FEED: redb::TableDefinition<&[u8; 12], u64> = redb::TableDefinition::new("event_by_feed");
    let home = tampered(root.path(), "feed", |txn| {
        let mut t = txn.open_table(BY_FEED).unwrap();
        let (key, offset) = {
            let entry = t.iter().unwrap().nth(321).unwrap().unwrap();
            (*entry.0.value(), entry.1.value())
        };
        t.insert(&key, offset ^ 0x02).unwrap();
    });
    assert_eq!(only_table(&failing_verify(&home, &[])), "event_by_feed");

    const HEADS: redb::TableDefinition<&[u8; 32], &[u8; 48]> = redb::TableDefinition::new("feed_heads");
    let home = tampered(root.path(), "heads", |txn| {
        let mut t = txn.open_table(HEADS).unwrap();
        let (key, mut value) = {
            let entry = t.iter().unwrap().nth(2).unwrap().unwrap();
            (*entry.0.value(), *entry.1.value())
        };
        value[47] ^= 0x80; // the last byte of the head's hash
        t.insert(&key, &value).unwrap();
    });
    assert_eq!(only_table(&failing_verify(&home, &[])), "feed_heads");

    const KIND_COUNTS: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("kind_counts");
    let home = tampered(root.path(), "counts", |txn| {
        let mut t = txn.open_table(KIND_COUNTS).unwrap();
        let (key, n) = {
            let entry = t.iter().unwrap().next().unwrap().unwrap();
            (entry.0.value().to_owned(), entry.1.value())
        };
        t.insert(key.as_str(), n ^ 0x100).unwrap();
    });
    assert_eq!(only_table(&failing_verify(&home, &[])), "kind_counts");
}

/// The first view table of each view that holds rows after the workload.
const VIEW_TABLES: [(&str, &str); 5] = [
    ("persona", "view.personas"),
    ("market", "view.listings"),
    ("social", "view.follows"),
    ("reputation", "view.vouches"),
    ("audit", "view.audit_requests"),
];

#[test]
fn a_changed_row_in_any_view_fails_verify_views_and_names_the_view() {
    let root = tempfile::tempdir().unwrap();
    let pristine = pristine(root.path());
    let text = verify_text(&pristine, &[], 0);
    assert!(text.contains("views: not checked") && text.contains("--views"), "{text}");

    let mut tested = 0;
    for (view, table) in VIEW_TABLES {
        let def: Raw = redb::TableDefinition::new(table);
        let has_rows = {
            let db = redb::Database::open(pristine.join("mind.redb")).unwrap();
            let txn = db.begin_read().unwrap();
            txn.list_tables().unwrap().any(|t| t.name() == table)
                && txn.open_table(def).unwrap().first().unwrap().is_some()
        };
        if !has_rows {
            continue;
        }
        tested += 1;
        let home = tampered(root.path(), &format!("view-{view}"), |txn| {
            let mut t = txn.open_table(def).unwrap();
            let (key, mut value) = {
                let (k, v) = t.first().unwrap().unwrap();
                (k.value().to_vec(), v.value().to_vec())
            };
            *value.last_mut().unwrap() ^= 0x01;
            t.insert(key.as_slice(), value.as_slice()).unwrap();
        });
        // The ledger's own tables are intact: plain verify passes and says the views were not checked.
        assert!(verify_text(&home, &[], 0).contains("views: not checked"));
        for flag in ["--views", "--full"] {
            let report = failing_verify(&home, &[flag]);
            let findings = report["views"]["findings"].as_array().unwrap();
            assert_eq!(findings.len(), 1, "{report}");
            assert_eq!(findings[0]["view"], view, "{report}");
            assert_ne!(findings[0]["expected_digest"], findings[0]["found_digest"]);
            assert_eq!(report["derived"].as_array().unwrap().len(), 0);
        }
        let text = verify_text(&home, &["--views"], 1);
        assert!(text.contains(&format!("view {view}:")) && text.contains("mindlog repair"), "{text}");
    }
    assert!(tested >= 2, "the workload fills at least the persona and market views");
}

#[test]
fn repair_rebuilds_every_index_and_view_and_verify_passes_again() {
    let root = tempfile::tempdir().unwrap();
    let pristine = pristine(root.path());
    let before = ok(&pristine, &["query", "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind"]);
    const BY_KIND: redb::TableDefinition<&[u8; 12], ()> = redb::TableDefinition::new("event_by_kind");
    const HEADS: redb::TableDefinition<&[u8; 32], &[u8; 48]> = redb::TableDefinition::new("feed_heads");
    const KIND_COUNTS: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("kind_counts");
    let personas: Raw = redb::TableDefinition::new("view.personas");
    let home = tampered(root.path(), "repair", |txn| {
        let key: [u8; 12] = nth_key(txn, BY_KIND, 100).try_into().unwrap();
        txn.open_table(BY_KIND).unwrap().remove(&key).unwrap();
        let first_head = *txn.open_table(HEADS).unwrap().iter().unwrap().next().unwrap().unwrap().0.value();
        txn.open_table(HEADS).unwrap().remove(&first_head).unwrap();
        txn.open_table(KIND_COUNTS).unwrap().insert("made.up/1", 7).unwrap();
        let mut t = txn.open_table(personas).unwrap();
        let key = t.first().unwrap().unwrap().0.value().to_vec();
        t.remove(key.as_slice()).unwrap();
    });
    let report = failing_verify(&home, &["--full"]);
    let tables: Vec<&str> =
        report["derived"].as_array().unwrap().iter().map(|f| f["table"].as_str().unwrap()).collect();
    assert_eq!(tables, ["event_by_kind", "feed_heads", "kind_counts"], "{report}");
    assert_eq!(report["views"]["findings"][0]["view"], "persona");

    let repaired = json(&ok(&home, &["--json", "repair"]));
    assert_eq!(repaired["events"], 2501, "{repaired}");
    let report = json(&ok(&home, &["--json", "verify", "--full"]));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["views"]["findings"].as_array().unwrap().len(), 0);
    // Queries answer as before the damage, and the store takes new events.
    let after = ok(&home, &["query", "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind"]);
    assert_eq!(after, before);
    ok(&home, &["persona", "create", "After"]);
    assert_eq!(json(&ok(&home, &["--json", "verify", "--full"]))["ok"], true);
}

#[test]
fn views_are_not_folded_from_events_that_fail_their_checks() {
    let root = tempfile::tempdir().unwrap();
    pristine(root.path());
    const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");
    let home = tampered(root.path(), "event", |txn| {
        let mut t = txn.open_table(EVENTS).unwrap();
        let mut record = t.get(100).unwrap().unwrap().value().to_vec();
        let last = record.len() - 1;
        record[last] ^= 0x01;
        t.insert(100, record.as_slice()).unwrap();
    });
    let report = failing_verify(&home, &["--full"]);
    assert_eq!(report["failed_feeds"], 1, "{report}");
    assert_eq!(report["views"]["checked"], false);
    assert!(report["views"]["skipped"].as_str().unwrap().contains("events fail their checks"), "{report}");
}
