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
mod output;
mod parquet;
mod tables;
mod view_table;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, SessionStateBuilder};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use mindlog_commands::Micros;
use mindlog_ledger::StorageError;
use mindlog_projections::Views;

pub use crate::output::{Format, write};
pub use crate::parquet::ExportedTable;

/// How queries run.
#[derive(Clone, Debug)]
pub struct QueryOptions {
    /// The instant time-dependent columns (memory strength, reputation) are computed for.
    pub as_of: Micros,
    /// Parallel partitions (0: one per core).
    pub target_partitions: usize,
    /// Rows per record batch.
    pub batch_size: usize,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        QueryOptions { as_of: now, target_partitions: 0, batch_size: 8192 }
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
}

impl QueryError {
    /// Whether the query itself is wrong (it does not parse, names what does not exist, is
    /// refused, or fails on the data), rather than the store or the output: `mindlog query`
    /// exits 1 for these and 2 for the others.
    pub fn is_bad_query(&self) -> bool {
        !matches!(self, QueryError::Storage(_) | QueryError::Io(_))
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
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine").field("session_id", &self.ctx.session_id()).finish_non_exhaustive()
    }
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
        let ctx = SessionContext::new_with_state(state);
        let views = Arc::new(views);
        ctx.register_table("events", Arc::new(events::EventsTable::new(Arc::clone(&views))))?;
        for &table in tables::TABLES {
            let provider = view_table::ViewTable::new(table, Arc::clone(&views), options.as_of);
            ctx.register_table(table.name(), Arc::new(provider))?;
        }
        Ok(QueryEngine { ctx })
    }

    /// Runs a read-only query and streams its result.
    pub async fn stream(&self, sql: &str) -> Result<SendableRecordBatchStream, QueryError> {
        let frame = self.ctx.sql_with_options(sql, read_only()).await?;
        Ok(frame.execute_stream().await?)
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
        let frame = self.ctx.sql_with_options(sql, read_only()).await?;
        let plan = frame.create_physical_plan().await?;
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
