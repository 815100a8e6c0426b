//! A persona's timeline: the events of its owner's feed that are about it (its creation or fork,
//! and every event that names it), in feed order, decoded.

use mindlog_commands::{Event, Instant, Micros};
use mindlog_ledger::{Hash, PublicKey};
use serde::Serialize;

use crate::{ProjectionError, Projections};

/// One event of a persona's timeline.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEvent {
    /// Local offset in this store.
    pub offset: u64,
    /// Position in the owner's feed.
    pub seq: u64,
    /// The owner's timestamp.
    pub ts: Instant,
    /// The event's hash.
    pub hash: Hash,
    /// Its kind, e.g. `memory.added/1`.
    pub kind: String,
    /// The events it names.
    pub refs: Vec<Hash>,
    /// Its payload's size in bytes.
    pub payload_size: usize,
    /// The decoded payload; `None` for a kind this build does not know.
    pub event: Option<Event>,
}

impl Projections {
    /// The events of `persona`'s owner that are about it, stamped in `since..=until`, in feed
    /// order; `Ok(None)` for a persona this store does not hold. Only the owner's events change a
    /// persona, so only the owner's feed is read.
    pub fn persona_timeline(
        &self,
        persona: &Hash,
        since: Micros,
        until: Micros,
    ) -> Result<Option<(PublicKey, Vec<TimelineEvent>)>, ProjectionError> {
        let Some(row) = self.views()?.persona_row(persona)? else { return Ok(None) };
        let snapshot = self.ledger.snapshot()?;
        let mut out = Vec::new();
        for entry in snapshot.feed(&row.owner, 1..=u64::MAX)? {
            let (_, offset) = entry?;
            let Some(stored) = snapshot.event(offset)? else { break };
            let envelope = stored.envelope().map_err(|source| ProjectionError::Damaged { offset, source })?;
            let about = stored.hash == *persona || envelope.refs.contains(persona);
            if !about || envelope.ts < since || envelope.ts > until {
                continue;
            }
            out.push(TimelineEvent {
                offset,
                seq: envelope.seq,
                ts: Instant(envelope.ts),
                hash: stored.hash,
                event: Event::decode(&envelope.kind, &envelope.payload).ok().flatten(),
                kind: envelope.kind,
                refs: envelope.refs,
                payload_size: envelope.payload.len(),
            });
        }
        Ok(Some((row.owner, out)))
    }
}
