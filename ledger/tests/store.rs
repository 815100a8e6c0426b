//! The store end to end: append, group commit, verify, export/import, and every way a bad
//! input or a tampered byte must be caught.

#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use mindlog_ledger::redb::{self, ReadableDatabase, ReadableTable};
use mindlog_ledger::{
    AppendError, Draft, Envelope, EnvelopeError, EventError, Expect, FORMAT_VERSION, Hash, Identity, ImportError,
    Ledger, OpenError, PublicKey, SignedEvent, hash_envelope_bytes, verify_batch,
};
use proptest::prelude::*;

const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");
const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");

fn draft(i: u64) -> Draft {
    Draft {
        kind: if i.is_multiple_of(3) { "note.added/1".into() } else { "persona.traits-changed/1".into() },
        payload: format!("event number {i} with some text to make it longer").into_bytes(),
        refs: vec![],
        ts: 1_767_225_600_000_000 + i * 1000,
        private: false,
    }
}

fn identity(n: u8) -> Identity {
    Identity::from_secret(&[n; 32])
}

/// A store with `authors` feeds of `per_author` events, interleaved.
fn populated(dir: &Path, authors: u8, per_author: u64) -> Ledger {
    let ledger = Ledger::create(&dir.join("mind.redb")).unwrap();
    for i in 0..per_author {
        for a in 0..authors {
            ledger.append_one(&identity(a + 1), draft(i * authors as u64 + a as u64)).unwrap();
        }
    }
    ledger
}

fn export(ledger: &Ledger) -> Vec<u8> {
    let mut out = Vec::new();
    ledger
        .export_jsonl(&mindlog_ledger::ExportOptions { include_private: true, ..Default::default() }, &mut out, &|_| {})
        .unwrap();
    out
}

fn import(ledger: &Ledger, text: &[u8]) -> Result<mindlog_ledger::ImportReport, ImportError> {
    ledger.import_jsonl(&mut Cursor::new(text), &|_| {})
}

#[test]
fn append_verify_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = populated(dir.path(), 3, 4);
    let snapshot = ledger.snapshot().unwrap();
    assert_eq!(snapshot.len().unwrap(), 12);
    assert_eq!(snapshot.heads().unwrap().len(), 3);
    let head = snapshot.head(&identity(1).public_key()).unwrap().unwrap();
    assert_eq!(head.seq, 4);
    let feed: Vec<_> = snapshot.feed(&identity(2).public_key(), 1..=u64::MAX).unwrap().map(Result::unwrap).collect();
    assert_eq!(feed.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let notes: Vec<_> = snapshot.kind_offsets("note.added/1", 0..=u64::MAX).unwrap().map(Result::unwrap).collect();
    assert_eq!(notes, vec![0, 3, 6, 9]);
    let counts = snapshot.kind_counts().unwrap();
    assert_eq!(counts, vec![("note.added/1".into(), 4), ("persona.traits-changed/1".into(), 8)]);
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.events, report.feeds), (12, 3));
}

#[test]
fn expected_head_conflicts_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = populated(dir.path(), 1, 2);
    let me = identity(1);
    let err = ledger.append(&me, vec![draft(9)], Expect::Head(1)).unwrap_err();
    assert!(matches!(err, AppendError::Conflict { expected: 1, found: 2, .. }), "{err}");
    let ok = ledger.append(&me, vec![draft(9), draft(10)], Expect::Head(2)).unwrap();
    assert_eq!(ok.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![3, 4]);
    let bad = Draft { kind: "Not A Kind".into(), ..draft(11) };
    assert!(matches!(ledger.append(&me, vec![draft(11), bad], Expect::Any), Err(AppendError::Invalid(_))));
    assert_eq!(ledger.snapshot().unwrap().len().unwrap(), 4, "a refused append writes nothing");
}

