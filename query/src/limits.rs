//! What a query may cost, and the panic boundary around DataFusion.
//!
//! A query is checked and planned on a thread of its own with a large stack
//! ([`PLANNING_STACK`]): its length and the depth of its expressions are checked before the
//! planner sees it, and the planner's own recursion (which grows with the depth of an
//! expression) has room to spare. It then runs with its own memory pool, holding at most
//! [`Limits::memory`] in the operators that account their memory (sorts, joins, aggregates,
//! windows), with no spilling to disk, and the two functions that turn a short value into a huge
//! one (`repeat`, `lpad`, `rpad`) refuse a batch whose result would pass that limit. Its stream
//! ends with an error at [`Limits::time`], which drops (and so cancels) the plan. A panic in
//! planning or in any operator becomes [`QueryError::Panicked`](crate::QueryError::Panicked).

use std::any::Any;
use std::future::Future;
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::error::DataFusionError;
use datafusion::execution::RecordBatchStream;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};
use futures::Stream;

/// The stack of the thread a query is checked and planned on: room for the planner's recursion
/// over the deepest expression [`Limits::depth`] lets through, many times over (it is address
/// space; only the pages used are ever touched).
pub(crate) const PLANNING_STACK: usize = 256 << 20;

/// What one query may cost. Going past any limit stops the query with a one-line error
/// ([`QueryError::TooLong`](crate::QueryError::TooLong), `TooDeep`, `OutOfMemory`, `TimedOut`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of memory the query's operators may hold at once (its own memory pool).
    pub memory: usize,
    /// How long the query may run, from the start of planning to its last row (`None`: no limit).
    pub time: Option<Duration>,
    /// Bytes of SQL text.
    pub sql_bytes: usize,
    /// How deeply expressions may nest (`a OR b OR c` is 3 deep: DataFusion nests a chain).
    pub depth: usize,
}

impl Limits {
    /// The default memory limit: 256 MiB (with the store's 64 MiB page cache, a query's process
    /// stays near 300 MB; raise it for a large sort or join).
    pub const MEMORY: usize = 256 << 20;
    /// The default time limit: 60 s.
    pub const TIME: Duration = Duration::from_secs(60);
    /// The default length limit: 64 KiB.
    pub const SQL_BYTES: usize = 64 << 10;
    /// The default depth limit.
    pub const DEPTH: usize = 500;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { memory: Limits::MEMORY, time: Some(Limits::TIME), sql_bytes: Limits::SQL_BYTES, depth: Limits::DEPTH }
    }
}

/// How deeply the expressions of `statement` nest, counting up to `limit + 1` at most (so the
/// walk itself never recurses deeper than the limit).
pub(crate) fn depth(statement: &Statement, limit: usize) -> usize {
    struct Depth {
        now: usize,
        max: usize,
        limit: usize,
    }
    impl Visitor for Depth {
        type Break = ();
        fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.now += 1;
            self.max = self.max.max(self.now);
            if self.now > self.limit { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        }
        fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
            self.now -= 1;
            ControlFlow::Continue(())
        }
    }
    let mut walk = Depth { now: 0, max: 0, limit };
    let mut statement = statement;
    loop {
        match statement {
            Statement::Statement(s) => {
                let _ = s.visit(&mut walk);
                return walk.max;
            }
            Statement::Explain(e) => statement = &e.statement,
            // DDL and COPY are refused once planned; their expressions are shallow.
            _ => return walk.max,
        }
    }
}

/// Why a running query was stopped by this module (carried through DataFusion as an external
/// error and made a [`QueryError`](crate::QueryError) by `errors::classify`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Stop {
    #[error("the query ran longer than {0:?}")]
    TimedOut(Duration),
    #[error("the query needed more than {0} bytes")]
    OutOfMemory(usize),
    #[error("{0}")]
    Panicked(String),
}

/// The message of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    text.lines().next().unwrap_or_default().to_owned()
}

/// Runs `f`, turning a panic into [`Stop::Panicked`].
pub(crate) fn unwind<T>(f: impl FnOnce() -> T) -> Result<T, Stop> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| Stop::Panicked(panic_message(payload.as_ref())))
}

