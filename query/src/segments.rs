//! Columnar segments: sealed ranges of the log kept column by column, as Parquet, in derived
//! tables of the store itself, so a scan of `events` reads only the columns it needs.
//!
//! Every [`SEGMENT_EVENTS`] events of the log, from offset 0, become one segment once all of
//! them are stored: `columnar.segments` maps the segment's first offset to a Parquet file (one
//! row group, ZSTD) of the columns of `events` but `payload`, and `columnar.stats` to what the
//! scan prunes by (its time range, and its authors and kinds when there are few). The
//! checkpoint `columnar.sealed` is the offset after the last segment; `columnar.meta`'s
//! `format` the version of the layout ([`FORMAT`]): a store holding another is sealed again
//! from 0. A scan trusts only the segments that follow each other from offset 0 and end within
//! the log; `check` reports anything else.
//!
//! A segment holds only what the signature fixes (offset aside, which never changes either),
//! never a payload: the payload is the one thing an erasure changes, and it stays in one place
//! (`payloads`), so an erasure never touches a segment, and a forgotten text is never copied
//! here. A scan that shows `payload` reads the rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::{and, concat_batches, filter_record_batch, or};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use mindlog_ledger::redb::TableDefinition;
use mindlog_ledger::{Ledger, Namespace, Snapshot, StorageError};
use serde::{Deserialize, Serialize};

use crate::cells::schema;
use crate::events::{AUTHOR, COLUMNS, KIND, RowFilter, TS, decode, storage};

/// Events in a segment.
pub const SEGMENT_EVENTS: u64 = 16_384;

/// The columns a segment holds: every column of `events` before `payload`.
pub(crate) const KEPT: usize = crate::events::PAYLOAD;

/// The version of the segments' layout (columns, encoding, stats).
pub(crate) const FORMAT: u64 = 1;

const NAMESPACE: Namespace = Namespace::new("columnar");
const SEGMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("columnar.segments");
const STATS: TableDefinition<u64, &[u8]> = TableDefinition::new("columnar.stats");
const META: TableDefinition<&str, u64> = TableDefinition::new("columnar.meta");
const SEALED: &str = "columnar.sealed";
const FORMAT_KEY: &str = "format";

/// Authors or kinds a segment lists, at most: beyond that it lists none, and the scan reads the
/// column to know.
const LISTED: usize = 64;

/// What a segment holds, for pruning and for `stats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SegmentStats {
    /// Its first offset.
    pub(crate) first: u64,
    /// Its events.
    pub(crate) count: u64,
    /// The least and greatest `ts`.
    pub(crate) ts: (u64, u64),
    /// Its authors (canonical hex, sorted) with their events, if at most [`LISTED`].
    pub(crate) authors: Option<Vec<(String, u64)>>,
    /// Its kinds (sorted) with their events, if at most [`LISTED`].
    pub(crate) kinds: Option<Vec<(String, u64)>>,
    /// The Parquet file's bytes.
    pub(crate) bytes: u64,
}

impl SegmentStats {
    /// Whether a row of it may pass `filter` within `offsets` (inclusive).
    pub(crate) fn may_hold(&self, offsets: (u64, u64), filter: &RowFilter) -> bool {
        let overlaps = |(a, b): (u64, u64), (c, d): (u64, u64)| a <= d && c <= b;
        let any_of = |listed: &Option<Vec<(String, u64)>>, wanted: &Option<Vec<String>>| match (listed, wanted) {
            (Some(listed), Some(wanted)) => listed.iter().any(|(l, _)| wanted.contains(l)),
            _ => true,
        };
        overlaps((self.first, self.first + self.count - 1), offsets)
            && overlaps(self.ts, filter.ts)
            && any_of(&self.authors, &filter.authors)
            && any_of(&self.kinds, &filter.kinds)
    }

