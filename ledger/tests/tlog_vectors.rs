//! Other people's test vectors for our Merkle proofs (../shared/testdata/tlog, from
//! transparency-dev/merkle): every one, positive and negative. A negative vector must be refused
//! with an error — never a panic, whatever its hashes' lengths.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use mindlog_ledger::tlog::{verify_consistency, verify_inclusion};
use serde_json::Value;

fn vectors(kind: &str) -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/tlog").join(kind);
    let mut out = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                out.push((path, value));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Null => Vec::new(),
        v => base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap(),
    }
}

fn proof(value: &Value) -> Vec<Vec<u8>> {
    value.as_array().map(|a| a.iter().map(bytes).collect()).unwrap_or_default()
}

/// Runs `check` for each vector and compares its outcome with `wantErr`; the count of each.
fn run(kind: &str, check: impl Fn(&Value) -> Result<(), String>) -> (usize, usize) {
    let (mut good, mut bad) = (0, 0);
    for (path, v) in vectors(kind) {
        let want_err = v["wantErr"].as_bool().unwrap();
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&v)))
            .unwrap_or_else(|_| panic!("{} panicked", path.display()));
        match (want_err, got) {
            (false, Ok(())) => good += 1,
            (true, Err(_)) => bad += 1,
            (false, Err(e)) => panic!("{} ({}): refused, {e}", path.display(), v["desc"]),
            (true, Ok(())) => panic!("{} ({}): accepted, but it must fail", path.display(), v["desc"]),
        }
    }
    (good, bad)
}

#[test]
fn every_inclusion_vector() {
    let (good, bad) = run("inclusion", |v| {
        verify_inclusion(
            v["leafIdx"].as_u64().unwrap(),
            v["treeSize"].as_u64().unwrap(),
            &bytes(&v["leafHash"]),
            &proof(&v["proof"]),
            &bytes(&v["root"]),
        )
        .map_err(|e| e.to_string())
    });
    assert_eq!((good, bad), (6, 92), "every vector ran: positive, negative");
}

#[test]
fn every_consistency_vector() {
    let (good, bad) = run("consistency", |v| {
        verify_consistency(
            v["size1"].as_u64().unwrap(),
            v["size2"].as_u64().unwrap(),
            &proof(&v["proof"]),
            &bytes(&v["root1"]),
            &bytes(&v["root2"]),
        )
        .map_err(|e| e.to_string())
    });
    assert_eq!((good, bad), (6, 92), "every vector ran: positive, negative");
}
