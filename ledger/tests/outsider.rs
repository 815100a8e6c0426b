//! docs/format.md is enough to check an export: `outsider/verify_export.py`, a verifier written
//! in Python from the document alone (its own blake3 and Ed25519, the standard library only),
//! checks an export holding format-1 and format-2 events with present, private, erased and
//! withheld payloads, and refuses a tampered one.

#![allow(clippy::unwrap_used)]

mod common;

use common::{TS, draft, format_one};
use std::path::Path;
use std::process::Command;

use mindlog_ledger::{Identity, Ledger};

/// An export with every kind of line: format 1, format 2 present (public and, with
/// `include_private`, private), erased by its author, erased locally, withheld.
pub fn mixed_export(dir: &Path, include_private: bool) -> Vec<u8> {
    let me = Identity::from_secret(&[1; 32]);
    let old = Identity::from_secret(&[2; 32]);
    let ledger = Ledger::create(&dir.join(format!("mixed-{include_private}.redb"))).unwrap();
    let one = format_one(&old, 1, None, "written by an older mindlog");
    let two = format_one(&old, 2, Some(one.hash()), "ünïcödé in format 1");
    ledger.ingest(&[one, two]).unwrap();
    ledger.append_one(&old, draft("format 2 after format 1 in one feed", false)).unwrap();
    ledger.append_one(&me, draft("a public note", false)).unwrap();
    ledger.append_one(&me, draft("PIN 1234, private", true)).unwrap();
    let gone = ledger.append_one(&me, draft("to be erased by its author", false)).unwrap();
    let local = ledger.append_one(&old, draft("erased in this store only", false)).unwrap();
    ledger.erase(&me, &[gone.offset], "asked to forget", TS + 9).unwrap();
    ledger.erase_local(&[local.offset]).unwrap();
    let mut out = Vec::new();
    ledger
        .export_jsonl(&mindlog_ledger::ExportOptions { include_private, ..Default::default() }, &mut out, &|_| {})
        .unwrap();
    out
}

fn verify_with_python(arg: &Path) -> (bool, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/outsider/verify_export.py");
    let output = Command::new("python3").arg(script).arg(arg).output().expect("python3 runs (CI installs it: .ci/run)");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn the_outsiders_verifier_agrees_with_the_documents_test_vectors() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/outsider/verify_export.py");
    let doc = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/format.md");
    let output = Command::new("python3").args([script, "--self-test", doc]).output().expect("python3 runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the outsider's self-test failed on docs/format.md:\n{said}");
}

#[test]
fn a_verifier_written_from_the_document_alone_accepts_our_exports_and_refuses_tampering() {
    let dir = tempfile::tempdir().unwrap();
    if let Ok(path) = std::env::var("MINDLOG_WRITE_FIXTURE") {
        std::fs::write(&path, mixed_export(dir.path(), true)).unwrap();
    }
    for include_private in [false, true] {
        let export = mixed_export(dir.path(), include_private);
        let text = String::from_utf8(export.clone()).unwrap();
        for state in ["\"payload_state\":\"present\"", "\"payload_state\":\"erased\"", "\"version\":1,"] {
            assert!(text.contains(state), "the export lacks {state}");
        }
        assert_eq!(text.contains("\"payload_state\":\"withheld\""), !include_private);
        let file = dir.path().join(format!("export-{include_private}.jsonl"));
        std::fs::write(&file, &export).unwrap();
        let (ok, said) = verify_with_python(&file);
        assert!(ok, "the outsider's verifier refused our export:\n{said}");

        // One changed character of a payload: its commitment no longer matches.
        let line = text.lines().find(|l| l.contains("\"payload\":\"")).unwrap();
        let at = line.find("\"payload\":\"").unwrap() + 11;
        let mut tampered_line = line.to_owned();
        let c = if &line[at..at + 1] == "A" { "B" } else { "A" };
        tampered_line.replace_range(at..at + 1, c);
        let tampered = dir.path().join(format!("tampered-{include_private}.jsonl"));
        std::fs::write(&tampered, text.replacen(line, &tampered_line, 1)).unwrap();
        let (ok, said) = verify_with_python(&tampered);
        assert!(!ok, "the outsider's verifier accepted a tampered payload:\n{said}");
    }
}
