//! Tables other crates keep in the store's file: reachable inside their namespace, with their
//! checkpoint moving in the same transaction, and never the ledger's own tables.

#![allow(clippy::unwrap_used)]

use mindlog_ledger::redb::{Key, TableDefinition, Value};
use mindlog_ledger::{Draft, Identity, Ledger, Namespace};

const VIEWS: Namespace = Namespace::new("view");

/// Opens `definition` through the `view` namespace, for writing and then from a snapshot, and
/// checks that both say `expected`: `opened` (`missing` for a snapshot that has no such table)
/// or the error.
fn check<K: Key + 'static, V: Value + 'static>(
    ledger: &Ledger,
    definition: TableDefinition<K, V>,
    expected_write: &str,
    expected_read: &str,
) {
    let snapshot = ledger.snapshot().unwrap();
    let read = match snapshot.derived_tables(VIEWS).open_table(definition) {
        Ok(Some(_)) => "opened".to_owned(),
        Ok(None) => "missing".to_owned(),
        Err(e) => e.to_string(),
    };
    let txn = ledger.begin_derived_write(VIEWS).unwrap();
    let write = match txn.open_table(definition) {
        Ok(_) => "opened".to_owned(),
        Err(e) => e.to_string(),
    };
    drop(txn); // never committed: the tables it created are discarded
    assert_eq!((write.as_str(), read.as_str()), (expected_write, expected_read), "{definition}");
}

fn store() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let me = Identity::from_secret(&[1; 32]);
    for i in 0..3 {
        let draft = Draft {
            kind: "note.added/1".into(),
            payload: vec![i],
            refs: vec![],
            ts: 1_767_225_600_000_000,
            private: false,
        };
        ledger.append_one(&me, draft).unwrap();
    }
    (dir, ledger)
}

fn refused(name: &str) -> String {
    format!("table or checkpoint {name:?} is outside the namespace \"view\": name it view.<name>")
}

#[test]
fn the_ledgers_tables_are_refused_with_their_own_types() {
    let (_dir, ledger) = store();
    // Each with the key and value types it really has (docs/format.md §7), so only the namespace
    // stands between the caller and the table.
    fn refuses<K: Key + 'static, V: Value + 'static>(ledger: &Ledger, name: &str) {
        check(ledger, TableDefinition::<K, V>::new(name), &refused(name), &refused(name));
    }
    refuses::<u64, &[u8]>(&ledger, "events");
    refuses::<&[u8; 12], u64>(&ledger, "event_by_feed");
    refuses::<&[u8; 32], u32>(&ledger, "feed_numbers");
    refuses::<&[u8; 12], ()>(&ledger, "event_by_kind");
    refuses::<&str, u32>(&ledger, "kind_numbers");
    refuses::<&[u8; 16], ()>(&ledger, "event_by_time");
    refuses::<&[u8; 32], &[u8; 48]>(&ledger, "feed_heads");
    for name in ["kind_counts", "meta", "checkpoints"] {
        refuses::<&str, u64>(&ledger, name);
    }
}

#[test]
fn only_names_inside_the_namespace_open() {
    let (_dir, ledger) = store();
    for name in ["view_meta", "view.", "viewer.personas", "personas"] {
        check(&ledger, TableDefinition::<&[u8], &[u8]>::new(name), &refused(name), &refused(name));
    }
    check(&ledger, TableDefinition::<&[u8], &[u8]>::new("view.personas"), "opened", "missing");
}

#[test]
fn a_views_rows_and_checkpoint_commit_together_and_only_in_its_namespace() {
    let (_dir, ledger) = store();
    let table: TableDefinition<&str, u64> = TableDefinition::new("view.counts");

    let txn = ledger.begin_derived_write(VIEWS).unwrap();
    txn.open_table(table).unwrap().insert("notes", 3).unwrap();
    txn.set_checkpoint("view.counts", 3).unwrap();
    assert_eq!(txn.set_checkpoint("replica.peer", 3).unwrap_err().to_string(), refused("replica.peer"));
    assert_eq!(txn.checkpoint("indexed_to").unwrap_err().to_string(), refused("indexed_to"));
    txn.commit().unwrap();

    let snapshot = ledger.snapshot().unwrap();
    let counts = snapshot.derived_tables(VIEWS).open_table(table).unwrap().unwrap();
    assert_eq!(counts.get("notes").unwrap().map(|v| v.value()), Some(3));
    assert_eq!(snapshot.checkpoints().unwrap(), vec![("view.counts".to_owned(), 3)]);
    assert_eq!(ledger.begin_derived_write(VIEWS).unwrap().checkpoint("view.counts").unwrap(), 3);
    assert!(ledger.verify(&|_| {}).unwrap().ok, "the ledger's tables are untouched");

    let txn = ledger.begin_derived_write(VIEWS).unwrap();
    assert!(txn.delete_table(table).unwrap());
    assert_eq!(
        txn.delete_table(TableDefinition::<u64, &[u8]>::new("events")).unwrap_err().to_string(),
        refused("events")
    );
    txn.commit().unwrap();
    assert!(ledger.snapshot().unwrap().derived_tables(VIEWS).open_table(table).unwrap().is_none());
    assert_eq!(ledger.snapshot().unwrap().len().unwrap(), 3, "the log is as it was");
}
