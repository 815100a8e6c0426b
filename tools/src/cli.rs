//! The command line: every subcommand, flag and help text (docs/cli.md mirrors it).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// mindlog — an event-sourced ledger for sovereign AI personas.
///
/// One file holds a whole mind: an append-only log of Ed25519-signed, blake3 hash-chained events.
/// Start with `mindlog demo`, or `mindlog init` then `mindlog gen`.
#[derive(Parser, Debug)]
#[command(name = "mindlog", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    /// The home folder holding mind.redb and identity.key [default: $MINDLOG_HOME, else ~/.mindlog]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Create a home: mind.redb and identity.key (mode 0600); print the public key
    Init,
    /// Write a deterministic synthetic workload of signed events (for trials and benchmarks)
    Gen(GenArgs),
    /// List events, newest last
    Log(LogArgs),
    /// Counts: events, feeds and their heads, kinds, file size
    Stats(JsonFlag),
    /// Re-check every event: encoding, hash, signature, feed links. Exit 0 valid, 1 integrity failure, 2 error
    Verify(JsonFlag),
    /// Write every event as one JSON object per line (stdout by default)
    Export(ExportArgs),
    /// Add events from an exported JSONL file (or - for stdin); all or nothing
    Import(ImportArgs),
    /// Measure append, gen, verify and export throughput in a scratch home
    Bench(BenchArgs),
    /// A five-minute tour: initialise the home, write a workload, verify it, export it
    Demo(DemoArgs),
}

#[derive(Args, Debug)]
pub(crate) struct JsonFlag {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct GenArgs {
    /// How many events to write
    #[arg(long, default_value_t = 100_000)]
    pub(crate) events: u64,
    /// How many authors (feeds) to spread them over; keys are derived from the seed
    #[arg(long, default_value_t = 8)]
    pub(crate) authors: u32,
    /// The seed: the same seed on an empty home writes byte-identical events
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Events per durable transaction
    #[arg(long, default_value_t = 4096)]
    pub(crate) batch: usize,
}

#[derive(Args, Debug)]
pub(crate) struct LogArgs {
    /// How many events to show
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    /// Only this author's events (a public key in hex)
    #[arg(long, value_name = "KEY")]
    pub(crate) author: Option<String>,
    /// Only events of this kind, e.g. persona.created/1
    #[arg(long)]
    pub(crate) kind: Option<String>,
    /// Show the events after this offset, oldest first (default: the latest events)
    #[arg(long, value_name = "OFFSET")]
    pub(crate) after: Option<u64>,
    /// One JSON object per line
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// Write JSON Lines (one object per event, in offset order)
    #[arg(long, required = true)]
    pub(crate) jsonl: bool,
    /// Write to this file instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// A file written by `mindlog export --jsonl`, or - for stdin
    pub(crate) file: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BenchWhat {
    /// Everything below
    All,
    /// Batched durable appends (`gen`)
    Gen,
    /// Single-event durable appends, one after another, beside redb's own single-transaction rate
    Append,
    /// `verify` of the generated store
    Verify,
    /// `export --jsonl` of the generated store
    Export,
}

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// What to measure
    #[arg(value_enum, default_value_t = BenchWhat::All)]
    pub(crate) what: BenchWhat,
    /// Events in the generated store
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) events: u64,
    /// Authors in the generated store
    #[arg(long, default_value_t = 8)]
    pub(crate) authors: u32,
    /// Single-event appends to time
    #[arg(long, default_value_t = 2_000)]
    pub(crate) appends: u64,
    /// Runs of each measurement; the median is reported
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Scratch folder (default: a temporary folder, removed afterwards)
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Print the results as JSON
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Events to generate
    #[arg(long, default_value_t = 200_000)]
    pub(crate) events: u64,
}
