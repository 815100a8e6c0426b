//! The `events` table: the log itself, streamed from redb in record batches. Filters on offset,
//! ts, author and kind are pushed down to the store's indexes, and a query that needs only what
//! an index holds never reads the events themselves.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
};
use mindlog_ledger::{EventRef, PublicKey, StoredEvent};
use mindlog_projections::Views;
use rayon::prelude::*;

use crate::cells::{Col, ColumnSpec, schema};
use crate::segments::{self, SegmentStats};

/// What one row of `events` is.
pub(crate) const DOC: &str = "one row per event of the log";

/// The columns of `events`, in order: the scan builds them itself (`Rows`), straight from the
/// events read in place, in the order of the indexes below.
pub(crate) const COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::not_null("offset", Col::U64, "local position in this store, from 0 (arrival order; not signed)"),
    ColumnSpec::not_null("author", Col::Str, "the author's public key"),
    ColumnSpec::not_null("seq", Col::U64, "position in the author's feed, from 1"),
    ColumnSpec::not_null("ts", Col::Ts, "the author's timestamp"),
    ColumnSpec::not_null("kind", Col::Str, "versioned kind, e.g. persona.created/1"),
    ColumnSpec::not_null("hash", Col::Str, "the event hash"),
    ColumnSpec::not_null("size", Col::U64, "bytes of the signed envelope"),
    ColumnSpec::nullable("payload", Col::Str, "the payload as JSON (null for kinds this build does not know)"),
];

const OFFSET: usize = 0;
pub(crate) const AUTHOR: usize = 1;
const SEQ: usize = 2;
pub(crate) const TS: usize = 3;
pub(crate) const KIND: usize = 4;
const HASH: usize = 5;
const SIZE: usize = 6;
pub(crate) const PAYLOAD: usize = 7;

/// How a scan reaches the events.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Access {
    /// These authors' feeds, through the feed index.
    Feed(Vec<PublicKey>),
    /// These kinds, through the kind index.
    Kind(Vec<String>),
    /// A timestamp range, through the time index.
    Time,
    /// An offset range of the log.
    Offsets,
}

/// What the pushed-down filters allow a scan to skip.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    access: Access,
    offsets: (u64, u64),
    ts: (u64, u64),
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.access {
            Access::Feed(authors) => {
                let shown: Vec<String> = authors.iter().map(|a| a.to_string()[..16].to_owned()).collect();
                write!(f, "access=feed_index(author in [{}])", shown.join(", "))?
            }
            Access::Kind(kinds) => write!(f, "access=kind_index(kind in [{}])", kinds.join(", "))?,
            Access::Time => write!(f, "access=time_index(ts in [{}, {}])", self.ts.0, self.ts.1)?,
            Access::Offsets if self.offsets == (0, u64::MAX) => write!(f, "access=full_scan")?,
            Access::Offsets => write!(f, "access=log_range(offset in [{}, {}])", self.offsets.0, self.offsets.1)?,
        }
        if !matches!(self.access, Access::Offsets) && self.offsets != (0, u64::MAX) {
            write!(f, ", offset in [{}, {}]", self.offsets.0, self.offsets.1)?;
        }
        if !matches!(self.access, Access::Time) && self.ts != (0, u64::MAX) {
            write!(f, ", ts in [{}, {}]", self.ts.0, self.ts.1)?;
        }
        Ok(())
    }
}

impl Plan {
    /// What each row read must satisfy: the time range always; the authors or kinds the plan's
    /// index would have chosen when `no_index` (a scan of segments and the log reads them all).
    pub(crate) fn row_filter(&self, no_index: bool) -> RowFilter {
        let (authors, kinds) = match (&self.access, no_index) {
            (Access::Feed(a), true) => (Some(a.iter().map(PublicKey::to_string).collect()), None),
            (Access::Kind(k), true) => (None, Some(k.clone())),
            _ => (None, None),
        };
        RowFilter { ts: self.ts, authors, kinds }
    }
}

/// A column named as it is. A cast of the column (`CAST(ts AS DATE)`) is not the column: its
/// values differ, so a filter on it is never pushed down.
fn column_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Column(c) => Some(&c.name),
        _ => None,
    }
}

