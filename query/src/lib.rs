//! mindlog's query layer: SQL over the log and every view with DataFusion, read-only, and
//! Parquet export for DuckDB, pandas or Spark.
//!
//! ```no_run
//! # async fn run(ledger: mindlog_ledger::Ledger) -> Result<(), mindlog_query::QueryError> {
//! use mindlog_projections::Projections;
//! use mindlog_query::{Format, QueryEngine, QueryOptions};
//!
//! let projections = Projections::new(&ledger);
//! projections.catch_up(&|_, _| {}).expect("views");
//! let engine = QueryEngine::new(projections.views().expect("views"), QueryOptions::default())?;
//! let stream = engine.stream("SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY n DESC").await?;
//! mindlog_query::write(stream, Format::Csv, &mut std::io::stdout()).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs, missing_debug_implementations)]

mod cells;
mod errors;
mod events;
mod kind_counts;
mod limits;
mod output;
mod parquet;
mod segments;
mod tables;
mod view_table;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SendableRecordBatchStream, SessionStateBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use mindlog_commands::Micros;
use mindlog_ledger::StorageError;
use mindlog_projections::Views;

pub use crate::limits::Limits;
pub use crate::output::{Format, write};
pub use crate::parquet::ExportedTable;
pub use crate::segments::{SEGMENT_EVENTS, SealReport, SegmentsChecked, check as check_segments, reseal, seal};

/// How queries run.
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// The instant time-dependent columns (memory strength, reputation) are computed for.
    pub as_of: Micros,
    /// Parallel partitions (0: one per core).
    pub target_partitions: usize,
    /// Rows per record batch.
    pub batch_size: usize,
    /// What each query may cost.
    pub limits: Limits,
    /// Whether scans of `events` may read the store's columnar segments ([`seal`]); without
    /// them every scan reads the rows.
    pub segments: bool,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        QueryOptions { as_of: now, target_partitions: 0, batch_size: 8192, limits: Limits::default(), segments: true }
    }
}

/// Why a query did not run. Every message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The statement would change something or reach the file system.
    #[error("queries are read-only: {0} is refused")]
    Refused(String),
    /// The SQL does not parse.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// The query names a table that does not exist.
    #[error("table '{name}' not found{}; list the tables with mindlog query --tables", did_you_mean(.closest))]
    UnknownTable {
        /// The name as written.
        name: String,
        /// The table whose name is closest, if one is close.
        closest: Option<String>,
    },
    /// The query names a column that does not exist.
    #[error(
        "column '{name}' not found{}{}; list the columns with mindlog query --tables",
        table.as_ref().map(|t| format!(" in {t}")).unwrap_or_default(),
        did_you_mean(.closest)
    )]
    UnknownColumn {
        /// The name as written.
        name: String,
        /// The table it was looked for in, when there is one.
        table: Option<String>,
        /// The column whose name is closest, if one is close.
        closest: Option<String>,
    },
    /// The query calls a function that does not exist.
    #[error("function '{name}' not found{}", did_you_mean(.closest))]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// The function whose name is closest, if DataFusion found one.
        closest: Option<String>,
    },
    /// A function is called with arguments that fit none of its signatures.
    #[error(
        "no function matches {call}{}",
        if signatures.is_empty() {
            String::new()
        } else {
            format!("; the signatures are {}: cast the arguments to fit one", signatures.join(", "))
        }
    )]
    NoMatchingFunction {
        /// The call, with the types of its arguments: `sum(Utf8)`.
        call: String,
        /// The signatures the function has: `sum(Int64)`, ….
        signatures: Vec<String>,
    },
    /// Anything else the planner refuses, in DataFusion's words: a type that does not fit, an
    /// ambiguous column, a `GROUP BY` that misses a column.
    #[error("{0}")]
    Invalid(String),
    /// Running it failed on the data: a value that does not cast, a division by zero.
    #[error("the query failed: {0}")]
    Failed(String),
    /// Reading the store failed: not the query's fault.
    #[error("reading the store")]
    Storage(#[source] StorageError),
    /// Writing the output failed.
    #[error("writing the output")]
    Io(#[from] std::io::Error),
    /// The SQL text is longer than [`Limits::sql_bytes`].
    #[error("the query is {bytes} bytes long, more than the limit of {limit}; shorten it")]
    TooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Expressions nest deeper than [`Limits::depth`].
    #[error(
        "the query nests expressions more than {limit} deep; write a long chain of OR as IN (…), or split the query"
    )]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The query needed more memory than [`Limits::memory`].
    #[error(
        "the query needs more than its memory limit of {} MiB; narrow it (filter, LIMIT, fewer columns), or raise the limit with mindlog query --memory-limit",
        limit >> 20
    )]
    OutOfMemory {
        /// The limit in bytes.
        limit: usize,
    },
    /// The query ran longer than [`Limits::time`] and was stopped.
    #[error(
        "the query ran longer than its time limit of {} s and was stopped; narrow it, or raise the limit with mindlog query --timeout",
        limit.as_secs_f64()
    )]
    TimedOut {
        /// The limit.
        limit: std::time::Duration,
    },
    /// DataFusion panicked while planning or running the query; the panic was caught and the
    /// query stopped.
    #[error("the query engine failed: {0}; this is a bug: report it with the query")]
    Panicked(String),
}