#[test]
fn concurrent_appenders_share_commits_and_never_fork() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::create(&dir.path().join("mind.redb")).unwrap());
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let ledger = Arc::clone(&ledger);
            std::thread::spawn(move || {
                // Two threads per author: appends to one feed race each other.
                let me = identity(t % 4 + 1);
                (0..25).map(|i| ledger.append_one(&me, draft(i)).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut appended: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    appended.sort_by_key(|a| a.offset);
    assert_eq!(appended.iter().map(|a| a.offset).collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    assert!(report.feed_reports.iter().all(|f| f.events == 50 && f.last_seq == 50));
}

#[test]
fn export_import_export_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let source = populated(&dir.path().join("a").tap_mkdir(), 3, 5);
    let first = export(&source);
    let copy = Ledger::create(&dir.path().join("b").tap_mkdir().join("mind.redb")).unwrap();
    let report = import(&copy, &first).unwrap();
    assert_eq!((report.lines, report.stored, report.skipped), (15, 15, 0));
    assert_eq!(export(&copy), first);
    // Importing again skips everything and changes nothing.
    let again = import(&copy, &first).unwrap();
    assert_eq!((again.stored, again.skipped), (0, 15));
    assert_eq!(export(&copy), first);
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}
impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// Every bad-line case: the error names the line and the reason, and the store is untouched.
#[test]
fn import_refuses_each_kind_of_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let source = populated(&dir.path().join("src").tap_mkdir(), 2, 3);
    let good = String::from_utf8(export(&source)).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let me = identity(1);
    let other_event = |seq: u64, prev| {
        let draft = Draft {
            kind: "note.added/1".into(),
            payload: b"a different event".to_vec(),
            refs: vec![],
            ts: 5,
            private: false,
        };
        let event = draft.seal(me.public_key(), seq, prev, [9; 32]).unwrap().sign(&me);
        mindlog_ledger::render_line(
            event.envelope(),
            event.bytes(),
            event.hash(),
            event.signature(),
            event.payload_state(),
        )
    };
    // Feed of author 1 is lines 0, 2, 4 (seqs 1, 2, 3).
    let head_hash = source.head(&me.public_key()).unwrap().hash;
    let cases: Vec<(&str, Vec<String>, u64, &str)> = vec![
        ("malformed json", vec![lines[0].into(), "{not json".into()], 2, "malformed"),
        ("unknown member", vec![lines[0].replacen('{', "{\"extra\":1,", 1)], 1, "malformed"),
        ("bad hash", vec![lines[0].replacen(&lines[0][9..13], "0000", 1)], 1, "hash mismatch"),
        ("bad signature", vec![flip_signature(lines[0])], 1, "bad signature"),
        (
            "bad signature after good lines",
            vec![lines[0].into(), lines[1].into(), flip_signature(lines[2]), lines[3].into()],
            3,
            "bad signature",
        ),
        ("edited field", vec![lines[0].replacen("\"seq\":1", "\"seq\":7", 1)], 1, "do not match"),
        ("gap", vec![lines[0].into(), lines[4].into()], 2, "gap"),
        (
            "broken link",
            vec![
                lines[0].into(),
                lines[2].into(),
                lines[4].into(),
                other_event(4, Some(mindlog_ledger::Hash([9; 32]))),
            ],
            4,
            "broken link",
        ),
        ("wrong prev", vec![lines[0].into(), other_event(2, Some(head_hash))], 2, "broken link"),
        ("fork at held seq", vec![lines[0].into(), lines[2].into(), other_event(2, Some(head_hash))], 3, "fork"),
        ("bad base64", vec![lines[0].replacen("\"signed\":\"", "\"signed\":\"!", 1)], 1, "base64"),
    ];
    let target = Ledger::create(&dir.path().join("dst").tap_mkdir().join("mind.redb")).unwrap();
    import(&target, lines[1].as_bytes()).unwrap(); // one event of author 2 already held
    let before = export(&target);
    for (name, input, line, reason) in cases {
        let text = input.join("\n") + "\n";
        let err = import(&target, text.as_bytes()).unwrap_err();
        match &err {
            ImportError::Line { line: at, .. } => assert_eq!(*at, line, "{name}: {err}"),
            other => panic!("{name}: expected a line error, got {other}"),
        }
        assert!(err.to_string().contains(reason), "{name}: {err}");
        assert_eq!(export(&target), before, "{name}: the store must be unchanged");
    }
}

#[test]
fn verify_batch_names_each_bad_event_and_passes_the_good_ones() {
    let me = identity(1);
    let signed: Vec<SignedEvent> = (1..=6u64)
        .scan(None, |prev, seq| {
            let draft =
                Draft { kind: "note.added/1".into(), payload: vec![seq as u8], refs: vec![], ts: seq, private: false };
            let event = draft.seal(me.public_key(), seq, *prev, [seq as u8; 32]).unwrap().sign(&me);
            *prev = Some(event.hash());
            Some(SignedEvent {
                bytes: event.bytes().to_vec(),
                signature: event.signature(),
                payload: event.payload_state().clone(),
            })
        })
        .collect();
    let mut input = signed.clone();
    input[1].signature.0[0] ^= 1;
    input[2].signature = input[3].signature; // a good signature, over another event
    input[4].bytes[1..33].copy_from_slice(&[0; 32]); // an author key that is not a point
    input[5].bytes.push(0);
    let outcome: Vec<Result<Hash, EventError>> = verify_batch(input).into_iter().map(|r| r.map(|e| e.hash())).collect();
    assert_eq!(
        outcome,
        vec![
            Ok(hash_envelope_bytes(&signed[0].bytes)),
            Err(EventError::BadSignature),
            Err(EventError::BadSignature),
            Ok(hash_envelope_bytes(&signed[3].bytes)),
            Err(EventError::BadAuthorKey(PublicKey([0; 32]))),
            Err(EventError::Envelope(EnvelopeError::NonCanonical)),
        ]
    );
}

fn flip_signature(line: &str) -> String {
    let at = line.find("\"signature\":\"").unwrap() + 13;
    let mut bytes = line.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_newer_store_format_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    drop(Ledger::create(&path).unwrap());
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META).unwrap().insert("store_format", 5).unwrap();
        txn.commit().unwrap();
    }
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, OpenError::NewerFormat { found: 5, supported: 4, .. }), "{err}");
    assert!(err.to_string().contains("newer mindlog"), "{err}");
}

