//! `mindlog bench tlog`: checkpoints and proofs on one long feed — `sign` (publishing a
//! checkpoint, a durable append), `prove` of one event and `check` of its proof, each timed in
//! this process as the median of many, on a feed of `--events` events written by `gen`.

use std::io::{self, Write};
use std::time::Instant;

use anyhow::{Context, Result};
use mindlog_ledger::note::NoteVerifier;
use mindlog_ledger::{Draft, Expect, Ledger};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{BenchArgs, GenArgs};
use crate::output::{Format, Report, emit};
use crate::ui::{progress, thousands};
use crate::workload;
use mindlog_commands::sim::{GEN_EPOCH_MICROS, Rng};

/// Timings of each operation: this many of each.
const SAMPLES: usize = 200;
/// Publishing appends an event and waits for the disk: fewer of those.
const SIGNS: usize = 30;

#[derive(Serialize)]
struct Timing {
    name: &'static str,
    what: &'static str,
    samples: usize,
    median_ms: f64,
    p90_ms: f64,
}

#[derive(Serialize)]
struct TlogReport {
    cores: usize,
    /// The feed's length when the proofs were made.
    feed: u64,
    /// `gen`'s rate writing it, events per second (the tree is written as it goes).
    gen_events_per_second: f64,
    timings: Vec<Timing>,
}

impl Report for TlogReport {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "mindlog bench tlog: one feed of {} events (gen wrote it at {} events/s), {} cores; in-process medians",
            thousands(self.feed),
            thousands(self.gen_events_per_second as u64),
            self.cores
        )?;
        for t in &self.timings {
            writeln!(
                out,
                "  {:<6} {:>8.3} ms median {:>8.3} ms p90   {} ({} samples)",
                t.name, t.median_ms, t.p90_ms, t.what, t.samples
            )?;
        }
        Ok(())
    }
}

fn timing(name: &'static str, what: &'static str, mut ms: Vec<f64>) -> Timing {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Timing { name, what, samples: ms.len(), median_ms: at(0.5), p90_ms: at(0.9) }
}

pub(crate) fn run(args: &BenchArgs, format: Format) -> Result<Outcome> {
    let scratch = crate::bench::scratch(args)?;
    let ledger = Ledger::create(&scratch.path().join("mind.redb"))?;
    let bar = progress(Some(args.events), "gen (one feed)");
    let gen_args = GenArgs { events: args.events, authors: 1, seed: 7, batch: 4096 };
    let generated = workload::run(&ledger, &gen_args, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    let identity = workload::author(7, 0);
    let author = identity.public_key();
    let key = NoteVerifier::for_feed(&author)?;

    // sign: one new event, then the checkpoint that covers it (a durable append each).
    let mut signs = Vec::with_capacity(SIGNS);
    for i in 0..SIGNS as u64 {
        let draft = Draft {
            kind: "bench.note/1".into(),
            payload: vec![1],
            refs: vec![],
            ts: GEN_EPOCH_MICROS + i,
            private: false,
        };
        ledger.append(&identity, vec![draft], Expect::Any)?;
        let started = Instant::now();
        ledger.publish_checkpoint(&identity, GEN_EPOCH_MICROS + i)?;
        signs.push(started.elapsed().as_secs_f64() * 1e3);
    }

    // prove and check: events all over the feed, against the newest checkpoint.
    let snapshot = ledger.snapshot()?;
    let head = snapshot.head(&author)?.context("the feed is empty")?.seq;
    let mut rng = Rng::derive(7, "bench tlog", 0);
    let (mut proves, mut checks) = (Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES));
    for _ in 0..SAMPLES {
        let seq = 1 + rng.below(head - 1);
        let offset = snapshot.feed(&author, seq..=seq)?.next().context("a seq of the feed is missing")??.1;
        let started = Instant::now();
        let (_, proof) = crate::tlog_cmds::proof_of(&snapshot, offset)?.map_err(|r| anyhow::anyhow!("{r}"))?;
        let bytes = proof.to_bytes();
        proves.push(started.elapsed().as_secs_f64() * 1e3);
        let started = Instant::now();
        crate::tlog_cmds::check_proof_file(&bytes, &key).map_err(|e| anyhow::anyhow!("a proof failed: {e}"))?;
        checks.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let report = TlogReport {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        feed: head,
        gen_events_per_second: generated.events_per_second,
        timings: vec![
            timing("sign", "publish a checkpoint of the feed's head: tree root, signed note, durable append", signs),
            timing(
                "prove",
                "an inclusion proof of one event, from the stored tree, checked before it is given",
                proves,
            ),
            timing("check", "mindlog check of that proof: note signature, envelope, event hash, RFC 9162 path", checks),
        ],
    };
    emit(&report, format)?;
    Ok(Outcome::Success)
}
