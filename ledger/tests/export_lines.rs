//! `Ledger::export_lines` with a filter answers from the indexes as far as they reach and reads
//! the unindexed tail in order: the same lines, offsets and resume points as reading every record.

#![allow(clippy::unwrap_used)]

use mindlog_ledger::{Draft, Expect, Identity, Ledger, LineFilter};

/// What a filtered read gives: (offset, line) pairs and the offset to go on from.
fn read(ledger: &Ledger, from: u64, filter: &LineFilter, limit: u64) -> (Vec<(u64, Vec<u8>)>, u64) {
    let mut lines = Vec::new();
    let next = ledger
        .export_lines(from..u64::MAX, filter, limit, &mut |l| {
            lines.push((l.offset, l.line.to_vec()));
            true
        })
        .unwrap();
    (lines, next)
}

/// The same, by reading every line and keeping those the filter admits.
fn brute(ledger: &Ledger, from: u64, filter: &LineFilter, limit: u64) -> (Vec<(u64, Vec<u8>)>, u64) {
    let mut lines = Vec::new();
    let mut next = ledger
        .export_lines(from..u64::MAX, &LineFilter::default(), u64::MAX, &mut |l| {
            if lines.len() as u64 >= limit {
                return false;
            }
            if filter.admits(&l.author, l.kind) {
                lines.push((l.offset, l.line.to_vec()));
            }
            true
        })
        .unwrap();
    if lines.len() as u64 >= limit {
        next = lines.last().unwrap().0 + 1;
    }
    (lines, next)
}

#[test]
fn a_filtered_read_from_the_indexes_equals_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let authors: Vec<Identity> = (0..3).map(|_| Identity::generate().unwrap()).collect();
    // Single appends index in batches of 1,024: 2,600 events leave an unindexed tail.
    for i in 0..2600u64 {
        let author = &authors[(i % 3) as usize];
        let kind = if i % 5 == 0 { "note.pinned/1" } else { "note.added/1" };
        let draft = Draft {
            kind: kind.into(),
            payload: format!("n{i}").into_bytes(),
            refs: vec![],
            ts: 1_767_225_600_000_000 + i,
            private: false,
        };
        ledger.append(author, vec![draft], Expect::Any).unwrap();
    }
    let filters = [
        LineFilter { author: Some(authors[1].public_key()), kind: None },
        LineFilter { author: None, kind: Some("note.pinned/1".into()) },
        LineFilter { author: Some(authors[2].public_key()), kind: Some("note.pinned/1".into()) },
    ];
    for filter in &filters {
        for (from, limit) in [(0, u64::MAX), (0, 7), (500, 300), (1023, 1), (2047, 50), (2590, 100), (2600, 5)] {
            let (got, want) = (read(&ledger, from, filter, limit), brute(&ledger, from, filter, limit));
            assert_eq!(got.0.len(), want.0.len(), "{filter:?} from {from} limit {limit}");
            assert!(got.0 == want.0, "{filter:?} from {from} limit {limit}: the lines differ");
            assert_eq!(got.1, want.1, "{filter:?} from {from} limit {limit}: the next offset");
        }
    }
}
