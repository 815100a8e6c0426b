//! Privacy from the command line: private payloads stay home, and an erased one is gone from
//! the file, the views, every query and every later export.

#![allow(clippy::unwrap_used)]

mod common;

use common::{fails, json, ok, ok_trimmed};

fn file_contains(home: &std::path::Path, needle: &str) -> bool {
    let bytes = std::fs::read(home.join("mind.redb")).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn private_memories_stay_home_and_erased_ones_are_gone_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["persona", "create", "Echo"]);
    let secret = "PIN-4711-marker-never-to-be-found";
    let memory = ok_trimmed(&home, &["memory", "add", "Echo", secret, "--importance", "0.9", "--private"]);
    ok(&home, &["memory", "add", "Echo", "a public fact", "--importance", "0.5"]);

    // Private: in the store and the views, not in a plain export.
    assert!(ok(&home, &["memory", "list", "Echo"]).contains(secret));
    assert_eq!(state_of(&ok(&home, &["export", "--jsonl"]), &memory), "withheld");
    assert_eq!(state_of(&ok(&home, &["export", "--jsonl", "--include-private"]), &memory), "present");
    let verify: serde_json::Value = json(&ok(&home, &["verify", "--json"]));
    assert_eq!((verify["payloads"]["present"].as_u64(), verify["payloads"]["private"].as_u64()), (Some(3), Some(1)));

    // Forget and erase: gone from the file, the views, the SQL and the export.
    assert!(file_contains(&home, secret), "the test can fail: the secret is in the file before");
    let erased: serde_json::Value = json(&ok(&home, &["--json", "memory", "forget", "Echo", &memory[..8], "--erase"]));
    assert_eq!(erased["erased"], 1);
    assert!(!file_contains(&home, secret));
    assert!(!ok(&home, &["memory", "list", "Echo", "--all"]).contains(secret));
    assert!(!ok(&home, &["query", "--format", "csv", "SELECT payload FROM events"]).contains(secret));
    assert_eq!(state_of(&ok(&home, &["export", "--jsonl", "--include-private"]), &memory), "erased");
    let verify: serde_json::Value = json(&ok(&home, &["verify", "--json"]));
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["payloads"]["erased"], 1);

    // Erasing it again is refused in one line; so is something that is not a hash.
    let again = fails(&home, &["erase", &memory], 1);
    assert!(again.contains("erased already"), "{again}");
    fails(&home, &["erase", "zz"], 1);
}

#[test]
fn a_private_persona_keeps_its_personal_content_private_and_persona_erase_erases_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["persona", "create", "Quiet", "--private"]);
    ok(&home, &["reflect", "Quiet", "reflection-marker-1"]);
    ok(&home, &["message", "Quiet", "--role", "user", "message-marker-2"]);
    ok(&home, &["persona", "traits", "Quiet", "--openness", "0.05"]);
    let export = ok(&home, &["export", "--jsonl"]);
    assert_eq!(export.matches(r#""payload_state":"withheld""#).count(), 3, "creation, reflection and message");
    let erased: serde_json::Value = json(&ok(&home, &["--json", "persona", "erase", "Quiet", "--reason", "asked"]));
    assert_eq!(erased["erased"], 2, "the reflection and the message, not the traits");
    for marker in ["reflection-marker-1", "message-marker-2"] {
        assert!(!file_contains(&home, marker), "{marker}");
    }
    assert!(ok(&home, &["persona", "show", "Quiet"]).contains("Quiet"));
}

#[test]
fn an_imported_erasure_erases_the_copy_here_and_scrubs_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (home, copy) = (dir.path().join("h"), dir.path().join("copy"));
    ok(&home, &["init"]);
    ok(&copy, &["init"]);
    ok(&home, &["persona", "create", "Echo"]);
    let secret = "copied-secret-marker-5521";
    let memory = ok_trimmed(&home, &["memory", "add", "Echo", secret, "--importance", "0.9"]);
    let before = dir.path().join("before.jsonl");
    std::fs::write(&before, ok(&home, &["export", "--jsonl"])).unwrap();
    ok(&copy, &["import", before.to_str().unwrap()]);
    assert!(ok(&copy, &["query", "--format", "csv", "SELECT payload FROM events"]).contains(secret));
    assert!(file_contains(&copy, secret), "the test can fail: the copy holds the secret");

    ok(&home, &["erase", &memory, "--reason", "asked"]);
    let after = dir.path().join("after.jsonl");
    std::fs::write(&after, ok(&home, &["export", "--jsonl"])).unwrap();
    let imported: serde_json::Value = json(&ok(&copy, &["--json", "import", after.to_str().unwrap()]));
    assert_eq!((imported["stored"].as_u64(), imported["erased"].as_u64()), (Some(1), Some(1)));
    assert!(imported["scrub"]["size_after"].as_u64().unwrap() <= imported["scrub"]["size_before"].as_u64().unwrap());
    assert!(!file_contains(&copy, secret));
    assert!(!ok(&copy, &["query", "--format", "csv", "SELECT payload FROM events"]).contains(secret));
    assert!(!ok(&copy, &["query", "--format", "csv", "SELECT * FROM memories"]).contains(secret));
    assert_eq!(state_of(&ok(&copy, &["export", "--jsonl", "--include-private"]), &memory), "erased");
}

/// The `payload_state` of the event `hash` in an export.
fn state_of(export: &str, hash: &str) -> String {
    let line = export.lines().map(json).find(|l| l["hash"] == hash).unwrap();
    line["payload_state"].as_str().unwrap().to_owned()
}
