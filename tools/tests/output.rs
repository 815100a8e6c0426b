//! One output path: every command that prints has `--json` (declared once, accepted anywhere on
//! the line), its JSON has RFC 3339 times and no `-0.0`, text comes from the same report, and a
//! reader that goes away early is not an error.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{first_line_then_close, json, ok, ok_trimmed, stderr};
use serde_json::Value;

/// Members that hold an instant when they hold text: then an RFC 3339 string in UTC (`opened` is
/// also a count of commitments, a number).
const TIME_MEMBERS: &[&str] = &[
    "time",
    "at",
    "created",
    "updated",
    "since",
    "ended",
    "opened",
    "due",
    "start",
    "end",
    "as_of",
    "withdrawn",
    "forgotten",
    "last_event",
];

/// Checks one JSON output: no `-0.0`, no number that looks like microseconds since the epoch
/// (2001 to 5138), and every time member an RFC 3339 UTC string.
fn check_json(what: &str, text: &str) -> Value {
    let negative_zero =
        text.match_indices("-0.0").any(|(at, _)| !text[at + 4..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(!negative_zero, "{what}: -0.0 in {text}");
    let value = json(text);
    walk(what, None, &value);
    value
}

fn walk(what: &str, member: Option<&str>, value: &Value) {
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap();
            assert!(!(1e15..1e17).contains(&x.abs()), "{what}: {member:?} = {x} looks like raw microseconds");
        }
        Value::String(s) if member.is_some_and(|m| TIME_MEMBERS.contains(&m)) => {
            let (date, rest) = s.split_once('T').unwrap_or_else(|| panic!("{what}: {member:?} = {s:?}"));
            assert!(date.len() == 10 && rest.ends_with('Z'), "{what}: {member:?} = {s:?} is not RFC 3339 UTC");
        }
        Value::Array(items) => items.iter().for_each(|v| walk(what, member, v)),
        Value::Object(members) => members.iter().for_each(|(k, v)| walk(what, Some(k), v)),
        _ => {}
    }
}

/// Runs a command with `--json` at the end, as users type it, and checks its output.
fn json_of(home: &Path, args: &[&str]) -> Value {
    let mut with = args.to_vec();
    with.push("--json");
    check_json(&args.join(" "), &ok(home, &with))
}

/// The events a write command appended, from its `--json` output.
fn written(home: &Path, args: &[&str], kind: &str) -> String {
    let events = json_of(home, args);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{args:?}: {events:?}");
    assert_eq!(events[0]["kind"], kind);
    assert!(events[0]["offset"].is_u64() && events[0]["seq"].is_u64());
    events[0]["hash"].as_str().unwrap().to_owned()
}

