//! The `mindlog` binary end to end: exit codes, messages, and the flows the README promises.

#![allow(clippy::unwrap_used)]

mod common;

use common::{mindlog, ok, stderr};

use std::process::{Command, Stdio};

#[test]
fn init_creates_a_private_key_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let key = ok(&home, &["init"]);
    assert_eq!(key.trim().len(), 64, "prints the public key in hex: {key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join("identity.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = mindlog(&home, &["init"]);
    assert!(again.status.success());
    assert!(stderr(&again).contains("never overwrites"), "{}", stderr(&again));
    assert_eq!(String::from_utf8(again.stdout).unwrap(), key, "same key as before");
}

#[test]
fn commands_without_a_home_say_to_run_init() {
    let dir = tempfile::tempdir().unwrap();
    let out = mindlog(&dir.path().join("nowhere"), &["stats"]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(message.contains("mindlog init") && message.lines().count() == 1, "{message}");
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = mindlog(dir.path(), &["log", "--limit", "many"]);
    assert_eq!(out.status.code(), Some(2));
    let out = mindlog(dir.path(), &["log", "--author", "XYZ"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn gen_verify_export_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&a, &["init"]);
    ok(&a, &["gen", "--events", "3000", "--authors", "4", "--seed", "9"]);
    assert!(ok(&a, &["verify"]).starts_with("OK: 3,000 events in 4 feeds"));
    let report: serde_json::Value = serde_json::from_str(&ok(&a, &["verify", "--json"])).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["events"], 3000);

    let exported = dir.path().join("a.jsonl");
    ok(&a, &["export", "--jsonl", "-o", exported.to_str().unwrap()]);
    let stdout_export = ok(&a, &["export", "--jsonl"]);
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), stdout_export, "-o and stdout agree");
    let first: serde_json::Value = serde_json::from_str(stdout_export.lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"], 1);
    assert!(first["prev"].is_null());

    ok(&b, &["init"]);
    assert!(ok(&b, &["import", exported.to_str().unwrap()]).contains("imported 3,000 new events"));
    assert_eq!(ok(&b, &["export", "--jsonl"]), stdout_export, "export → import → export is byte-identical");

    // Same seed on an empty home: byte-identical events.
    let c = dir.path().join("c");
    ok(&c, &["init"]);
    ok(&c, &["gen", "--events", "3000", "--authors", "4", "--seed", "9"]);
    assert_eq!(ok(&c, &["export", "--jsonl"]), stdout_export, "gen is deterministic per seed");

    // log filters
    let author = first["author"].as_str().unwrap();
    let lines = ok(&a, &["log", "--limit", "5", "--author", author, "--json"]);
    assert_eq!(lines.lines().count(), 5);
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["author"], author);
    }
    let after = ok(&a, &["log", "--after", "10", "--limit", "3", "--json"]);
    let offsets: Vec<u64> = after
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, vec![11, 12, 13]);
    let stats: serde_json::Value = serde_json::from_str(&ok(&a, &["stats", "--json"])).unwrap();
    assert_eq!(stats["events"], 3000);
    assert_eq!(stats["feeds"], 4);
}

