//! What a newcomer hit, tried as a new user would: `--limit 0`, names that resolve the same way
//! everywhere, kinds without their version, the memory list, closed commitments, pending
//! approvals, `demo` in a home that holds events, and one-line usage errors.

#![allow(clippy::unwrap_used)]

mod common;

use common::{fails, json, mindlog, ok, ok_trimmed, rejected, stderr};

#[test]
fn log_limit_zero_shows_no_events() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "100"]);
    assert_eq!(ok(&home, &["log", "--limit", "0", "--json"]), "");
    assert_eq!(ok(&home, &["log", "--limit", "0", "--after", "5", "--json"]), "");
    let text = ok(&home, &["log", "--limit", "0"]);
    assert_eq!(text.lines().count(), 1, "the header only: {text}");
    assert!(text.starts_with("  OFFSET"), "{text}");
    assert_eq!(ok(&home, &["log", "--limit", "1", "--json"]).lines().count(), 1);
}

#[test]
fn log_takes_authors_and_kinds_as_other_commands_do() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    let me = ok_trimmed(&home, &["init"]);
    ok(&home, &["identity", "new", "alice"]);
    ok(&home, &["gen", "--events", "300", "--authors", "2"]);
    ok(&home, &["persona", "create", "Echo"]);
    ok(&home, &["--as", "alice", "persona", "create", "Nova"]);
    ok(&home, &["memory", "add", "Echo", "likes tables", "--importance", "0.5"]);

    let by_key = ok(&home, &["log", "--author", &me, "--json"]);
    assert_eq!(by_key.lines().count(), 2);
    assert_eq!(ok(&home, &["log", "--author", "default", "--json"]), by_key, "a local identity's name");
    assert_eq!(ok(&home, &["log", "--author", &me[..8], "--json"]), by_key, "a unique prefix of a key");
    let alice = ok(&home, &["log", "--author", "alice", "--json"]);
    assert_eq!(json(alice.trim())["event"]["name"], "Nova");
    rejected(&home, &["log", "--author", "nobody"], "unknown author \"nobody\"");
    rejected(&home, &["log", "--author", "0000000000"], "unknown author \"0000000000\"");

    // Kinds carry a version; without it, a kind means its one version.
    let versioned = ok(&home, &["log", "--kind", "memory.added/1", "--json"]);
    assert!(!versioned.is_empty());
    assert_eq!(ok(&home, &["log", "--kind", "memory.added", "--json"]), versioned);
    rejected(&home, &["log", "--kind", "memory"], "kinds carry a version, as in memory.added/1; did you mean");
    let out = mindlog(&home, &["log", "--kind", "gen.note/1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown kind \"gen.note/1\""), "{}", stderr(&out));
}

#[test]
fn market_show_takes_a_listing_name() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["identity", "new", "alice"]);
    let id = ok_trimmed(&home, &["market", "publish", "plugin", "summarizer", "--price", "500"]);
    let by_name = ok(&home, &["market", "show", "summarizer", "--json"]);
    assert_eq!(json(&by_name)["id"], id.as_str());
    assert_eq!(ok(&home, &["market", "show", &id[..8], "--json"]), by_name);
    rejected(&home, &["market", "show", "nothing-like-it"], "unknown listing \"nothing-like-it\"");
    ok(&home, &["--as", "alice", "market", "publish", "plugin", "summarizer"]);
    rejected(&home, &["market", "show", "summarizer"], "listing name \"summarizer\" is ambiguous: it matches 2");
    assert_eq!(ok(&home, &["market", "show", &id, "--json"]), by_name, "an id still names it");
}

