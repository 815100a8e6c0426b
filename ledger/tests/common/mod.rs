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
