//! The projection worker: folds events in offset order into every view, each view's tables and
//! checkpoint written in the same transaction; status and rebuild.

use std::time::Instant;

use rayon::prelude::*;

use mindlog_commands::{Event, PmmRecord};
use mindlog_ledger::redb::{ReadableTable, TableDefinition, TableHandle};
use mindlog_ledger::{
    DerivedWriteTxn, ERASED_KIND, Hash, Ledger, PayloadState, PublicKey, Snapshot, StorageError, StoredEvent,
};
use serde::{Deserialize, Serialize};

use crate::rows::{self, VIEWS, def};

/// Events folded per transaction. Large batches let rows touched many times (a persona's
/// counters) and leaves hit by random keys be written back once.
const BATCH: u64 = 131_072;

/// Events decoded in parallel at a time; BATCH is a multiple of it.
const DECODE_CHUNK: usize = 4096;

/// `view name → ViewMeta`.
const VIEW_META: TableDefinition<&str, &[u8]> = TableDefinition::new("view.meta");

/// One event, decoded once and handed to every fold.
#[derive(Debug)]
pub struct Decoded {
    /// The event's offset in this store: its place in arrival order (local, never signed).
    pub offset: u64,
    /// Event hash (the id of what it creates).
    pub hash: Hash,
    /// Whose feed the event is in: the key that signed it.
    pub author: PublicKey,
    /// Seq in the author's feed.
    pub seq: u64,
    /// The author's timestamp.
    pub ts: u64,
    /// The payload, or `None` for a kind this build does not know (or cannot decode).
    pub event: Option<Event>,
    /// The PMM record of an event imported from a Persistent Mind Model ledger (`pmm.*/1`).
    pub imported: Option<PmmRecord>,
    /// Whether the payload keeps its kind's state-free rules (`Event::check`). The folds see
    /// only events that do; one that does not is counted as ignored by its domain's view. An
    /// imported event (`imported`) has no `event` and reaches the folds: the persona fold checks
    /// the event each one stands for.
    pub valid: bool,
    /// Whether this store holds the payload as private (docs/format.md, §2a): local knowledge,
    /// the same on every rebuild of this store, not part of the signed event.
    pub private: bool,
}

/// What a fold did with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub(crate) enum Applied {
    /// It changed the view.
    Applied,
    /// It concerns this view but breaks a rule that needs the view (not the owner's, unknown
    /// target, already done): left out, and counted.
    Ignored,
    /// It does not concern this view.
    Irrelevant,
}

/// A view: its tables and how to fold events into them.
pub(crate) trait Projection: Sync {
    /// The view's name (`projections status`, `projections rebuild NAME`).
    fn name(&self) -> &'static str;
    /// The fold's version; a stored view of another version is rebuilt.
    fn version(&self) -> u32;
    /// The view's tables, in digest order.
    fn tables(&self) -> &'static [&'static str];
    /// Opens the view's tables in `txn` for folding.
    fn fold<'t>(&self, txn: &'t DerivedWriteTxn) -> Result<Box<dyn Fold + 't>, StorageError>;
}

/// A view's tables, open for folding in one transaction.
pub(crate) trait Fold {
    fn apply(&mut self, event: &Decoded) -> Result<Applied, StorageError>;
    /// Writes back cached rows; called before the transaction commits.
    fn finish(self: Box<Self>) -> Result<(), StorageError>;
}

/// Counters kept with each view.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ViewMeta {
    pub(crate) version: u32,
    /// Events of kinds this build does not know, or whose payload does not decode.
    pub(crate) unknown: u64,
    /// Events that concern the view but break its rules (their kind's state-free rules, or
    /// the view's).
    pub(crate) ignored: u64,
}

/// The name of a view's checkpoint and `view_meta` entry: `view.` ‖ its name.
pub(crate) fn meta_name(view: &str) -> String {
    format!("{}.{view}", VIEWS.name())
}

fn read_meta(txn: &DerivedWriteTxn, view: &str) -> Result<Option<ViewMeta>, StorageError> {
    let table = txn.open_table(VIEW_META)?;
    let value = table.get(view)?.map(|v| v.value().to_vec());
    value.map(|v| rows::decode(VIEW_META.name(), &v)).transpose()
}

fn write_meta(txn: &DerivedWriteTxn, view: &str, meta: &ViewMeta) -> Result<(), StorageError> {
    txn.open_table(VIEW_META)?.insert(view, rows::encode(meta).as_slice())?;
    Ok(())
}

/// Empties a view: its tables, counters and checkpoint.
fn reset(txn: &DerivedWriteTxn, p: &dyn Projection) -> Result<(), StorageError> {
    for table in p.tables() {
        txn.delete_table(def(table))?;
    }
    write_meta(txn, p.name(), &ViewMeta { version: p.version(), ..ViewMeta::default() })?;
    txn.set_checkpoint(&meta_name(p.name()), 0)
}