    /// Whether every value `listed` is one of `wanted` (so the column need not be read to know).
    fn all_pass(listed: &Option<Vec<(String, u64)>>, wanted: &Option<Vec<String>>) -> bool {
        match (listed, wanted) {
            (_, None) => true,
            (Some(listed), Some(wanted)) => listed.iter().all(|(l, _)| wanted.contains(l)),
            (None, Some(_)) => false,
        }
    }

    /// How many of its events are of one of `wanted`, when it lists them.
    fn count_of(listed: &Option<Vec<(String, u64)>>, wanted: &[String]) -> Option<u64> {
        Some(listed.as_ref()?.iter().filter(|(l, _)| wanted.contains(l)).map(|(_, n)| n).sum())
    }
}

/// What [`seal`] did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SealReport {
    /// Segments written now.
    pub written: u64,
    /// Segments in the store after it.
    pub segments: u64,
    /// Events they hold.
    pub events: u64,
    /// Their Parquet bytes.
    pub bytes: u64,
}

/// The layout version of the store's segments (`None`: never sealed) and its checkpoint: the
/// first offset no segment holds.
fn state(snapshot: &Snapshot) -> Result<(Option<u64>, u64), StorageError> {
    let format = match snapshot.derived_tables(NAMESPACE).open_table(META)? {
        Some(table) => table.get(FORMAT_KEY)?.map(|v| v.value()),
        None => None,
    };
    let sealed = snapshot.checkpoints()?.into_iter().find(|(n, _)| n == SEALED).map_or(0, |(_, v)| v);
    Ok((format, sealed))
}

/// A stats entry as stored: its key, and the stats or why they do not decode.
type StoredStats = (u64, Result<SegmentStats, String>);

/// Every stats entry as stored.
fn stored_stats(snapshot: &Snapshot) -> Result<Vec<StoredStats>, StorageError> {
    let Some(table) = snapshot.derived_tables(NAMESPACE).open_table(STATS)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in table.range::<u64>(..)? {
        let (key, value) = entry?;
        out.push((key.value(), postcard::from_bytes(value.value()).map_err(|e| e.to_string())));
    }
    Ok(out)
}

/// The segments a scan of `snapshot` may read, in order: those of this build's layout that
/// follow each other from offset 0, below the checkpoint and within the log (a damaged table
/// shortens the list, and the scan reads the rest as rows).
pub(crate) fn sealed(snapshot: &Snapshot) -> Result<Vec<SegmentStats>, StorageError> {
    let (format, sealed) = state(snapshot)?;
    if format != Some(FORMAT) {
        return Ok(Vec::new());
    }
    let end = sealed.min(snapshot.len()?);
    let mut out: Vec<SegmentStats> = Vec::new();
    for (key, stats) in stored_stats(snapshot)? {
        let expected = out.last().map_or(0, |s| s.first + s.count);
        match stats {
            Ok(s) if key == expected && s.first == key && s.count > 0 && key + s.count <= end => out.push(s),
            _ => break,
        }
    }
    Ok(out)
}

/// The Parquet bytes of the segment starting at `first`.
pub(crate) fn bytes(snapshot: &Snapshot, first: u64) -> Result<Bytes, StorageError> {
    let table = snapshot
        .derived_tables(NAMESPACE)
        .open_table(SEGMENTS)?
        .ok_or_else(|| StorageError::Other("the columnar segments table is missing".into()))?;
    let value = table.get(first)?.ok_or_else(|| StorageError::Other(format!("segment {first} is missing")))?;
    Ok(Bytes::copy_from_slice(value.value()))
}

/// The columns of a segment, as `events` has them.
fn kept_schema() -> SchemaRef {
    schema(&COLUMNS[..KEPT])
}