impl QueryError {
    /// Whether the query itself is wrong (it does not parse, names what does not exist, is
    /// refused, or fails on the data), rather than the store or the output: `mindlog query`
    /// exits 1 for these and 2 for the others.
    /// A query past a limit ([`Limits`]) or one that made the engine panic is not counted as
    /// wrong: exit 2, as for the store.
    pub fn is_bad_query(&self) -> bool {
        !matches!(
            self,
            QueryError::Storage(_)
                | QueryError::Io(_)
                | QueryError::TooLong { .. }
                | QueryError::TooDeep { .. }
                | QueryError::OutOfMemory { .. }
                | QueryError::TimedOut { .. }
                | QueryError::Panicked(_)
        )
    }
}

fn did_you_mean(closest: &Option<String>) -> String {
    closest.as_ref().map(|c| format!(" (did you mean '{c}'?)")).unwrap_or_default()
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> QueryError {
        match errors::into_storage(e) {
            Ok(storage) => QueryError::Storage(storage),
            Err(e) => errors::classify(&e),
        }
    }
}

/// A table and its columns, as `query --tables` lists them and docs/query.md documents them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TableInfo {
    /// The name a query gives in `FROM`.
    pub name: &'static str,
    /// What one row is.
    pub doc: &'static str,
    /// Its columns, in the order `SELECT *` gives them.
    pub columns: Vec<ColumnInfo>,
}

/// A column of a table, for `query --tables`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ColumnInfo {
    /// The name a query uses.
    pub name: &'static str,
    /// Its Arrow type as DataFusion prints it (`Utf8`, `UInt64`, `Timestamp(µs, "UTC")`, …).
    pub r#type: String,
    /// Whether a row may hold null in it.
    pub nullable: bool,
    /// What it holds.
    pub doc: &'static str,
}

/// An example query of docs/query.md.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    /// Its number on the page, from 1.
    pub number: usize,
    /// The SQL.
    pub sql: &'static str,
}

/// The examples of docs/query.md, each `sql` block in order: the page is where they are
/// declared (its tests run each; `mindlog bench query` times each beside DuckDB).
pub fn examples() -> Vec<Example> {
    include_str!("../../docs/query.md")
        .split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default().trim())
        .enumerate()
        .map(|(i, sql)| Example { number: i + 1, sql })
        .collect()
}

/// Every table: `events`, then the views.
pub fn tables() -> Vec<TableInfo> {
    let describe = |name, doc, columns: &[cells::ColumnSpec]| TableInfo {
        name,
        doc,
        columns: columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name,
                r#type: c.col.data_type().to_string(),
                nullable: c.nullable,
                doc: c.doc,
            })
            .collect(),
    };
    let mut out = vec![describe("events", events::DOC, events::COLUMNS)];
    out.extend(tables::TABLES.iter().map(|t| describe(t.name(), t.doc(), &t.specs())));
    out
}

/// A SQL session over one consistent snapshot of the log and the views.
pub struct QueryEngine {
    ctx: SessionContext,
    limits: Limits,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine").field("session_id", &self.ctx.session_id()).finish_non_exhaustive()
    }
}

/// A query planned and ready to run.
struct Planned {
    ctx: SessionContext,
    plan: Arc<dyn ExecutionPlan>,
    deadline: Option<(tokio::time::Instant, std::time::Duration)>,
}

/// Parses `sql`, refuses it if its expressions nest deeper than `depth`, and plans it (on the
/// planning thread: the planner recurses as deep as the expressions nest).
async fn physical_plan(
    ctx: &SessionContext,
    sql: &str,
    depth: usize,
    memory: usize,
) -> Result<Arc<dyn ExecutionPlan>, QueryError> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect)?;
    if limits::depth(&statement, depth) > depth {
        return Err(QueryError::TooDeep { limit: depth });
    }
    // Planning evaluates constant expressions, which may call a bounded function.
    let planned = async {
        let plan = state.statement_to_plan(statement).await?;
        read_only().verify_plan(&plan)?;
        ctx.execute_logical_plan(plan).await?.create_physical_plan().await
    };
    planned.await.map_err(|e| {
        if errors::exhausted(&e) { QueryError::OutOfMemory { limit: memory } } else { QueryError::from(e) }
    })
}

/// The statements a query may be: no DDL, no DML (which includes COPY), no SET or PREPARE.
fn read_only() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