#[test]
fn a_format_one_store_is_upgraded_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    {
        // Two format-1 events, as an older mindlog wrote them.
        let ledger = Ledger::create(&path).unwrap();
        let me = identity(1);
        let mut prev = None;
        for seq in 1..=2 {
            let env = Envelope {
                version: 1,
                author: me.public_key(),
                seq,
                prev,
                ts: seq,
                kind: "note.added/1".into(),
                refs: vec![],
                body: mindlog_ledger::Body::Inline(vec![seq as u8]),
            };
            let event =
                mindlog_ledger::SealedEnvelope::new(env, mindlog_ledger::PayloadState::Inline).unwrap().sign(&me);
            prev = Some(event.hash());
            ledger.ingest(&[event]).unwrap();
        }
    }
    {
        // What an older mindlog left: store format 1, no `payloads` table, no `feed_tree`.
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.delete_table(redb::TableDefinition::<u64, &[u8]>::new("payloads")).unwrap();
        txn.delete_table(redb::TableDefinition::<&[u8; 41], &[u8]>::new("feed_tree")).unwrap();
        txn.open_table(META).unwrap().insert("store_format", 1).unwrap();
        txn.commit().unwrap();
    }
    let ledger = Ledger::open(&path).unwrap();
    ledger.append_one(&identity(1), draft(99)).unwrap();
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.payloads.inline, report.payloads.present), (2, 1));
    // The upgrade built the feed's tree, and the append after it extended it.
    let snapshot = ledger.snapshot().unwrap();
    let leaves: Vec<_> =
        (0..3).map(|o| mindlog_ledger::tlog::leaf_hash(&snapshot.event(o).unwrap().unwrap().hash.0)).collect();
    let mut tree = snapshot.feed_tree(&identity(1).public_key()).unwrap();
    assert_eq!(mindlog_ledger::tlog::tree_root(&mut tree, 3).unwrap(), mindlog_ledger::tlog::root(&leaves));
    drop((tree, snapshot, ledger));
    let db = redb::Database::open(&path).unwrap();
    let format = db.begin_read().unwrap().open_table(META).unwrap().get("store_format").unwrap().unwrap().value();
    assert_eq!(format, 4);
}