fn literal(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

/// `v` as a value of `column`, when it is of the column's own kind (DataFusion coerces literals
/// to the column's type): an integer for `offset`, a microsecond timestamp for `ts`.
fn value_of(column: &str, v: &ScalarValue) -> Option<u64> {
    match (column, v) {
        ("offset", ScalarValue::UInt64(Some(x))) => Some(*x),
        ("offset", ScalarValue::Int64(Some(x))) => u64::try_from(*x).ok(),
        ("ts", ScalarValue::TimestampMicrosecond(Some(x), _)) => u64::try_from(*x).ok(),
        _ => None,
    }
}

/// Narrows an inclusive range by `column op value` (an op `comparison` accepts).
fn narrow(range: &mut (u64, u64), op: Operator, value: u64) {
    match op {
        Operator::Eq => {
            range.0 = range.0.max(value);
            range.1 = range.1.min(value);
        }
        Operator::Gt => {
            if value == u64::MAX {
                *range = (1, 0); // empty
            } else {
                range.0 = range.0.max(value + 1);
            }
        }
        Operator::GtEq => range.0 = range.0.max(value),
        Operator::Lt => {
            if value == 0 {
                *range = (1, 0); // empty
            } else {
                range.1 = range.1.min(value - 1);
            }
        }
        Operator::LtEq => range.1 = range.1.min(value),
        _ => {}
    }
}

/// The text values `e` says `column` equals (`=`, `IN`, or an `OR` of `=`), if that is what it says.
fn equals_any(e: &Expr, column: &str) -> Option<Vec<String>> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            let mut a = equals_any(left, column)?;
            a.extend(equals_any(right, column)?);
            Some(a)
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            let (col, value) = match (column_name(left), literal(right)) {
                (Some(c), Some(v)) => (c, v),
                _ => (column_name(right)?, literal(left)?),
            };
            (col == column).then(|| value.try_as_str().flatten().map(str::to_owned)).flatten().map(|s| vec![s])
        }
        Expr::InList(InList { expr, list, negated: false }) if column_name(expr) == Some(column) => {
            list.iter().map(|v| literal(v)?.try_as_str().flatten().map(str::to_owned)).collect()
        }
        _ => None,
    }
}

/// A comparison of `offset` or `ts` with a literal of its type: (column, op, value), op seen from
/// the column.
fn comparison(e: &Expr) -> Option<(&str, Operator, u64)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else { return None };
    if !matches!(op, Operator::Eq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq) {
        return None;
    }
    if let (Some(c), Some(v)) = (column_name(left), literal(right)) {
        return Some((c, *op, value_of(c, v)?));
    }
    if let (Some(v), Some(c)) = (literal(left), column_name(right)) {
        return Some((c, op.swap()?, value_of(c, v)?));
    }
    None
}

/// Whether the store can use `filter` (so DataFusion should hand it to the scan).
fn usable(filter: &Expr) -> bool {
    equals_any(filter, "author").is_some() || equals_any(filter, "kind").is_some() || comparison(filter).is_some()
}

/// Whether every row the scan yields satisfies `filter` (so DataFusion need not check it again):
/// offset and ts comparisons (always applied in full) and author keys in canonical lowercase hex.
/// Not kinds: when an author filter sends the scan through the feed index, a kind filter is left
/// to DataFusion (and DataFusion may ask about one filter at a time, without the others).
fn exact(filter: &Expr) -> bool {
    if let Some(values) = equals_any(filter, "author") {
        return values.iter().all(|v| v.parse::<PublicKey>().is_ok_and(|k| k.to_string() == *v));
    }
    comparison(filter).is_some()
}