/// Decodes a stored event for the folds, and checks its payload's state-free rules.
pub(crate) fn decode_event(stored: &StoredEvent) -> Result<Decoded, StorageError> {
    let envelope = stored.as_ref().envelope()?;
    // An erased or withheld payload decodes to nothing: the views see that such an event happened
    // (its offset, author, time) but not what it said.
    let payload = stored.payload_bytes(&envelope);
    let event = payload.and_then(|p| Event::decode(envelope.kind, p).ok().flatten());
    let imported = payload.filter(|_| event.is_none()).and_then(|p| PmmRecord::decode(envelope.kind, p));
    let private = matches!(&stored.payload, PayloadState::Present(s) if s.private);
    let valid = event.as_ref().is_some_and(|e| e.check().is_ok());
    Ok(Decoded {
        offset: stored.offset,
        hash: stored.hash,
        author: envelope.author,
        seq: envelope.seq,
        ts: envelope.ts,
        event,
        imported,
        valid,
        private,
    })
}

/// What a catch-up did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CatchUpReport {
    /// Events read (each folded into every view that was behind it).
    pub events: u64,
    /// Wall-clock seconds the catch-up took.
    pub seconds: f64,
    /// Views rebuilt because their stored version differs from this build's.
    pub rebuilt: Vec<String>,
    /// Whether the views were folded again from the start because the events to fold held an
    /// erasure (`ledger.erased/1`) of payloads they may already have folded.
    pub refolded_for_erasure: bool,
}

/// Brings every view in `projections` up to the end of the log. `progress` gets
/// (events done, events to do).
/// Whether every view of `projections` is at the end of the log, in its current version: then a
/// catch-up has nothing to do, found out from a read transaction (no fold lock, no writer).
pub(crate) fn caught_up(ledger: &Ledger, projections: &[&dyn Projection]) -> Result<bool, StorageError> {
    let snapshot = ledger.snapshot()?;
    let end = snapshot.len()?;
    let Some(meta) = snapshot.derived_tables(VIEWS).open_table(VIEW_META)? else { return Ok(false) };
    let checkpoints: std::collections::HashMap<String, u64> = snapshot.checkpoints()?.into_iter().collect();
    for p in projections {
        let Some(row) = meta.get(p.name())? else { return Ok(false) };
        let view: ViewMeta = rows::decode(VIEW_META.name(), row.value())?;
        if view.version != p.version() || checkpoints.get(&meta_name(p.name())).copied().unwrap_or(0) < end {
            return Ok(false);
        }
    }
    Ok(true)
}

pub(crate) fn catch_up(
    ledger: &Ledger,
    projections: &[&dyn Projection],
    progress: &dyn Fn(u64, u64),
) -> Result<CatchUpReport, StorageError> {
    fold_into(&ledger.snapshot()?, ledger, projections, progress)
}

