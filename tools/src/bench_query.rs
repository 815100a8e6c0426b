//! `mindlog bench query`: SQL over a generated store, side by side with DuckDB reading the same
//! data from this store's own `export --parquet` files. Each query is timed in its own process's
//! engine (mindlog in this one, DuckDB in a Python process), as the median of `--runs`, warm;
//! both sides count the rows they return, and a row count that differs is marked.
//!
//! The queries are the issue's figures (the whole log counted, by kind, one hour, one author)
//! and every example of docs/query.md ([`mindlog_query::examples`]).

use std::io::{self, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};
use mindlog_ledger::Ledger;
use serde::{Deserialize, Serialize};

use crate::Outcome;
use crate::cli::{BenchArgs, GenArgs};
use crate::output::{Format, Report, emit};
use crate::ui::{human_bytes, progress, thousands};
use crate::workload;

/// The Python the DuckDB column runs in: `$MINDLOG_BENCH_PYTHON`, else `python3`.
const PYTHON_VAR: &str = "MINDLOG_BENCH_PYTHON";

/// DuckDB's side: reads `{"dir", "tables", "queries", "runs"}` on stdin, makes each exported
/// table a view over its Parquet file, and prints each query's median time and row count (or its
/// error) as JSON. `json_get_str` is mapped onto DuckDB's `json_extract_string`.
const DUCKDB_SCRIPT: &str = r#"
import json, statistics, sys, time
import duckdb
req = json.load(sys.stdin)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
con.execute("CREATE MACRO json_get_str(j, k) AS json_extract_string(j, k)")
for t in req["tables"]:
    path = (req["dir"] + "/" + t + ".parquet").replace("'", "''")
    con.execute(f"CREATE VIEW \"{t}\" AS SELECT * FROM read_parquet('{path}')")
out = []
for q in req["queries"]:
    try:
        times, rows = [], 0
        for _ in range(req["runs"]):
            started = time.perf_counter()
            rows = len(con.execute(q).fetchall())
            times.append(time.perf_counter() - started)
        out.append({"ms": statistics.median(times) * 1e3, "rows": rows})
    except Exception as e:
        out.append({"error": (str(e).splitlines() or [repr(e)])[0]})
print(json.dumps({"version": duckdb.__version__, "results": out}))
"#;

#[derive(Serialize)]
struct QueryTiming {
    name: String,
    sql: String,
    rows: u64,
    /// mindlog's median, when it ran the query.
    mindlog_ms: Option<f64>,
    /// Why mindlog did not run it (its first error; the bench goes on with the next query).
    mindlog_error: Option<String>,
    /// DuckDB's median, when it ran the query.
    duckdb_ms: Option<f64>,
    /// The rows DuckDB returned, when they differ from mindlog's.
    duckdb_rows: Option<u64>,
    /// Why DuckDB did not run it.
    duckdb_error: Option<String>,
    /// mindlog's time over DuckDB's.
    ratio: Option<f64>,
}

#[derive(Serialize)]
struct QueryBenchReport {
    cores: usize,
    events: u64,
    authors: usize,
    runs: usize,
    /// DuckDB's version, or why its column is empty.
    duckdb: std::result::Result<String, String>,
    /// The columnar segments sealed before the queries, and the time it took.
    segments: mindlog_query::SealReport,
    seal_seconds: f64,
    /// `export --parquet` of the store (events and every view), which DuckDB reads.
    export_parquet_seconds: f64,
    queries: Vec<QueryTiming>,
}

