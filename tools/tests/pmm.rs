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
    let (dir, home) = a_home()?;
    let db = dir.path().join("pmm.db");
    pmm_append(&db, a_mind());
    Some((dir, home, db))
}

/// A temporary folder with a mindlog home in it; `None` (the test is skipped, and says so) where
/// python3 cannot write PMM ledgers or check exports.
fn a_home() -> Option<(tempfile::TempDir, PathBuf)> {
    if !python3() {
        println!("skipped: python3 is not on the PATH, so no PMM ledger can be written or export checked");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    ok(&home, &["init"]);
    Some((dir, home))
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
        pmm_ledger(db, uuid, serde_json::Value::Array(a_mind().as_array().unwrap()[..2].to_vec()));
    }
    pmm_append(&two, serde_json::json!([{"kind": "reflection", "content": "only in two", "meta": {}}]));
    let both = dir.path().join("both");
    std::fs::create_dir_all(&both).unwrap();
    ok(&both, &["init"]);
    assert_eq!(json(&ok(&both, &["--json", "import", "--pmm", one.to_str().unwrap()]))["imported"], 2);
    // Both minds call themselves Echo: the second needs a persona of its own, named.
    let out = mindlog(&both, &["import", "--pmm", two.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already have a persona named Echo"), "{out:?}");
    let second = json(&ok(&both, &["--json", "import", "--pmm", two.to_str().unwrap(), "--persona", "Echo 2"]));
    assert_eq!((second["persona"].as_str(), second["persona_created"].as_bool()), (Some("Echo 2"), Some(true)));
    assert_eq!((second["imported"].as_u64(), second["ledger"].as_str()), (Some(3), Some("uuid:u-2")), "{second}");
}

/// A ledger PMM's own code wrote (`pmm/make_real_pmm.py`: PMM's RuntimeLoop and EventLog, its
/// commitment and identity-adoption protocols, a scripted model swap) imports verified and
/// becomes a persona: its name the one the mind adopted, its messages, reflections, commitment
/// and models in the views; and the original chain re-verifies from the export alone, by a
/// checker that shares no code with mindlog.
#[test]
fn a_ledger_written_by_pmm_becomes_a_persona_and_reverifies_from_the_export() {
    let Some((dir, home)) = a_home() else { return };
    let db = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pmm/real-pmm.db");
    let db = db.to_str().unwrap();
    let verified = json(&ok(&home, &["--json", "verify", "--pmm", db]));
    assert_eq!((verified["ok"].as_bool(), verified["events"].as_u64()), (Some(true), Some(67)), "{verified}");

    let imported = json(&ok(&home, &["--json", "import", "--pmm", db]));
    assert_eq!(imported["imported"], 67, "{imported}");
    assert_eq!((imported["persona"].as_str(), imported["persona_created"].as_bool()), (Some("Echo"), Some(true)));

    let shown = json(&ok(&home, &["--json", "persona", "show", "Echo"]));
    assert_eq!(shown["adopted_identity"], "Echo");
    assert_eq!((shown["messages"]["user"].as_u64(), shown["messages"]["assistant"].as_u64()), (Some(5), Some(5)));
    assert_eq!(shown["reflections"], 8);
    let c = &shown["commitments"];
    assert_eq!((c["opened"].as_u64(), c["closed"].as_u64(), c["done"].as_u64()), (Some(1), Some(1), Some(1)), "{c}");
    let models: Vec<&str> =
        shown["model"]["history"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["ollama:llama3.1", "ollama:qwen2.5"], "only changes are swaps");
    assert_eq!(shown["latest_reflections"].as_array().unwrap().len(), 3);
    let text = ok(&home, &["persona", "show", "Echo", "--all"]);
    assert!(text.contains("identity  Echo") && text.contains("remember the user's name  (done"), "{text}");

    // The persona's tables read the imported events; the events table shows their records.
    let zoe =
        ok(&home, &["query", "--format", "csv", "SELECT role, text FROM messages WHERE text LIKE '%Zoë%' ORDER BY at"]);
    assert!(zoe.starts_with("role,text\nuser,Ich heiße Zoë — grüß dich 🙂\nassistant,"), "{zoe}");
    let reflections = ok(&home, &["query", "--format", "csv", "SELECT count(*) AS n FROM reflections"]);
    assert_eq!(reflections, "n\n8\n");
    let cid =
        ok(&home, &["query", "--format", "csv", "SELECT payload FROM events WHERE kind = 'pmm.commitment_open/1'"]);
    assert!(cid.contains("remember the user"), "{cid}");

    // Importing again adds nothing, and naming another persona for it is refused.
    assert!(ok(&home, &["import", "--pmm", db]).starts_with("nothing new: the 67 events"));
    let out = mindlog(&home, &["import", "--pmm", db, "--persona", "Other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("was imported into the persona Echo"), "{out:?}");

    // The PMM chain, from the export alone.
    let export = dir.path().join("export.jsonl");
    ok(&home, &["export", "--jsonl", "--include-private", "-o", export.to_str().unwrap()]);
    let checker = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pmm/check_export.py");
    let out = Command::new("python3").arg("-B").arg(&checker).arg(&export).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains(": 67 events, ids 1 to 67"), "{said}");
    // The checker is not a rubber stamp: one character changed in one record fails it.
    let bent = std::fs::read_to_string(&export).unwrap();
    let line = bent.lines().find(|l| l.contains("\"kind\":\"pmm.reflection/1\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut record: serde_json::Value =
        serde_json::from_slice(&b64.decode(v["payload"].as_str().unwrap()).unwrap()).unwrap();
    record["content"] = format!("{}.", record["content"].as_str().unwrap()).into();
    let mut v2 = v.clone();
    v2["payload"] = b64.encode(serde_json::to_vec(&record).unwrap()).into();
    std::fs::write(&export, bent.replace(line, &v2.to_string())).unwrap();
    let out = Command::new("python3").arg("-B").arg(&checker).arg(&export).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Appends `events` to a PMM ledger at `db` that PMM names `uuid` (`pmm_database_identity`).
fn pmm_ledger(db: &Path, uuid: &str, events: serde_json::Value) {
    pmm_append(db, events);
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS pmm_database_identity (database_uuid TEXT); DELETE FROM pmm_database_identity; \
         INSERT INTO pmm_database_identity VALUES ('{uuid}')"
    );
    rusqlite::Connection::open(db).unwrap().execute_batch(&sql).unwrap();
}

/// The persona a ledger feeds: the one an interrupted first import created is taken again; a
/// commitment PMM opens twice under one cid is one commitment; two ledgers in one persona keep
/// their cids apart; once the persona is retired, the ledger feeds only the persona named next.
#[test]
fn import_pmm_binds_each_ledger_to_one_persona() {
    let Some((dir, home)) = a_home() else { return };
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    pmm_ledger(
        &a,
        "u-a",
        serde_json::json!([
            {"kind": "identity_adoption", "content": "", "meta": {"name": "Echo"}},
            {"kind": "commitment_open", "content": "Commitment opened: task", "meta": {"cid": "c1", "text": "task"}},
            {"kind": "commitment_open", "content": "Commitment opened: task", "meta": {"cid": "c1", "text": "task"}},
        ]),
    );
    // What a first import that stopped after creating its persona leaves: the persona, no events.
    ok(&home, &["persona", "create", "Echo", "--description", "imported from the PMM ledger uuid:u-a"]);
    let first = json(&ok(&home, &["--json", "import", "--pmm", a.to_str().unwrap()]));
    assert_eq!((first["persona"].as_str(), first["persona_created"].as_bool()), (Some("Echo"), Some(false)), "{first}");
    let commitments = |home: &Path, persona: &str| {
        let c = json(&ok(home, &["--json", "persona", "show", persona]))["commitments"].clone();
        (c["opened"].as_u64().unwrap(), c["open"].as_u64().unwrap(), c["closed"].as_u64().unwrap())
    };
    assert_eq!(commitments(&home, "Echo"), (1, 1, 0), "opened twice under one cid while open: one commitment");

    // Another mind with the same cid, into the same persona: its close ends its own commitment.
    pmm_ledger(
        &b,
        "u-b",
        serde_json::json!([
            {"kind": "commitment_open", "content": "Commitment opened: task", "meta": {"cid": "c1", "text": "task"}},
            {"kind": "commitment_close", "content": "Commitment closed: c1", "meta": {"cid": "c1"}},
        ]),
    );
    ok(&home, &["import", "--pmm", b.to_str().unwrap(), "--persona", "Echo"]);
    assert_eq!(commitments(&home, "Echo"), (2, 1, 1));

    // Retired: the ledger goes on only into the persona named next.
    ok(&home, &["persona", "retire", "Echo"]);
    pmm_append(&a, serde_json::json!([{"kind": "user_message", "content": "still here", "meta": {}}]));
    let out = mindlog(&home, &["import", "--pmm", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("which is retired"), "{out:?}");
    let next = json(&ok(&home, &["--json", "import", "--pmm", a.to_str().unwrap(), "--persona", "Echo II"]));
    assert_eq!((next["imported"].as_u64(), next["persona_created"].as_bool()), (Some(1), Some(true)), "{next}");
    let shown = json(&ok(&home, &["--json", "persona", "show", "Echo II"]));
    assert_eq!(shown["messages"]["user"], 1);
    assert!(ok(&home, &["import", "--pmm", a.to_str().unwrap()]).contains("into the persona Echo II"));
}