/// Chooses the narrowest access the filters allow: a feed, a kind, a time range, an offset range.
pub(crate) fn plan(filters: &[Expr]) -> Plan {
    let mut offsets = (0, u64::MAX);
    let mut ts = (0, u64::MAX);
    let mut authors: Option<Vec<PublicKey>> = None;
    let mut kinds: Option<Vec<String>> = None;
    for f in filters {
        if let Some(values) = equals_any(f, "author") {
            // A value that is not a key matches nothing.
            // Only the canonical (lowercase hex) spelling equals the column's text.
            let keys: Vec<PublicKey> =
                values.iter().filter_map(|v| v.parse::<PublicKey>().ok().filter(|k| k.to_string() == *v)).collect();
            authors = Some(match authors {
                Some(old) => old.into_iter().filter(|k| keys.contains(k)).collect(),
                None => keys,
            });
        } else if let Some(values) = equals_any(f, "kind") {
            kinds = Some(match kinds {
                Some(old) => old.into_iter().filter(|k| values.contains(k)).collect(),
                None => values,
            });
        } else if let Some((col, op, value)) = comparison(f) {
            match col {
                "offset" => narrow(&mut offsets, op, value),
                "ts" => narrow(&mut ts, op, value),
                _ => {}
            }
        }
    }
    let access = if let Some(mut a) = authors {
        a.sort();
        a.dedup();
        Access::Feed(a)
    } else if let Some(mut k) = kinds {
        k.sort();
        k.dedup();
        Access::Kind(k)
    } else if ts != (0, u64::MAX) {
        Access::Time
    } else {
        Access::Offsets
    };
    Plan { access, offsets, ts }
}

/// A scan that reads sealed segments, then the log after them.
#[derive(Clone, Debug)]
pub(crate) struct Columnar {
    /// The segments that may hold rows the scan wants, in order.
    segments: Vec<SegmentStats>,
    /// How many segments the store holds.
    sealed: usize,
    /// The first offset no segment holds.
    tail_from: u64,
}

/// A plan reads segments only when its index would locate more than this share of their events.
const INDEX_SHARE: u64 = 8;

/// The `events` table.
pub(crate) struct EventsTable {
    views: Arc<Views>,
    schema: SchemaRef,
    /// Whether scans may read columnar segments.
    segments: bool,
}

impl EventsTable {
    pub(crate) fn new(views: Arc<Views>, segments: bool) -> EventsTable {
        EventsTable { views, schema: schema(COLUMNS), segments }
    }

    /// Whether, and which, sealed segments the scan reads: when it shows no payload, needs more
    /// than the index holds (or only counts), and its index would locate more than
    /// 1/[`INDEX_SHARE`] of the sealed events (the segments' own stats say how many a time range
    /// may hold).
    fn columnar(&self, plan: &Plan, projection: &[usize], index_only: bool) -> Result<Option<Columnar>> {
        // An index-only scan reads no event; segments beat it only for a count, which their
        // stats may answer without reading a column.
        if !self.segments || (index_only && !projection.is_empty()) || projection.contains(&PAYLOAD) {
            return Ok(None);
        }
        let snapshot = self.views.snapshot();
        let sealed = segments::sealed(snapshot).map_err(storage)?;
        let Some(last) = sealed.last() else { return Ok(None) };
        let tail_from = last.first + last.count;
        let filter = plan.row_filter(true);
        let within = |s: &&SegmentStats| s.may_hold(plan.offsets, &filter);
        let estimate = match &plan.access {
            Access::Offsets => plan.offsets.1.saturating_sub(plan.offsets.0).saturating_add(1),
            Access::Time => sealed.iter().filter(within).map(|s| s.count).sum(),
            Access::Feed(authors) => {
                let mut n = 0;
                for a in authors {
                    n += snapshot.head(a).map_err(storage)?.map_or(0, |h| h.seq);
                }
                n
            }
            Access::Kind(kinds) => {
                snapshot.kind_counts().map_err(storage)?.iter().filter(|(k, _)| kinds.contains(k)).map(|(_, n)| n).sum()
            }
        };
        if estimate.saturating_mul(INDEX_SHARE) <= tail_from {
            return Ok(None);
        }
        let segments = sealed.iter().filter(within).cloned().collect();
        Ok(Some(Columnar { segments, sealed: sealed.len(), tail_from }))
    }
}

impl fmt::Debug for EventsTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventsTable")
    }
}

#[async_trait]
impl TableProvider for EventsTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if !usable(f) {
                    TableProviderFilterPushDown::Unsupported
                } else if exact(f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projection: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..COLUMNS.len()).collect());
        let projected = Arc::new(self.schema.project(&projection)?);
        let plan = plan(filters);
        let index_only = index_only(&plan, &projection);
        let columnar = self.columnar(&plan, &projection, index_only)?;
        let filter = plan.row_filter(columnar.is_some());
        let props = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&projected)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(LogScanExec {
            views: Arc::clone(&self.views),
            plan,
            filter,
            columnar,
            index_only,
            projection,
            schema: projected,
            limit,
            batch_size: state.config().batch_size(),
            props: Arc::new(props),
        }))
    }
}