/// Brings every view in `projections` kept in `target`'s file up to the end of the log of
/// `snapshot`: `target` is the store itself (a catch-up) or an empty scratch store (the views
/// `verify --views` expects).
pub(crate) fn fold_into(
    snapshot: &Snapshot,
    target: &Ledger,
    projections: &[&dyn Projection],
    progress: &dyn Fn(u64, u64),
) -> Result<CatchUpReport, StorageError> {
    let started = Instant::now();
    let end = snapshot.len()?;
    let mut report = CatchUpReport::default();

    // Where each view stands; a view of another version starts again from nothing.
    let mut starts = Vec::with_capacity(projections.len());
    {
        let txn = target.begin_derived_write(VIEWS)?;
        let mut changed = false;
        for p in projections {
            let meta = read_meta(&txn, p.name())?;
            if meta.as_ref().is_none_or(|m| m.version != p.version()) {
                if meta.is_some() {
                    tracing::info!(view = p.name(), version = p.version(), "view version changed; rebuilding");
                    report.rebuilt.push(p.name().to_owned());
                }
                reset(&txn, *p)?;
                changed = true;
            }
            starts.push(txn.checkpoint(&meta_name(p.name()))?.min(end));
        }
        // An erasure among the events still to fold: the views may hold what the erased payloads
        // said, and a fold cannot take back a count or a running mean. They fold again from the
        // start, where the erased payloads no longer exist; so the result is what a rebuild gives.
        let first = starts.iter().copied().min().unwrap_or(end);
        if first > 0 && first < end && snapshot.kind_offsets(ERASED_KIND, first..=end - 1)?.next().is_some() {
            tracing::info!("an erasure since the views' checkpoints; folding them again from the start");
            for (p, start) in projections.iter().zip(&mut starts) {
                reset(&txn, *p)?;
                *start = 0;
            }
            report.refolded_for_erasure = true;
            changed = true;
        }
        if changed {
            txn.commit()?;
        }
    }

    let Some(&first) = starts.iter().min() else { return Ok(report) };
    let total = end - first;

    // Two stages: a reader thread reads chunks in offset order and decodes each on every core;
    // this thread folds them in order, committing every BATCH events. Batches start at `first`
    // and are whole chunks, so a chunk never straddles a commit.
    let (chunks, decoded_chunks) = std::sync::mpsc::sync_channel::<Result<Vec<Decoded>, StorageError>>(4);
    std::thread::scope(|scope| -> Result<(), StorageError> {
        scope.spawn(move || {
            let read = || -> Result<(), StorageError> {
                let mut events = snapshot.events(first..end)?;
                loop {
                    let chunk: Vec<StoredEvent> = events.by_ref().take(DECODE_CHUNK).collect::<Result<_, _>>()?;
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    let decoded = chunk.into_par_iter().map(|e| decode_event(&e)).collect::<Result<Vec<_>, _>>();
                    if chunks.send(decoded).is_err() {
                        return Ok(()); // the folding side stopped; its error is reported there
                    }
                }
            };
            if let Err(e) = read() {
                let _ = chunks.send(Err(e));
            }
        });

        let mut from = first;
        while from < end {
            let to = (from + BATCH).min(end);
            let txn = target.begin_derived_write(VIEWS)?;
            {
                let behind: Vec<usize> = (0..projections.len()).filter(|&i| starts[i] < to).collect();
                let mut folds = Vec::with_capacity(behind.len());
                let mut metas = Vec::with_capacity(behind.len());
                for &i in &behind {
                    folds.push(projections[i].fold(&txn)?);
                    metas.push(read_meta(&txn, projections[i].name())?.unwrap_or_default());
                }
                let mut at = from;
                while at < to {
                    let chunk = decoded_chunks
                        .recv()
                        .map_err(|_| StorageError::Other("the event reader stopped early".into()))??;
                    at += chunk.len() as u64;
                    for decoded in chunk {
                        for (slot, &i) in behind.iter().enumerate() {
                            if decoded.offset < starts[i] {
                                continue;
                            }
                            match &decoded.event {
                                None if decoded.imported.is_none() => {
                                    metas[slot].unknown += 1;
                                    continue;
                                }
                                // Breaks its kind's state-free rules: ignored by its domain's view.
                                Some(event) if !decoded.valid => {
                                    if event.domain() == projections[i].name() {
                                        metas[slot].ignored += 1;
                                    }
                                    continue;
                                }
                                _ => {}
                            }
                            if folds[slot].apply(&decoded)? == Applied::Ignored {
                                metas[slot].ignored += 1;
                            }
                        }
                        report.events += 1;
                    }
                }
                for ((fold, meta), &i) in folds.into_iter().zip(&metas).zip(&behind) {
                    fold.finish()?;
                    write_meta(&txn, projections[i].name(), meta)?;
                    txn.set_checkpoint(&meta_name(projections[i].name()), to)?;
                }
            }
            txn.commit()?;
            for start in &mut starts {
                *start = (*start).max(to);
            }
            progress(to - first, total);
            from = to;
        }
        drop(decoded_chunks);
        Ok(())
    })?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Empties the views, so the next catch-up folds them again from offset 0.
pub(crate) fn clear(ledger: &Ledger, projections: &[&dyn Projection]) -> Result<(), StorageError> {
    let txn = ledger.begin_derived_write(VIEWS)?;
    for p in projections {
        reset(&txn, *p)?;
    }
    txn.commit()?;
    Ok(())
}

/// One view's state.
#[derive(Clone, Debug, Serialize)]
pub struct ViewStatus {
    /// The view.
    pub view: String,
    /// Its fold's version.
    pub version: u32,
    /// The next offset it will fold.
    pub checkpoint: u64,
    /// Events in the log it has not folded yet.
    pub lag: u64,
    /// Rows across its tables.
    pub rows: u64,
    /// blake3 over its tables (see `rows::digest`): equal digests, identical views.
    pub digest: Hash,
    /// Events of unknown kinds (or undecodable payloads) it skipped.
    pub unknown: u64,
    /// Events it left out because they break its rules.
    pub ignored: u64,
}

pub(crate) fn status(ledger: &Ledger, projections: &[&dyn Projection]) -> Result<Vec<ViewStatus>, StorageError> {
    status_in(&ledger.snapshot()?, projections)
}

/// The status of the views kept in `snapshot`'s file.
pub(crate) fn status_in(snapshot: &Snapshot, projections: &[&dyn Projection]) -> Result<Vec<ViewStatus>, StorageError> {
    let end = snapshot.len()?;
    let checkpoints: std::collections::HashMap<String, u64> = snapshot.checkpoints()?.into_iter().collect();
    let txn = snapshot.derived_tables(VIEWS);
    let metas = txn.open_table(VIEW_META)?;
    let mut out = Vec::new();
    for p in projections {
        let meta: ViewMeta = match &metas {
            Some(t) => match t.get(p.name())? {
                Some(v) => rows::decode(VIEW_META.name(), v.value())?,
                None => ViewMeta::default(),
            },
            None => ViewMeta::default(),
        };
        let checkpoint = checkpoints.get(&meta_name(p.name())).copied().unwrap_or(0);
        let (digest, rows) = rows::digest(txn, p.tables())?;
        out.push(ViewStatus {
            view: p.name().to_owned(),
            version: meta.version,
            checkpoint,
            lag: end.saturating_sub(checkpoint),
            rows,
            digest,
            unknown: meta.unknown,
            ignored: meta.ignored,
        });
    }
    Ok(out)
}