impl Report for QueryBenchReport {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "mindlog bench query: {} events over {} authors, {} cores; medians of {} warm runs, in-process",
            thousands(self.events),
            self.authors,
            self.cores,
            self.runs
        )?;
        match &self.duckdb {
            Ok(version) => writeln!(out, "  peer: DuckDB {version} (Python) on this store's export --parquet files")?,
            Err(why) => writeln!(out, "  peer: none ({why})")?,
        }
        let s = &self.segments;
        writeln!(
            out,
            "  segments: {} holding {} events, {} ({:.1} bytes/event), sealed in {:.2} s; export --parquet: {:.2} s",
            s.segments,
            thousands(s.events),
            human_bytes(s.bytes),
            s.bytes as f64 / s.events.max(1) as f64,
            self.seal_seconds,
            self.export_parquet_seconds
        )?;
        writeln!(out, "  {:<20} {:>9} {:>12} {:>12} {:>7}", "query", "rows", "mindlog", "duckdb", "ratio")?;
        for q in &self.queries {
            let duck = q.duckdb_ms.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms"));
            let ratio = q.ratio.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
            let mine = q.mindlog_ms.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms"));
            let mut notes = Vec::new();
            if let Some(e) = &q.mindlog_error {
                notes.push(format!("mindlog: {e}"));
            }
            if let (Some(rows), None) = (q.duckdb_rows, &q.mindlog_error) {
                notes.push(format!("DuckDB returned {rows} rows"));
            }
            if let Some(e) = &q.duckdb_error {
                notes.push(format!("DuckDB: {e}"));
            }
            let note = if notes.is_empty() { String::new() } else { format!("  ({})", notes.join("; ")) };
            writeln!(out, "  {:<20} {:>9} {:>12} {:>12} {:>7}{note}", q.name, thousands(q.rows), mine, duck, ratio)?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct DuckOutput {
    version: String,
    results: Vec<DuckResult>,
}

#[derive(Deserialize)]
struct DuckResult {
    ms: Option<f64>,
    rows: Option<u64>,
    error: Option<String>,
}

/// Runs the queries in DuckDB over the Parquet files in `dir`; `Err` says why there is no peer.
fn duckdb(dir: &std::path::Path, queries: &[(String, String)], runs: usize) -> std::result::Result<DuckOutput, String> {
    let python = std::env::var(PYTHON_VAR).unwrap_or_else(|_| "python3".to_owned());
    let tables: Vec<&str> = mindlog_query::tables().into_iter().map(|t| t.name).collect();
    let request = serde_json::json!({
        "dir": dir.display().to_string(),
        "tables": tables,
        "queries": queries.iter().map(|(_, sql)| sql).collect::<Vec<_>>(),
        "runs": runs,
    });
    let missing = || format!("{python} has no duckdb: pip install duckdb, or set {PYTHON_VAR} to a Python that has it");
    let probe = Command::new(&python).args(["-c", "import duckdb"]).stderr(Stdio::null()).status();
    if !probe.is_ok_and(|s| s.success()) {
        return Err(missing());
    }
    let mut child = Command::new(&python)
        .args(["-c", DUCKDB_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {python}: {e}"))?;
    let written = child.stdin.take().map(|mut stdin| stdin.write_all(request.to_string().as_bytes()));
    let output = child.wait_with_output().map_err(|e| format!("running {python}: {e}"))?;
    if !output.status.success() || !matches!(written, Some(Ok(()))) {
        return Err(format!("the DuckDB script failed ({})", output.status));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("reading DuckDB's answer: {e}"))
}

/// The issue's figures: the whole log counted and grouped by kind, one hour of it, one author.
fn figure_queries(ledger: &Ledger) -> Result<Vec<(String, String)>> {
    let snapshot = ledger.snapshot()?;
    let first = snapshot.event(0)?.context("the store is empty")?;
    let author = first.envelope()?.author;
    let middle = snapshot.event(ledger.log_len()? / 2)?.context("the store is empty")?;
    let hour = middle.envelope()?.ts / 3_600_000_000 * 3_600_000_000;
    let at = mindlog_ledger::format_time;
    let (from, to) = (at(hour), at(hour + 3_600_000_000));
    let one_hour = format!("ts >= '{from}' AND ts < '{to}'");
    Ok(vec![
        ("count".into(), "SELECT count(*) FROM events".into()),
        ("group-by-kind".into(), "SELECT kind, count(*) FROM events GROUP BY kind".into()),
        ("sizes-by-kind".into(), "SELECT kind, count(*), sum(size) FROM events GROUP BY kind".into()),
        ("one-hour-count".into(), format!("SELECT count(*) FROM events WHERE {one_hour}")),
        ("one-hour-kinds".into(), format!("SELECT kind, count(*) FROM events WHERE {one_hour} GROUP BY kind")),
        ("one-author-count".into(), format!("SELECT count(*) FROM events WHERE author = '{author}'")),
        (
            "one-author-kinds".into(),
            format!("SELECT kind, count(*) FROM events WHERE author = '{author}' GROUP BY kind"),
        ),
    ])
}

pub(crate) fn run(args: &BenchArgs, format: Format) -> Result<Outcome> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let scratch = crate::bench::scratch(args)?;
    let ledger = match &args.store {
        Some(path) => Ledger::open(path).with_context(|| format!("opening {}", path.display()))?,
        None => {
            let ledger = Ledger::create(&scratch.path().join("mind.redb"))?;
            let bar = progress(Some(args.events), "gen");
            let gen_args = GenArgs { events: args.events, authors: args.authors, seed: 7, batch: 4096 };
            workload::run(&ledger, &gen_args, &|n| bar.set_position(n))?;
            bar.finish_and_clear();
            ledger
        }
    };
    let events = ledger.log_len()?;
    let authors = ledger.snapshot()?.heads()?.len();
    let projections = mindlog_projections::Projections::new(&ledger);
    let bar = progress(Some(events), "views");
    projections.catch_up(&|n, _| bar.set_position(n))?;
    bar.finish_and_clear();
    let started = Instant::now();
    let sealed = crate::query_cmds::seal(&ledger)?;
    let seal_seconds = started.elapsed().as_secs_f64();
    let engine = mindlog_query::QueryEngine::new(projections.views()?, mindlog_query::QueryOptions::default())?;
    let rt = crate::query_cmds::runtime()?;

    let parquet = scratch.path().join("parquet");
    let bar = progress(None, "export --parquet");
    let started = Instant::now();
    rt.block_on(engine.export_parquet(&parquet, &|table, rows| {
        bar.set_message(table.to_owned());
        bar.set_position(rows);
    }))
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    let export_parquet_seconds = started.elapsed().as_secs_f64();

    let mut queries = figure_queries(&ledger)?;
    queries.extend(mindlog_query::examples().into_iter().map(|e| (format!("example-{}", e.number), e.sql.to_owned())));

    let bar = progress(Some(queries.len() as u64), "mindlog");
    let mut timings = Vec::new();
    for (name, sql) in &queries {
        let mut times = Vec::new();
        let mut rows = 0;
        let mut error = None;
        for _ in 0..args.runs {
            let started = Instant::now();
            match rt.block_on(engine.count_rows(sql)) {
                Ok(n) => rows = n,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        bar.inc(1);
        timings.push(QueryTiming {
            name: name.clone(),
            sql: sql.clone(),
            rows,
            mindlog_ms: error.is_none().then(|| crate::bench::median(&times)),
            mindlog_error: error,
            duckdb_ms: None,
            duckdb_rows: None,
            duckdb_error: None,
            ratio: None,
        });
    }
    bar.finish_and_clear();

    let bar = progress(None, "duckdb");
    let duck = duckdb(&parquet, &queries, args.runs);
    bar.finish_and_clear();
    let duckdb = match duck {
        Ok(out) => {
            for (t, d) in timings.iter_mut().zip(out.results) {
                t.duckdb_error = d.error;
                t.duckdb_rows = d.rows.filter(|&r| t.mindlog_error.is_none() && r != t.rows);
                t.duckdb_ms = d.ms;
                t.ratio = t.mindlog_ms.zip(d.ms).map(|(mine, theirs)| mine / theirs);
            }
            Ok(out.version)
        }
        Err(why) => Err(why),
    };
    let report = QueryBenchReport {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        events,
        authors,
        runs: args.runs,
        duckdb,
        segments: sealed,
        seal_seconds,
        export_parquet_seconds,
        queries: timings,
    };
    emit(&report, format)?;
    Ok(Outcome::Success)
}