#[test]
fn every_command_that_prints_has_json() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    let init = json_of(&home, &["init"]);
    assert_eq!(init["key_created"], true);
    assert_eq!(init["store_created"], true);
    let again = json_of(&home, &["init"]);
    assert_eq!((again["key_created"].clone(), again["public_key"].clone()), (false.into(), init["public_key"].clone()));
    let generated = json_of(&home, &["gen", "--events", "3000", "--seed", "7"]);
    assert_eq!((generated["events"].as_u64(), generated["seed"].as_u64()), (Some(3000), Some(7)));

    // The global flag goes anywhere on the line, and is declared once.
    let before = ok(&home, &["--json", "stats"]);
    assert_eq!(json(&before)["events"], 3000);
    assert_eq!(ok(&home, &["stats", "--json"]), before);
    json_of(&home, &["verify"]);
    json_of(&home, &["projections", "status"]);
    assert_eq!(json_of(&home, &["projections", "rebuild", "persona"])["events"], 3000);
    let bob = json_of(&home, &["identity", "new", "bob"]);
    assert_eq!(bob["name"], "bob");
    assert_eq!(json_of(&home, &["identity", "list"])[1]["public_key"], bob["public_key"]);

    // The writes: the events they appended.
    let echo = written(&home, &["persona", "create", "Echo"], "persona.created/1");
    written(&home, &["persona", "traits", "Echo", "--openness", "0.05"], "persona.traits-changed/1");
    let due = written(&home, &["commitment", "open", "Echo", "report", "--due", "2099-12-01"], "commitment.opened/1");
    written(&home, &["commitment", "close", "Echo", &due, "--outcome", "failed"], "commitment.closed/1");
    let sweep = json_of(&home, &["commitment", "sweep"]);
    assert_eq!(sweep, Value::Array(vec![]), "nothing due: nothing written");
    written(
        &home,
        &["memory", "add", "Echo", "likes tables", "--importance", "0.5", "--tag", "style"],
        "memory.added/1",
    );
    written(&home, &["emotion", "Echo", "--valence", "-0.0", "--arousal", "0"], "persona.emotion-recorded/1");
    let service =
        written(&home, &["market", "publish", "service", "tutoring", "--price", "900"], "market.listing-published/1");
    written(
        &home,
        &["--as", "bob", "market", "book", &service, "--start", "2099-12-01T10:00Z", "--end", "2099-12-01T11:00Z"],
        "market.booking-requested/1",
    );
    written(
        &home,
        &["audit", "tool", "s1", "--tool", "shell.exec", "--args-digest", "d1", "--scope", "ws", "--decision", "ask"],
        "audit.tool-requested/1",
    );

    // The reads.
    let shown = json_of(&home, &["persona", "show", "Echo", "--all"]);
    assert_eq!(shown["id"], echo.as_str());
    assert_eq!(shown["closed_commitments"][0]["outcome"], "failed");
    assert_eq!(shown["emotion"]["latest"]["valence"], 0.0);
    assert!(json_of(&home, &["persona", "show", "Echo"]).get("closed_commitments").is_none());
    json_of(&home, &["persona", "list"]);
    assert_eq!(json_of(&home, &["memory", "list", "Echo"])[0]["tags"][0], "style");
    json_of(&home, &["market", "list"]);
    let page = json_of(&home, &["market", "show", &service]);
    assert_eq!(page["bookings"][0]["start"], "2099-12-01T10:00:00Z");
    json_of(&home, &["leaderboard"]);
    json_of(&home, &["leaderboard", "creators"]);
    json_of(&home, &["rep", "show", "default"]);
    json_of(&home, &["audit", "show", "s1"]);
    assert_eq!(json_of(&home, &["audit", "pending"])[0]["status"], "waiting");
    json_of(&home, &["query", "--tables"]);
    let rows = json_of(&home, &["query", "SELECT count(*) AS n FROM events"]);
    assert_eq!(rows[0]["n"], 3000 + 9);

    // log: JSON Lines, the payload's instants as text too.
    let log = ok(&home, &["log", "--author", "bob", "--json"]);
    let line = check_json("log", log.lines().next().unwrap());
    assert_eq!(line["event"]["start"], "2099-12-01T10:00:00Z");
    for line in ok(&home, &["log", "--limit", "500", "--json"]).lines() {
        check_json("log", line);
    }

    // Files: export, import, Parquet.
    let file = dir.path().join("all.jsonl");
    let exported = json_of(&home, &["export", "--jsonl", "-o", file.to_str().unwrap()]);
    assert_eq!(exported["events"], 3000 + 9);
    let copy = dir.path().join("copy");
    ok(&copy, &["init"]);
    let imported = json_of(&copy, &["import", file.to_str().unwrap()]);
    assert_eq!((imported["stored"].as_u64(), imported["lines"].as_u64()), (Some(3009), Some(3009)));
    let parquet = json_of(&home, &["export", "--parquet", dir.path().join("pq").to_str().unwrap()]);
    assert_eq!(parquet[0]["table"], "events");
    assert_eq!(parquet[0]["rows"], 3009);

    // demo, in an empty home of its own.
    let demo = json_of(&dir.path().join("demo"), &["demo", "--events", "2000"]);
    assert_eq!(demo["verify"]["ok"], true);
    assert_eq!(demo["stats"]["events"], 2000);
    assert!(demo["disk"]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn text_is_rendered_from_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    let key = ok_trimmed(&home, &["init"]);
    ok(&home, &["gen", "--events", "500", "--seed", "3"]);
    let stats = json(&ok(&home, &["stats", "--json"]));
    let text = ok(&home, &["stats"]);
    assert!(text.contains(&format!("events   {}", stats["events"])), "{text}");
    let id = ok_trimmed(&home, &["persona", "create", "Echo"]);
    let shown = json(&ok(&home, &["persona", "show", "Echo", "--json"]));
    assert_eq!(shown["id"], id.as_str(), "a write prints the id it made, as show --json does");
    assert!(ok(&home, &["persona", "show", "Echo"]).contains(&format!("owner     {key} (you)")));
    let first = json(ok(&home, &["log", "--after", "0", "--limit", "1", "--json"]).trim());
    let line = ok(&home, &["log", "--after", "0", "--limit", "1"]);
    let time = first["time"].as_str().unwrap();
    assert!(line.contains(time) && line.contains(&first["kind"].as_str().unwrap().to_owned()), "{line}");
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "20000"]);
    for args in [
        &["log", "--json", "--limit", "20000"][..],
        &["query", "--format", "csv", "SELECT * FROM events"],
        &["query", "--format", "jsonl", "SELECT * FROM events"],
        &["export", "--jsonl"],
    ] {
        let (line, out) = first_line_then_close(&home, args);
        assert!(!line.is_empty(), "{args:?} printed nothing");
        assert!(out.status.success(), "{args:?}: {:?} {}", out.status, stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}
