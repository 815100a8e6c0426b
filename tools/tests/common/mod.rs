//! Helpers shared by the binary's end-to-end tests: run `mindlog` on a home and check outcomes.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub(crate) mod webdriver;

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

/// Starts `mindlog --home HOME submit -` with its standard input, output and error piped.
pub(crate) fn submit_stdin(home: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .arg("--home")
        .arg(home)
        .args(["submit", "-"])
        .env_remove("MINDLOG_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
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

/// Runs a command that must fail with `code`: its stderr, which must be one line starting
/// `mindlog: `.
pub(crate) fn fails(home: &Path, args: &[&str], code: i32) -> String {
    let out = mindlog(home, args);
    let stderr = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "mindlog {args:?}: {stderr}");
    assert!(stderr.starts_with("mindlog: "), "mindlog {args:?}: {stderr:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    stderr
}

/// Runs `mindlog --home HOME ARGS…` with its stdout in a real pipe, reads one line of it and closes
/// the pipe, as `mindlog ARGS… | head -1` does; the first line and how the process ended.
pub(crate) fn first_line_then_close(home: &Path, args: &[&str]) -> (String, Output) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("MINDLOG_HOME")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // The reader is dropped here: the pipe is closed while mindlog still has much to write.
    (line, child.wait_with_output().unwrap())
}

/// Starts `mindlog node --home HOME ARGS…` (with `MINDLOG_LOG=warn` and `env`; its stderr is the
/// test's), reads its stdout until it has printed a line starting with each of `wanted`, and keeps
/// reading it after (so the node never blocks on a full pipe). The child, and the rest of each
/// wanted line, in the order of `wanted`.
pub(crate) fn start_node(home: &Path, args: &[&str], env: &[(&str, &str)], wanted: &[&str]) -> (Child, Vec<String>) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .arg("node")
        .args(args)
        .arg("--home")
        .arg(home)
        .env_remove("MINDLOG_HOME")
        .env("MINDLOG_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut found: Vec<Option<String>> = vec![None; wanted.len()];
    while found.iter().any(Option::is_none) {
        let line = lines.next().expect("the node prints where it listens").unwrap();
        for (prefix, slot) in wanted.iter().zip(&mut found) {
            if let Some(rest) = line.strip_prefix(prefix) {
                slot.get_or_insert_with(|| rest.to_owned());
            }
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, found.into_iter().map(Option::unwrap).collect())
}