/// Builds the segment of `count` events from `first`: its Parquet bytes, its stats and its rows.
fn build(snapshot: &Snapshot, first: u64, count: u64) -> Result<(Vec<u8>, SegmentStats, RecordBatch)> {
    let schema = kept_schema();
    let projection: Vec<usize> = (0..KEPT).collect();
    let events = snapshot
        .events_without_payloads(first..first + count)
        .map_err(storage)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(storage)?;
    if events.len() as u64 != count {
        return Err(DataFusionError::Execution(format!("segment {first}: {} of {count} events read", events.len())));
    }
    let batches = decode(&events, &projection, &schema, &RowFilter::ALL, 8192)?;
    drop(events);
    let batch = concat_batches(&schema, &batches)?;
    let props = crate::parquet::writer_properties(SEGMENT_EVENTS as usize)?;
    let mut writer = ArrowWriter::try_new(Vec::new(), Arc::clone(&schema), Some(props))?;
    writer.write(&batch)?;
    let bytes = writer.into_inner()?;
    let stats = stats_of(first, &batch, bytes.len() as u64)?;
    Ok((bytes, stats, batch))
}

/// The stats of a segment's rows.
fn stats_of(first: u64, batch: &RecordBatch, bytes: u64) -> Result<SegmentStats> {
    let ts = batch
        .column(TS)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .ok_or_else(|| DataFusionError::Internal("ts is not a timestamp".into()))?;
    let min = datafusion::arrow::compute::min(ts).unwrap_or(0) as u64;
    let max = datafusion::arrow::compute::max(ts).unwrap_or(0) as u64;
    let listed = |column: usize| -> Result<Option<Vec<(String, u64)>>> {
        let values = strings(batch.column(column))?;
        let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
        for v in values.iter().flatten() {
            *seen.entry(v).or_default() += 1;
            if seen.len() > LISTED {
                return Ok(None);
            }
        }
        Ok(Some(seen.into_iter().map(|(v, n)| (v.to_owned(), n)).collect()))
    };
    Ok(SegmentStats {
        first,
        count: batch.num_rows() as u64,
        ts: (min, max),
        authors: listed(AUTHOR)?,
        kinds: listed(KIND)?,
        bytes,
    })
}

fn strings(array: &ArrayRef) -> Result<&StringArray> {
    array.as_any().downcast_ref::<StringArray>().ok_or_else(|| DataFusionError::Internal("not a text column".into()))
}