#[test]
fn a_format_three_store_is_reindexed_when_opened() {
    const TREE: redb::TableDefinition<&[u8; 41], &[u8]> = redb::TableDefinition::new("feed_tree");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    let me = identity(1);
    {
        let ledger = Ledger::create(&path).unwrap();
        for n in 0..300 {
            ledger.append_one(&me, draft(n)).unwrap();
        }
        drop(ledger.snapshot().unwrap()); // indexes what the appends left unindexed
    }
    let level_zero = |key: &[u8; 41]| key[32] == 0;
    {
        // Format 3 kept the leaf hashes as level-0 tiles beside level 1.
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut tree = txn.open_table(TREE).unwrap();
            let keys: Vec<[u8; 41]> = tree.iter().unwrap().map(|e| *e.unwrap().0.value()).collect();
            assert!(keys.iter().all(|k| k[32] == 1) && !keys.is_empty(), "format 4 keeps level 1 only");
            let mut key = keys[0];
            key[32] = 0;
            tree.insert(&key, [7u8; 32 * 256].as_slice()).unwrap();
            txn.open_table(META).unwrap().insert("store_format", 3).unwrap();
        }
        // Format 3's feed and kind indexes were keyed by the author and the kind's name.
        for name in ["event_by_feed", "event_by_kind", "feed_numbers", "kind_numbers"] {
            txn.delete_table(redb::TableDefinition::<&[u8], ()>::new(name)).unwrap();
        }
        let old_feed = redb::TableDefinition::<&[u8; 40], u64>::new("event_by_feed");
        txn.open_table(old_feed).unwrap().insert(&[1u8; 40], 0).unwrap();
        let old_kind = redb::TableDefinition::<&[u8], ()>::new("event_by_kind");
        txn.open_table(old_kind).unwrap().insert(b"note.added/1\0\0\0\0\0\0\0\0\0".as_slice(), ()).unwrap();
        txn.commit().unwrap();
    }
    let ledger = Ledger::open(&path).unwrap();
    let report = ledger.verify(&|_| {}).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(ledger.snapshot().unwrap().feed(&me.public_key(), 1..=300).unwrap().count(), 300);
    let snapshot = ledger.snapshot().unwrap();
    let leaves: Vec<_> =
        (0..300).map(|o| mindlog_ledger::tlog::leaf_hash(&snapshot.event(o).unwrap().unwrap().hash.0)).collect();
    let mut tree = snapshot.feed_tree(&me.public_key()).unwrap();
    for size in [1, 255, 256, 257, 300] {
        assert_eq!(
            mindlog_ledger::tlog::tree_root(&mut tree, size).unwrap(),
            mindlog_ledger::tlog::root(&leaves[..size as usize])
        );
    }
    drop((tree, snapshot, ledger));
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    assert_eq!(txn.open_table(META).unwrap().get("store_format").unwrap().unwrap().value(), 4);
    let tree = txn.open_table(TREE).unwrap();
    assert!(!tree.iter().unwrap().any(|e| level_zero(e.unwrap().0.value())), "the level-0 tile is deleted");
}

