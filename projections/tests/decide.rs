//! `decide` against the real views: every rejection of every domain, and the events of every
//! command, through one helper, [`check`].
//!
//! `check(history, author, command, expect![...])` makes a fresh store, decides and appends
//! every command of `history` in turn (each must be accepted) and folds it into the views, then
//! decides `command` as `author` against the views and compares the outcome with the snapshot:
//! the events' kinds and JSON payloads, or `rejected: ` and the one-line message.
//!
//! Commands are written in their JSON form (`mindlog submit`, docs/commands.md). In a command a
//! string `"$N"` stands for the id (the hash of the first event) that history step N wrote
//! (steps count from 1), `"$N.K"` for the hash of its K-th event, `"$N:P"` for the first P hex
//! characters of `"$N"`, and `"$alice"`, `"$bob"`, `"$carol"` for public keys. Outcomes name
//! hashes and keys the same way; any other hash is shortened to its first 8 characters and `…`.
//!
//! Time: history step N is decided at 2026-01-01T00:0N:00Z (N minutes past midnight), the
//! command at 2026-01-01T01:00:00Z. Identities are fixed, so every hash is the same in every run.
//! To update the snapshots after a deliberate change: `UPDATE_EXPECT=1 cargo test --release
//! -p mindlog-projections --test decide`, then read every changed snapshot.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use expect_test::{Expect, expect};
use mindlog_commands::{Command, DecideError, Event, decide};
use mindlog_ledger::{Draft, Hash, Identity, Ledger, PublicKey};
use mindlog_projections::Projections;
use serde_json::{Value, json};

/// The authors of the tests.
#[derive(Clone, Copy, Debug)]
enum Who {
    Alice,
    Bob,
    Carol,
}
use Who::*;

impl Who {
    fn identity(self) -> Identity {
        Identity::from_secret(&[self as u8 + 1; 32])
    }
    fn key(self) -> PublicKey {
        self.identity().public_key()
    }
    fn name(self) -> &'static str {
        match self {
            Alice => "$alice",
            Bob => "$bob",
            Carol => "$carol",
        }
    }
}

/// 2026-01-01T00:00:00Z.
const MIDNIGHT: u64 = 1_767_225_600_000_000;
const MINUTE: u64 = 60_000_000;
/// When `check` decides its command: 2026-01-01T01:00:00Z.
const NOW: u64 = MIDNIGHT + 60 * MINUTE;

/// Decides `command` as `author` after `history` and compares the outcome with `expect`;
/// returns the outcome.
fn check(history: &[(Who, Value)], author: Who, command: Value, expect: Expect) -> String {
    assert!(history.len() < 60, "history steps are a minute apart, before the command at 01:00");
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("decide.redb")).unwrap();
    let projections = Projections::new(&ledger);
    let mut steps: Vec<Vec<Hash>> = Vec::new();
    for (i, (who, command)) in history.iter().enumerate() {
        let step = i + 1;
        let now = MIDNIGHT + step as u64 * MINUTE;
        let parsed = parse(command, &steps);
        let events = match decide(&projections.views().unwrap(), &who.key(), now, &parsed) {
            Ok(events) => events,
            Err(e) => panic!("history step {step} ({who:?}: {command}) was refused: {e}"),
        };
        steps.push(append(&ledger, &projections, *who, now, &events));
    }
    let parsed = parse(&command, &steps);
    let outcome = match decide(&projections.views().unwrap(), &author.key(), NOW, &parsed) {
        Ok(events) if events.is_empty() => "accepted: no events".to_owned(),
        Ok(events) => {
            // The events are what the views apply, too.
            append(&ledger, &projections, author, NOW, &events);
            events.iter().map(|e| format!("{} {}", e.kind(), payload(e))).collect::<Vec<_>>().join("\n")
        }
        Err(DecideError::Rejected(rejection)) => {
            let message = rejection.to_string();
            assert_eq!(message.lines().count(), 1, "a rejection is one line: {message:?}");
            format!("rejected: {message}")
        }
        Err(e) => panic!("deciding {command}: {e}"),
    };
    let outcome = name_hashes(&outcome, &steps);
    expect.assert_eq(&outcome);
    outcome
}

/// Appends `events` as `who` at `now` and folds them; their hashes. Every decided event is
/// applied by its view, none ignored.
fn append(ledger: &Ledger, projections: &Projections, who: Who, now: u64, events: &[Event]) -> Vec<Hash> {
    let ignored = |p: &Projections| p.status().unwrap().iter().map(|s| s.ignored).sum::<u64>();
    let before = ignored(projections);
    let drafts =
        events.iter().map(|e| Draft { kind: e.kind().into(), payload: e.encode(), refs: e.refs(), ts: now }).collect();
    let appended = ledger.append(&who.identity(), drafts, mindlog_ledger::Expect::Any).unwrap();
    projections.catch_up(&|_, _| {}).unwrap();
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(ignored(projections), before, "a view ignored decided events {kinds:?}");
    appended.iter().map(|a| a.hash).collect()
}

/// The command `json` with its placeholders replaced.
fn parse(json: &Value, steps: &[Vec<Hash>]) -> Command {
    fn substitute(value: &Value, steps: &[Vec<Hash>]) -> Value {
        match value {
            Value::String(s) if s.starts_with('$') => Value::String(placeholder(s, steps)),
            Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, steps)).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, steps))).collect()),
            other => other.clone(),
        }
    }
    let json = substitute(json, steps);
    serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json} is not a command: {e}"))
}

fn placeholder(text: &str, steps: &[Vec<Hash>]) -> String {
    for who in [Alice, Bob, Carol] {
        if text == who.name() {
            return who.key().to_string();
        }
    }
    let body = &text[1..];
    let (reference, prefix) = match body.split_once(':') {
        Some((reference, length)) => (reference, Some(length.parse::<usize>().unwrap())),
        None => (body, None),
    };
    let (step, event) = match reference.split_once('.') {
        Some((step, event)) => (step.parse::<usize>().unwrap(), event.parse::<usize>().unwrap()),
        None => (reference.parse::<usize>().unwrap_or_else(|_| panic!("no placeholder {text}")), 1),
    };
    let hash = steps
        .get(step.wrapping_sub(1))
        .and_then(|events| events.get(event.wrapping_sub(1)))
        .unwrap_or_else(|| panic!("{text}: history step {step} wrote no event {event}"))
        .to_string();
    match prefix {
        Some(length) => hash[..length].to_owned(),
        None => hash,
    }
}

/// An event's payload as compact JSON, without the kind (printed before it).
fn payload(event: &Event) -> String {
    let mut json = serde_json::to_value(event).unwrap();
    let map = json.as_object_mut().unwrap();
    if map.get("kind").and_then(Value::as_str) == Some(event.kind()) {
        map.remove("kind");
    }
    json.to_string()
}