/// A query's result stream, ended with an error at its deadline or at a panic of the plan.
pub(crate) struct Guarded {
    inner: Option<datafusion::execution::SendableRecordBatchStream>,
    memory: usize,
    deadline: Option<(Pin<Box<tokio::time::Sleep>>, Duration)>,
    schema: SchemaRef,
}

impl Guarded {
    pub(crate) fn new(
        inner: datafusion::execution::SendableRecordBatchStream,
        deadline: Option<(tokio::time::Instant, Duration)>,
        memory: usize,
    ) -> Guarded {
        Guarded {
            memory,
            schema: inner.schema(),
            inner: Some(inner),
            deadline: deadline.map(|(at, limit)| (Box::pin(tokio::time::sleep_until(at)), limit)),
        }
    }

    /// Ends the stream with `stop`: the plan is dropped, which cancels its tasks.
    fn stop(&mut self, stop: Stop) -> Poll<Option<datafusion::error::Result<RecordBatch>>> {
        let inner = self.inner.take();
        let _ = unwind(move || drop(inner));
        Poll::Ready(Some(Err(DataFusionError::External(Box::new(stop)))))
    }
}

impl Stream for Guarded {
    type Item = datafusion::error::Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.inner.is_none() {
            return Poll::Ready(None);
        }
        if let Some((sleep, limit)) = this.deadline.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            let limit = *limit;
            return this.stop(Stop::TimedOut(limit));
        }
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        match unwind(|| inner.as_mut().poll_next(cx)) {
            Ok(Poll::Ready(None)) => {
                this.inner = None;
                Poll::Ready(None)
            }
            Ok(Poll::Ready(Some(Err(e)))) if crate::errors::exhausted(&e) => this.stop(Stop::OutOfMemory(this.memory)),
            Ok(poll) => poll,
            Err(stop) => this.stop(stop),
        }
    }
}

impl RecordBatchStream for Guarded {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

/// How many bytes a call of an amplifying function may build for one batch, at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(text, n)`: the text's bytes times n.
    Repeat,
    /// `lpad(text, n[, fill])`, `rpad`: n characters of up to 4 bytes, or the text cut to n.
    Pad,
}

/// A string function that can build a value far larger than its arguments (`repeat`, `lpad`,
/// `rpad`), made to refuse a batch whose result would pass the query's memory limit before it
/// allocates anything: DataFusion does not count a function's result against the memory pool.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bounded {
    inner: ScalarUDF,
    growth: Growth,
    max_bytes: u64,
}

impl Bounded {
    /// `repeat`, `lpad` and `rpad` of `state`, bounded to `max_bytes` per call and batch.
    pub(crate) fn wrap_all(
        state: &mut datafusion::execution::SessionState,
        max_bytes: usize,
    ) -> Result<(), DataFusionError> {
        use datafusion::execution::registry::FunctionRegistry;
        for (name, growth) in [("repeat", Growth::Repeat), ("lpad", Growth::Pad), ("rpad", Growth::Pad)] {
            let inner = state.udf(name)?.as_ref().clone();
            let bounded = Bounded { inner, growth, max_bytes: max_bytes as u64 };
            state.register_udf(Arc::new(ScalarUDF::new_from_impl(bounded)))?;
        }
        Ok(())
    }

