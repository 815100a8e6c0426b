//! Persistent Mind Model ledgers: `verify --pmm` re-computes every hash and link exactly as PMM
//! does. The ledgers are written by `pmm/make_pmm.py`, which hashes as PMM's own Python code
//! does (its `json.dumps` is the reference for non-ASCII text, nested meta and floats), then
//! bent with SQLite.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{json, mindlog, ok};

fn python3() -> bool {
    Command::new("python3").arg("--version").output().is_ok_and(|out| out.status.success())
}

/// Appends `events` (a JSON list of {kind, content, meta | meta_text}) to the PMM ledger at `db`.
fn pmm_append(db: &Path, events: serde_json::Value) {
    let spec = db.with_extension("events.json");
    std::fs::write(&spec, events.to_string()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pmm/make_pmm.py");
    let out = Command::new("python3").arg("-B").arg(script).arg(db).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A ledger with what real ones hold: non-ASCII text (and characters above U+FFFF), nested meta,
/// floats Python writes its own way, big integers, text with control characters and quotes, meta
/// stored with other formatting than PMM's own.
fn a_mind() -> serde_json::Value {
    serde_json::json!([
        {"kind": "identity_adoption", "content": "I am Echo", "meta": {"name": "Echo", "source": "user"}},
        {"kind": "user_message", "content": "héllo 🙂 — ünïcode, \"quoted\" \\ back\tslash\nnew line", "meta": {"role": "user"}},
        {"kind": "assistant_message", "content": "日本語もOK", "meta": {"model": "gpt-4o", "provider": "openai", "temperature": 0.7}},
        {"kind": "reflection", "content": "I should be concise", "meta": {"z": -0.0, "a": {"b": [1, 2.5, 1e-07, 1e16, 12345678901234567890u64, true, null, "ü"], "when": 1.0}}},
        {"kind": "commitment_open", "content": "write the weekly report", "meta": {"cid": "c1", "due": null, "ties": [152.51235961914062, 2.9802322387695312e-08, 26363981746409.312]}},
        {"kind": "metrics_turn", "content": "", "meta_text": "{\"z\": 1, \"a\": [1.0, 2, 100000000000000000000.0, 0.0001, 0.00001]}"},
        {"kind": "commitment_close", "content": "done", "meta": {"cid": "c1", "outcome": "done"}},
    ])
}

/// A temporary folder with a mindlog home in it and a PMM ledger of [`a_mind`]; `None` (the test
/// is skipped, and says so) where python3 cannot write one.
fn a_home_and_a_mind() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    if !python3() {
        println!("skipped: python3 is not on the PATH, so no PMM ledger can be written");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    ok(&home, &["init"]);
    let db = dir.path().join("pmm.db");
    pmm_append(&db, a_mind());
    Some((dir, home, db))
}

#[test]
fn verify_pmm_recomputes_every_hash_and_link_as_pmm_does() {
    let Some((dir, home, db)) = a_home_and_a_mind() else { return };
    let before = std::fs::read(&db).unwrap();
    let verified = json(&ok(&home, &["--json", "verify", "--pmm", db.to_str().unwrap()]));
    assert_eq!((verified["ok"].as_bool(), verified["events"].as_u64()), (Some(true), Some(7)), "{verified}");
    assert_eq!((verified["first_id"].as_i64(), verified["last_id"].as_i64()), (Some(1), Some(7)));
    let text = ok(&home, &["verify", "--pmm", db.to_str().unwrap()]);
    assert!(text.starts_with("OK: 7 PMM events (ids 1 to 7, the last at 20"), "{text}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "verify --pmm never writes to the PMM file");

    // Each way of bending it is named by the event where the chain breaks.
    let bent = |name: &str, sql: &str| -> String {
        let copy = dir.path().join(name);
        std::fs::copy(&db, &copy).unwrap();
        rusqlite::Connection::open(&copy).unwrap().execute_batch(sql).unwrap();
        let out = mindlog(&home, &["verify", "--pmm", copy.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = bent("edited.db", "UPDATE events SET content = 'I should be verbose' WHERE id = 4");
    assert!(said.starts_with("FAILED: pmm event 4: its hash is") && said.contains("was edited"), "{said}");
    let said = bent("meta.db", "UPDATE events SET meta = '{\"cid\":\"c2\",\"due\":null}' WHERE id = 5");
    assert!(said.starts_with("FAILED: pmm event 5: its hash is"), "{said}");
    let said = bent("deleted.db", "DELETE FROM events WHERE id = 3");
    assert!(said.starts_with("FAILED: pmm event 4: prev_hash is") && said.contains("removed"), "{said}");
    let said = bent("link.db", "UPDATE events SET prev_hash = hash WHERE id = 6");
    assert!(said.starts_with("FAILED: pmm event 6: prev_hash is"), "{said}");
    let said = bent("not-json.db", "UPDATE events SET meta = '{broken' WHERE id = 2");
    assert!(said.starts_with("FAILED: pmm event 2: its meta is not JSON"), "{said}");
    let said = bent("blob.db", "UPDATE events SET content = x'ff00' WHERE id = 3");
    assert!(said.starts_with("FAILED: pmm event 3: its content is not text"), "{said}");

    // Not a PMM ledger: one line, exit 2.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    let out = mindlog(&home, &["verify", "--pmm", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a PMM ledger"), "{out:?}");
}

/// `import --pmm` verifies, then imports every event once, as private pmm.* events; importing
/// again adds nothing; a grown ledger adds only its new events; a ledger whose history was
/// rewritten is refused.
#[test]
fn import_pmm_is_verified_incremental_and_idempotent() {
    let Some((dir, home, db)) = a_home_and_a_mind() else { return };
    let first = std::fs::read(&db).unwrap();
    let imported = json(&ok(&home, &["--json", "import", "--pmm", db.to_str().unwrap()]));
    assert_eq!((imported["imported"].as_u64(), imported["already"].as_u64()), (Some(7), Some(0)), "{imported}");
    assert_eq!(std::fs::read(&db).unwrap(), first, "import --pmm never writes to the PMM file");
    let again = ok(&home, &["import", "--pmm", db.to_str().unwrap()]);
    assert!(again.starts_with("nothing new: the 7 events"), "{again}");

    // The ledger grows: only the new events come.
    pmm_append(
        &db,
        serde_json::json!([
            {"kind": "user_message", "content": "and one more", "meta": {"role": "user"}},
            {"kind": "embedding_add", "content": "", "meta": {"dims": 3, "v": [0.1, 0.2, 0.3]}},
        ]),
    );
    let grown = json(&ok(&home, &["--json", "import", "--pmm", db.to_str().unwrap()]));
    assert_eq!((grown["imported"].as_u64(), grown["already"].as_u64()), (Some(2), Some(7)), "{grown}");
    assert_eq!((grown["first_id"].as_i64(), grown["last_id"].as_i64()), (Some(8), Some(9)));
    let kinds = ok(
        &home,
        &[
            "query",
            "--format",
            "csv",
            "SELECT kind, count(*) AS n FROM events WHERE kind LIKE 'pmm.%' GROUP BY kind ORDER BY kind",
        ],
    );
    assert!(kinds.starts_with("kind,n\npmm.assistant_message/1,1\npmm.commitment_close/1,1\n"), "{kinds}");
    assert!(kinds.contains("pmm.user_message/1,2\n"), "{kinds}");
    // Private by default: an export leaves them out, the chain still verifies.
    let export = ok(&home, &["export", "--jsonl"]);
    assert_eq!(export.lines().filter(|l| l.contains("\"kind\":\"pmm.") && l.contains("withheld")).count(), 9);
    assert!(json(&ok(&home, &["--json", "verify"]))["ok"].as_bool().unwrap());

    // Rewritten: the same first events, then another history.
    let rewritten = dir.path().join("rewritten.db");
    let mind = a_mind();
    pmm_append(&rewritten, serde_json::Value::Array(mind.as_array().unwrap()[..3].to_vec()));
    pmm_append(
        &rewritten,
        serde_json::json!([
            {"kind": "reflection", "content": "another past", "meta": {}},
            {"kind": "reflection", "content": "and more of it", "meta": {}},
            {"kind": "reflection", "content": "to reach id 9", "meta": {}},
            {"kind": "reflection", "content": "and 9", "meta": {}},
            {"kind": "reflection", "content": "and 9 now", "meta": {}},
            {"kind": "reflection", "content": "at 9", "meta": {}},
        ]),
    );
    let out = mindlog(&home, &["import", "--pmm", rewritten.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("no longer holds event 9") && said.contains("rewritten"), "{said}");
    // A ledger that does not verify writes nothing.
    let edited = dir.path().join("edited.db");
    std::fs::copy(&db, &edited).unwrap();
    rusqlite::Connection::open(&edited).unwrap().execute_batch("UPDATE events SET content = 'x' WHERE id = 9").unwrap();
    let fresh = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    ok(&fresh, &["init"]);
    let out = mindlog(&fresh, &["import", "--pmm", edited.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FAILED: pmm event 9:"), "{out:?}");
    assert_eq!(json(&ok(&fresh, &["--json", "stats"]))["events"], 0);
    // An event that cannot be imported (a time that is none) also stops everything first.
    let bad_ts = dir.path().join("bad-ts.db");
    std::fs::copy(&db, &bad_ts).unwrap();
    rusqlite::Connection::open(&bad_ts)
        .unwrap()
        .execute_batch("UPDATE events SET ts = 'yesterday' WHERE id = 5")
        .unwrap();
    let out = mindlog(&fresh, &["import", "--pmm", bad_ts.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FAILED: pmm event 5: its ts \"yesterday\""), "{out:?}");
    assert_eq!(json(&ok(&fresh, &["--json", "stats"]))["events"], 0);

    // Erasing an imported event's text does not bring it back at the next import.
    let user_message = ok(
        &home,
        &["query", "--format", "csv", "SELECT hash FROM events WHERE kind = 'pmm.user_message/1' ORDER BY seq LIMIT 1"],
    );
    ok(&home, &["erase", user_message.lines().nth(1).unwrap()]);
    let again = ok(&home, &["import", "--pmm", db.to_str().unwrap()]);
    assert!(again.starts_with("nothing new: the 9 events"), "{again}");

    // Two PMM ledgers that start alike (PMM's first event is its fixed policy event) are two
    // ledgers when PMM names its database: both import.
    let (one, two) = (dir.path().join("one.db"), dir.path().join("two.db"));
    for (db, uuid) in [(&one, "u-1"), (&two, "u-2")] {
        pmm_append(db, serde_json::Value::Array(a_mind().as_array().unwrap()[..2].to_vec()));
        let sql = format!(
            "CREATE TABLE pmm_database_identity (database_uuid TEXT); INSERT INTO pmm_database_identity VALUES ('{uuid}')"
        );
        rusqlite::Connection::open(db).unwrap().execute_batch(&sql).unwrap();
    }
    pmm_append(&two, serde_json::json!([{"kind": "reflection", "content": "only in two", "meta": {}}]));
    let both = dir.path().join("both");
    std::fs::create_dir_all(&both).unwrap();
    ok(&both, &["init"]);
    assert_eq!(json(&ok(&both, &["--json", "import", "--pmm", one.to_str().unwrap()]))["imported"], 2);
    let second = json(&ok(&both, &["--json", "import", "--pmm", two.to_str().unwrap()]));
    assert_eq!((second["imported"].as_u64(), second["ledger"].as_str()), (Some(3), Some("uuid:u-2")), "{second}");
}
