//! Marketplace, community, reputation and audit end to end: the examples as written,
//! every rejection (exit 1, one line, nothing appended), and identical reads across stores that
//! got the same events in different orders.

#![allow(clippy::unwrap_used)]

mod common;

use common::{json, ok_trimmed, rejected};

use std::path::Path;

/// A home with three identities: default (the seller), alice and bob.
fn market_home(dir: &Path) -> (std::path::PathBuf, String, String, String) {
    let home = dir.join("h");
    let seller = ok_trimmed(&home, &["init"]);
    let alice = ok_trimmed(&home, &["identity", "new", "alice"]);
    let bob = ok_trimmed(&home, &["identity", "new", "bob"]);
    (home, seller, alice, bob)
}

#[test]
fn the_examples_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let (home, seller, alice, _bob) = market_home(dir.path());
    let ids = json(&ok_trimmed(&home, &["identity", "list", "--json"]));
    assert_eq!(ids[0]["name"], "default");
    assert_eq!(ids[0]["default"], true);

    let plugin = ok_trimmed(
        &home,
        &[
            "market",
            "publish",
            "plugin",
            "sentiment-tagger",
            "--version",
            "1.0.0",
            "--price",
            "500",
            "--currency",
            "EUR",
            "--license",
            "MIT",
        ],
    );
    let service = ok_trimmed(
        &home,
        &["market", "publish", "service", "code-review", "--tier", "basic:900:month", "--tier", "pro:2900:month"],
    );
    ok_trimmed(&home, &["market", "update", &plugin, "--version", "1.1.0"]);
    let listed = json(&ok_trimmed(&home, &["market", "list", "--kind", "plugin", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    ok_trimmed(&home, &["--as", "alice", "market", "subscribe", &service, "--tier", "basic"]);
    ok_trimmed(&home, &["--as", "bob", "market", "subscribe", &service, "--tier", "pro"]);
    ok_trimmed(&home, &["--as", "bob", "market", "unsubscribe", &service]);
    ok_trimmed(&home, &["--as", "bob", "market", "buy", &plugin]);
    let booking = ok_trimmed(
        &home,
        &["--as", "alice", "market", "book", &service, "--start", "2099-12-01T10:00Z", "--end", "2099-12-01T11:00Z"],
    );
    ok_trimmed(&home, &["market", "confirm", &booking]);
    ok_trimmed(&home, &["--as", "alice", "review", &plugin, "--rating", "5", "--text", "fast and accurate"]);
    ok_trimmed(&home, &["--as", "bob", "review", &plugin, "--rating", "2", "--text", "slow"]);
    ok_trimmed(&home, &["--as", "bob", "review", &plugin, "--rating", "4", "--text", "better in 1.1"]);

    let page = json(&ok_trimmed(&home, &["market", "show", &plugin, "--json"]));
    assert_eq!(page["version"], "1.1.0");
    assert_eq!(page["versions"].as_array().unwrap().len(), 2);
    assert_eq!(page["mean_rating"], 4.5, "bob's later review supersedes his first");
    assert_eq!(page["stats"]["reviews"], 2);
    assert_eq!(page["stats"]["purchases"], 1);
    assert_eq!(page["stats"]["revenue"]["EUR"], 500);
    let svc = json(&ok_trimmed(&home, &["market", "show", &service, "--json"]));
    assert_eq!(svc["stats"]["subscribers"], 1);
    assert_eq!(svc["stats"]["subscriptions"], 2);
    assert_eq!(svc["stats"]["revenue"]["EUR"], 900 + 2900);
    assert_eq!(svc["bookings"][0]["confirmed"], true);
    ok_trimmed(&home, &["market", "withdraw", &service]);
    assert_eq!(json(&ok_trimmed(&home, &["market", "show", &service, "--json"]))["status"], "withdrawn");

    ok_trimmed(&home, &["--as", "alice", "follow", &seller]);
    ok_trimmed(&home, &["--as", "alice", "unfollow", &seller]);
    ok_trimmed(&home, &["follow", "alice"]);
    let guild = ok_trimmed(&home, &["guild", "create", "research-guild"]);
    ok_trimmed(&home, &["--as", "alice", "guild", "join", "research-guild"]);
    ok_trimmed(&home, &["--as", "bob", "guild", "join", &guild]);
    ok_trimmed(&home, &["--as", "bob", "guild", "leave", "research-guild"]);
    ok_trimmed(&home, &["award", &alice, "--badge", "first-plugin"]);
    let board = json(&ok_trimmed(&home, &["leaderboard", "listings", "--json"]));
    assert_eq!(board[0]["listing"], plugin.as_str());
    let creators = json(&ok_trimmed(&home, &["leaderboard", "creators", "--json"]));
    assert_eq!(creators[0]["creator"], seller.as_str());

    ok_trimmed(&home, &["rep", "attest", &alice, "--task", "T1", "--outcome", "success", "--weight", "1"]);
    ok_trimmed(&home, &["--as", "bob", "rep", "attest", "alice", "--task", "T2", "--outcome", "failure"]);
    ok_trimmed(&home, &["rep", "vouch", &alice]);
    ok_trimmed(&home, &["--as", "bob", "rep", "vouch", "alice"]);
    ok_trimmed(&home, &["--as", "bob", "rep", "unvouch", "alice"]);
    let report =
        ok_trimmed(&home, &["--as", "bob", "rep", "report", &alice, "--category", "spam", "--evidence", &plugin]);
    ok_trimmed(&home, &["rep", "resolve", &report, "--upheld"]);
    let rep = json(&ok_trimmed(&home, &["rep", "show", &alice, "--as-of", "2099-12-01T00:00Z", "--json"]));
    assert_eq!(rep["attestations"], 2);
    assert!((rep["success_rate"].as_f64().unwrap() - 0.5).abs() < 1e-6, "{rep}");
    assert_eq!(rep["vouches"].as_array().unwrap().len(), 1);
    assert_eq!(rep["violations"][0]["upheld"], true);
    assert_eq!(rep["formula"], "rep/1");
    let now = json(&ok_trimmed(&home, &["rep", "show", &alice, "--json"]));
    assert!(now["evidence"].as_f64().unwrap() > rep["evidence"].as_f64().unwrap(), "evidence decays with time");

    let ask = ok_trimmed(
        &home,
        &[
            "audit",
            "tool",
            "s1",
            "--tool",
            "shell.exec",
            "--args-digest",
            "sha256:abc",
            "--scope",
            "workspace",
            "--decision",
            "ask",
            "--reason",
            "needs a human",
        ],
    );
    let allow = ok_trimmed(
        &home,
        &[
            "audit",
            "tool",
            "s1",
            "--tool",
            "fs.read",
            "--args-digest",
            "sha256:def",
            "--scope",
            "workspace",
            "--decision",
            "allow",
            "--reason",
            "read only",
        ],
    );
    let deny = ok_trimmed(
        &home,
        &[
            "audit",
            "tool",
            "s1",
            "--tool",
            "net.post",
            "--args-digest",
            "sha256:123",
            "--scope",
            "network",
            "--decision",
            "ask",
            "--reason",
            "egress",
        ],
    );
    ok_trimmed(&home, &["audit", "approve", &ask]);
    ok_trimmed(&home, &["audit", "deny", &deny]);
    ok_trimmed(
        &home,
        &[
            "audit",
            "done",
            &ask,
            "--ok",
            "--duration-ms",
            "1200",
            "--tokens",
            "830",
            "--cost-cents",
            "2",
            "--model",
            "ollama:llama3.1",
        ],
    );
    ok_trimmed(
        &home,
        &[
            "audit",
            "done",
            &allow,
            "--failed",
            "--duration-ms",
            "30",
            "--tokens",
            "0",
            "--cost-cents",
            "0",
            "--model",
            "none",
        ],
    );
    let session = json(&ok_trimmed(&home, &["audit", "show", "s1", "--json"]));
    assert_eq!(session["requests"], 3);
    assert_eq!(session["completed"], 2);
    assert_eq!(session["failed"], 1);
    assert_eq!(session["tokens"], 830);
    assert_eq!(session["cost_cents"], 2);
    let statuses: Vec<&str> =
        session["timeline"].as_array().unwrap().iter().map(|l| l["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["done", "failed", "rejected"]);
    assert!(ok_trimmed(&home, &["audit", "show", "s1"]).contains("approved at"));

    let status = json(&ok_trimmed(&home, &["projections", "status", "--json"]));
    assert!(
        status.as_array().unwrap().iter().all(|v| v["lag"] == 0 && v["unknown"] == 0 && v["ignored"] == 0),
        "{status}"
    );
    assert!(ok_trimmed(&home, &["verify"]).starts_with("OK"));
}

#[test]
fn every_rejection_exits_1_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (home, seller, alice, _bob) = market_home(dir.path());
    let plugin = ok_trimmed(&home, &["market", "publish", "plugin", "p", "--price", "500"]);
    let service = ok_trimmed(&home, &["market", "publish", "service", "s", "--tier", "basic:900:month"]);
    rejected(&home, &["market", "show", "ffffffff"], "unknown listing");
    rejected(&home, &["--as", "alice", "market", "buy", "ffffffff"], "unknown listing");
    rejected(
        &home,
        &["market", "publish", "plugin", "x", "--price", "100000001"],
        "price 100000001 is outside [0, 100000000]",
    );
    rejected(&home, &["--as", "alice", "review", &plugin, "--rating", "6"], "rating 6 is outside [1, 5]");
    rejected(&home, &["--as", "alice", "review", &plugin, "--rating", "0"], "rating 0 is outside [1, 5]");
    rejected(&home, &["--as", "alice", "market", "subscribe", &service, "--tier", "gold"], "has no tier \"gold\"");
    ok_trimmed(&home, &["--as", "alice", "market", "subscribe", &service, "--tier", "basic"]);
    rejected(&home, &["--as", "alice", "market", "subscribe", &service, "--tier", "basic"], "already subscribe");
    rejected(
        &home,
        &["--as", "alice", "market", "book", &plugin, "--start", "2099-12-01T10:00Z", "--end", "2099-12-01T11:00Z"],
        "not a service",
    );
    rejected(
        &home,
        &["--as", "alice", "market", "book", &service, "--start", "2099-12-01T11:00Z", "--end", "2099-12-01T10:00Z"],
        "ends",
    );
    let b1 = ok_trimmed(
        &home,
        &["--as", "alice", "market", "book", &service, "--start", "2099-12-01T10:00Z", "--end", "2099-12-01T11:00Z"],
    );
    let b2 = ok_trimmed(
        &home,
        &["--as", "bob", "market", "book", &service, "--start", "2099-12-01T10:30Z", "--end", "2099-12-01T11:30Z"],
    );
    ok_trimmed(&home, &["market", "confirm", &b1]);
    rejected(&home, &["market", "confirm", &b2], "overlaps the confirmed booking");
    rejected(&home, &["--as", "alice", "market", "confirm", &b2], "is not yours");
    rejected(&home, &["review", &plugin, "--rating", "5"], "cannot review your own listing");
    rejected(&home, &["rep", "vouch", &seller], "cannot vouch for yourself");
    rejected(&home, &["rep", "attest", &seller, "--task", "t", "--outcome", "success"], "cannot attest yourself");
    rejected(
        &home,
        &["rep", "attest", &alice, "--task", "t", "--outcome", "success", "--weight", "11"],
        "weight 11 is outside [1, 10]",
    );
    rejected(&home, &["--as", "alice", "market", "update", &plugin, "--version", "2.0"], "is not yours");
    ok_trimmed(&home, &["market", "withdraw", &plugin]);
    rejected(&home, &["--as", "alice", "market", "buy", &plugin], "was withdrawn");
    rejected(&home, &["--as", "bob", "review", &plugin, "--rating", "4"], "was withdrawn");
    let allow = ok_trimmed(
        &home,
        &["audit", "tool", "s", "--tool", "t", "--args-digest", "d", "--scope", "w", "--decision", "allow"],
    );
    rejected(&home, &["audit", "approve", &allow], "only ask requests are approved or denied");
    let ask = ok_trimmed(
        &home,
        &["audit", "tool", "s", "--tool", "t", "--args-digest", "d2", "--scope", "w", "--decision", "ask"],
    );
    rejected(&home, &["audit", "done", &ask, "--ok", "--duration-ms", "1"], "was not allowed to run");
    ok_trimmed(&home, &["audit", "approve", &ask]);
    rejected(&home, &["audit", "approve", &ask], "already approved");
    rejected(&home, &["audit", "deny", &ask], "already approved");
    rejected(&home, &["--as", "alice", "audit", "approve", &ask], "is not yours");
    rejected(&home, &["award", &alice, "--badge", "x"], "not a member of any guild you own");
}

/// Two homes holding the same events, imported in different orders, read identically.
#[test]
fn different_arrival_orders_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    ok_trimmed(&a, &["init"]);
    ok_trimmed(&a, &["gen", "--events", "6000", "--authors", "5", "--seed", "11"]);
    let text = ok_trimmed(&a, &["export", "--jsonl"]);
    // Re-interleave the feeds: round robin over authors instead of the original order.
    let mut feeds: Vec<(String, std::collections::VecDeque<String>)> = Vec::new();
    for line in text.lines() {
        let author = json(line)["author"].as_str().unwrap().to_owned();
        match feeds.iter_mut().find(|(a, _)| *a == author) {
            Some((_, q)) => q.push_back(line.to_owned()),
            None => feeds.push((author, [line.to_owned()].into())),
        }
    }
    feeds.reverse();
    let mut reordered = Vec::new();
    while feeds.iter().any(|(_, q)| !q.is_empty()) {
        for (_, q) in &mut feeds {
            if let Some(line) = q.pop_front() {
                reordered.push(line);
            }
        }
    }
    assert_ne!(reordered.join("\n"), text);
    let file = dir.path().join("reordered.jsonl");
    std::fs::write(&file, reordered.join("\n") + "\n").unwrap();
    let b = dir.path().join("b");
    ok_trimmed(&b, &["init"]);
    ok_trimmed(&b, &["import", file.to_str().unwrap()]);

    let reads = |home: &Path| -> Vec<String> {
        let mut out = vec![
            ok_trimmed(home, &["leaderboard", "listings", "--json", "--limit", "1000"]),
            ok_trimmed(home, &["leaderboard", "creators", "--json"]),
        ];
        let listings = json(&ok_trimmed(home, &["market", "list", "--all", "--json"]));
        for l in listings.as_array().unwrap() {
            out.push(ok_trimmed(home, &["market", "show", l["id"].as_str().unwrap(), "--json"]));
            out.push(ok_trimmed(
                home,
                &["rep", "show", l["owner"].as_str().unwrap(), "--as-of", "2026-03-01T00:00Z", "--json"],
            ));
        }
        let status = json(&ok_trimmed(home, &["projections", "status", "--json"]));
        out.extend(status.as_array().unwrap().iter().map(|v| v["digest"].to_string()));
        out
    };
    let (ra, rb) = (reads(&a), reads(&b));
    assert!(ra.len() > 10, "the workload has listings");
    assert_eq!(ra, rb);
}
