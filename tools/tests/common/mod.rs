//! Helpers shared by the binary's end-to-end tests: run `mindlog` on a home and check outcomes.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `mindlog --home HOME ARGS…`, ignoring any `MINDLOG_HOME` of the environment.
pub(crate) fn mindlog(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("MINDLOG_HOME")
        .output()
        .expect("runs")
}

/// Runs a command that must succeed; its stdout.
pub(crate) fn ok(home: &Path, args: &[&str]) -> String {
    let out = mindlog(home, args);
    assert!(out.status.success(), "mindlog {args:?} failed: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must succeed; its stdout without the surrounding white space.
pub(crate) fn ok_trimmed(home: &Path, args: &[&str]) -> String {
    ok(home, args).trim().to_owned()
}

/// Runs a command that must be rejected: exit 1, one line saying `why`, nothing appended.
pub(crate) fn rejected(home: &Path, args: &[&str], why: &str) {
    let before = ok(home, &["export", "--jsonl"]);
    let out = mindlog(home, args);
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "mindlog {args:?}: {stderr}");
    assert!(stderr.contains(why), "mindlog {args:?}: {stderr:?} does not say {why:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert_eq!(ok(home, &["export", "--jsonl"]), before, "a rejected command appends nothing");
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}
