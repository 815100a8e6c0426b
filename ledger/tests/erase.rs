//! Envelope format 2 end to end: payloads beside the envelope, erasure (signed and local) that
//! leaves no byte of the payload in the file, private payloads, and both formats in one feed.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Cursor;

use common::{TS, draft, format_one};
use mindlog_ledger::{AppendError, Draft, ERASED_KIND, EraseProblem, Identity, Ledger, PayloadState};

fn export(ledger: &Ledger, include_private: bool) -> Vec<u8> {
    let mut out = Vec::new();
    ledger
        .export_jsonl(&mindlog_ledger::ExportOptions { include_private, ..Default::default() }, &mut out, &|_| {})
        .unwrap();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn an_erased_payload_is_gone_from_the_file_exports_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    let marker = "MARKER-3f9c1a77-the-secret-never-to-be-found";
    let me = Identity::from_secret(&[1; 32]);
    let ledger = Ledger::create(&path).unwrap();
    // Enough events, of a size, for the payloads to fill many pages: the page that held the
    // marker is then not simply reused by the next commits.
    let pad = "x".repeat(700);
    let mut drafts: Vec<Draft> = (0..1000).map(|i| draft(&format!("filler {i} {pad}"), false)).collect();
    drafts.insert(500, draft(&format!("{pad} {marker}"), false));
    let appended = ledger.append(&me, drafts, mindlog_ledger::Expect::Any).unwrap();
    let target = appended[500];
    drop(ledger);
    // The test can fail: before the erase, the marker is in the file.
    assert!(contains(&std::fs::read(&path).unwrap(), marker.as_bytes()));

    let ledger = Ledger::open(&path).unwrap();
    let erasure = ledger.erase(&me, &[target.offset], "asked to forget", TS + 1).unwrap()[0];
    assert_eq!(erasure.seq, 1002);
    // The row is gone, but redb keeps the freed page, marker and all, until a later commit reuses
    // it; `scrub` rewrites the file with only what is live.
    assert!(contains(&std::fs::read(&path).unwrap(), marker.as_bytes()), "the freed page still holds it");
    let scrub = ledger.scrub().unwrap();
    assert!(!contains(&std::fs::read(&path).unwrap(), marker.as_bytes()), "still in the file after {scrub:?}");
    assert!(scrub.size_after <= scrub.size_before, "{scrub:?}");
    let ledger = Ledger::open(&path).unwrap();
    let snapshot = ledger.snapshot().unwrap();
    let erased = snapshot.event(target.offset).unwrap().unwrap();
    assert_eq!(erased.payload, PayloadState::Erased);
    let record = snapshot.event(erasure.offset).unwrap().unwrap();
    let envelope = record.envelope().unwrap();
    assert_eq!((envelope.kind.as_str(), envelope.refs.as_slice()), (ERASED_KIND, &[target.hash][..]));
    drop(snapshot);
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.payloads.present, report.payloads.erased), (1001, 1));
    let exported = export(&ledger, true);
    assert!(!contains(&exported, marker.as_bytes()));
    drop(ledger);
    assert!(!contains(&std::fs::read(&path).unwrap(), marker.as_bytes()));
    let ledger = Ledger::open(&path).unwrap();

    // Erasing again, or erasing an event that does not exist, is refused.
    let again = ledger.erase(&me, &[target.offset], "", TS).unwrap_err();
    assert!(matches!(again, AppendError::CannotErase { problem: EraseProblem::AlreadyErased, .. }), "{again}");
    let missing = ledger.erase(&me, &[10_000], "", TS).unwrap_err();
    assert!(matches!(missing, AppendError::CannotErase { problem: EraseProblem::NoSuchEvent, .. }), "{missing}");
}

