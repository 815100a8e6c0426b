//! Byte-flip torture: copies of a generated store, one random byte flipped (or a burst) in each,
//! and what mindlog makes of each. No copy may make any command panic or hang, and no flip may go
//! undetected: when `verify --full` says OK, everything a user reads (the export, the views'
//! digests, queries through each index) is exactly what the sound store gives. The count of
//! copies is `MINDLOG_TORTURE_FLIPS` (default 24; `mindlog bench torture` runs 1,000).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::ok;

/// Runs mindlog with a deadline: `None` if it had to be killed (a hang).
fn run(home: &Path, args: &[&str]) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlog"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("MINDLOG_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the pipes on threads so a large output cannot block the child.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).map(|_| v).unwrap_or_default()
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).map(|_| v).unwrap_or_default()
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Some(Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() })
}

/// What a user reads of a store: the export, the views' digests, and queries that go through the
/// feed, kind and time indexes.
fn observe(home: &Path, authors: &[String]) -> Result<Vec<String>, String> {
    let mut args: Vec<Vec<String>> = vec![
        vec!["export".into(), "--jsonl".into(), "--include-private".into()],
        vec!["projections".into(), "status".into(), "--json".into()],
        vec![
            "query".into(),
            "--format".into(),
            "csv".into(),
            "SELECT kind, count(*) FROM events WHERE kind = 'memory.added/1' GROUP BY kind".into(),
        ],
        vec![
            "query".into(),
            "--format".into(),
            "csv".into(),
            "SELECT count(*) FROM events WHERE ts < 1767225700000000".into(),
        ],
    ];
    for author in authors {
        args.push(vec![
            "query".into(),
            "--format".into(),
            "csv".into(),
            format!("SELECT count(*), max(seq) FROM events WHERE author = '{author}'"),
        ]);
    }
    let mut seen = Vec::new();
    for a in &args {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = run(home, &a).ok_or_else(|| format!("{a:?} hung"))?;
        seen.push(format!("{:?}\n{}", out.status.code(), String::from_utf8_lossy(&out.stdout)));
    }
    Ok(seen)
}

/// The check that must find every flip that matters.
const VERIFY: &[&str] = &["verify", "--full"];

/// The outcome of one damaged copy.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// `verify --full` exits 1: the damage is found.
    Detected,
    /// A clear refusal (exit 2, one `mindlog:` line): the store is too damaged to check.
    Refused,
    /// `verify --full` says OK, and everything read is as before.
    Harmless,
}

fn judge(home: &Path, authors: &[String], sound: &[String]) -> Result<Verdict, String> {
    let verify = run(home, VERIFY).ok_or("verify hung")?;
    let stderr = String::from_utf8_lossy(&verify.stderr).into_owned();
    if stderr.contains("panicked") || verify.status.code().is_none_or(|c| c > 2) {
        return Err(format!("verify crashed ({:?}): {stderr}", verify.status));
    }
    match verify.status.code() {
        Some(1) => Ok(Verdict::Detected),
        Some(2) => Ok(Verdict::Refused),
        _ => {
            let seen = observe(home, authors)?;
            if seen.iter().any(|s| s.contains("panicked")) {
                return Err("a command panicked".into());
            }
            if let Some((a, b)) = seen.iter().zip(sound).find(|(a, b)| a != b) {
                let line = |t: &str| t.lines().take(3).collect::<Vec<_>>().join(" | ");
                return Err(format!(
                    "verify said OK, but what users read changed: {} (was {})",
                    line(a).chars().take(300).collect::<String>(),
                    line(b).chars().take(300).collect::<String>()
                ));
            }
            Ok(Verdict::Harmless)
        }
    }
}

/// xorshift64*: the flips are the same on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn no_flip_panics_hangs_or_goes_unnoticed() {
    let flips: usize = std::env::var("MINDLOG_TORTURE_FLIPS").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("sound");
    ok(&home, &["init"]);
    ok(&home, &["gen", "--events", "2000", "--authors", "3"]);
    let stats: serde_json::Value = serde_json::from_str(&ok(&home, &["stats", "--json"])).unwrap();
    let authors: Vec<String> = stats["heads"]
        .as_array()
        .map_or(Vec::new(), |h| h.iter().filter_map(|head| head["author"].as_str().map(str::to_owned)).collect());
    assert_eq!(authors.len(), 3, "stats --json lists the feeds' heads: {stats}");
    // The first reads fold the views; from then on the sound store reads the same every time.
    observe(&home, &authors).unwrap();
    let sound = observe(&home, &authors).unwrap();
    assert_eq!(observe(&home, &authors).unwrap(), sound, "the test can fail only for damage");
    let bytes = std::fs::read(home.join("mind.redb")).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut counts = std::collections::BTreeMap::new();
    let first: usize = std::env::var("MINDLOG_TORTURE_FROM").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    for n in 0..flips {
        let copy = dir.path().join(format!("copy-{n}"));
        std::fs::create_dir(&copy).unwrap();
        std::fs::copy(home.join("identity.key"), copy.join("identity.key")).unwrap();
        let mut damaged = bytes.clone();
        let at = (rng.next() % damaged.len() as u64) as usize;
        let burst = if n % 4 == 3 { 16 } else { 1 };
        for i in at..(at + burst).min(damaged.len()) {
            damaged[i] ^= 1 << (rng.next() % 8);
        }
        if n < first {
            std::fs::remove_dir_all(&copy).unwrap();
            continue;
        }
        std::fs::write(copy.join("mind.redb"), &damaged).unwrap();
        match judge(&copy, &authors, &sound) {
            Ok(verdict) => *counts.entry(format!("{verdict:?}")).or_insert(0) += 1,
            Err(problem) => {
                // MINDLOG_TORTURE_KEEP=DIR keeps the copy that failed, to look into.
                if let Ok(keep) = std::env::var("MINDLOG_TORTURE_KEEP") {
                    let _ = std::fs::rename(&copy, &keep);
                }
                panic!("flip {n} at byte {at} (burst {burst}): {problem}")
            }
        }
        std::fs::remove_dir_all(&copy).unwrap();
    }
    eprintln!("{flips} flips: {counts:?}");
}
