//! `mindlog query` under hostile SQL (issue 11): every query the issue found crashing, hanging or
//! eating memory is a one-line error with exit 2, and a query just inside each limit still runs.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{fails, ok};

/// A home with a small generated store (shared by the tests of this file).
fn home() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "1000", "--authors", "4", "--seed", "11"]);
    (dir, home)
}

/// `mindlog query ARGS… SQL` must fail with exit 2 and one line that says `why`.
fn stopped(home: &Path, args: &[&str], sql: &str, why: &str) {
    let mut all = vec!["query"];
    all.extend_from_slice(args);
    all.push(sql);
    let stderr = fails(home, &all, 2);
    assert!(stderr.contains(why), "{stderr:?} does not say {why:?}");
}

/// `SELECT 1+1+…+1` with 3,800 terms and a `WHERE` with 4,000 `OR`s overflowed the stack
/// (SIGABRT, no exit code); both are refused before planning. A chain of 400 still runs, and
/// 480 `OR`s evaluated on every row still run (the planner and the workers have the stack).
#[test]
fn deep_expressions_are_refused_before_planning() {
    let (_dir, home) = home();
    let sum = format!("SELECT {}", vec!["1"; 3800].join("+"));
    assert!(sum.len() > 7_500);
    stopped(&home, &[], &sum, "nests expressions more than 500 deep");
    let ors = (0..4000).map(|i| format!("seq = {i}")).collect::<Vec<_>>().join(" OR ");
    stopped(&home, &[], &format!("SELECT count(*) FROM events WHERE {ors}"), "write a long chain of OR as IN");

    let sum = format!("SELECT {} AS n", vec!["1"; 400].join("+"));
    assert_eq!(ok(&home, &["query", "--format", "csv", &sum]), "n\n400\n");
    let ors = (0..480).map(|i| format!("length(payload) = {}", 1000 + i)).collect::<Vec<_>>().join(" OR ");
    let out = ok(&home, &["query", "--format", "csv", &format!("SELECT count(*) AS n FROM events WHERE {ors}")]);
    assert!(out.starts_with("n\n"), "{out}");
}

/// More than 64 KiB of SQL is refused before it is parsed.
#[test]
fn long_sql_is_refused() {
    let (_dir, home) = home();
    let long = format!("SELECT 1 AS n{}", " ".repeat(70_000));
    stopped(&home, &[], &long, "bytes long, more than the limit of 65536");
}

/// `repeat` of every payload 100,000 times asked for 66 GB at once (abort, or a panic after
/// 4.5 GB); it now refuses the batch before allocating. A string aggregate over a self-join grew
/// without bound; the memory pool stops it at the limit.
#[test]
fn memory_is_bounded() {
    let (_dir, home) = home();
    stopped(&home, &[], "SELECT sum(length(repeat(payload, 100000))) FROM events", "memory limit of 256 MiB");
    stopped(
        &home,
        &["--memory-limit", "32MiB"],
        "SELECT length(string_agg(a.payload, ',')) FROM events a, events b",
        "memory limit of 32 MiB",
    );
    stopped(&home, &[], "SELECT length(lpad('x', 2000000000)) AS n", "memory limit");
    // Inside the limits both still answer.
    let out =
        ok(&home, &["query", "--format", "csv", "SELECT sum(length(repeat(payload, 10))) > 0 AS big FROM events"]);
    assert_eq!(out, "big\ntrue\n");
    let out =
        ok(&home, &["query", "--format", "csv", "SELECT length(string_agg(payload, ',')) > 0 AS big FROM events"]);
    assert_eq!(out, "big\ntrue\n");
    // A limit that is not a size is a usage error.
    let stderr = fails(&home, &["query", "--memory-limit", "12XB", "SELECT 1"], 2);
    assert!(stderr.contains("unknown unit 'xb'"), "{stderr}");
}

/// A recursive CTE that never ends ran forever; the time limit stops it.
#[test]
fn an_endless_query_is_stopped_at_its_time_limit() {
    let (_dir, home) = home();
    let endless = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t";
    let started = std::time::Instant::now();
    stopped(&home, &["--timeout", "1s"], endless, "time limit of 1 s");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "stopped long after its limit");
    // A bounded recursive CTE still runs.
    let bounded =
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 100) SELECT count(*) AS n FROM t";
    assert_eq!(ok(&home, &["query", "--format", "csv", bounded]), "n\n100\n");
}
