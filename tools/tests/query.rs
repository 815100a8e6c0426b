//! `mindlog query` and `mindlog export --parquet` end to end: the commands as written,
//! exit codes, and a store the query sees caught up.

#![allow(clippy::unwrap_used)]

mod common;

use common::{mindlog, ok};

#[test]
fn the_query_commands_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "5000", "--authors", "4", "--seed", "7"]);

    let table = ok(&home, &["query", "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC"]);
    assert!(table.contains("| kind") && table.trim_end().ends_with("rows"), "{table}");

    let csv = ok(&home, &["query", "--format", "csv", "SELECT count(*) AS n FROM events"]);
    assert_eq!(csv, "n\n5000\n");
    let json: serde_json::Value = serde_json::from_str(&ok(
        &home,
        &["query", "--format", "json", "SELECT * FROM listings WHERE mean_rating >= 4"],
    ))
    .unwrap();
    let listed = json.as_array().unwrap();
    assert!(!listed.is_empty(), "a 5,000-event store has listings rated 4 or more");
    assert!(listed.iter().all(|r| r["mean_rating"].as_f64().unwrap() >= 4.0));
    let jsonl = ok(&home, &["query", "--format", "jsonl", "SELECT offset FROM events WHERE offset < 3"]);
    assert_eq!(jsonl.lines().count(), 3);

    // --as-of moves the time-dependent columns, in the syntax.
    let score = |as_of: &str| -> f64 {
        let out = ok(&home, &["query", "--format", "csv", "--as-of", as_of, "SELECT sum(score) AS s FROM reputation"]);
        out.lines().nth(1).unwrap().parse().unwrap()
    };
    assert!(score("2026-12-01T00:00Z") != score("2030-01-01"), "reputation decays with --as-of");

    let tables = ok(&home, &["query", "--tables"]);
    for name in ["events", "personas", "listings", "reputation", "audit_requests"] {
        assert!(tables.lines().any(|l| l.starts_with(&format!("{name}  "))), "{name} missing from --tables");
    }

    // A new event is seen by the next query: the views catch up first.
    ok(&home, &["persona", "create", "Echo"]);
    let n = ok(&home, &["query", "--format", "csv", "SELECT count(*) AS n FROM personas WHERE name = 'Echo'"]);
    assert_eq!(n, "n\n1\n");
}

#[test]
fn bad_and_writing_queries_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "200", "--authors", "2"]);
    let copied = dir.path().join("copied.csv");
    let copy = format!("COPY (SELECT 1) TO '{}'", copied.display());
    for (sql, says) in [
        ("SELEC 1", "SELEC"),
        ("SELECT nme FROM listings", "nme"),
        ("DROP TABLE events", "read-only"),
        ("INSERT INTO reviews SELECT * FROM reviews", "read-only"),
        (copy.as_str(), "read-only"),
        ("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'", "read-only"),
        ("SELECT * FROM '/etc/passwd'", "not found"),
    ] {
        let out = mindlog(&home, &["query", sql]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{sql}: one line, got {err}");
        assert!(err.contains(says), "{sql}: {err}");
        assert!(out.stdout.is_empty());
    }
    assert!(!copied.exists(), "COPY wrote nothing");
}

#[test]
fn export_parquet_writes_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "1000", "--authors", "3"]);
    let out = dir.path().join("pq");
    let listing = ok(&home, &["export", "--parquet", out.to_str().unwrap()]);
    let tables = ok(&home, &["query", "--tables", "--json"]);
    let tables: serde_json::Value = serde_json::from_str(&tables).unwrap();
    for t in tables.as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        assert!(out.join(format!("{name}.parquet")).is_file(), "{name}.parquet missing; said:\n{listing}");
    }
}
