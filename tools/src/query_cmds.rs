//! `mindlog query` and `mindlog export --parquet`: SQL over a snapshot of the log and the views.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use mindlog_query::{ExportedTable, Format, Limits, QueryEngine, QueryOptions, TableInfo};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{FormatArg, QueryArgs};
use crate::home::Home;
use crate::output::{self, Report, emit};
use crate::ui::{human_bytes, now_micros, progress, thousands};

/// A runtime for DataFusion: one worker per core, each with an 8 MiB stack (as the main thread
/// has) for the recursion of deeply nested expressions.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().thread_stack_size(8 << 20).enable_all().build()?)
}

/// A query engine and the store it reads (which must outlive the engine's snapshot; fields drop in order).
pub(crate) struct Open {
    pub(crate) engine: QueryEngine,
    _ledger: mindlog_ledger::Ledger,
}

/// A query engine over the home's views, caught up first, and its columnar segments, sealed
/// first; each query it runs keeps to `limits`.
pub(crate) fn engine(home: &Home, as_of: Option<u64>, limits: Limits) -> Result<Open> {
    open_engine(home, as_of, limits, true)
}

/// [`engine`], sealing the columnar segments first when `seal_first` (an export of every
/// column, `payload` included, never reads them).
fn open_engine(home: &Home, as_of: Option<u64>, limits: Limits, seal_first: bool) -> Result<Open> {
    let ledger = home.open()?;
    let projections = mindlog_projections::Projections::new(&ledger);
    let bar = std::cell::OnceCell::new();
    projections.catch_up(&|done, total| {
        if total > 50_000 {
            bar.get_or_init(|| progress(Some(total), "views")).set_position(done);
        }
    })?;
    if let Some(b) = bar.get() {
        b.finish_and_clear();
    }
    if seal_first {
        seal(&ledger)?;
    }
    let options = QueryOptions { as_of: as_of.unwrap_or_else(now_micros), limits, ..QueryOptions::default() };
    let engine = QueryEngine::new(projections.views()?, options)?;
    Ok(Open { engine, _ledger: ledger })
}

/// Seals the log's full ranges no columnar segment holds yet (mindlog_query::seal), with a bar
/// when there is work.
pub(crate) fn seal(ledger: &mindlog_ledger::Ledger) -> Result<mindlog_query::SealReport> {
    with_bar(|progress| mindlog_query::seal(ledger, progress))
}

/// Drops the columnar segments and seals the whole log again (`projections rebuild`, `repair`).
pub(crate) fn reseal(ledger: &mindlog_ledger::Ledger) -> Result<mindlog_query::SealReport> {
    with_bar(|progress| mindlog_query::reseal(ledger, progress))
}

fn with_bar(
    run: impl FnOnce(&dyn Fn(u64, u64)) -> Result<mindlog_query::SealReport, mindlog_query::QueryError>,
) -> Result<mindlog_query::SealReport> {
    let bar = std::cell::OnceCell::new();
    let report = run(&|done, total| {
        if total > 0 {
            bar.get_or_init(|| progress(Some(total), "segments")).set_position(done);
        }
    })?;
    if let Some(b) = bar.get() {
        b.finish_and_clear();
    }
    Ok(report)
}

/// What `query --tables` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Tables(Vec<TableInfo>);

impl Report for Tables {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for t in &self.0 {
            writeln!(out, "{}  — {}", t.name, t.doc)?;
            for c in &t.columns {
                let null = if c.nullable { " (nullable)" } else { "" };
                writeln!(out, "    {:<22} {:<32} {}{null}", c.name, c.r#type, c.doc)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn query(home: &Home, args: &QueryArgs) -> Result<Outcome> {
    if args.tables {
        emit(&Tables(mindlog_query::tables()), home.format())?;
        return Ok(Outcome::Success);
    }
    let sql = args.sql.as_deref().context("no SQL given")?;
    let format = match (args.format, home.format()) {
        (None, output::Format::Text) => Format::Table,
        (None | Some(FormatArg::Json), output::Format::Json) => Format::Json,
        (Some(other), output::Format::Json) => {
            anyhow::bail!("--json asks for --format json, not {other:?}: give one of them")
        }
        (Some(FormatArg::Table), output::Format::Text) => Format::Table,
        (Some(FormatArg::Csv), output::Format::Text) => Format::Csv,
        (Some(FormatArg::Json), output::Format::Text) => Format::Json,
        (Some(FormatArg::Jsonl), output::Format::Text) => Format::Jsonl,
        (Some(FormatArg::Arrow), output::Format::Text) => {
            if crate::served::stdout_is_terminal() {
                anyhow::bail!(
                    "--format arrow writes binary: send it to a file or a pipe (mindlog query ... --format arrow > out.arrows)"
                );
            }
            Format::Arrow
        }
    };
    let limits = Limits {
        memory: usize::try_from(args.memory_limit).unwrap_or(usize::MAX),
        time: (!args.timeout.is_zero()).then_some(args.timeout),
        ..Limits::default()
    };
    let open = engine(home, args.as_of.map(|t| t.0), limits)?;
    let engine = &open.engine;
    let runtime = runtime()?;
    quiet_panics();
    // A query error reaches `main` as a `QueryError`: exit 1 when the query is wrong
    // (`QueryError::is_bad_query`), 2 when the store or the output failed or a limit was passed.
    // The engine catches DataFusion's panics; this catches any other (exit 2, one line).
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            let stream = engine.stream(sql).await?;
            let mut out = output::stdout();
            mindlog_query::write(stream, format, &mut out).await?;
            Ok::<_, anyhow::Error>(())
        })
    }));
    match run {
        Ok(result) => result?,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            anyhow::bail!(
                "internal error: {}; this is a bug: report it with the query",
                message.lines().next().unwrap_or("")
            )
        }
    }
    Ok(Outcome::Success)
}

/// The query engine turns a panic inside DataFusion into `QueryError::Panicked`, whose one line
/// says what panicked: the panic's own report (several lines on stderr) would only repeat it, so
/// it goes to the log (`MINDLOG_LOG=debug`) instead.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        tracing::debug!(panic = %info, "caught by the query's panic boundary");
    }));
}

/// What `export --parquet` wrote: one file per table.
#[derive(Serialize)]
#[serde(transparent)]
struct Parquet(Vec<ExportedTable>);

impl Report for Parquet {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for t in &self.0 {
            writeln!(out, "{:<22} {:>12} rows  {:>10}  {}", t.table, thousands(t.rows), human_bytes(t.bytes), t.path)?;
        }
        Ok(())
    }
}

pub(crate) fn export_parquet(home: &Home, dir: &Path, as_of: Option<u64>) -> Result<Outcome> {
    // An export reads every table in full, `payload` included (which no segment holds): no time
    // limit, and nothing to seal.
    let open = open_engine(home, as_of, Limits { time: None, ..Limits::default() }, false)?;
    let engine = &open.engine;
    let bar = progress(None, "parquet");
    let exported = runtime()?.block_on(engine.export_parquet(dir, &|table, rows| {
        bar.set_message(table.to_owned());
        bar.set_position(rows);
    }));
    bar.finish_and_clear();
    emit(&Parquet(exported?), home.format())?;
    Ok(Outcome::Success)
}