    /// The most bytes the call on `args` can build.
    fn most_bytes(&self, args: &[ColumnarValue], rows: usize) -> Result<u64, DataFusionError> {
        use datafusion::arrow::compute::{cast, kernels::length::length};
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let (Some(text), Some(count)) = (arrays.first(), arrays.get(1)) else { return Ok(0) };
        let int64 = |a: &dyn Array| -> Result<Int64Array, DataFusionError> {
            let a = cast(a, &DataType::Int64)?;
            Ok(a.as_any().downcast_ref::<Int64Array>().cloned().unwrap_or_else(|| Int64Array::from(vec![0; rows])))
        };
        let bytes = int64(length(text)?.as_ref())?;
        let count = int64(count.as_ref())?;
        let mut total: u64 = 0;
        for i in 0..bytes.len().min(count.len()) {
            if bytes.is_null(i) || count.is_null(i) {
                continue;
            }
            let n = count.value(i).max(0) as u64;
            let one = match self.growth {
                Growth::Repeat => (bytes.value(i).max(0) as u64).saturating_mul(n),
                Growth::Pad => n.saturating_mul(4),
            };
            total = total.saturating_add(one);
        }
        Ok(total)
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> datafusion::error::Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> datafusion::error::Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
    fn with_updated_config(&self, _config: &ConfigOptions) -> Option<ScalarUDF> {
        None
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        let bytes = self.most_bytes(&args.args, args.number_rows)?;
        if bytes > self.max_bytes {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{} would build {bytes} bytes in one batch, more than the query's memory limit of {}",
                self.name(),
                self.max_bytes
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QueryError;
    use datafusion::arrow::datatypes::Schema;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use futures::StreamExt;

    fn depth_of(sql: &str, limit: usize) -> usize {
        let statement = datafusion::sql::parser::DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
        depth(&statement, limit)
    }

    /// A chain of `+` nests as deep as it is long (the parser builds it without recursing, the
    /// planner recurses through it); the walk stops one past the limit.
    #[test]
    fn depth_counts_a_chain_and_stops_past_the_limit() {
        assert_eq!(depth_of("SELECT 1", 10), 1);
        let chain = |n: usize| format!("SELECT {}", vec!["1"; n].join(" + "));
        assert_eq!(depth_of(&chain(5), 10), 5);
        assert_eq!(depth_of(&chain(3800), 10), 11);
        assert_eq!(depth_of("EXPLAIN SELECT (1 + (2 * 3))", 10), 5);
        assert_eq!(depth_of("SELECT x FROM t WHERE a = 1 OR b = 2 OR c = 3", 10), 4);
    }

    fn guarded(items: Vec<Option<RecordBatch>>) -> Guarded {
        let schema = Arc::new(Schema::empty());
        let stream = futures::stream::iter(items).map(|item| match item {
            Some(batch) => Ok(batch),
            None => panic!("a kernel panicked on bad data"),
        });
        Guarded::new(Box::pin(RecordBatchStreamAdapter::new(schema, stream)), None, 1 << 20)
    }

    /// A panic while the stream is polled ends it with `Panicked`, one line, and nothing after.
    #[test]
    fn a_panic_in_the_plan_becomes_an_error() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let batch = RecordBatch::new_empty(Arc::new(Schema::empty()));
        let mut stream = guarded(vec![Some(batch), None]);
        let (first, second, third) =
            rt.block_on(async { (stream.next().await, stream.next().await, stream.next().await) });
        assert!(matches!(first, Some(Ok(_))));
        let error = QueryError::from(second.unwrap().unwrap_err());
        assert!(matches!(&error, QueryError::Panicked(m) if m == "a kernel panicked on bad data"), "{error:?}");
        assert!(!error.is_bad_query());
        assert!(third.is_none());
    }

    /// A task of DataFusion's that panicked comes back as a "Join Error" wrapping tokio's
    /// `JoinError` (RepartitionExec): it is a `Panicked` too, not a failure of the query.
    #[test]
    fn a_panicked_task_is_not_a_join_error() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let join = rt.block_on(async { tokio::spawn(async { panic!("index out of bounds") }).await }).unwrap_err();
        let wrapped = DataFusionError::Context(
            "Join Error".to_owned(),
            Box::new(DataFusionError::External(Box::new(Arc::new(join)))),
        );
        let error = QueryError::from(wrapped);
        assert!(matches!(&error, QueryError::Panicked(m) if m.contains("index out of bounds")), "{error:?}");
        assert!(!error.to_string().contains("Join Error"), "{error}");
    }

    /// The deadline ends a stream that would never end.
    #[test]
    fn the_deadline_ends_an_endless_stream() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let schema = Arc::new(Schema::empty());
        let endless = futures::stream::pending::<datafusion::error::Result<RecordBatch>>();
        let limit = Duration::from_millis(50);
        let _inside = rt.enter();
        let at = tokio::time::Instant::now() + limit;
        let mut stream = Guarded::new(Box::pin(RecordBatchStreamAdapter::new(schema, endless)), Some((at, limit)), 1);
        let error = QueryError::from(rt.block_on(stream.next()).unwrap().unwrap_err());
        assert!(matches!(error, QueryError::TimedOut { limit: l } if l == limit), "{error:?}");
    }
}