/// Seals every full range of [`SEGMENT_EVENTS`] events the store holds and no segment holds yet,
/// one transaction per segment (so an interruption loses at most the one being written).
/// `progress` gets (events sealed, events to seal).
pub fn seal(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<SealReport, crate::QueryError> {
    Ok(seal_new(ledger, progress)?)
}

fn seal_new(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<SealReport> {
    // One sealing at a time in a process (the node runs queries at once); another process's
    // is noticed by the checkpoint check below.
    static SEALING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SEALING.lock().unwrap_or_else(|e| e.into_inner());
    let mut report = SealReport::default();
    // A read first: nothing to write is the common case, and it takes no write lock.
    let snapshot = ledger.snapshot().map_err(storage)?;
    let len = snapshot.len().map_err(storage)?;
    let (format, checkpoint) = state(&snapshot).map_err(storage)?;
    drop(snapshot);
    let fresh = format != Some(FORMAT) || checkpoint > len || checkpoint % SEGMENT_EVENTS != 0;
    let mut next = if fresh { 0 } else { checkpoint };
    if next + SEGMENT_EVENTS > len && !(fresh && format.is_some()) {
        // Nothing to seal (and no stale layout to clear): write nothing.
        return totals(ledger, report);
    }
    if fresh {
        // Another layout, none yet, or a checkpoint the log does not explain: from offset 0.
        let txn = ledger.begin_derived_write(NAMESPACE).map_err(storage)?;
        txn.delete_table(SEGMENTS).map_err(storage)?;
        txn.delete_table(STATS).map_err(storage)?;
        txn.open_table(META).map_err(storage)?.insert(FORMAT_KEY, FORMAT).map_err(storage)?;
        txn.set_checkpoint(SEALED, 0).map_err(storage)?;
        txn.commit().map_err(storage)?;
    }
    let to_seal = (len - next) / SEGMENT_EVENTS * SEGMENT_EVENTS;
    let start = next;
    while next + SEGMENT_EVENTS <= len {
        progress(next - start, to_seal);
        let snapshot = ledger.snapshot().map_err(storage)?;
        let (bytes, stats, _) = build(&snapshot, next, SEGMENT_EVENTS)?;
        drop(snapshot);
        let txn = ledger.begin_derived_write(NAMESPACE).map_err(storage)?;
        let checkpoint = txn.checkpoint(SEALED).map_err(storage)?;
        if checkpoint != next {
            // Another process sealed meanwhile: go on from where it got to.
            next = checkpoint;
            continue;
        }
        let encoded = postcard::to_allocvec(&stats).map_err(|e| DataFusionError::External(Box::new(e)))?;
        txn.open_table(SEGMENTS).map_err(storage)?.insert(next, bytes.as_slice()).map_err(storage)?;
        txn.open_table(STATS).map_err(storage)?.insert(next, encoded.as_slice()).map_err(storage)?;
        txn.set_checkpoint(SEALED, next + SEGMENT_EVENTS).map_err(storage)?;
        txn.commit().map_err(storage)?;
        report.written += 1;
        next += SEGMENT_EVENTS;
    }
    if report.written > 0 {
        progress(to_seal, to_seal);
    }
    totals(ledger, report)
}

/// `report` with the segments the store holds now.
fn totals(ledger: &Ledger, mut report: SealReport) -> Result<SealReport> {
    let snapshot = ledger.snapshot().map_err(storage)?;
    for s in sealed(&snapshot).map_err(storage)? {
        report.segments += 1;
        report.events += s.count;
        report.bytes += s.bytes;
    }
    Ok(report)
}

/// Drops every segment and seals the store again from offset 0 (`projections rebuild`, `repair`).
pub fn reseal(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<SealReport, crate::QueryError> {
    Ok(reseal_all(ledger, progress)?)
}

fn reseal_all(ledger: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<SealReport> {
    let txn = ledger.begin_derived_write(NAMESPACE).map_err(storage)?;
    txn.delete_table(META).map_err(storage)?;
    txn.commit().map_err(storage)?;
    seal_new(ledger, progress)
}

/// What [`check`] found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SegmentsChecked {
    /// Segments compared.
    pub compared: u64,
    /// One line per segment that differs from its events.
    pub findings: Vec<String>,
}

/// Compares every segment with the rows of the events it covers, and its stats with theirs.
/// `progress` gets (events checked, events sealed).
pub fn check(snapshot: &Snapshot, progress: &dyn Fn(u64, u64)) -> Result<SegmentsChecked, crate::QueryError> {
    Ok(check_all(snapshot, progress)?)
}

fn check_all(snapshot: &Snapshot, progress: &dyn Fn(u64, u64)) -> Result<SegmentsChecked> {
    let (format, sealed) = state(snapshot).map_err(storage)?;
    if format != Some(FORMAT) {
        // None of this build's layout: nothing a scan would read (the next query seals them).
        return Ok(SegmentsChecked::default());
    }
    let len = snapshot.len().map_err(storage)?;
    let stored = stored_stats(snapshot).map_err(storage)?;
    let total = stored.len() as u64 * SEGMENT_EVENTS;
    let mut findings = Vec::new();
    let mut compared = 0;
    let mut expected_first = 0;
    for (key, stats) in &stored {
        progress(compared * SEGMENT_EVENTS, total);
        compared += 1;
        let range = format!("offsets {key}..{}", key + SEGMENT_EVENTS);
        let stats = match stats {
            Ok(s) => s,
            Err(e) => {
                findings.push(format!("segment {range}: its stats do not decode ({e})"));
                expected_first = key + SEGMENT_EVENTS;
                continue;
            }
        };
        if stats.first != *key || *key != expected_first || stats.count != SEGMENT_EVENTS {
            findings.push(format!(
                "segment at offset {key} holds {} events from {}; expected {SEGMENT_EVENTS} from {expected_first}",
                stats.count, stats.first
            ));
            expected_first = key + stats.count;
            continue;
        }
        expected_first += stats.count;
        if key + stats.count > len {
            findings.push(format!("segment {range}: beyond the end of the log ({len} events)"));
            continue;
        }
        let (_, expected_stats, expected) = build(snapshot, stats.first, stats.count)?;
        let read = match bytes(snapshot, stats.first) {
            Ok(stored) => decode_all(stored),
            Err(e) => Err(e.to_string()),
        };
        match read {
            Err(e) => findings.push(format!("segment {range}: does not read ({e})")),
            Ok(read) if read != expected => {
                findings.push(format!("segment {range}: its columns differ from the events"))
            }
            Ok(_) if (SegmentStats { bytes: stats.bytes, ..expected_stats }) != *stats => {
                findings.push(format!("segment {range}: its stats differ from its rows"))
            }
            Ok(_) => {}
        }
    }
    if sealed != expected_first {
        findings.push(format!("the checkpoint {SEALED} is {sealed}, but the segments end at offset {expected_first}"));
    }
    progress(total, total);
    Ok(SegmentsChecked { compared, findings })
}

/// Every row of a segment's Parquet bytes, in one batch.
fn decode_all(stored: Bytes) -> std::result::Result<RecordBatch, String> {
    let batches = ParquetRecordBatchReaderBuilder::try_new(stored)
        .and_then(|b| b.with_batch_size(SEGMENT_EVENTS as usize).build())
        .map_err(|e| e.to_string())?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    concat_batches(&kept_schema(), &batches).map_err(|e| e.to_string())
}

/// What a scan must read of one segment.
struct Needs {
    /// The columns: those shown and those a filter must check.
    columns: Vec<usize>,
    /// Whether the time, author and kind filters must be checked row by row.
    by_ts: bool,
    by_author: bool,
    by_kind: bool,
    /// The rows of the offset range: skip `from`, then select `rows`.
    from: u64,
    rows: usize,
}

/// How a scan reads a segment: the columns it shows, the rows it keeps.
pub(crate) struct SegmentRead<'a> {
    pub(crate) projection: &'a [usize],
    pub(crate) schema: &'a SchemaRef,
    pub(crate) filter: &'a RowFilter,
    pub(crate) offsets: (u64, u64),
    pub(crate) batch_size: usize,
}

impl SegmentRead<'_> {
    /// Which columns of the segment the scan must read, and the rows of its offset range (by
    /// position: skipped, then selected).
    fn needs(&self, stats: &SegmentStats) -> Needs {
        let f = self.filter;
        let by_ts = !(f.ts.0 <= stats.ts.0 && stats.ts.1 <= f.ts.1);
        let by_author = !SegmentStats::all_pass(&stats.authors, &f.authors);
        let by_kind = !SegmentStats::all_pass(&stats.kinds, &f.kinds);
        let last = stats.first + stats.count - 1;
        let from = self.offsets.0.max(stats.first) - stats.first;
        let to = self.offsets.1.min(last) - stats.first;
        let rows = (to + 1 - from) as usize;
        let mut needed: Vec<usize> = self.projection.to_vec();
        needed.extend(by_ts.then_some(TS));
        needed.extend(by_author.then_some(AUTHOR));
        needed.extend(by_kind.then_some(KIND));
        needed.sort_unstable();
        needed.dedup();
        Needs { columns: needed, by_ts, by_author, by_kind, from, rows }
    }

    /// For a scan that shows no column (a count): the segment's passing rows as an empty batch,
    /// when its stats say how many without reading it.
    pub(crate) fn counted(&self, stats: &SegmentStats) -> Result<Option<RecordBatch>> {
        let Needs { by_ts, by_author, by_kind, rows, .. } = self.needs(stats);
        let partial = rows as u64 != stats.count;
        // (A kind filter never gets here without its column: DataFusion checks kinds again.)
        let counted = if !self.projection.is_empty() || by_ts || by_kind || (partial && by_author) {
            None
        } else if by_author {
            self.filter.authors.as_deref().and_then(|wanted| SegmentStats::count_of(&stats.authors, wanted))
        } else {
            Some(rows as u64)
        };
        let Some(rows) = counted else { return Ok(None) };
        let options = RecordBatchOptions::new().with_row_count(Some(rows as usize));
        Ok(Some(RecordBatch::try_new_with_options(Arc::clone(self.schema), vec![], &options)?))
    }

    /// The segment's rows that pass, read from its Parquet `bytes`, in batches of the scan's
    /// projection.
    pub(crate) fn batches(&self, stats: &SegmentStats, bytes: Bytes) -> Result<Vec<RecordBatch>> {
        let f = self.filter;
        let Needs { columns: needed, by_ts, by_author, by_kind, from, rows } = self.needs(stats);
        // A segment that does not read is a damaged store, not a bad query.
        let damaged = |e: &dyn std::fmt::Display| {
            storage(StorageError::Other(format!(
                "the columnar segment at offset {} is damaged ({e}); run mindlog verify --views, then mindlog repair",
                stats.first
            )))
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| damaged(&e))?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), needed.iter().copied());
        let mut builder = builder.with_projection(mask).with_batch_size(self.batch_size);
        if rows as u64 != stats.count {
            builder = builder.with_row_selection(RowSelection::from(vec![
                RowSelector::skip(from as usize),
                RowSelector::select(rows),
            ]));
        }
        let at = |column: usize| needed.iter().position(|&c| c == column);
        let mut out = Vec::new();
        for batch in builder.build().map_err(|e| damaged(&e))? {
            let batch = batch.map_err(|e| damaged(&e))?;
            let mut keep: Option<BooleanArray> = None;
            let mut both = |mask: BooleanArray| -> Result<()> {
                keep = Some(match keep.take() {
                    Some(k) => and(&k, &mask)?,
                    None => mask,
                });
                Ok(())
            };
            if let Some(i) = at(TS).filter(|_| by_ts) {
                let ts = batch
                    .column(i)
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .ok_or_else(|| DataFusionError::Internal("ts is not a timestamp".into()))?;
                let (lo, hi) = (f.ts.0.min(i64::MAX as u64) as i64, f.ts.1.min(i64::MAX as u64) as i64);
                both(ts.iter().map(|t| t.map(|t| t >= lo && t <= hi)).collect())?;
            }
            for (column, wanted, applies) in [(AUTHOR, &f.authors, by_author), (KIND, &f.kinds, by_kind)] {
                if let (Some(i), Some(wanted), true) = (at(column), wanted, applies) {
                    let values = strings(batch.column(i))?;
                    let mut mask = BooleanArray::from(vec![false; values.len()]);
                    for w in wanted {
                        let eq = datafusion::arrow::compute::kernels::cmp::eq(
                            values,
                            &datafusion::arrow::array::Scalar::new(StringArray::from(vec![w.as_str()])),
                        )?;
                        mask = or(&mask, &eq)?;
                    }
                    both(mask)?;
                }
            }
            let batch = match keep {
                Some(mask) => filter_record_batch(&batch, &mask)?,
                None => batch,
            };
            let columns: Vec<ArrayRef> =
                self.projection.iter().map(|&c| Arc::clone(batch.column(at(c).unwrap_or_default()))).collect();
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            out.push(RecordBatch::try_new_with_options(Arc::clone(self.schema), columns, &options)?);
        }
        Ok(out)
    }
}