#[test]
fn import_of_a_bad_file_exits_1_names_the_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    ok(&a, &["init"]);
    ok(&a, &["gen", "--events", "50", "--authors", "2"]);
    let text = ok(&a, &["export", "--jsonl"]);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[30] = lines[30].replacen("\"seq\":", "\"seq\":1", 1);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    ok(&b, &["init"]);
    let out = mindlog(&b, &["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 31:"), "{}", stderr(&out));
    assert!(stderr(&out).trim_end().ends_with("; nothing was imported"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim_end().lines().count(), 1, "one line: {}", stderr(&out));
    assert_eq!(ok(&b, &["export", "--jsonl"]), "", "nothing was imported");
    // stdin works too
    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .args(["--home", b.to_str().unwrap(), "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(ok(&b, &["export", "--jsonl"]), text);
}

#[test]
fn verify_exits_1_on_tampering_and_names_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "200", "--authors", "2"]);
    // Flip one byte in the middle of the file's data: find a payload byte of event 100 through redb.
    let path = home.join("mind.redb");
    {
        use mindlog_ledger::redb::{self, ReadableTable};
        const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(EVENTS).unwrap();
            let mut record = table.get(100).unwrap().unwrap().value().to_vec();
            let last = record.len() - 1;
            record[last] ^= 0x20;
            table.insert(100, record.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let out = mindlog(&home, &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("FAILED"), "{text}");
    assert!(text.contains("(offset 100): hash mismatch"), "{text}");
    let json = mindlog(&home, &["verify", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["failed_feeds"], 1);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "20000"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .args(["--home", home.to_str().unwrap(), "export", "--jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn two_processes_appending_to_one_home_never_fork_a_feed() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    // Two gen processes writing the same seed's feeds at once: each batch is checked against the
    // feed heads inside its own transaction, so one of them must fail rather than fork a feed.
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_mindlog"))
            .args(["--home", home.to_str().unwrap(), "gen", "--events", "20000", "--authors", "2", "--batch", "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (p1, p2) = (spawn(), spawn());
    let (o1, o2) = (p1.wait_with_output().unwrap(), p2.wait_with_output().unwrap());
    assert!(o1.status.success() || o2.status.success(), "{} / {}", stderr(&o1), stderr(&o2));
    let report: serde_json::Value = serde_json::from_str(&ok(&home, &["verify", "--json"])).unwrap();
    assert_eq!(report["ok"], true, "{report}");
}

/// `stats --space` accounts for the file table by table; `compact` rewrites it with full pages
/// and no free space, smaller, with every event and index as before.
#[test]
fn compact_makes_the_file_smaller_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "20000", "--authors", "4", "--seed", "3"]);
    let export = ok(&home, &["export", "--jsonl"]);
    let space = |home: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&ok(home, &["stats", "--space", "--json"])).unwrap()
    };
    let before = space(&home);
    let table = |s: &serde_json::Value, name: &str| {
        s["tables"].as_array().unwrap().iter().find(|t| t["name"] == name).cloned().unwrap()
    };
    assert_eq!(table(&before, "events")["entries"], 20000);
    assert_eq!(table(&before, "payloads")["entries"], 20000);
    let in_tables: u64 = before["tables"].as_array().unwrap().iter().map(|t| t["total_bytes"].as_u64().unwrap()).sum();
    assert!(in_tables <= before["file_bytes"].as_u64().unwrap());
    let records = before["signed_record_bytes"].as_u64().unwrap();
    let events = table(&before, "events")["stored_bytes"].as_u64().unwrap()
        + table(&before, "payloads")["stored_bytes"].as_u64().unwrap();
    assert_eq!(records, events - 2 * 8 * 20000, "the records: events' and payloads' values, without their keys");

    assert!(ok(&home, &["compact"]).starts_with("compacted: "));
    let after = space(&home);
    assert!(after["file_bytes"].as_u64() < before["file_bytes"].as_u64(), "{before} → {after}");
    assert_eq!(after["signed_record_bytes"], before["signed_record_bytes"]);
    let fill = |s: &serde_json::Value, name: &str| {
        let t = table(s, name);
        t["stored_bytes"].as_f64().unwrap() / t["total_bytes"].as_f64().unwrap()
    };
    assert!(fill(&after, "event_by_feed") > 0.9, "in key order, pages fill: {}", fill(&after, "event_by_feed"));
    assert_eq!(ok(&home, &["export", "--jsonl"]), export);
    assert!(ok(&home, &["verify"]).starts_with("OK: 20,000 events"));
    assert!(ok(&home, &["stats", "--space"]).contains("bytes per event; the signed records themselves"));

    // A query seals the first 16,384 events into a columnar segment; verify --views checks it,
    // and compact keeps it.
    ok(&home, &["query", "SELECT count(*) FROM events WHERE size > 0"]);
    let segments = table(&space(&home), "columnar.segments");
    assert_eq!(segments["entries"], 1);
    ok(&home, &["compact"]);
    let verified: serde_json::Value = serde_json::from_str(&ok(&home, &["verify", "--views", "--json"])).unwrap();
    assert_eq!(verified["views"]["segments"]["compared"], 1, "{verified}");
    assert_eq!(verified["views"]["segments"]["findings"], serde_json::json!([]));
    assert!(ok(&home, &["verify", "--views"]).contains("segments: all 1 match the events they hold"));
}

/// A query on an empty store leaves nothing `verify` could object to.
#[test]
fn a_query_on_an_empty_store_then_verify() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["query", "SELECT count(*) FROM events"]);
    assert!(ok(&home, &["verify", "--views"]).contains("segments: none sealed yet"));
    assert!(ok(&home, &["verify"]).starts_with("OK: 0 events"), "{}", ok(&home, &["verify"]));
}
