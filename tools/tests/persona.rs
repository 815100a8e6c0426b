//! The persona commands end to end: the issue's examples exactly as written, rejections with
//! exit 1 and nothing appended, `submit`, views, and two processes writing one home.

#![allow(clippy::unwrap_used)]

mod common;

use common::{json, mindlog, ok, rejected};

use std::process::{Command, Stdio};

#[test]
fn the_persona_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    let id = ok(&home, &["persona", "create", "Echo", "--description", "a curious research assistant"]);
    assert_eq!(id.trim().len(), 64);
    ok(&home, &["persona", "traits", "Echo", "--openness", "0.05", "--neuroticism", "-0.02"]);
    let cid = ok(&home, &["commitment", "open", "Echo", "write the weekly report", "--due", "2099-12-01"]);
    ok(&home, &["commitment", "close", "Echo", &cid.trim()[..10], "--outcome", "done"]);
    ok(&home, &["commitment", "sweep"]);
    let mid = ok(&home, &["memory", "add", "Echo", "prefers short answers", "--importance", "0.8", "--tag", "style"]);
    ok(&home, &["memory", "add", "Echo", "likes tables", "--importance", "0.3"]);
    ok(&home, &["memory", "forget", "Echo", mid.trim()]);
    ok(&home, &["reflect", "Echo", "I close commitments faster when they are small"]);
    ok(&home, &["emotion", "Echo", "--valence", "0.4", "--arousal", "0.2", "--label", "calm"]);
    ok(&home, &["consent", "Echo", "--scope", "share-memory", "--deny"]);
    ok(&home, &["model", "use", "Echo", "ollama:llama3.1", "--hash", "sha256:9f86d081884c7d65"]);
    ok(&home, &["message", "Echo", "--role", "user", "hello"]);
    let fork = ok(&home, &["persona", "fork", "Echo", "Echo2", "--license", "CC-BY-4.0"]);
    ok(&home, &["persona", "retire", "Echo", "--successor", "Echo2", "--reason", "superseded"]);

    let show = json(&ok(&home, &["persona", "show", "Echo", "--json"]));
    assert_eq!(show["id"], id.trim());
    assert_eq!(show["status"], "retired");
    assert_eq!(show["retired"]["successor"], fork.trim());
    assert_eq!(show["traits"][0]["name"], "openness");
    assert_eq!(show["traits"][0]["value"], 0.55);
    assert_eq!(show["traits"][4]["value"], 0.48);
    assert_eq!(show["commitments"]["done"], 1);
    assert_eq!(show["commitments"]["close_rate"], 1.0);
    assert_eq!(show["memories"]["live"], 1);
    assert_eq!(show["memories"]["forgotten"], 1);
    assert_eq!(show["consent"][0]["scope"], "share-memory");
    assert_eq!(show["consent"][0]["allow"], false);
    assert_eq!(show["model"]["current"]["model"], "ollama:llama3.1");
    assert_eq!(show["emotion"]["latest"]["label"], "calm");
    assert_eq!(show["messages"]["user"], 1);
    assert_eq!(show["reflections"], 1);
    assert_eq!(show["lineage"]["children"][0], fork.trim());
    let child = json(&ok(&home, &["persona", "show", "Echo2", "--json"]));
    assert_eq!(child["lineage"]["parent"], id.trim());
    assert_eq!(child["lineage"]["depth"], 1);
    assert_eq!(child["lineage"]["license"], "CC-BY-4.0");
    assert_eq!(child["traits"][0]["value"], 0.55, "a fork starts from its parent's traits");

    let text = ok(&home, &["persona", "show", "Echo"]);
    for needle in
        ["stage", "openness", "moderate", "close rate 100%", "share-memory", "denied", "ollama:llama3.1", "lineage"]
    {
        assert!(text.contains(needle), "persona show lacks {needle:?}:\n{text}");
    }
    let list = json(&ok(&home, &["persona", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 2);

    let status = json(&ok(&home, &["projections", "status", "--json"]));
    assert_eq!(status[0]["view"], "persona");
    assert_eq!(status[0]["lag"], 0);
    let digest = status[0]["digest"].clone();
    assert!(ok(&home, &["projections", "rebuild"]).contains("rebuilt every view"));
    let rebuilt = json(&ok(&home, &["projections", "status", "--json"]));
    assert_eq!(rebuilt[0]["digest"], digest, "rebuild gives the same view");
    assert!(ok(&home, &["verify"]).starts_with("OK"));
}

#[test]
fn every_rejection_exits_1_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["persona", "create", "Echo"]);
    rejected(&home, &["persona", "create", "Echo"], "already have a persona named \"Echo\"");
    rejected(&home, &["persona", "traits", "Nobody", "--openness", "0.01"], "unknown persona \"Nobody\"");
    rejected(&home, &["persona", "traits", "Echo", "--openness", "0.06"], "too large");
    rejected(&home, &["memory", "add", "Echo", "x", "--importance", "1.2"], "importance 1.2 is outside [0, 1]");
    rejected(&home, &["emotion", "Echo", "--valence", "2", "--arousal", "0.1"], "valence 2 is outside [-1, 1]");
    rejected(&home, &["emotion", "Echo", "--valence", "0", "--arousal", "-0.5"], "arousal -0.5 is outside [0, 1]");
    rejected(&home, &["memory", "forget", "Echo", "abcdef"], "unknown memory");
    rejected(&home, &["commitment", "close", "Echo", "abcdef", "--outcome", "done"], "unknown commitment");
    let cid = ok(&home, &["commitment", "open", "Echo", "t"]);
    ok(&home, &["commitment", "close", "Echo", cid.trim(), "--outcome", "failed"]);
    rejected(&home, &["commitment", "close", "Echo", cid.trim(), "--outcome", "done"], "is closed, not open");
    rejected(&home, &["persona", "fork", "0000aaaa", "X"], "unknown persona");
    ok(&home, &["persona", "retire", "Echo"]);
    rejected(&home, &["message", "Echo", "--role", "user", "hi"], "is retired");
    rejected(&home, &["persona", "traits", "Echo", "--openness", "0.01"], "is retired");
    // A malformed argument is a usage error.
    assert_eq!(mindlog(&home, &["persona", "traits", "Echo", "--openness", "lots"]).status.code(), Some(2));
}

