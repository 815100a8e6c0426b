//! A persona's past: `log --persona` (its timeline) and `persona show --as-of` (as it stood then).

#![allow(clippy::unwrap_used)]

mod common;

use common::{json, ok, rejected};

#[test]
fn a_persona_timeline_and_the_persona_as_it_stood_then() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["persona", "create", "Echo"]);
    ok(&home, &["persona", "create", "Other"]);
    ok(&home, &["reflect", "Echo", "a quiet day"]);
    ok(&home, &["reflect", "Other", "not about Echo"]);
    ok(&home, &["persona", "traits", "Echo", "--openness", "0.05"]);

    let lines: Vec<serde_json::Value> = ok(&home, &["log", "--persona", "Echo", "--json"]).lines().map(json).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["persona.created/1", "persona.reflected/1", "persona.traits-changed/1"]);
    let created = lines[0]["time"].as_str().unwrap().to_owned();
    let reflected = lines[1]["time"].as_str().unwrap().to_owned();
    let since = ok(&home, &["log", "--persona", "Echo", "--since", &reflected, "--json"]);
    assert_eq!(since.lines().count(), 2, "{since}");
    let until = ok(&home, &["log", "--persona", "Echo", "--until", &created, "--json"]);
    assert_eq!(until.lines().count(), 1, "{until}");
    assert_eq!(ok(&home, &["log", "--persona", "Echo", "--limit", "1", "--json"]).lines().count(), 1);
    let text = ok(&home, &["log", "--persona", "Echo"]);
    assert!(text.contains("persona.reflected/1"), "{text}");

    let now = json(&ok(&home, &["persona", "show", "Echo", "--json"]));
    assert_eq!((now["trait_updates"].as_u64(), now["reflections"].as_u64()), (Some(1), Some(1)));
    let then = json(&ok(&home, &["persona", "show", "Echo", "--as-of", &created, "--json"]));
    assert_eq!((then["trait_updates"].as_u64(), then["reflections"].as_u64()), (Some(0), Some(0)));
    let later = json(&ok(&home, &["persona", "show", "Echo", "--as-of", &reflected, "--json"]));
    assert_eq!((later["trait_updates"].as_u64(), later["reflections"].as_u64()), (Some(0), Some(1)));
    rejected(&home, &["persona", "show", "Echo", "--as-of", "2020-01-01"], "did not exist yet");
}