/// `text` with every 64-hex run named: `$N`, `$N.K`, `$alice`…, or shortened to 8 characters.
fn name_hashes(text: &str, steps: &[Vec<Hash>]) -> String {
    let mut names: HashMap<String, String> = HashMap::new();
    for who in [Alice, Bob, Carol] {
        names.insert(who.key().to_string(), who.name().to_owned());
    }
    for (i, events) in steps.iter().enumerate() {
        for (k, hash) in events.iter().enumerate() {
            let name = if k == 0 { format!("${}", i + 1) } else { format!("${}.{}", i + 1, k + 1) };
            names.insert(hash.to_string(), name);
        }
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        out.push_str(&rest[..start]);
        let run = rest[start..].find(|c: char| !c.is_ascii_hexdigit()).map_or(rest.len(), |end| start + end);
        let hex = &rest[start..run];
        match names.get(hex) {
            Some(name) => out.push_str(name),
            None if hex.len() == 64 => out.push_str(&format!("{}…", &hex[..8])),
            None => out.push_str(hex),
        }
        rest = &rest[run..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Histories used by many cases. Each is meant as the first steps of a history, so that the
// step numbers in the placeholders of the rest stay the same.

/// Step 1: Alice's persona Echo.
fn echo() -> (Who, Value) {
    (Alice, json!({"command": "persona.create", "name": "Echo", "description": "a curious research assistant"}))
}

/// Step 1: Alice's plugin, sold at 4.99 EUR.
fn plugin() -> (Who, Value) {
    (
        Alice,
        json!({"command": "market.publish", "kind": "plugin", "name": "Summarizer", "version": "1.0.0", "price": 499}),
    )
}

/// Step 1: Alice's service, sold by subscription (basic 9.00 and pro 29.00 a month).
fn service() -> (Who, Value) {
    (
        Alice,
        json!({
            "command": "market.publish",
            "kind": "service",
            "name": "Code review",
            "version": "1.0.0",
            "tiers": [
                {"name": "basic", "amount": 900, "period": "month"},
                {"name": "pro", "amount": 2900, "period": "month"},
            ],
        }),
    )
}

/// A booking of the listing of step 1, on 2026-01-02 from `from` to `to` o'clock.
fn book(who: Who, from: u32, to: u32) -> (Who, Value) {
    let at = |hour: u32| format!("2026-01-02T{hour:02}:00:00Z");
    (who, json!({"command": "market.book", "listing": "$1", "start": at(from), "end": at(to)}))
}

/// Step 1: Alice's guild "makers".
fn guild() -> (Who, Value) {
    (Alice, json!({"command": "guild.create", "name": "makers"}))
}

/// A tool call by `who` that the policy decided `decision`.
fn tool(who: Who, decision: &str) -> (Who, Value) {
    (
        who,
        json!({
            "command": "audit.tool",
            "session": "s-1",
            "tool": "fs.write",
            "args_digest": "sha256:9f86d081",
            "scope": "repo",
            "decision": decision,
            "reason": "writes inside the repository",
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Personas.

#[test]
fn persona_create() {
    check(
        &[],
        Alice,
        echo().1,
        expect![[r#"persona.created/1 {"description":"a curious research assistant","name":"Echo"}"#]],
    );
    check(&[echo()], Alice, echo().1, expect![[r#"rejected: you already have a persona named "Echo""#]]);
    // Another author's persona may have the same name.
    check(
        &[echo()],
        Bob,
        json!({"command": "persona.create", "name": "Echo"}),
        expect![[r#"persona.created/1 {"description":"","name":"Echo"}"#]],
    );
    check(&[], Alice, json!({"command": "persona.create", "name": ""}), expect!["rejected: name is empty"]);
    check(
        &[],
        Alice,
        json!({"command": "persona.create", "name": "e".repeat(65)}),
        expect!["rejected: name is 65 characters long; at most 64"],
    );
    check(
        &[],
        Alice,
        json!({"command": "persona.create", "name": "Ec\tho"}),
        expect![[r#"rejected: name "Ec\tho" contains a control character"#]],
    );
    check(
        &[],
        Alice,
        json!({"command": "persona.create", "name": "Echo\u{7}"}),
        expect!["rejected: name contains control characters"],
    );
    check(
        &[],
        Alice,
        json!({"command": "persona.create", "name": " Echo"}),
        expect![[r#"rejected: name " Echo" starts or ends with white space"#]],
    );
    check(
        &[],
        Alice,
        json!({"command": "persona.create", "name": "Echo", "description": "d".repeat(2001)}),
        expect!["rejected: description is 2001 characters long; at most 2000"],
    );
}

#[test]
fn persona_traits() {
    let nudge =
        |persona: &str, openness: Value| json!({"command": "persona.traits", "persona": persona, "openness": openness});
    check(
        &[echo()],
        Alice,
        json!({"command": "persona.traits", "persona": "Echo", "openness": 0.05, "neuroticism": "-0.02"}),
        expect![[
            r#"persona.traits-changed/1 {"deltas":{"agreeableness":0.0,"conscientiousness":0.0,"extraversion":0.0,"neuroticism":-0.02,"openness":0.05},"persona":"$1"}"#
        ]],
    );
    check(
        &[echo()],
        Alice,
        nudge("Nobody", json!(0.01)),
        expect![[
            r#"rejected: unknown persona "Nobody": give one of your persona names, or an id or id prefix (mindlog persona list)"#
        ]],
    );
    // The ids of Echo and "Echo 22051" share their first four hex characters.
    let outcome = check(
        &[echo(), (Alice, json!({"command": "persona.create", "name": "Echo 22051"}))],
        Alice,
        nudge("$1:4", json!(0.01)),
        expect![[r#"rejected: persona "9edd" is ambiguous: it matches 2 ids; give more characters"#]],
    );
    assert!(outcome.contains("is ambiguous"), "the two ids no longer share a prefix: find another name");
    check(
        &[echo()],
        Bob,
        nudge("$1", json!(0.01)),
        expect![[r#"rejected: persona "Echo" belongs to $alice; only its owner can change it"#]],
    );
    check(
        &[echo(), (Alice, json!({"command": "persona.retire", "persona": "Echo"}))],
        Alice,
        nudge("Echo", json!(0.01)),
        expect![[r#"rejected: persona "Echo" is retired; it accepts no more changes"#]],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "persona.traits", "persona": "Echo"}),
        expect![
            "rejected: no trait change given: pass at least one of --openness, --conscientiousness, --extraversion, --agreeableness, --neuroticism"
        ],
    );
    check(
        &[echo()],
        Alice,
        nudge("Echo", json!(0)),
        expect![
            "rejected: no trait change given: pass at least one of --openness, --conscientiousness, --extraversion, --agreeableness, --neuroticism"
        ],
    );
    check(
        &[echo()],
        Alice,
        nudge("Echo", json!(0.06)),
        expect!["rejected: openness delta 0.06 is too large: at most 0.05 either way per event"],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "persona.traits", "persona": "Echo", "neuroticism": -0.051}),
        expect!["rejected: neuroticism delta -0.051 is too large: at most 0.05 either way per event"],
    );
    let mut to_one = vec![echo()];
    to_one.extend((0..10).map(|_| (Alice, nudge("Echo", json!(0.05)))));
    check(
        &to_one,
        Alice,
        nudge("Echo", json!(0.000001)),
        expect!["rejected: openness would become 1.000001, outside [0, 1]"],
    );
}

#[test]
fn persona_fork() {
    let fork = |persona: &str, name: &str| json!({"command": "persona.fork", "persona": persona, "name": name, "license": "CC-BY-4.0"});
    check(
        &[echo()],
        Bob,
        fork("$1", "Mine"),
        expect![[
            r#"persona.forked/1 {"description":"a curious research assistant","license":"CC-BY-4.0","name":"Mine","parent":"$1","traits":{"agreeableness":0.5,"conscientiousness":0.5,"extraversion":0.5,"neuroticism":0.5,"openness":0.5}}"#
        ]],
    );
    // A fork starts with the parent's traits as they are now.
    let nudged =
        (Alice, json!({"command": "persona.traits", "persona": "Echo", "openness": 0.05, "neuroticism": -0.02}));
    check(
        &[echo(), nudged],
        Bob,
        fork("$1", "Mine"),
        expect![[
            r#"persona.forked/1 {"description":"a curious research assistant","license":"CC-BY-4.0","name":"Mine","parent":"$1","traits":{"agreeableness":0.5,"conscientiousness":0.5,"extraversion":0.5,"neuroticism":0.48,"openness":0.55}}"#
        ]],
    );
    // By a prefix of its id, and without a license.
    check(
        &[echo()],
        Bob,
        json!({"command": "persona.fork", "persona": "$1:12", "name": "Mine"}),
        expect![[
            r#"persona.forked/1 {"description":"a curious research assistant","license":null,"name":"Mine","parent":"$1","traits":{"agreeableness":0.5,"conscientiousness":0.5,"extraversion":0.5,"neuroticism":0.5,"openness":0.5}}"#
        ]],
    );
    // Only the author's own personas are found by name.
    check(
        &[echo()],
        Bob,
        fork("Echo", "Mine"),
        expect![[
            r#"rejected: unknown persona "Echo": give one of your persona names, or an id or id prefix (mindlog persona list)"#
        ]],
    );
    check(
        &[echo()],
        Bob,
        fork("0000dead", "Mine"),
        expect![[
            r#"rejected: unknown persona "0000dead": give one of your persona names, or an id or id prefix (mindlog persona list)"#
        ]],
    );
    check(&[echo()], Alice, fork("Echo", "Echo"), expect![[r#"rejected: you already have a persona named "Echo""#]]);
    check(&[echo()], Bob, fork("$1", "Mine\n"), expect![[r#"rejected: name "Mine\n" contains a control character"#]]);
    check(
        &[echo()],
        Bob,
        json!({"command": "persona.fork", "persona": "$1", "name": "Mine", "license": "CC BY"}),
        expect![[r#"rejected: license "CC BY" must be 1 to 64 letters, digits, '-', '_', '.' or ':'"#]],
    );
}

#[test]
fn persona_retire() {
    let echo2 = (Alice, json!({"command": "persona.create", "name": "Echo2"}));
    check(
        &[echo(), echo2.clone()],
        Alice,
        json!({"command": "persona.retire", "persona": "Echo", "successor": "Echo2", "reason": "merged into Echo2"}),
        expect![[r#"persona.retired/1 {"persona":"$1","reason":"merged into Echo2","successor":"$2"}"#]],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "persona.retire", "persona": "Echo", "successor": "Echo"}),
        expect!["rejected: successor cannot be the persona itself"],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "persona.retire", "persona": "Echo", "successor": "Nobody"}),
        expect![[
            r#"rejected: unknown persona "Nobody": give one of your persona names, or an id or id prefix (mindlog persona list)"#
        ]],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "persona.retire", "persona": "Echo", "reason": ""}),
        expect!["rejected: reason is empty"],
    );
    check(
        &[echo()],
        Bob,
        json!({"command": "persona.retire", "persona": "$1"}),
        expect![[r#"rejected: persona "Echo" belongs to $alice; only its owner can change it"#]],
    );
    check(
        &[echo(), (Alice, json!({"command": "persona.retire", "persona": "Echo"}))],
        Alice,
        json!({"command": "persona.retire", "persona": "Echo"}),
        expect![[r#"rejected: persona "Echo" is retired; it accepts no more changes"#]],
    );
}

#[test]
fn commitment_open() {
    let open = |due: Value| json!({"command": "commitment.open", "persona": "Echo", "title": "write the weekly report", "due": due});
    check(
        &[echo()],
        Alice,
        open(json!("2026-01-08")),
        expect![[
            r#"commitment.opened/1 {"due":"2026-01-08T00:00:00Z","persona":"$1","title":"write the weekly report"}"#
        ]],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "commitment.open", "persona": "Echo", "title": "someday"}),
        expect![[r#"commitment.opened/1 {"due":null,"persona":"$1","title":"someday"}"#]],
    );
    check(
        &[echo()],
        Alice,
        open(json!("2026-01-01T00:30:00Z")),
        expect!["rejected: the due time 2026-01-01T00:30:00Z is already past"],
    );
    check(
        &[echo()],
        Alice,
        open(json!("2026-01-01T01:00:00Z")),
        expect!["rejected: the due time 2026-01-01T01:00:00Z is already past"],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "commitment.open", "persona": "Echo", "title": ""}),
        expect!["rejected: title is empty"],
    );
    check(
        &[echo()],
        Bob,
        json!({"command": "commitment.open", "persona": "$1", "title": "mine now"}),
        expect![[r#"rejected: persona "Echo" belongs to $alice; only its owner can change it"#]],
    );
}

#[test]
fn commitment_close() {
    let open = (Alice, json!({"command": "commitment.open", "persona": "Echo", "title": "write the weekly report"}));
    let close = |commitment: &str| json!({"command": "commitment.close", "persona": "Echo", "commitment": commitment, "outcome": "done"});
    check(
        &[echo(), open.clone()],
        Alice,
        close("$2"),
        expect![[r#"commitment.closed/1 {"commitment":"$2","outcome":"done","persona":"$1"}"#]],
    );
    check(
        &[echo(), open.clone()],
        Alice,
        close("$2:6"),
        expect![[r#"commitment.closed/1 {"commitment":"$2","outcome":"done","persona":"$1"}"#]],
    );
    check(
        &[echo(), open.clone()],
        Alice,
        close("ffff"),
        expect![[r#"rejected: unknown commitment "ffff" for this persona (mindlog persona show lists them)"#]],
    );
    check(
        &[echo(), open.clone(), (Alice, close("$2"))],
        Alice,
        close("$2"),
        expect!["rejected: commitment $2 is closed, not open"],
    );
    let due_soon =
        (Alice, json!({"command": "commitment.open", "persona": "Echo", "title": "t", "due": "2026-01-01T00:02:30Z"}));
    check(
        &[echo(), due_soon, (Alice, json!({"command": "commitment.sweep"}))],
        Alice,
        close("$2"),
        expect!["rejected: commitment $2 is expired, not open"],
    );
    // A commitment is looked for among the given persona's only.
    let other = (Alice, json!({"command": "persona.create", "name": "Other"}));
    let open_other = (Alice, json!({"command": "commitment.open", "persona": "Other", "title": "theirs"}));
    check(
        &[echo(), other, open_other],
        Alice,
        close("$3"),
        expect![[r#"rejected: unknown commitment "$3" for this persona (mindlog persona show lists them)"#]],
    );
}

#[test]
fn commitment_sweep() {
    let sweep = json!({"command": "commitment.sweep"});
    let due = |at: &str| (Alice, json!({"command": "commitment.open", "persona": "Echo", "title": "t", "due": at}));
    check(
        &[echo(), due("2026-01-01T00:30:00Z"), due("2026-01-01T00:40:00Z")],
        Alice,
        sweep.clone(),
        expect![[r#"
        commitment.expired/1 {"commitment":"$2","persona":"$1"}
        commitment.expired/1 {"commitment":"$3","persona":"$1"}"#]],
    );
    check(&[echo(), due("2026-01-01T02:00:00Z")], Alice, sweep.clone(), expect!["accepted: no events"]);
    // Only the author's, and not those of a retired persona.
    check(&[echo(), due("2026-01-01T00:30:00Z")], Bob, sweep.clone(), expect!["accepted: no events"]);
    let retire = (Alice, json!({"command": "persona.retire", "persona": "Echo"}));
    check(&[echo(), due("2026-01-01T00:30:00Z"), retire], Alice, sweep, expect!["accepted: no events"]);
}

#[test]
fn memory_add() {
    let add = |importance: Value, tags: Value| json!({"command": "memory.add", "persona": "Echo", "text": "prefers short answers", "importance": importance, "tags": tags});
    check(
        &[echo()],
        Alice,
        add(json!(0.8), json!(["style", "preference"])),
        expect![[
            r#"memory.added/1 {"importance":0.8,"persona":"$1","tags":["style","preference"],"text":"prefers short answers"}"#
        ]],
    );
    check(&[echo()], Alice, add(json!(1.5), json!([])), expect!["rejected: importance 1.5 is outside [0, 1]"]);
    check(&[echo()], Alice, add(json!(-0.1), json!([])), expect!["rejected: importance -0.1 is outside [0, 1]"]);
    let many: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
    check(&[echo()], Alice, add(json!(0.5), json!(many)), expect!["rejected: tags are too many (17; at most 16)"]);
    check(
        &[echo()],
        Alice,
        add(json!(0.5), json!(["two words"])),
        expect![[r#"rejected: tag "two words" must be 1 to 32 letters, digits, '-', '_', '.' or ':'"#]],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "memory.add", "persona": "Echo", "text": "", "importance": 0.5}),
        expect!["rejected: memory text is empty"],
    );
}

#[test]
fn memory_forget() {
    let add = (
        Alice,
        json!({"command": "memory.add", "persona": "Echo", "text": "prefers short answers", "importance": 0.8}),
    );
    let forget = |memory: &str| json!({"command": "memory.forget", "persona": "Echo", "memory": memory});
    check(
        &[echo(), add.clone()],
        Alice,
        forget("$2"),
        expect![[r#"memory.forgotten/1 {"memory":"$2","persona":"$1"}"#]],
    );
    check(
        &[echo(), add.clone()],
        Alice,
        forget("abcd"),
        expect![[r#"rejected: unknown memory "abcd" for this persona"#]],
    );
    check(
        &[echo(), add.clone(), (Alice, forget("$2"))],
        Alice,
        forget("$2"),
        expect![[r#"rejected: unknown memory "$2" for this persona"#]],
    );
}

#[test]
fn reflect_emotion_consent_model_message() {
    check(
        &[echo()],
        Alice,
        json!({"command": "reflect", "persona": "Echo", "text": "I answer better when I ask first"}),
        expect![[r#"persona.reflected/1 {"persona":"$1","text":"I answer better when I ask first"}"#]],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "reflect", "persona": "Echo", "text": "r".repeat(10_001)}),
        expect!["rejected: reflection is 10001 characters long; at most 10000"],
    );

    let emotion = |valence: Value, arousal: Value, label: &str| json!({"command": "emotion", "persona": "Echo", "valence": valence, "arousal": arousal, "label": label});
    check(
        &[echo()],
        Alice,
        emotion(json!(0.4), json!(0.2), "calm"),
        expect![[r#"persona.emotion-recorded/1 {"arousal":0.2,"label":"calm","persona":"$1","valence":0.4}"#]],
    );
    check(
        &[echo()],
        Alice,
        emotion(json!(-1.2), json!(0.2), "calm"),
        expect!["rejected: valence -1.2 is outside [-1, 1]"],
    );
    check(
        &[echo()],
        Alice,
        emotion(json!(0.4), json!(-0.1), "calm"),
        expect!["rejected: arousal -0.1 is outside [0, 1]"],
    );
    check(
        &[echo()],
        Alice,
        emotion(json!(0.4), json!(0.2), "very calm"),
        expect![[r#"rejected: label "very calm" must be 1 to 32 letters, digits, '-', '_', '.' or ':'"#]],
    );

    check(
        &[echo()],
        Alice,
        json!({"command": "consent", "persona": "Echo", "scope": "share-memory", "allow": false}),
        expect![[r#"persona.consent-set/1 {"allow":false,"persona":"$1","scope":"share-memory"}"#]],
    );
    check(
        &[echo()],
        Alice,
        json!({"command": "consent", "persona": "Echo", "scope": "share memory", "allow": true}),
        expect![[r#"rejected: scope "share memory" must be 1 to 64 letters, digits, '-', '_', '.' or ':'"#]],
    );

    let model =
        |model: &str, hash: &str| json!({"command": "model.use", "persona": "Echo", "model": model, "hash": hash});
    check(
        &[echo()],
        Alice,
        model("ollama:llama3.1", "sha256:9f86d081884c7d65"),
        expect![[
            r#"persona.model-used/1 {"hash":"sha256:9f86d081884c7d65","model":"ollama:llama3.1","persona":"$1"}"#
        ]],
    );
    check(&[echo()], Alice, model("", "sha256:9f86d081884c7d65"), expect!["rejected: model is empty"]);
    check(
        &[echo()],
        Alice,
        model("ollama:llama3.1", "9f86d081884c7d65"),
        expect![[r#"rejected: model hash "9f86d081884c7d65" should look like algorithm:digest, e.g. sha256:9f86d0…"#]],
    );

    let message = |text: String| json!({"command": "message", "persona": "Echo", "role": "user", "text": text});
    check(
        &[echo()],
        Alice,
        message("hello".into()),
        expect![[r#"persona.message/1 {"persona":"$1","role":"user","text":"hello"}"#]],
    );
    check(&[echo()], Alice, message(String::new()), expect!["rejected: message is empty"]);
    // 65,536 characters is the longest message, but not in four-byte characters.
    check(
        &[echo()],
        Alice,
        message("𝄞".repeat(65_536)),
        expect!["rejected: event would be 262180 bytes; at most 262144 are allowed (shorten the text)"],
    );
}

// ---------------------------------------------------------------------------------------------
// The marketplace.

#[test]
fn market_publish() {
    check(
        &[],
        Alice,
        plugin().1,
        expect![[
            r#"market.listing-published/1 {"currency":"EUR","license":null,"listing_kind":"plugin","name":"Summarizer","price":499,"tiers":[],"version":"1.0.0"}"#
        ]],
    );
    check(
        &[],
        Alice,
        service().1,
        expect![[
            r#"market.listing-published/1 {"currency":"EUR","license":null,"listing_kind":"service","name":"Code review","price":null,"tiers":[{"amount":900,"name":"basic","period":"month"},{"amount":2900,"name":"pro","period":"month"}],"version":"1.0.0"}"#
        ]],
    );
    let publish = |field: &str, value: Value| {
        let mut command =
            json!({"command": "market.publish", "kind": "plugin", "name": "Summarizer", "version": "1.0.0"});
        command[field] = value;
        command
    };
    check(&[], Alice, publish("name", json!("")), expect!["rejected: listing name is empty"]);
    check(&[], Alice, publish("version", json!("v 1")), expect![[r#"rejected: version "v 1" should look like 1.0.0"#]]);
    check(
        &[],
        Alice,
        publish("currency", json!("eur")),
        expect![[r#"rejected: currency "eur" is not an ISO 4217 code like EUR"#]],
    );
    check(
        &[],
        Alice,
        publish("price", json!(100_000_001)),
        expect!["rejected: price 100000001 is outside [0, 100000000]"],
    );
    check(
        &[],
        Alice,
        publish("license", json!("MIT or Apache")),
        expect![[r#"rejected: license "MIT or Apache" must be 1 to 64 letters, digits, '-', '_', '.' or ':'"#]],
    );
    check(
        &[],
        Alice,
        publish("tiers", json!([{"name": "pro plan", "amount": 900, "period": "month"}])),
        expect![[r#"rejected: tier name "pro plan" must be 1 to 32 letters, digits, '-', '_', '.' or ':'"#]],
    );
    check(
        &[],
        Alice,
        publish("tiers", json!([{"name": "pro", "amount": 100_000_001, "period": "month"}])),
        expect!["rejected: tier price 100000001 is outside [0, 100000000]"],
    );
    let twice =
        json!([{"name": "pro", "amount": 900, "period": "month"}, {"name": "pro", "amount": 9000, "period": "year"}]);
    check(
        &[],
        Alice,
        publish("tiers", twice),
        expect![[r#"rejected: tier name "pro" is given twice; tier names are unique within a listing"#]],
    );
}

#[test]
fn market_update_and_withdraw() {
    let withdraw = (Alice, json!({"command": "market.withdraw", "listing": "$1"}));
    let update = json!({"command": "market.update", "listing": "$1", "version": "1.1.0", "price": 599});
    check(
        &[plugin()],
        Alice,
        update.clone(),
        expect![[
            r#"market.listing-updated/1 {"license":null,"listing":"$1","price":599,"tiers":null,"version":"1.1.0"}"#
        ]],
    );
    check(
        &[plugin()],
        Alice,
        json!({"command": "market.update", "listing": "abcd", "version": "1.1.0"}),
        expect![[r#"rejected: unknown listing "abcd""#]],
    );
    check(
        &[plugin(), withdraw.clone()],
        Alice,
        update.clone(),
        expect![[r#"rejected: listing "Summarizer" was withdrawn"#]],
    );
    check(
        &[plugin()],
        Bob,
        update,
        expect![[r#"rejected: listing "Summarizer" is not yours; only its owner can update it"#]],
    );
    check(
        &[plugin()],
        Alice,
        json!({"command": "market.update", "listing": "$1"}),
        expect!["rejected: nothing to update: pass --version, --price, --tier or --license"],
    );

    check(&[plugin()], Alice, withdraw.1.clone(), expect![[r#"market.listing-withdrawn/1 {"listing":"$1"}"#]]);
    check(
        &[plugin()],
        Bob,
        withdraw.1.clone(),
        expect![[r#"rejected: listing "Summarizer" is not yours; only its owner can withdraw it"#]],
    );
    check(
        &[plugin(), withdraw.clone()],
        Alice,
        withdraw.1,
        expect![[r#"rejected: listing "Summarizer" was withdrawn"#]],
    );
}

#[test]
fn market_subscribe_and_unsubscribe() {
    let subscribe = |tier: &str| json!({"command": "market.subscribe", "listing": "$1", "tier": tier});
    let unsubscribe = json!({"command": "market.unsubscribe", "listing": "$1"});
    check(
        &[service()],
        Bob,
        subscribe("basic"),
        expect![[
            r#"market.subscribed/1 {"amount":900,"currency":"EUR","listing":"$1","period":"month","tier":"basic"}"#
        ]],
    );
    check(
        &[service()],
        Bob,
        subscribe("gold"),
        expect![[r#"rejected: listing "Code review" has no tier "gold"; its tiers: basic:900:month, pro:2900:month"#]],
    );
    check(
        &[plugin()],
        Bob,
        subscribe("basic"),
        expect![[
            r#"rejected: listing "Summarizer" has no tier "basic"; its tiers: none (it is not sold by subscription)"#
        ]],
    );
    check(
        &[service(), (Bob, subscribe("basic"))],
        Bob,
        subscribe("pro"),
        expect![[r#"rejected: you already subscribe to listing "Code review""#]],
    );
    check(
        &[service(), (Alice, json!({"command": "market.withdraw", "listing": "$1"}))],
        Bob,
        subscribe("basic"),
        expect![[r#"rejected: listing "Code review" was withdrawn"#]],
    );
    check(
        &[service()],
        Bob,
        json!({"command": "market.subscribe", "listing": "0000", "tier": "basic"}),
        expect![[r#"rejected: unknown listing "0000""#]],
    );

    check(
        &[service(), (Bob, subscribe("basic"))],
        Bob,
        unsubscribe.clone(),
        expect![[r#"market.unsubscribed/1 {"listing":"$1"}"#]],
    );
    check(
        &[service()],
        Bob,
        unsubscribe.clone(),
        expect![[r#"rejected: you do not subscribe to listing "Code review""#]],
    );
    check(
        &[service(), (Bob, subscribe("basic")), (Bob, unsubscribe.clone())],
        Bob,
        unsubscribe,
        expect![[r#"rejected: you do not subscribe to listing "Code review""#]],
    );
    check(
        &[service()],
        Bob,
        json!({"command": "market.unsubscribe", "listing": "abcdef"}),
        expect![[r#"rejected: unknown listing "abcdef""#]],
    );
}

#[test]
fn market_buy() {
    let buy = json!({"command": "market.buy", "listing": "$1"});
    check(
        &[plugin()],
        Bob,
        buy.clone(),
        expect![[r#"market.purchased/1 {"amount":499,"currency":"EUR","listing":"$1"}"#]],
    );
    check(
        &[service()],
        Bob,
        buy.clone(),
        expect![[r#"rejected: listing "Code review" has no one-off price; subscribe to a tier instead"#]],
    );
    check(
        &[plugin(), (Alice, json!({"command": "market.withdraw", "listing": "$1"}))],
        Bob,
        buy,
        expect![[r#"rejected: listing "Summarizer" was withdrawn"#]],
    );
}

#[test]
fn market_book() {
    check(
        &[service()],
        Bob,
        book(Bob, 10, 11).1,
        expect![[
            r#"market.booking-requested/1 {"end":"2026-01-02T11:00:00Z","listing":"$1","start":"2026-01-02T10:00:00Z"}"#
        ]],
    );
    check(
        &[plugin()],
        Bob,
        book(Bob, 10, 11).1,
        expect![[r#"rejected: listing "Summarizer" is a plugin, not a service: only services are booked"#]],
    );
    check(
        &[service()],
        Bob,
        book(Bob, 11, 10).1,
        expect!["rejected: the booking ends (2026-01-02T10:00:00Z) before it starts (2026-01-02T11:00:00Z)"],
    );
    check(
        &[service()],
        Bob,
        book(Bob, 10, 10).1,
        expect!["rejected: the booking ends (2026-01-02T10:00:00Z) before it starts (2026-01-02T10:00:00Z)"],
    );
    let past = json!({"command": "market.book", "listing": "$1", "start": "2026-01-01T00:30:00Z", "end": "2026-01-01T02:00:00Z"});
    check(&[service()], Bob, past, expect!["rejected: the booking starts in the past (2026-01-01T00:30:00Z)"]);
}

#[test]
fn market_confirm() {
    let confirm = |booking: &str| json!({"command": "market.confirm", "booking": booking});
    check(
        &[service(), book(Bob, 10, 11)],
        Alice,
        confirm("$2"),
        expect![[
            r#"market.booking-confirmed/1 {"booking":"$2","end":"2026-01-02T11:00:00Z","listing":"$1","start":"2026-01-02T10:00:00Z"}"#
        ]],
    );
    check(&[service(), book(Bob, 10, 11)], Alice, confirm("abcd"), expect![[r#"rejected: unknown booking "abcd""#]]);
    check(
        &[service(), book(Bob, 10, 11)],
        Bob,
        confirm("$2"),
        expect![[r#"rejected: listing "Code review" is not yours; only its owner can confirm its bookings"#]],
    );
    let withdraw = (Alice, json!({"command": "market.withdraw", "listing": "$1"}));
    check(
        &[service(), book(Bob, 10, 11), withdraw],
        Alice,
        confirm("$2"),
        expect![[r#"rejected: listing "Code review" was withdrawn"#]],
    );
    check(
        &[service(), book(Bob, 10, 11), (Alice, confirm("$2"))],
        Alice,
        confirm("$2"),
        expect!["rejected: booking $2 is already confirmed"],
    );
    check(
        &[service(), book(Bob, 10, 12), book(Carol, 11, 13), (Alice, confirm("$2"))],
        Alice,
        confirm("$3"),
        expect!["rejected: the slot 2026-01-02T11:00:00Z–2026-01-02T13:00:00Z overlaps the confirmed booking $2"],
    );
    // Back to back is no overlap.
    check(
        &[service(), book(Bob, 10, 11), book(Carol, 11, 12), (Alice, confirm("$2"))],
        Alice,
        confirm("$3"),
        expect![[
            r#"market.booking-confirmed/1 {"booking":"$3","end":"2026-01-02T12:00:00Z","listing":"$1","start":"2026-01-02T11:00:00Z"}"#
        ]],
    );
}

#[test]
fn review() {
    let review =
        |rating: u64, text: String| json!({"command": "review", "listing": "$1", "rating": rating, "text": text});
    check(
        &[plugin()],
        Bob,
        review(4, "useful, a little slow".into()),
        expect![[r#"market.reviewed/1 {"listing":"$1","rating":4,"text":"useful, a little slow"}"#]],
    );
    check(
        &[plugin()],
        Alice,
        review(5, String::new()),
        expect![[r#"rejected: you cannot review your own listing "Summarizer""#]],
    );
    check(&[plugin()], Bob, review(0, String::new()), expect!["rejected: rating 0 is outside [1, 5]"]);
    check(&[plugin()], Bob, review(6, String::new()), expect!["rejected: rating 6 is outside [1, 5]"]);
    check(
        &[plugin()],
        Bob,
        review(3, "r".repeat(5001)),
        expect!["rejected: review is 5001 characters long; at most 5000"],
    );
    check(
        &[plugin(), (Alice, json!({"command": "market.withdraw", "listing": "$1"}))],
        Bob,
        review(3, String::new()),
        expect![[r#"rejected: listing "Summarizer" was withdrawn"#]],
    );
}

// ---------------------------------------------------------------------------------------------
// The community.

#[test]
fn follow_and_unfollow() {
    let follow = |target: &str| json!({"command": "follow", "target": target});
    let unfollow = |target: &str| json!({"command": "unfollow", "target": target});
    check(&[], Alice, follow("$bob"), expect![[r#"social.followed/1 {"target":{"key":"$bob"}}"#]]);
    // A persona: by the whole id (anyone's), by the author's name for it.
    check(&[echo()], Bob, follow("$1"), expect![[r#"social.followed/1 {"target":{"persona":"$1"}}"#]]);
    check(&[echo()], Alice, follow("Echo"), expect![[r#"social.followed/1 {"target":{"persona":"$1"}}"#]]);
    check(&[], Alice, follow("$alice"), expect!["rejected: you cannot follow yourself"]);
    check(&[(Alice, follow("$bob"))], Alice, follow("$bob"), expect!["rejected: you already follow $bob"]);
    check(
        &[],
        Alice,
        follow("Nobody"),
        expect![[
            r#"rejected: unknown persona "Nobody": give one of your persona names, or an id or id prefix (mindlog persona list)"#
        ]],
    );

    check(
        &[(Alice, follow("$bob"))],
        Alice,
        unfollow("$bob"),
        expect![[r#"social.unfollowed/1 {"target":{"key":"$bob"}}"#]],
    );
    check(&[], Alice, unfollow("$bob"), expect!["rejected: you do not follow $bob"]);
}

#[test]
fn guild_create_join_leave() {
    let join = |guild: &str| json!({"command": "guild.join", "guild": guild});
    let leave = |guild: &str| json!({"command": "guild.leave", "guild": guild});
    check(&[], Alice, guild().1, expect![[r#"guild.created/1 {"name":"makers"}"#]]);
    check(
        &[],
        Alice,
        json!({"command": "guild.create", "name": "the makers"}),
        expect![[r#"rejected: guild name "the makers" must be 1 to 64 letters, digits, '-', '_', '.' or ':'"#]],
    );
    check(&[guild()], Alice, guild().1, expect![[r#"rejected: you already have a guild named "makers""#]]);
    // The same name by another owner.
    check(&[guild()], Bob, guild().1, expect![[r#"guild.created/1 {"name":"makers"}"#]]);

    check(&[guild()], Bob, join("makers"), expect![[r#"guild.joined/1 {"guild":"$1"}"#]]);
    check(&[guild()], Bob, join("$1:8"), expect![[r#"guild.joined/1 {"guild":"$1"}"#]]);
    check(&[guild()], Bob, join("breakers"), expect![[r#"rejected: unknown guild "breakers""#]]);
    check(
        &[guild(), (Bob, guild().1)],
        Carol,
        join("makers"),
        expect![[r#"rejected: guild name "makers" is ambiguous: it matches 2 ids; give more characters"#]],
    );
    check(&[guild()], Alice, join("makers"), expect![[r#"rejected: you are already a member of guild "makers""#]]);

    check(&[guild(), (Bob, join("makers"))], Bob, leave("makers"), expect![[r#"guild.left/1 {"guild":"$1"}"#]]);
    check(
        &[guild()],
        Alice,
        leave("makers"),
        expect![[r#"rejected: you own guild "makers"; an owner cannot leave it"#]],
    );
    check(&[guild()], Bob, leave("makers"), expect![[r#"rejected: you are not a member of guild "makers""#]]);
}

#[test]
fn award() {
    let join = |who: Who, guild: &str| (who, json!({"command": "guild.join", "guild": guild}));
    let award =
        |member: &str, guild: Value| json!({"command": "award", "member": member, "badge": "mentor", "guild": guild});
    check(
        &[guild(), join(Bob, "$1")],
        Alice,
        award("$bob", json!(null)),
        expect![[r#"guild.awarded/1 {"badge":"mentor","guild":"$1","member":"$bob"}"#]],
    );
    check(
        &[guild(), join(Bob, "$1")],
        Alice,
        award("$bob", json!("makers")),
        expect![[r#"guild.awarded/1 {"badge":"mentor","guild":"$1","member":"$bob"}"#]],
    );
    check(
        &[guild(), join(Bob, "$1")],
        Alice,
        award("bob", json!(null)),
        expect![[
            r#"rejected: member "bob" is not a public key (64 lowercase hex characters; mindlog identity list shows yours)"#
        ]],
    );
    check(
        &[guild(), join(Bob, "$1")],
        Alice,
        json!({"command": "award", "member": "$bob", "badge": "top mentor"}),
        expect![[r#"rejected: badge "top mentor" must be 1 to 64 letters, digits, '-', '_', '.' or ':'"#]],
    );
    check(
        &[guild(), join(Bob, "$1"), join(Carol, "$1")],
        Bob,
        award("$carol", json!("makers")),
        expect![[r#"rejected: guild "makers" is not yours; only its owner can give its badges"#]],
    );
    check(
        &[guild()],
        Alice,
        award("$bob", json!("makers")),
        expect![[r#"rejected: $bob is not a member of guild "makers""#]],
    );
    check(
        &[guild()],
        Alice,
        award("$bob", json!(null)),
        expect!["rejected: $bob is not a member of any guild you own"],
    );
    let second = (Alice, json!({"command": "guild.create", "name": "breakers"}));
    check(
        &[guild(), second, join(Bob, "$1"), join(Bob, "$2")],
        Alice,
        award("$bob", json!(null)),
        expect!["rejected: $bob belongs to 2 of your guilds: pass --guild"],
    );
}

// ---------------------------------------------------------------------------------------------
// Reputation.

#[test]
fn rep_attest() {
    let attest = |subject: &str, task: &str, weight: u64| json!({"command": "rep.attest", "subject": subject, "task": task, "outcome": "success", "weight": weight});
    check(
        &[],
        Alice,
        attest("$bob", "fix-the-build", 3),
        expect![[r#"rep.attested/1 {"outcome":"success","subject":"$bob","task":"fix-the-build","weight":3}"#]],
    );
    check(
        &[],
        Alice,
        json!({"command": "rep.attest", "subject": "$bob", "task": "review", "outcome": "failure"}),
        expect![[r#"rep.attested/1 {"outcome":"failure","subject":"$bob","task":"review","weight":1}"#]],
    );
    check(
        &[],
        Alice,
        attest("B0B", "fix-the-build", 3),
        expect![[
            r#"rejected: subject "B0B" is not a public key (64 lowercase hex characters; mindlog identity list shows yours)"#
        ]],
    );
    check(&[], Alice, attest("$alice", "fix-the-build", 3), expect!["rejected: you cannot attest yourself"]);
    check(
        &[],
        Alice,
        attest("$bob", "fix the build", 3),
        expect![[r#"rejected: task "fix the build" must be 1 to 128 letters, digits, '-', '_', '.' or ':'"#]],
    );
    check(&[], Alice, attest("$bob", "fix-the-build", 0), expect!["rejected: weight 0 is outside [1, 10]"]);
    check(&[], Alice, attest("$bob", "fix-the-build", 11), expect!["rejected: weight 11 is outside [1, 10]"]);
}

#[test]
fn rep_vouch_and_unvouch() {
    let vouch = |subject: &str| json!({"command": "rep.vouch", "subject": subject});
    let unvouch = |subject: &str| json!({"command": "rep.unvouch", "subject": subject});
    check(&[], Alice, vouch("$bob"), expect![[r#"rep.vouched/1 {"subject":"$bob"}"#]]);
    check(&[], Alice, vouch("$alice"), expect!["rejected: you cannot vouch for yourself"]);
    check(&[(Alice, vouch("$bob"))], Alice, vouch("$bob"), expect!["rejected: you already vouch for $bob"]);
    check(
        &[],
        Alice,
        vouch("bob"),
        expect![[
            r#"rejected: subject "bob" is not a public key (64 lowercase hex characters; mindlog identity list shows yours)"#
        ]],
    );
    check(&[(Alice, vouch("$bob"))], Alice, unvouch("$bob"), expect![[r#"rep.unvouched/1 {"subject":"$bob"}"#]]);
    check(&[], Alice, unvouch("$bob"), expect!["rejected: you do not vouch for $bob"]);
}

#[test]
fn rep_report_and_resolve() {
    let report = |subject: &str, category: &str, evidence: &str| json!({"command": "rep.report", "subject": subject, "category": category, "evidence": evidence});
    let resolve = |reference: &str| json!({"command": "rep.resolve", "report": reference, "upheld": true});
    let spam = (Alice, report("$bob", "spam", "$1"));
    check(
        &[echo()],
        Alice,
        report("$bob", "spam", "$1"),
        expect![[r#"rep.reported/1 {"category":"spam","evidence":"$1","subject":"$bob"}"#]],
    );
    check(&[echo()], Alice, report("$alice", "spam", "$1"), expect!["rejected: you cannot report yourself"]);
    check(
        &[echo()],
        Alice,
        report("$bob", "spam and fraud", "$1"),
        expect![[r#"rejected: category "spam and fraud" must be 1 to 64 letters, digits, '-', '_', '.' or ':'"#]],
    );
    check(
        &[echo()],
        Alice,
        report("$bob", "spam", "$1:8"),
        expect![[r#"rejected: evidence "9edd1cfa" is not an event hash (64 lowercase hex characters)"#]],
    );

    check(&[echo(), spam.clone()], Carol, resolve("$2"), expect![[r#"rep.resolved/1 {"report":"$2","upheld":true}"#]]);
    check(
        &[echo(), spam.clone()],
        Carol,
        json!({"command": "rep.resolve", "report": "$2:5", "upheld": false}),
        expect![[r#"rep.resolved/1 {"report":"$2","upheld":false}"#]],
    );
    check(&[echo(), spam.clone()], Carol, resolve("abcd"), expect![[r#"rejected: unknown report "abcd""#]]);
    check(
        &[echo(), spam.clone()],
        Alice,
        resolve("$2"),
        expect!["rejected: you cannot resolve a report you made or one about you"],
    );
    check(
        &[echo(), spam],
        Bob,
        resolve("$2"),
        expect!["rejected: you cannot resolve a report you made or one about you"],
    );
}

// ---------------------------------------------------------------------------------------------
// The audit log.

#[test]
fn audit_tool() {
    check(
        &[],
        Alice,
        tool(Alice, "ask").1,
        expect![[
            r#"audit.tool-requested/1 {"args_digest":"sha256:9f86d081","decision":"ask","reason":"writes inside the repository","scope":"repo","session":"s-1","tool":"fs.write"}"#
        ]],
    );
    let mut bad = tool(Alice, "allow").1;
    bad["session"] = json!("session one");
    check(
        &[],
        Alice,
        bad,
        expect![[r#"rejected: session "session one" must be 1 to 128 letters, digits, '-', '_', '.' or ':'"#]],
    );
    let mut bad = tool(Alice, "allow").1;
    bad["args_digest"] = json!("");
    check(
        &[],
        Alice,
        bad,
        expect![[r#"rejected: args digest "" must be 1 to 200 letters, digits, '-', '_', '.' or ':'"#]],
    );
    let mut bad = tool(Alice, "allow").1;
    bad["reason"] = json!("a\u{0}b");
    check(&[], Alice, bad, expect!["rejected: reason contains control characters"]);
}

#[test]
fn audit_approve_and_deny() {
    let approve = |request: &str| json!({"command": "audit.approve", "request": request});
    let deny = |request: &str| json!({"command": "audit.deny", "request": request});
    check(&[tool(Alice, "ask")], Alice, approve("$1"), expect![[r#"audit.approved/1 {"request":"$1"}"#]]);
    check(&[tool(Alice, "ask")], Alice, deny("$1:6"), expect![[r#"audit.denied/1 {"request":"$1"}"#]]);
    check(&[tool(Alice, "ask")], Alice, approve("abcd"), expect![[r#"rejected: unknown request "abcd""#]]);
    check(
        &[tool(Alice, "ask")],
        Bob,
        approve("$1"),
        expect![[r#"rejected: request "$1" is not yours; only its owner can answer it or record its result"#]],
    );
    check(
        &[tool(Alice, "allow")],
        Alice,
        approve("$1"),
        expect![[
            r#"rejected: request $1 was decided "allow" by the policy; only ask requests are approved or denied"#
        ]],
    );
    check(
        &[tool(Alice, "ask"), (Alice, approve("$1"))],
        Alice,
        deny("$1"),
        expect!["rejected: request $1 was already approved"],
    );
    check(
        &[tool(Alice, "ask"), (Alice, deny("$1"))],
        Alice,
        deny("$1"),
        expect!["rejected: request $1 was already denied"],
    );
}

#[test]
fn audit_done() {
    let done = |request: &str, model: String| json!({"command": "audit.done", "request": request, "ok": true, "duration_ms": 1200, "tokens": 830, "cost_cents": 2, "model": model});
    let llama = || "ollama:llama3.1".to_owned();
    check(
        &[tool(Alice, "allow")],
        Alice,
        done("$1", llama()),
        expect![[
            r#"audit.completed/1 {"cost_cents":2,"duration_ms":1200,"model":"ollama:llama3.1","ok":true,"request":"$1","tokens":830}"#
        ]],
    );
    check(
        &[tool(Alice, "ask"), (Alice, json!({"command": "audit.approve", "request": "$1"}))],
        Alice,
        done("$1", llama()),
        expect![[
            r#"audit.completed/1 {"cost_cents":2,"duration_ms":1200,"model":"ollama:llama3.1","ok":true,"request":"$1","tokens":830}"#
        ]],
    );
    check(
        &[tool(Alice, "deny")],
        Alice,
        done("$1", llama()),
        expect!["rejected: request $1 was not allowed to run (denied, or still waiting for approval)"],
    );
    check(
        &[tool(Alice, "ask")],
        Alice,
        done("$1", llama()),
        expect!["rejected: request $1 was not allowed to run (denied, or still waiting for approval)"],
    );
    check(
        &[tool(Alice, "ask"), (Alice, json!({"command": "audit.deny", "request": "$1"}))],
        Alice,
        done("$1", llama()),
        expect!["rejected: request $1 was not allowed to run (denied, or still waiting for approval)"],
    );
    check(
        &[tool(Alice, "allow"), (Alice, done("$1", llama()))],
        Alice,
        done("$1", llama()),
        expect!["rejected: request $1 already has a result"],
    );
    check(
        &[tool(Alice, "allow")],
        Bob,
        done("$1", llama()),
        expect![[r#"rejected: request "$1" is not yours; only its owner can answer it or record its result"#]],
    );
    check(
        &[tool(Alice, "allow")],
        Alice,
        done("$1", "m".repeat(129)),
        expect!["rejected: model is 129 characters long; at most 128"],
    );
}