/// The scan of `events`: reads through the chosen index, decodes on every core, streams batches.
pub(crate) struct LogScanExec {
    views: Arc<Views>,
    plan: Plan,
    filter: RowFilter,
    columnar: Option<Columnar>,
    index_only: bool,
    projection: Vec<usize>,
    schema: SchemaRef,
    limit: Option<usize>,
    batch_size: usize,
    props: Arc<PlanProperties>,
}

impl fmt::Debug for LogScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogScanExec({})", self.plan)
    }
}

impl DisplayAs for LogScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.projection.iter().map(|&i| COLUMNS[i].name).collect();
        let index_only = if self.index_only && self.columnar.is_none() { ", index_only" } else { "" };
        let columnar = match &self.columnar {
            Some(c) => format!("segments={}/{}, tail_from={}, ", c.segments.len(), c.sealed, c.tail_from),
            None => String::new(),
        };
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(
                    f,
                    "LogScanExec: {columnar}{}{index_only}, projection=[{}], limit={:?}",
                    self.plan,
                    names.join(", "),
                    self.limit
                )
            }
            DisplayFormatType::TreeRender => write!(f, "{columnar}{}{index_only}", self.plan),
        }
    }
}

/// Whether the index `plan` walks holds every column of `projection`.
fn index_only(plan: &Plan, projection: &[usize]) -> bool {
    let from_index: &[usize] = match &plan.access {
        Access::Feed(_) => &[OFFSET, AUTHOR, SEQ],
        Access::Kind(_) => &[OFFSET, KIND],
        Access::Time => &[OFFSET, TS],
        // The offset-range scan reads the log itself, not an index.
        Access::Offsets => return false,
    };
    // The residual ranges must be checkable from the index too.
    let ts_ok = plan.ts == (0, u64::MAX) || matches!(plan.access, Access::Time);
    ts_ok && projection.iter().all(|c| from_index.contains(c))
}

/// An event located by an index: its offset and what the index knows of it.
#[derive(Clone, Copy)]
struct Located {
    offset: u64,
    seq: u64,
    ts: u64,
    author: Option<PublicKey>,
    kind: Option<usize>,
}

impl ExecutionPlan for LogScanExec {
    fn name(&self) -> &str {
        "LogScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, _partition: usize, _ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let mut builder = RecordBatchReceiverStreamBuilder::new(Arc::clone(&self.schema), 4);
        let tx = builder.tx();
        let scan = ScanJob {
            views: Arc::clone(&self.views),
            plan: self.plan.clone(),
            filter: self.filter.clone(),
            columnar: self.columnar.clone(),
            projection: self.projection.clone(),
            schema: Arc::clone(&self.schema),
            limit: self.limit.unwrap_or(usize::MAX),
            batch_size: self.batch_size.max(1),
            index_only: self.index_only,
        };
        builder.spawn_blocking(move || scan.run(&mut |batch| tx.blocking_send(Ok(batch)).is_ok()));
        Ok(builder.build())
    }
}

/// One segment of a scan: answered from its stats, or to be read from its bytes.
enum Part<'s> {
    Counted(RecordBatch),
    Read(&'s SegmentStats, bytes::Bytes),
}

/// Sends `batch`, cut to the rows still wanted; whether the reader wants more.
fn emit(batch: RecordBatch, left: &mut usize, send: &mut dyn FnMut(RecordBatch) -> bool) -> bool {
    let batch = if batch.num_rows() > *left { batch.slice(0, *left) } else { batch };
    *left -= batch.num_rows();
    send(batch) && *left > 0
}

