//! Hostile bytes on stable Rust: the envelope decoders and the JSONL importer never panic, on
//! arbitrary input and on valid input mutated. CI runs a bounded number of cases on a fixed seed;
//! a long run sets more and another seed (docs/reliability.md, "Hostile input files"):
//! `PROPTEST_CASES=200000 MINDLOG_FUZZ_SEED=7 cargo test --release -p mindlog-ledger --test fuzz`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Cursor;
use std::sync::OnceLock;

use common::{TS, draft, format_one};
use mindlog_ledger::{Envelope, EnvelopeRef, Expect, Identity, ImportError, Ledger};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// Bounded cases for CI unless `PROPTEST_CASES` says otherwise; a fixed seed unless
/// `MINDLOG_FUZZ_SEED` gives another, so a run never passes or fails by chance.
fn config(default_cases: u32) -> ProptestConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    ProptestConfig {
        cases: env("PROPTEST_CASES").map_or(default_cases, |c| c as u32),
        rng_seed: RngSeed::Fixed(env("MINDLOG_FUZZ_SEED").unwrap_or(20261130)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, bit)| Edit::Flip(i, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..4)
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match *edit {
            Edit::Flip(i, bit) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] ^= 1 << bit;
            }
            Edit::Set(i, b) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] = b;
            }
            Edit::Insert(i, b) => {
                let i = at(i, bytes.len() + 1);
                bytes.insert(i, b);
            }
            Edit::Delete(i) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes.remove(i);
            }
            Edit::Truncate(i) => bytes.truncate(at(i, bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

/// Valid envelopes of both formats: with and without prev and refs.
fn valid_envelopes() -> &'static [Vec<u8>] {
    static ENVELOPES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ENVELOPES.get_or_init(|| {
        let me = Identity::from_secret(&[3; 32]);
        let one = format_one(&me, 1, None, "a format-1 note");
        let mut with_refs = draft("a format-2 note", true);
        with_refs.refs = vec![one.hash()];
        let two = with_refs.seal(me.public_key(), 2, Some(one.hash()), [9; 32]).unwrap().sign(&me);
        let first = draft("first", false).seal(me.public_key(), 1, None, [1; 32]).unwrap().sign(&me);
        vec![one.bytes().to_vec(), two.bytes().to_vec(), first.bytes().to_vec()]
    })
}

/// An export holding format-1, format-2, private, erased and withheld lines.
fn valid_export() -> &'static [u8] {
    static EXPORT: OnceLock<Vec<u8>> = OnceLock::new();
    EXPORT.get_or_init(|| {
        let me = Identity::from_secret(&[4; 32]);
        let ledger = Ledger::in_memory().unwrap();
        let one = format_one(&me, 1, None, "old");
        ledger.ingest(&[one]).unwrap();
        let drafts = vec![draft("public", false), draft("private", true), draft("to erase", false)];
        let appended = ledger.append(&me, drafts, Expect::Any).unwrap();
        ledger.erase(&me, &[appended[2].offset], "why", TS + 9).unwrap();
        let mut out = Vec::new();
        ledger
            .export_jsonl(
                &mindlog_ledger::ExportOptions { include_private: false, ..Default::default() },
                &mut out,
                &|_| {},
            )
            .unwrap();
        out
    })
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn envelope_decoders_never_panic_on_arbitrary_bytes(
        version in 0u8..4,
        rest in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = vec![version];
        bytes.extend(rest);
        let _ = EnvelopeRef::decode(&bytes);
        let _ = Envelope::decode(&bytes);
    }

    #[test]
    fn a_mutated_envelope_decodes_canonically_or_not_at_all(which in 0usize..3, edits in edits()) {
        let bytes = mutate(valid_envelopes()[which].clone(), &edits);
        let _ = EnvelopeRef::decode(&bytes);
        if let Ok(envelope) = Envelope::decode(&bytes) {
            // One envelope, one encoding: whatever decodes re-encodes to exactly its bytes.
            prop_assert_eq!(envelope.encode(), bytes);
        }
    }
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn a_mutated_export_line_imports_or_is_refused_never_panics(line in 0usize..6, edits in edits()) {
        let export = valid_export();
        let lines: Vec<&[u8]> = export.split_inclusive(|b| *b == b'\n').collect();
        let line = line % lines.len();
        let mut input = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if i == line {
                input.extend(mutate(l.to_vec(), &edits));
            } else {
                input.extend_from_slice(l);
            }
        }
        let ledger = Ledger::in_memory().unwrap();
        match ledger.import_jsonl(&mut Cursor::new(input), &|_| {}) {
            Ok(report) => prop_assert!(report.stored <= lines.len() as u64),
            Err(ImportError::Line { .. }) => {}
            Err(e) => prop_assert!(false, "not a line error: {e}"),
        }
    }
}

#[test]
fn the_valid_export_imports_whole() {
    // The mutation test starts from a valid export: it can fail only if edits break it.
    let ledger = Ledger::in_memory().unwrap();
    let report = ledger.import_jsonl(&mut Cursor::new(valid_export()), &|_| {}).unwrap();
    assert_eq!(report.stored, 5);
}