#[test]
fn submit_runs_json_commands_and_reports_each() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    let file = dir.path().join("commands.json");
    std::fs::write(
        &file,
        r#"[
  {"command": "persona.create", "name": "Echo", "description": "from json"},
  {"command": "persona.traits", "persona": "Echo", "openness": 0.05},
  {"command": "memory.add", "persona": "Echo", "text": "json works", "importance": 0.5, "tags": ["test"]},
  {"command": "persona.traits", "persona": "Echo", "openness": 0.5}
]"#,
    )
    .unwrap();
    let out = mindlog(&home, &["submit", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "one command was rejected");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(json).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["events"][0]["kind"], "persona.created/1");
    assert_eq!(lines[2]["events"][0]["kind"], "memory.added/1");
    assert_eq!(lines[3]["ok"], false);
    assert!(lines[3]["error"].as_str().unwrap().contains("too large"));
    let show = json(&ok(&home, &["persona", "show", "Echo", "--json"]));
    assert_eq!(show["traits"][0]["value"], 0.55);
}

#[test]
fn two_processes_writing_one_feed_never_fork_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["persona", "create", "Echo"]);
    // Two processes, each sending 40 messages as the same identity, at the same time.
    let commands: String = (0..40)
        .map(|i| format!("{{\"command\":\"message\",\"persona\":\"Echo\",\"role\":\"user\",\"text\":\"m{i}\"}}\n"))
        .collect();
    let file = dir.path().join("messages.jsonl");
    std::fs::write(&file, commands).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_mindlog"))
            .args(["--home", home.to_str().unwrap(), "submit", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{} {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let report = json(&ok(&home, &["verify", "--json"]));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["feed_reports"][0]["last_seq"], 81, "1 creation + 2 × 40 messages, one feed, no fork");
    let show = json(&ok(&home, &["persona", "show", "Echo", "--json"]));
    assert_eq!(show["messages"]["user"], 80);
}
