//! Helpers shared by the ledger's format-2 tests.

#![allow(dead_code, clippy::unwrap_used)]

use mindlog_ledger::{Body, Draft, Envelope, Hash, Identity, PayloadState, SealedEnvelope, VerifiedEvent};

/// 2026-01-01T00:00:00Z.
pub(crate) const TS: u64 = 1_767_225_600_000_000;

/// A note with `text` as its payload, private or not.
pub(crate) fn draft(text: &str, private: bool) -> Draft {
    Draft { kind: "note.added/1".into(), payload: text.as_bytes().to_vec(), refs: vec![], ts: TS, private }
}

/// A format-1 event, as an older mindlog wrote it.
pub(crate) fn format_one(id: &Identity, seq: u64, prev: Option<Hash>, text: &str) -> VerifiedEvent {
    let envelope = Envelope {
        version: 1,
        author: id.public_key(),
        seq,
        prev,
        ts: TS + seq,
        kind: "note.added/1".into(),
        refs: vec![],
        body: Body::Inline(text.as_bytes().to_vec()),
    };
    SealedEnvelope::new(envelope, PayloadState::Inline).unwrap().sign(id)
}

/// Bytes from hex (docs/format.md's vectors).
pub(crate) fn hex(text: &str) -> Vec<u8> {
    assert_eq!(text.len() % 2, 0, "hex of odd length: {text}");
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// The envelope a vector block of docs/format.md describes (§8's keys `seq`, `prev`, `ts`,
/// `kind`, `refs`), with `body`; checked against the block's `envelope` bytes both ways.
pub(crate) fn vector_envelope(
    v: &std::collections::HashMap<String, String>,
    version: u8,
    author: mindlog_ledger::PublicKey,
    body: Body<Vec<u8>>,
    what: &str,
) -> Envelope {
    let envelope = Envelope {
        version,
        author,
        seq: v["seq"].parse().unwrap(),
        prev: (v["prev"] != "none").then(|| v["prev"].parse().unwrap()),
        ts: v["ts"].parse().unwrap(),
        kind: v["kind"].clone(),
        refs: if v["refs"] == "none" { vec![] } else { v["refs"].split(',').map(|r| r.parse().unwrap()).collect() },
        body,
    };
    let bytes = hex(&v["envelope"]);
    assert_eq!(envelope.encode(), bytes, "{what}: envelope");
    assert_eq!(Envelope::decode(&bytes).unwrap(), envelope, "{what}: decoding");
    envelope
}
