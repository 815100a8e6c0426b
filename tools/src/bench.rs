//! `mindlog bench`: throughput of gen, single appends, verify and export, as medians over runs,
//! each run in a fresh scratch home.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use mindlog_ledger::{Draft, Identity, Ledger, redb};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{BenchArgs, BenchWhat, GenArgs};
use crate::output::{Format, Report, emit};
use crate::ui::{progress, thousands};
use crate::workload;
use mindlog_commands::sim::{self, GEN_EPOCH_MICROS, Rng};

#[derive(Serialize)]
struct Measure {
    name: &'static str,
    what: &'static str,
    events: u64,
    runs: Vec<f64>,
    median_events_per_second: f64,
    /// `events` at the median rate.
    median_seconds: f64,
}

#[derive(Serialize)]
struct BenchReport {
    cores: usize,
    events: u64,
    authors: u32,
    appends: u64,
    runs: usize,
    measures: Vec<Measure>,
}

pub(crate) fn run(args: &BenchArgs, format: Format) -> Result<Outcome> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let scratch = scratch(args)?;
    let wants = |w: BenchWhat| {
        (args.what == BenchWhat::All
            && !matches!(w, BenchWhat::Node | BenchWhat::P2p | BenchWhat::Tlog | BenchWhat::Query))
            || args.what == w
    };
    let needs_store =
        wants(BenchWhat::Gen) || wants(BenchWhat::Verify) || wants(BenchWhat::Export) || wants(BenchWhat::Rebuild);
    let (mut generated, mut verify, mut export, mut append, mut raw) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut rebuild, mut catch_up) = (vec![], vec![]);
    for run in 0..args.runs {
        let dir = scratch.path().join(format!("run-{run}"));
        std::fs::create_dir_all(&dir)?;
        if needs_store {
            let ledger = Ledger::create(&dir.join("mind.redb"))?;
            let bar = progress(Some(args.events), &format!("gen {}/{}", run + 1, args.runs));
            let gen_args = GenArgs { events: args.events, authors: args.authors, seed: 7, batch: 4096 };
            let report = workload::run(&ledger, &gen_args, &|n| bar.set_position(n))?;
            bar.finish_and_clear();
            generated.push(report.events_per_second);
            if wants(BenchWhat::Verify) {
                let bar = progress(Some(args.events), &format!("verify {}/{}", run + 1, args.runs));
                let report = ledger.verify(&|n| bar.set_position(n))?;
                bar.finish_and_clear();
                anyhow::ensure!(report.ok, "the generated store failed verification");
                verify.push(report.events_per_second);
            }
            if wants(BenchWhat::Export) {
                let bar = progress(Some(args.events), &format!("export {}/{}", run + 1, args.runs));
                let started = Instant::now();
                let file = std::fs::File::create(dir.join("export.jsonl"))?;
                let mut out = BufWriter::with_capacity(1 << 20, file);
                let options = mindlog_ledger::ExportOptions { include_private: true, ..Default::default() };
                let n = ledger.export_jsonl(&options, &mut out, &|n| bar.set_position(n))?.events;
                out.flush()?;
                bar.finish_and_clear();
                export.push(n as f64 / started.elapsed().as_secs_f64());
            }
            if wants(BenchWhat::Rebuild) {
                let projections = mindlog_projections::Projections::new(&ledger);
                let bar = progress(Some(args.events), &format!("rebuild {}/{}", run + 1, args.runs));
                let report = projections.rebuild(None, &|n, _| bar.set_position(n))?;
                bar.finish_and_clear();
                rebuild.push(report.events as f64 / report.seconds);
                // Incremental: 1% more events, then a catch-up that folds only those.
                let more = (args.events / 100).max(1);
                let more_args = GenArgs { events: more, authors: args.authors, seed: 7, batch: 4096 };
                workload::run(&ledger, &more_args, &|_| {})?;
                let report = projections.catch_up(&|_, _| {})?;
                anyhow::ensure!(
                    report.events == more,
                    "the catch-up folded {} events, not the {more} new ones",
                    report.events
                );
                catch_up.push(report.events as f64 / report.seconds);
            }
        }
        if wants(BenchWhat::Append) {
            append.push(single_appends(&dir.join("append.redb"), args.appends)?);
            raw.push(raw_redb_single_transactions(&dir.join("raw.redb"), args.appends)?);
        }
        std::fs::remove_dir_all(&dir)?;
    }
    let mut measures = Vec::new();
    let mut add = |name, what, events, runs: Vec<f64>| {
        if !runs.is_empty() {
            let rate = median(&runs);
            measures.push(Measure {
                name,
                what,
                events,
                median_events_per_second: rate,
                median_seconds: events as f64 / rate,
                runs,
            });
        }
    };
    if wants(BenchWhat::Gen) {
        add("gen", "batched durable append (mindlog gen)", args.events, generated);
    }
    add("append", "single-event durable appends, one after another", args.appends, append);
    add("redb-single-txn", "redb alone: one fsync'd transaction per 500-byte insert (baseline)", args.appends, raw);
    add("verify", "mindlog verify", args.events, verify);
    add("export", "mindlog export --jsonl (to a file)", args.events, export);
    add("rebuild", "mindlog projections rebuild (every view from offset 0)", args.events, rebuild);
    add("catch-up", "views catching up on 1% new events (only those are folded)", (args.events / 100).max(1), catch_up);
    let report = BenchReport {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        events: args.events,
        authors: args.authors,
        appends: args.appends,
        runs: args.runs,
        measures,
    };
    emit(&report, format)?;
    Ok(Outcome::Success)
}

