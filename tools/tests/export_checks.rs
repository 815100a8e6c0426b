//! `export` trusts nothing on disk: a record that fails its check (its hash, or its payload
//! against the envelope's commitment) stops it with exit 1 naming the record, unless
//! `--skip-bad` leaves such records out and says so.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{fails, json, mindlog, ok, stderr};
use mindlog_ledger::redb::{self, ReadableTable as _, TableDefinition};

/// Flips one byte of the value under `offset` in `table` of the home's store (docs/format.md §7).
fn damage(home: &Path, table: &str, offset: u64, at: usize) {
    let definition: TableDefinition<u64, &[u8]> = TableDefinition::new(table);
    let db = redb::Database::open(home.join("mind.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(definition).unwrap();
        let mut value = t.get(offset).unwrap().unwrap().value().to_vec();
        value[at] ^= 0x01;
        t.insert(offset, value.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn a_record_that_fails_its_check_stops_the_export_unless_skip_bad() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "300"]);
    let sound = ok(&home, &["export", "--jsonl"]);
    assert_eq!(sound.lines().count(), 300, "the test can fail: the store is sound");
    // An event's own hash (others name it as prev or in refs).
    let hash_at =
        |offset: usize| format!(r#""hash":"{}""#, json(sound.lines().nth(offset).unwrap())["hash"].as_str().unwrap());

    // A recorded hash that no longer matches its envelope (the first 32 bytes of an `events` value).
    damage(&home, "events", 40, 3);
    let stopped = fails(&home, &["export", "--jsonl"], 1);
    assert!(stopped.contains("offset 40") && stopped.contains("hash mismatch"), "{stopped}");
    let file = dir.path().join("out.jsonl");
    fails(&home, &["export", "--jsonl", "-o", file.to_str().unwrap()], 1);
    assert!(!file.exists() && !dir.path().join("out.jsonl.partial").exists(), "no file, no leftover");

    // A payload that no longer matches its commitment (the last byte of a `payloads` row).
    damage(&home, "payloads", 200, 40);
    let out = mindlog(&home, &["export", "--jsonl", "--skip-bad"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(lines.lines().count(), 298);
    for offset in [40, 200] {
        assert!(!lines.contains(&hash_at(offset)), "offset {offset} left out");
    }
    assert!(lines.contains(&hash_at(41)) && lines.contains(&hash_at(199)));
    let warning = stderr(&out);
    assert!(warning.contains("left out 2 records") && warning.contains("first at offset 40"), "{warning}");
    let written: serde_json::Value =
        json(&ok(&home, &["--json", "export", "--jsonl", "--skip-bad", "-o", file.to_str().unwrap()]));
    assert_eq!((written["events"].as_u64(), written["skipped"].as_u64()), (Some(298), Some(2)));
}
