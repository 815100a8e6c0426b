//! `mindlog query` and `mindlog export --parquet`: SQL over a snapshot of the log and the views.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use mindlog_query::{Format, QueryEngine, QueryError, QueryOptions};

use crate::Outcome;
use crate::cli::{FormatArg, QueryArgs};
use crate::home::Home;
use crate::ui::{human_bytes, now_micros, progress, thousands};

/// A runtime for DataFusion: one worker per core.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// A query engine and the store it reads (which must outlive the engine's snapshot; fields drop in order).
pub(crate) struct Open {
    pub(crate) engine: QueryEngine,
    _ledger: mindlog_ledger::Ledger,
}

/// A query engine over the home's views, caught up first.
pub(crate) fn engine(home: &Home, as_of: Option<u64>) -> Result<Open> {
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
    let options = QueryOptions { as_of: as_of.unwrap_or_else(now_micros), ..QueryOptions::default() };
    let engine = QueryEngine::new(projections.views()?, options)?;
    Ok(Open { engine, _ledger: ledger })
}

/// Query errors are the query's fault (exit 2, as a usage error), said in one line.
fn query_error(e: QueryError) -> anyhow::Error {
    match e {
        QueryError::Io(io) => anyhow::Error::from(io),
        other => anyhow::anyhow!("{other}"),
    }
}

pub(crate) fn query(home: &Home, args: &QueryArgs) -> Result<Outcome> {
    if args.tables {
        let tables = mindlog_query::tables();
        let mut out = BufWriter::new(io::stdout().lock());
        if args.json {
            serde_json::to_writer_pretty(&mut out, &tables)?;
            writeln!(out)?;
        } else {
            for t in &tables {
                writeln!(out, "{}  — {}", t.name, t.doc)?;
                for c in &t.columns {
                    let null = if c.nullable { " (nullable)" } else { "" };
                    writeln!(out, "    {:<22} {:<32} {}{null}", c.name, c.r#type, c.doc)?;
                }
            }
        }
        out.flush()?;
        return Ok(Outcome::Success);
    }
    let sql = args.sql.as_deref().context("no SQL given")?;
    let format = match args.format {
        FormatArg::Table => Format::Table,
        FormatArg::Csv => Format::Csv,
        FormatArg::Json => Format::Json,
        FormatArg::Jsonl => Format::Jsonl,
    };
    let open = engine(home, args.as_of.map(|t| t.0))?;
    let engine = &open.engine;
    runtime()?.block_on(async {
        let stream = engine.stream(sql).await.map_err(query_error)?;
        let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
        mindlog_query::write(stream, format, &mut out).await.map_err(query_error)?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Outcome::Success)
}

pub(crate) fn export_parquet(home: &Home, dir: &Path, as_of: Option<u64>) -> Result<Outcome> {
    let open = engine(home, as_of)?;
    let engine = &open.engine;
    let bar = progress(None, "parquet");
    let exported = runtime()?.block_on(engine.export_parquet(dir, &|table, rows| {
        bar.set_message(table.to_owned());
        bar.set_position(rows);
    }));
    bar.finish_and_clear();
    let exported = exported.map_err(query_error)?;
    let mut out = io::stdout().lock();
    for t in &exported {
        writeln!(out, "{:<22} {:>12} rows  {:>10}  {}", t.table, thousands(t.rows), human_bytes(t.bytes), t.path)?;
    }
    Ok(Outcome::Success)
}