pub(crate) fn storage(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

struct ScanJob {
    views: Arc<Views>,
    plan: Plan,
    filter: RowFilter,
    columnar: Option<Columnar>,
    projection: Vec<usize>,
    schema: SchemaRef,
    limit: usize,
    batch_size: usize,
    index_only: bool,
}

impl ScanJob {
    /// Produces the batches, handing each to `send`; stops early when `send` says the reader left.
    fn run(&self, send: &mut dyn FnMut(RecordBatch) -> bool) -> Result<()> {
        let snapshot = self.views.snapshot();
        let (mut lo, hi) = self.plan.offsets;
        if lo > hi || self.plan.ts.0 > self.plan.ts.1 {
            return Ok(());
        }
        let mut left = self.limit;
        if let Some(columnar) = &self.columnar {
            if !self.scan_segments(snapshot, columnar, &mut left, send)? {
                return Ok(());
            }
            // The tail after the segments: read in order when it is short (as it is once sealed:
            // fewer than a segment's events), else through the plan's index (a store sealed
            // long ago, opened by a library that does not seal), and always through the kind
            // index, whose keys are ordered by offset.
            lo = lo.max(columnar.tail_from);
            let tail = snapshot.len().map_err(storage)?.saturating_sub(lo);
            let short = tail <= 2 * segments::SEGMENT_EVENTS;
            if matches!(self.plan.access, Access::Offsets) || (short && !matches!(self.plan.access, Access::Kind(_))) {
                return self.scan_log(snapshot, lo..=hi, &mut left, send);
            }
        }
        // Offsets (with what the index knows), in batches, from whichever index the plan chose.
        let mut located: Box<dyn Iterator<Item = Result<Located>>> = match &self.plan.access {
            Access::Offsets => return self.scan_log(snapshot, lo..=hi, &mut left, send),
            Access::Feed(authors) => {
                let mut iters: Vec<Box<dyn Iterator<Item = Result<Located>>>> = Vec::new();
                for author in authors.clone() {
                    let feed = snapshot.feed(&author, 1..=u64::MAX).map_err(storage)?;
                    iters.push(Box::new(feed.map(move |r| {
                        r.map(|(seq, offset)| Located { offset, seq, ts: 0, author: Some(author), kind: None })
                            .map_err(storage)
                    })));
                }
                Box::new(iters.into_iter().flatten())
            }
            Access::Kind(kinds) => {
                let mut iters: Vec<Box<dyn Iterator<Item = Result<Located>>>> = Vec::new();
                for (i, kind) in kinds.iter().enumerate() {
                    let offsets = snapshot.kind_offsets(kind, lo..=hi).map_err(storage)?;
                    iters.push(Box::new(offsets.map(move |r| {
                        r.map(|offset| Located { offset, seq: 0, ts: 0, author: None, kind: Some(i) }).map_err(storage)
                    })));
                }
                Box::new(iters.into_iter().flatten())
            }
            Access::Time => {
                let times = snapshot.time_offsets(self.plan.ts.0..=self.plan.ts.1).map_err(storage)?;
                Box::new(times.map(|r| {
                    r.map(|(ts, offset)| Located { offset, seq: 0, ts, author: None, kind: None }).map_err(storage)
                }))
            }
        };
        loop {
            let mut chunk = Vec::with_capacity(self.batch_size);
            for l in located.by_ref() {
                let l = l?;
                if l.offset >= lo && l.offset <= hi {
                    chunk.push(l);
                    if chunk.len() == self.batch_size {
                        break;
                    }
                }
            }
            if chunk.is_empty() || left == 0 {
                return Ok(());
            }
            let batches = if self.index_only {
                vec![self.index_batch(&chunk)?]
            } else {
                // Fetch and decode on every core, reading each event in place: one part per thread.
                let part = chunk.len().div_ceil(rayon::current_num_threads()).max(512);
                chunk
                    .par_chunks(part)
                    .map(|part| {
                        let mut rows = Rows::new(&self.projection, &self.schema, &self.filter, part.len());
                        for l in part {
                            snapshot.with_event(l.offset, |event| rows.push(event)).map_err(storage)?.ok_or_else(
                                || DataFusionError::Execution(format!("offset {} is indexed but missing", l.offset)),
                            )??;
                        }
                        rows.finish()
                    })
                    .collect::<Result<Vec<_>>>()?
            };
            for batch in batches {
                if !emit(batch, &mut left, send) {
                    return Ok(());
                }
            }
        }
    }

    /// The log itself, in order, over `range`: reads records and decodes them on every core,
    /// chunk by chunk. A scan that shows no payload does not read the `payloads` table.
    fn scan_log(
        &self,
        snapshot: &mindlog_ledger::Snapshot,
        range: std::ops::RangeInclusive<u64>,
        left: &mut usize,
        send: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        let mut events = if self.projection.contains(&PAYLOAD) {
            snapshot.events(range).map_err(storage)?
        } else {
            snapshot.events_without_payloads(range).map_err(storage)?
        };
        loop {
            let chunk: Vec<StoredEvent> =
                events.by_ref().take(self.batch_size * 2).collect::<Result<_, _>>().map_err(storage)?;
            if chunk.is_empty() || *left == 0 {
                return Ok(());
            }
            for batch in decode(&chunk, &self.projection, &self.schema, &self.filter, self.batch_size)? {
                if !emit(batch, left, send) {
                    return Ok(());
                }
            }
        }
    }

    /// The sealed segments the scan reads, a few at a time, each decoded on its own core.
    /// Returns whether the reader is still there.
    fn scan_segments(
        &self,
        snapshot: &mindlog_ledger::Snapshot,
        columnar: &Columnar,
        left: &mut usize,
        send: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<bool> {
        let read = segments::SegmentRead {
            projection: &self.projection,
            schema: &self.schema,
            filter: &self.filter,
            offsets: self.plan.offsets,
            batch_size: self.batch_size,
        };
        for group in columnar.segments.chunks(rayon::current_num_threads().max(1)) {
            // A segment whose stats answer the count is not read at all.
            let mut work = Vec::with_capacity(group.len());
            for stats in group {
                work.push(match read.counted(stats)? {
                    Some(batch) => Part::Counted(batch),
                    None => Part::Read(stats, segments::bytes(snapshot, stats.first).map_err(storage)?),
                });
            }
            let batches = work
                .into_par_iter()
                .map(|part| match part {
                    Part::Counted(batch) => Ok(vec![batch]),
                    Part::Read(stats, bytes) => read.batches(stats, bytes),
                })
                .collect::<Result<Vec<Vec<RecordBatch>>>>()?;
            for batch in batches.into_iter().flatten() {
                if !emit(batch, left, send) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// A batch built from index entries alone.
    fn index_batch(&self, chunk: &[Located]) -> Result<RecordBatch> {
        let kinds: &[String] = match &self.plan.access {
            Access::Kind(k) => k,
            _ => &[],
        };
        let arrays: Vec<ArrayRef> = self
            .projection
            .iter()
            .map(|&col| -> Result<ArrayRef> {
                Ok(match col {
                    OFFSET => {
                        Arc::new(chunk.iter().map(|l| l.offset).collect::<datafusion::arrow::array::UInt64Array>())
                    }
                    SEQ => Arc::new(chunk.iter().map(|l| l.seq).collect::<datafusion::arrow::array::UInt64Array>()),
                    TS => Arc::new(
                        datafusion::arrow::array::TimestampMicrosecondArray::from_iter_values(
                            chunk.iter().map(|l| l.ts as i64),
                        )
                        .with_timezone("UTC"),
                    ),
                    AUTHOR => Arc::new(
                        chunk
                            .iter()
                            .map(|l| l.author.map(|a| a.to_string()))
                            .collect::<datafusion::arrow::array::StringArray>(),
                    ),
                    KIND => Arc::new(
                        chunk
                            .iter()
                            .map(|l| l.kind.map(|k| kinds[k].clone()))
                            .collect::<datafusion::arrow::array::StringArray>(),
                    ),
                    other => {
                        return Err(DataFusionError::Internal(format!("column {other} is not in an index")));
                    }
                })
            })
            .collect::<Result<_>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(chunk.len()));
        Ok(RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)?)
    }
}

/// What a row must satisfy, beyond its offset, to be yielded by a scan that reads it.
#[derive(Clone, Debug)]
pub(crate) struct RowFilter {
    /// Inclusive timestamp range.
    pub(crate) ts: (u64, u64),
    /// Only these authors (canonical hex), when not already chosen by an index.
    pub(crate) authors: Option<Vec<String>>,
    /// Only these kinds, when not already chosen by an index.
    pub(crate) kinds: Option<Vec<String>>,
}

impl RowFilter {
    /// Every row.
    pub(crate) const ALL: RowFilter = RowFilter { ts: (0, u64::MAX), authors: None, kinds: None };
}

/// Columns of a batch being built from events read in place.
pub(crate) struct Rows<'j> {
    projection: &'j [usize],
    schema: &'j SchemaRef,
    filter: &'j RowFilter,
    offset: UInt64Builder,
    author: StringBuilder,
    seq: UInt64Builder,
    ts: TimestampMicrosecondBuilder,
    kind: StringBuilder,
    hash: StringBuilder,
    size: UInt64Builder,
    payload: StringBuilder,
    wants: [bool; 8],
    rows: usize,
}

impl<'j> Rows<'j> {
    /// Rows of the columns `projection` (of [`COLUMNS`]), of a batch of `schema`.
    pub(crate) fn new(
        projection: &'j [usize],
        schema: &'j SchemaRef,
        filter: &'j RowFilter,
        capacity: usize,
    ) -> Rows<'j> {
        let mut wants = [false; 8];
        for &c in projection {
            wants[c] = true;
        }
        Rows {
            projection,
            schema,
            filter,
            offset: UInt64Builder::with_capacity(capacity),
            author: StringBuilder::new(),
            seq: UInt64Builder::with_capacity(capacity),
            ts: TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            kind: StringBuilder::new(),
            hash: StringBuilder::new(),
            size: UInt64Builder::with_capacity(capacity),
            payload: StringBuilder::new(),
            wants,
            rows: 0,
        }
    }

    /// Adds the event if it passes the filter.
    pub(crate) fn push(&mut self, event: EventRef<'_>) -> Result<()> {
        let env = event.envelope().map_err(storage)?;
        let f = self.filter;
        if env.ts < f.ts.0 || env.ts > f.ts.1 {
            return Ok(());
        }
        let author = (self.wants[AUTHOR] || f.authors.is_some()).then(|| env.author.to_string());
        if let (Some(authors), Some(author)) = (&f.authors, &author)
            && !authors.contains(author)
        {
            return Ok(());
        }
        if let Some(kinds) = &f.kinds
            && !kinds.iter().any(|k| k == env.kind)
        {
            return Ok(());
        }
        self.rows += 1;
        let w = &self.wants;
        if w[OFFSET] {
            self.offset.append_value(event.offset);
        }
        if let Some(author) = author.filter(|_| w[AUTHOR]) {
            self.author.append_value(author);
        }
        if w[SEQ] {
            self.seq.append_value(env.seq);
        }
        if w[TS] {
            self.ts.append_value(env.ts as i64);
        }
        if w[KIND] {
            self.kind.append_value(env.kind);
        }
        if w[HASH] {
            self.hash.append_value(event.hash.to_string());
        }
        if w[SIZE] {
            self.size.append_value(event.bytes.len() as u64);
        }
        if w[PAYLOAD] {
            // An erased or withheld payload is NULL, like one that does not decode.
            let payload = event.payload(&env).map_err(storage)?.bytes();
            match payload.and_then(|p| mindlog_projections::payload_json(env.kind, p)) {
                Some(json) => self.payload.append_value(json),
                None => self.payload.append_null(),
            }
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<RecordBatch> {
        let mut columns: [Option<ArrayRef>; 8] = [
            Some(Arc::new(self.offset.finish())),
            Some(Arc::new(self.author.finish())),
            Some(Arc::new(self.seq.finish())),
            Some(Arc::new(self.ts.finish())),
            Some(Arc::new(self.kind.finish())),
            Some(Arc::new(self.hash.finish())),
            Some(Arc::new(self.size.finish())),
            Some(Arc::new(self.payload.finish())),
        ];
        let arrays: Vec<ArrayRef> = self.projection.iter().filter_map(|&c| columns[c].take()).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        Ok(RecordBatch::try_new_with_options(Arc::clone(self.schema), arrays, &options)?)
    }
}

/// Decodes stored events into batches of `projection` (of `schema`), `per_part` events to a
/// batch, on every core, keeping the rows `filter` lets through.
pub(crate) fn decode(
    events: &[StoredEvent],
    projection: &[usize],
    schema: &SchemaRef,
    filter: &RowFilter,
    per_part: usize,
) -> Result<Vec<RecordBatch>> {
    events
        .par_chunks(per_part.max(1))
        .map(|part| {
            let mut rows = Rows::new(projection, schema, filter, part.len());
            for event in part {
                rows.push(event.as_ref())?;
            }
            rows.finish()
        })
        .collect()
}
