//! The README's five-minute tour, run as written: every command of its ```sh blocks, with the
//! alias pointing at the binary under test and `/tmp/` replaced by a fresh folder.
//!
//! jq is not needed: a step `COMMAND | jq FILTER` runs COMMAND and applies FILTER (a path such as
//! `.`, `.feed_reports[0]` or `.[0].public_key`) to its JSON here. `mindlog bench` is the one step
//! skipped: it measures throughput for minutes (docs/performance.md), which says nothing here.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The tour's shell lines: every ```sh block between its heading and the next `## ` heading,
/// without comments and blank lines.
fn tour_lines(readme: &str) -> Vec<String> {
    let start = readme.find("## A five-minute tour").expect("the README has a tour");
    let rest = &readme[start + 3..];
    let tour = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in tour.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            _ if in_sh => {
                let command = line.split("  #").next().unwrap().trim();
                if !command.is_empty() {
                    lines.push(command.to_owned());
                }
            }
            _ => {}
        }
    }
    lines
}

/// A jq path filter (`.`, `.a.b`, `.[0]`, `.a[0].b`) applied to `value`.
fn jq_path(filter: &str, value: &Value) -> Value {
    let filter = filter.trim_matches('\'');
    assert!(filter.starts_with('.'), "only jq paths are supported here: {filter}");
    let mut at = value.clone();
    let mut rest = &filter[1..];
    while !rest.is_empty() {
        if let Some(index) = rest.strip_prefix('[') {
            let (n, after) = index.split_once(']').unwrap();
            at = at[n.parse::<usize>().unwrap()].clone();
            rest = after;
        } else {
            let rest_name = rest.trim_start_matches('.');
            let end = rest_name.find(['.', '[']).unwrap_or(rest_name.len());
            at = at[&rest_name[..end]].clone();
            rest = &rest_name[end..];
        }
    }
    at
}

struct Tour<'a> {
    bin: &'a str,
    tmp: &'a Path,
    home: Option<String>,
    skipped: Vec<String>,
}

impl Tour<'_> {
    /// Runs one shell line with `mindlog` meaning the binary under test.
    fn sh(&self, line: &str) -> Output {
        let script =
            format!("mindlog() {{ '{}' \"$@\"; }}\nset -e -o pipefail 2>/dev/null || set -e\n{line}", self.bin);
        let mut command = Command::new("bash");
        command.arg("-c").arg(script).env_remove("MINDLOG_HOME").env("HOME", self.tmp);
        if let Some(home) = &self.home {
            command.env("MINDLOG_HOME", home);
        }
        command.output().unwrap()
    }

    fn run(&mut self, line: &str) -> Option<String> {
        let line = line.replace("/tmp/", &format!("{}/", self.tmp.display()));
        if line.starts_with("alias mindlog=") {
            return None;
        }
        if let Some(home) = line.strip_prefix("export MINDLOG_HOME=") {
            self.home = Some(home.to_owned());
            return None;
        }
        if line.starts_with("mindlog bench") {
            eprintln!("skipped (minutes of benchmarks; see docs/performance.md): {line}");
            self.skipped.push(line);
            return None;
        }
        if let Some((command, filter)) = line.split_once(" | jq ") {
            let out = self.sh(command);
            assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
            let value: Value = serde_json::from_slice(&out.stdout).unwrap();
            let picked = jq_path(filter, &value);
            assert!(!picked.is_null(), "{line}: {filter} is null in {value}");
            return Some(picked.to_string());
        }
        assert!(!line.contains("jq"), "a jq use this test does not understand: {line}");
        let out = self.sh(&line);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{line}: {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        assert!(!stdout.contains("(no events match)"), "{line} shows nothing:\n{stdout}");
        Some(stdout)
    }
}

#[test]
fn the_readme_tour_works_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let lines = tour_lines(&readme);
    assert!(lines.len() > 20, "{lines:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut tour = Tour { bin: env!("CARGO_BIN_EXE_mindlog"), tmp: dir.path(), home: None, skipped: Vec::new() };
    for line in &lines {
        let Some(stdout) = tour.run(line) else { continue };
        if line.contains("log --kind") {
            assert_eq!(stdout.lines().count(), 4, "{line}: a header and 3 events\n{stdout}");
        }
        if line.contains("cmp -") {
            assert_eq!(stdout.trim(), "identical", "{line}");
        }
        if line.contains("FROM reputation") {
            // The same query as JSON: the scores it shows are not all zero.
            let json = tour.run(&format!("{line} --json")).unwrap();
            let rows: Value = serde_json::from_str(&json).unwrap();
            let rows = rows.as_array().unwrap();
            assert_eq!(rows.len(), 5, "{json}");
            assert!(rows.iter().all(|r| r["score"].as_f64().unwrap() > 0.0), "{line}: {json}");
        }
    }
    assert_eq!(tour.skipped.len(), 1, "only bench is skipped: {:?}", tour.skipped);
}