impl Report for BenchReport {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "mindlog bench: {} events over {} authors, {} single appends, {} run(s), {} cores; medians",
            thousands(self.events),
            self.authors,
            thousands(self.appends),
            self.runs,
            self.cores
        )?;
        for m in &self.measures {
            let runs: Vec<String> = m.runs.iter().map(|r| thousands(*r as u64)).collect();
            writeln!(
                out,
                "  {:<16} {:>10} events/s {:>9}   {}  [{}]",
                m.name,
                thousands(m.median_events_per_second as u64),
                seconds(m.median_seconds),
                m.what,
                runs.join(", ")
            )?;
        }
        Ok(())
    }
}

fn seconds(s: f64) -> String {
    if s < 1.0 { format!("{:.1} ms", s * 1e3) } else { format!("{s:.2} s") }
}

pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// `count` appends of one event each, each waiting for its durable commit before the next.
fn single_appends(path: &Path, count: u64) -> Result<f64> {
    let ledger = Ledger::create(path)?;
    let me = Identity::from_secret(&[7; 32]);
    let mut rng = Rng::derive(7, "bench append", 0);
    let drafts: Vec<Draft> = (0..count)
        .map(|i| Draft {
            kind: "bench.note/1".into(),
            payload: sim::text(&mut rng, 300).into_bytes(),
            refs: vec![],
            ts: GEN_EPOCH_MICROS + i,
            private: false,
        })
        .collect();
    let started = Instant::now();
    for draft in drafts {
        ledger.append_one(&me, draft)?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// redb's own rate for the same shape of work: one durable single-insert transaction at a time.
fn raw_redb_single_transactions(path: &Path, count: u64) -> Result<f64> {
    const TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
    let db = redb::Database::create(path)?;
    let value = vec![7u8; 500];
    let started = Instant::now();
    for i in 0..count {
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?.insert(i, value.as_slice())?;
        txn.commit()?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// The scratch folder of a bench run: a new folder under `--dir`, or in the system's temporary
/// folder; removed when dropped.
pub(crate) fn scratch(args: &BenchArgs) -> Result<tempfile::TempDir> {
    Ok(match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            tempfile::tempdir_in(dir)?
        }
        None => tempfile::tempdir()?,
    })
}