#[test]
fn memories_closed_commitments_and_pending_requests() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["persona", "create", "Echo"]);
    let style = ok_trimmed(&home, &["memory", "add", "Echo", "Prefers concise answers", "--importance", "0.8"]);
    ok(&home, &["memory", "add", "Echo", "likes tables", "--importance", "0.3", "--tag", "Format"]);
    ok(&home, &["memory", "forget", "Echo", &style]);

    let kept = json(&ok(&home, &["memory", "list", "Echo", "--json"]));
    assert_eq!(kept.as_array().unwrap().len(), 1);
    assert_eq!(kept[0]["text"], "likes tables");
    let all = json(&ok(&home, &["memory", "list", "Echo", "--all", "--json"]));
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["id"], style.as_str(), "oldest first");
    assert!(all[0]["forgotten"].is_string() && all[0]["strength"] == 0.0);
    let found = json(&ok(&home, &["memory", "list", "Echo", "--all", "--search", "CONCISE", "--json"]));
    assert_eq!(found.as_array().unwrap().len(), 1, "text, ignoring case");
    let tagged = json(&ok(&home, &["memory", "list", "Echo", "--search", "format", "--json"]));
    assert_eq!(tagged[0]["text"], "likes tables", "tags are searched too");
    let text = ok(&home, &["memory", "list", "Echo", "--all"]);
    assert!(text.contains("likes tables [Format]") && text.contains("(forgotten "), "{text}");
    assert!(ok(&home, &["memory", "list", "Echo", "--search", "nothing"]).contains("(no memories match)"));
    rejected(&home, &["memory", "list", "Nobody"], "unknown persona \"Nobody\"");

    let done = ok_trimmed(&home, &["commitment", "open", "Echo", "write the report"]);
    ok(&home, &["commitment", "open", "Echo", "still open"]);
    ok(&home, &["commitment", "close", "Echo", &done, "--outcome", "done"]);
    let shown = json(&ok(&home, &["persona", "show", "Echo", "--all", "--json"]));
    assert_eq!(shown["closed_commitments"][0]["id"], done.as_str());
    assert_eq!(shown["closed_commitments"][0]["status"], "closed");
    assert_eq!(shown["commitments"]["open_list"][0]["title"], "still open");
    let text = ok(&home, &["persona", "show", "Echo", "--all"]);
    assert!(text.contains("write the report  (done "), "{text}");
    assert!(!ok(&home, &["persona", "show", "Echo"]).contains("write the report"));

    let tool = |decision: &str| {
        let args = ["audit", "tool", "s1", "--tool", "shell.exec", "--args-digest", "d", "--scope", "ws", "--decision"];
        let mut args = args.to_vec();
        args.push(decision);
        ok_trimmed(&home, &args)
    };
    assert!(ok(&home, &["audit", "pending"]).contains("(no requests are waiting for an answer)"));
    tool("allow");
    let first = tool("ask");
    let second = tool("ask");
    ok(&home, &["audit", "approve", &first]);
    let pending = json(&ok(&home, &["audit", "pending", "--json"]));
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["id"], second.as_str());
    assert_eq!(pending[0]["decision"], "ask");
    assert!(ok(&home, &["audit", "pending"]).contains(&second[..12]));
}

#[test]
fn demo_refuses_a_home_that_holds_events() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "50"]);
    let before = ok(&home, &["export", "--jsonl"]);
    let message = fails(&home, &["demo", "--events", "100"], 2);
    assert!(message.contains(&format!("{} already holds 50 events", home.display())), "{message}");
    assert!(message.contains("--home"), "says what to do: {message}");
    assert_eq!(ok(&home, &["export", "--jsonl"]), before, "nothing was added");

    // An initialised but empty home is fine, and so is a new folder.
    let empty = dir.path().join("empty");
    ok(&empty, &["init"]);
    let text = ok(&empty, &["demo", "--events", "300"]);
    assert!(text.contains("OK: 300 events"), "{text}");
    let disk = text.lines().find(|l| l.starts_with("disk used: ")).unwrap_or_else(|| panic!("{text}"));
    assert!(disk.contains("mind.redb") && disk.contains("export.jsonl"), "{disk}");
    assert!(ok(&dir.path().join("new"), &["demo", "--events", "300"]).contains("disk used: "));
    fails(&empty, &["demo", "--events", "300"], 2);
}