/// Rewrites the stored record at `offset` with one byte changed.
fn tamper(path: &Path, offset: u64, index: usize, xor: u8) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(EVENTS).unwrap();
        let mut record = table.get(offset).unwrap().unwrap().value().to_vec();
        record[index] ^= xor;
        table.insert(offset, record.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

fn record_len(path: &Path, offset: u64) -> usize {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    txn.open_table(EVENTS).unwrap().get(offset).unwrap().unwrap().value().len()
}

/// Every byte of a stored event, changed, is caught by verify and attributed to the right place.
#[test]
fn verify_catches_every_single_byte_change_of_a_stored_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mind.redb");
    drop(populated(dir.path(), 2, 3));
    let offset = 2; // author 1, seq 2: a middle event with a successor
    for index in 0..record_len(&path, offset) {
        tamper(&path, offset, index, 0x01);
        let report = Ledger::open(&path).unwrap().verify(&|_| {}).unwrap();
        assert!(!report.ok, "byte {index} changed, verify passed");
        let located = report.feed_reports.iter().filter_map(|f| f.first_failure.as_ref()).any(|f| f.offset == offset)
            || report.unattributed.iter().any(|f| f.offset == offset);
        assert!(located, "byte {index}: failure not reported at offset {offset}: {report:?}");
        tamper(&path, offset, index, 0x01); // restore
    }
    assert!(Ledger::open(&path).unwrap().verify(&|_| {}).unwrap().ok);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any valid envelope survives encode → decode unchanged.
    #[test]
    fn envelope_round_trip(
        seq in 1u64..u64::MAX,
        prev in any::<[u8; 32]>(),
        ts in 0u64..=mindlog_ledger::MAX_TIMESTAMP_MICROS,
        kind in "[a-z][a-z0-9._-]{0,20}/[1-9][0-9]{0,3}",
        refs in proptest::collection::vec(any::<[u8; 32]>(), 0..4),
        payload in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let env = Envelope {
            version: if seq % 2 == 0 { 1 } else { FORMAT_VERSION },
            author: identity(1).public_key(),
            seq,
            prev: (seq > 1).then_some(mindlog_ledger::Hash(prev)),
            ts,
            kind,
            refs: refs.into_iter().map(mindlog_ledger::Hash).collect(),
            body: if seq % 2 == 0 {
                mindlog_ledger::Body::Inline(payload)
            } else {
                mindlog_ledger::Body::Committed { size: payload.len() as u64, commitment: mindlog_ledger::Hash(prev) }
            },
        };
        let bytes = env.encode();
        prop_assert_eq!(bytes.len(), env.encoded_len());
        prop_assert_eq!(Envelope::decode(&bytes).unwrap(), env);
    }

    /// Any single-byte change of any exported line is refused by import, naming that line,
    /// and leaves the store as it was.
    #[test]
    fn import_catches_every_single_byte_change_of_a_line(line_pick in 0usize..6, position in any::<prop::sample::Index>(), replacement in any::<u8>()) {
        let dir = tempfile::tempdir().unwrap();
        let source = populated(&dir.path().join("src").tap_mkdir(), 2, 3);
        let text = export(&source);
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let mut line = lines[line_pick].to_vec();
        let at = position.index(line.len());
        prop_assume!(line[at] != replacement);
        line[at] = replacement;
        let mut input = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            input.extend_from_slice(if i == line_pick { &line } else { l });
            input.push(b'\n');
        }
        let target = Ledger::create(&dir.path().join("dst").tap_mkdir().join("mind.redb")).unwrap();
        let err = import(&target, &input).unwrap_err();
        let ImportError::Line { line: at_line, .. } = &err else { panic!("expected a line error: {err}") };
        // A newline written into the line splits it; the first half is still line `line_pick + 1`.
        prop_assert_eq!(*at_line, line_pick as u64 + 1, "{}", err);
        prop_assert_eq!(target.snapshot().unwrap().len().unwrap(), 0);
    }
}