#[test]
fn export_import_export_is_identical_with_every_payload_state_and_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let me = Identity::from_secret(&[1; 32]);
    let other = Identity::from_secret(&[2; 32]);
    let a = Ledger::create(&dir.path().join("a.redb")).unwrap();
    // An old feed in format 1, continued in format 2.
    let old1 = format_one(&other, 1, None, "old one");
    let old2 = format_one(&other, 2, Some(old1.hash()), "old two");
    a.ingest(&[old1, old2]).unwrap();
    let mixed = a.append_one(&other, draft("new in format 2", false)).unwrap();
    assert_eq!(mixed.seq, 3);
    a.append_one(&me, draft("a private memory", true)).unwrap();
    let gone = a.append_one(&me, draft("to be erased", false)).unwrap();
    let local = a.append_one(&other, draft("erased here only", false)).unwrap();
    a.erase(&me, &[gone.offset], "", TS).unwrap();
    a.erase_local(&[local.offset]).unwrap();
    // Only the author signs an erasure; a format-1 payload cannot be erased.
    let not_mine = a.erase(&me, &[mixed.offset], "", TS).unwrap_err();
    assert!(matches!(not_mine, AppendError::CannotErase { problem: EraseProblem::NotTheAuthor(_), .. }), "{not_mine}");
    let old = a.erase_local(&[0]).unwrap_err();
    assert!(matches!(old, AppendError::CannotErase { problem: EraseProblem::FormatOne, .. }), "{old}");
    let report = a.verify(&|_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(
        (report.payloads.inline, report.payloads.present, report.payloads.private, report.payloads.erased),
        (2, 3, 1, 2)
    );

    // A scan without payloads reads every event, format-2 payloads as withheld from the read.
    let snapshot = a.snapshot().unwrap();
    let full: Vec<_> = snapshot.events(..).unwrap().map(Result::unwrap).collect();
    let bare: Vec<_> = snapshot.events_without_payloads(..).unwrap().map(Result::unwrap).collect();
    assert_eq!(full.len(), bare.len());
    for (f, b) in full.iter().zip(&bare) {
        assert_eq!((f.offset, f.hash, &f.bytes), (b.offset, b.hash, &b.bytes));
        let expected = if f.payload == PayloadState::Inline { PayloadState::Inline } else { PayloadState::Withheld };
        assert_eq!(b.payload, expected);
    }
    let backward: Vec<u64> = snapshot.events_without_payloads(..).unwrap().rev().map(|e| e.unwrap().offset).collect();
    assert_eq!(backward, bare.iter().rev().map(|e| e.offset).collect::<Vec<_>>());
    drop(snapshot);

    // Without --include-private, the private payload leaves as withheld.
    let public = export(&a, false);
    let text = String::from_utf8(public.clone()).unwrap();
    assert!(!text.contains(&base64_of("a private memory")));
    assert_eq!(text.matches(r#""payload_state":"withheld""#).count(), 1);
    assert_eq!(text.matches(r#""payload_state":"erased""#).count(), 2);
    let full = export(&a, true);
    assert!(String::from_utf8(full.clone()).unwrap().contains(&base64_of("a private memory")));

    for exported in [public, full] {
        let b = Ledger::create(&dir.path().join(format!("b{}.redb", exported.len()))).unwrap();
        b.import_jsonl(&mut Cursor::new(&exported), &|_| {}).unwrap();
        assert!(b.verify(&|_| {}).unwrap().ok);
        assert_eq!(export(&b, true), exported, "export → import → export must be byte-identical");
    }
}

fn base64_of(text: &str) -> String {
    use std::fmt::Write;
    // Standard base64 with padding, written out so the test does not share the code under test.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                let _ = write!(out, "=");
            }
        }
    }
    out
}

#[test]
fn an_imported_erasure_erases_here_and_a_tampered_payload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let me = Identity::from_secret(&[1; 32]);
    let a = Ledger::create(&dir.path().join("a.redb")).unwrap();
    let kept = a.append_one(&me, draft("kept", false)).unwrap();
    let before = export(&a, true);
    let b = Ledger::create(&dir.path().join("b.redb")).unwrap();
    b.import_jsonl(&mut Cursor::new(&before), &|_| {}).unwrap();
    a.erase(&me, &[kept.offset], "", TS).unwrap();
    // B still holds the payload; importing A's log (with the erasure) erases it there too.
    let report = b.import_jsonl(&mut Cursor::new(export(&a, true)), &|_| {}).unwrap();
    assert_eq!((report.stored, report.erased), (1, 1));
    assert_eq!(b.snapshot().unwrap().event(kept.offset).unwrap().unwrap().payload, PayloadState::Erased);
    assert_eq!(export(&b, true), export(&a, true));

    // A line whose payload was changed no longer matches its commitment.
    let line = String::from_utf8(before).unwrap();
    let tampered = line.replace(&base64_of("kept"), &base64_of("kepT"));
    assert_ne!(tampered, line);
    let c = Ledger::create(&dir.path().join("c.redb")).unwrap();
    let err = c.import_jsonl(&mut Cursor::new(tampered), &|_| {}).unwrap_err().to_string();
    assert!(err.contains("commitment"), "{err}");
}

#[test]
fn the_ledger_kinds_are_reserved() {
    let ledger = Ledger::in_memory().unwrap();
    let me = Identity::from_secret(&[1; 32]);
    let mut d = draft("x", false);
    d.kind = ERASED_KIND.into();
    assert!(matches!(ledger.append_one(&me, d), Err(AppendError::ReservedKind(_))));
}

#[test]
fn many_erasures_take_several_events_of_at_most_64_refs_and_prefixes_resolve() {
    let ledger = Ledger::in_memory().unwrap();
    let me = Identity::from_secret(&[1; 32]);
    let drafts: Vec<Draft> = (0..100).map(|i| draft(&format!("memory {i}"), false)).collect();
    let appended = ledger.append(&me, drafts, mindlog_ledger::Expect::Any).unwrap();
    let offsets: Vec<u64> = appended.iter().map(|a| a.offset).collect();
    let erasures = ledger.erase(&me, &offsets, "", TS).unwrap();
    assert_eq!(erasures.iter().map(|e| e.seq).collect::<Vec<_>>(), [101, 102]);
    let snapshot = ledger.snapshot().unwrap();
    let refs: usize =
        erasures.iter().map(|e| snapshot.event(e.offset).unwrap().unwrap().envelope().unwrap().refs.len()).sum();
    assert_eq!(refs, 100);
    let report = ledger.verify(&|_| {}).unwrap();
    assert_eq!((report.ok, report.payloads.erased, report.payloads.present), (true, 100, 2));
    let prefix = &appended[7].hash.to_string()[..10];
    assert_eq!(snapshot.find_hash_prefix(prefix).unwrap(), [(appended[7].offset, appended[7].hash)]);
}