#[test]
fn usage_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    for (args, says) in [
        (&["log", "--limit", "many"][..], "mindlog: invalid value 'many' for '--limit <LIMIT>'"),
        (&["log", "--bogus"], "mindlog: unexpected argument '--bogus' found"),
        (&["persona", "show"], "mindlog: the following required arguments were not provided: <PERSONA>;"),
        (&["message", "Echo", "hi", "--role", "robot"], "[possible values: user, assistant, system]"),
        (&["nonsense"], "mindlog: unrecognized subcommand 'nonsense'"),
    ] {
        let message = fails(home, args, 2);
        assert!(message.contains(says), "{args:?}: {message}");
    }
    assert!(fails(home, &["log", "--limit", "many"], 2).trim_end().ends_with("; see mindlog log --help"));
    assert!(fails(home, &["persona", "show"], 2).trim_end().ends_with("; see mindlog persona show --help"));
    assert!(fails(home, &["--as", "x", "market", "show"], 2).trim_end().ends_with("; see mindlog market show --help"));
    assert!(fails(home, &["nonsense"], 2).trim_end().ends_with("; see mindlog --help"));

    // Help is not an error; a command group alone prints its help on stderr.
    let help = mindlog(home, &["log", "--help"]);
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("--limit"));
    let group = mindlog(home, &["persona"]);
    assert_eq!(group.status.code(), Some(2));
    assert!(stderr(&group).contains("Usage: mindlog persona"), "{}", stderr(&group));
}

/// Commands that only read refuse an unknown or ambiguous name with exit 1 and one line that says
/// what to do, like a rejected write, and print nothing on stdout, with `--json` too.
#[test]
fn read_commands_refuse_unknown_and_ambiguous_names() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    ok(&home, &["init"]);
    // Enough authors that two keys share their first four hex characters.
    ok(&home, &["gen", "--events", "2000", "--authors", "2000"]);
    ok(&home, &["persona", "create", "Echo"]);
    let stats = json(&ok(&home, &["stats", "--json"]));
    let mut prefixes: Vec<String> =
        stats["heads"].as_array().unwrap().iter().map(|h| h["author"].as_str().unwrap()[..4].to_owned()).collect();
    prefixes.sort();
    let shared = prefixes.windows(2).find(|w| w[0] == w[1]).map(|w| w[0].clone()).expect("a shared prefix");

    for args in [vec!["log", "--author", &shared], vec!["rep", "show", &shared], vec!["--json", "rep", "show", &shared]]
    {
        let why = fails(&home, &args, 1);
        assert!(why.contains(&format!("author prefix \"{shared}\" is ambiguous")), "{why}");
        assert!(why.contains("give more characters"), "{why}");
        assert!(mindlog(&home, &args).stdout.is_empty(), "{args:?} prints nothing");
    }
    rejected(&home, &["rep", "show", "nobody"], "unknown author \"nobody\": give a public key");
    rejected(&home, &["persona", "show", "Nobody"], "unknown persona \"Nobody\"");
    rejected(&home, &["--json", "persona", "show", "Nobody"], "unknown persona \"Nobody\"");
    rejected(&home, &["log", "--persona", "Nobody"], "unknown persona \"Nobody\"");
    rejected(&home, &["market", "show", "ffff"], "unknown listing \"ffff\"");
    rejected(&home, &["audit", "show", "no-such-session"], "no audit session \"no-such-session\": sessions are named");
    rejected(
        &home,
        &["persona", "show", "Echo", "--as-of", "2020-01-01"],
        "persona \"Echo\" did not exist yet: it was created at",
    );
    rejected(&home, &["log", "--kind", "nothing.here/9"], "unknown kind \"nothing.here/9\"");
}