impl QueryEngine {
    /// A session over `views` (and the log snapshot they were read with).
    pub fn new(views: Views, options: QueryOptions) -> Result<QueryEngine, QueryError> {
        let mut config =
            SessionConfig::new().with_information_schema(true).with_target_partitions(options.target_partitions);
        if options.batch_size > 0 {
            config = config.with_batch_size(options.batch_size);
        }
        // No table factories (CREATE EXTERNAL TABLE), no table functions, no URL tables: nothing
        // here can name a file.
        let mut state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_table_factories(HashMap::new())
            .with_table_functions(HashMap::new())
            .build();
        // JSON functions (`json_get_str(payload, 'label')`) and operators (`payload->>'label'`).
        datafusion_functions_json::register_all(&mut state)?;
        limits::Bounded::wrap_all(&mut state, options.limits.memory)?;
        let ctx = SessionContext::new_with_state(state);
        ctx.add_optimizer_rule(Arc::new(kind_counts::KindCounts::new(
            views.snapshot().kind_counts().map_err(QueryError::Storage)?,
        )));
        let views = Arc::new(views);
        ctx.register_table("events", Arc::new(events::EventsTable::new(Arc::clone(&views), options.segments)))?;
        for &table in tables::TABLES {
            let provider = view_table::ViewTable::new(table, Arc::clone(&views), options.as_of);
            ctx.register_table(table.name(), Arc::new(provider))?;
        }
        Ok(QueryEngine { ctx, limits: options.limits })
    }

    /// A session for one query: this one's tables and functions, with a memory pool of its own
    /// holding at most [`Limits::memory`] and no disk to spill to.
    fn session(&self) -> Result<SessionContext, QueryError> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(self.limits.memory, 1.0)
            .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled))
            .build_arc()?;
        let state = SessionStateBuilder::new_from_existing(self.ctx.state()).with_runtime_env(runtime).build();
        Ok(SessionContext::new_with_state(state))
    }

    /// Checks `sql` against the limits and plans it on a thread with a large stack, within the
    /// time limit; the session it is to run in, its physical plan and its deadline.
    async fn plan(&self, sql: &str) -> Result<Planned, QueryError> {
        if sql.len() > self.limits.sql_bytes {
            return Err(QueryError::TooLong { bytes: sql.len(), limit: self.limits.sql_bytes });
        }
        let deadline = self.limits.time.map(|limit| (tokio::time::Instant::now() + limit, limit));
        let ctx = self.session()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| QueryError::Failed("a query runs inside a tokio runtime: start one".to_owned()))?;
        let (tx, rx) = futures::channel::oneshot::channel();
        let (sql, depth, memory, plan_ctx) = (sql.to_owned(), self.limits.depth, self.limits.memory, ctx.clone());
        std::thread::Builder::new().name("mindlog-query-plan".to_owned()).stack_size(limits::PLANNING_STACK).spawn(
            move || {
                let planned = limits::unwind(|| runtime.block_on(physical_plan(&plan_ctx, &sql, depth, memory)))
                    .unwrap_or_else(|stop| Err(QueryError::from(DataFusionError::External(Box::new(stop)))));
                let _ = tx.send(planned);
            },
        )?;
        let planned = match deadline {
            Some((at, limit)) => tokio::time::timeout_at(at, rx).await.map_err(|_| QueryError::TimedOut { limit })?,
            None => rx.await,
        };
        let plan =
            planned.map_err(|_| QueryError::Panicked("the planning thread ended without a plan".to_owned()))??;
        Ok(Planned { ctx, plan, deadline })
    }

    /// Runs a read-only query and streams its result.
    pub async fn stream(&self, sql: &str) -> Result<SendableRecordBatchStream, QueryError> {
        let Planned { ctx, plan, deadline } = self.plan(sql).await?;
        let task = ctx.task_ctx();
        let stream = limits::unwind(move || datafusion::physical_plan::execute_stream(plan, task))
            .map_err(|stop| DataFusionError::External(Box::new(stop)))??;
        Ok(Box::pin(limits::Guarded::new(stream, deadline, self.limits.memory)))
    }

    /// Runs a read-only query to its end and returns how many rows it gave (for benchmarks).
    pub async fn count_rows(&self, sql: &str) -> Result<u64, QueryError> {
        use futures::StreamExt;
        let mut stream = self.stream(sql).await?;
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            rows += batch?.num_rows() as u64;
        }
        Ok(rows)
    }

    /// The physical plan of a query, as `EXPLAIN` prints it.
    pub async fn explain(&self, sql: &str) -> Result<String, QueryError> {
        let plan = self.plan(sql).await?.plan;
        Ok(datafusion::physical_plan::displayable(plan.as_ref()).indent(true).to_string())
    }

    /// Writes every table as `DIR/NAME.parquet`. `progress` gets (table, rows written so far).
    pub async fn export_parquet(
        &self,
        dir: &std::path::Path,
        progress: &(dyn Fn(&str, u64) + Sync),
    ) -> Result<Vec<ExportedTable>, QueryError> {
        parquet::export(self, dir, progress).await
    }
}
