//! Records that fail their check (their hash, or their payload against the envelope's
//! commitment): `export` stops at the first with exit 1 naming it, unless `--skip-bad` leaves
//! them out and says so; `repair` salvages what still verifies into a new store beside the
//! damaged one, which it leaves untouched, and names what was lost.

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

#[test]
fn repair_salvages_a_store_whose_events_are_damaged_into_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "300", "--authors", "2"]);
    let sound = ok(&home, &["export", "--jsonl"]);
    let line = |offset: usize| json(sound.lines().nth(offset).unwrap());
    let (author, seq) = (line(100)["author"].as_str().unwrap().to_owned(), line(100)["seq"].as_u64().unwrap());
    damage(&home, "events", 100, 3);
    // What the damaged store holds, record by record (redb rewrites its own header whenever a
    // store is opened, so the file's bytes are not the measure).
    let held = || ok(&home, &["export", "--jsonl", "--skip-bad"]);
    let before = held();

    let out = mindlog(&home, &["--json", "repair"]);
    assert_eq!(out.status.code(), Some(1), "something was lost: {}", stderr(&out));
    let report = json(&String::from_utf8(out.stdout).unwrap());
    assert!(held() == before, "the damaged store's records are untouched");
    assert!(fails(&home, &["export", "--jsonl"], 1).contains("offset 100"), "still damaged: nothing repaired in place");
    assert_eq!(report["unreadable"], serde_json::json!([100]));
    let feeds = report["feeds"].as_array().unwrap();
    assert_eq!(feeds.len(), 1, "{report}");
    assert_eq!((feeds[0]["author"].as_str(), feeds[0]["kept"].as_u64()), (Some(author.as_str()), Some(seq - 1)));
    let lost: u64 =
        feeds[0]["lost"].as_array().unwrap().iter().map(|r| r[1].as_u64().unwrap() - r[0].as_u64().unwrap() + 1).sum();
    assert_eq!(report["kept"].as_u64().unwrap() + lost, 300);

    // Put the salvaged store in place: it verifies, and a second repair has nothing to salvage.
    std::fs::rename(home.join("mind.redb"), home.join("mind.redb.damaged")).unwrap();
    std::fs::rename(home.join("mind.salvaged.redb"), home.join("mind.redb")).unwrap();
    ok(&home, &["verify", "--full"]);
    assert!(ok(&home, &["repair"]).contains("rebuilt the indexes"));
}
