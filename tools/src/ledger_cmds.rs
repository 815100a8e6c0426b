//! The log commands: init, gen, log, stats, verify, export, import, demo.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use mindlog_ledger::{Identity, IdentityError, Ledger, PublicKey, Snapshot, StoredEvent, format_time};
use serde::Serialize;

use crate::cli::{DemoArgs, ExportArgs, GenArgs, ImportArgs, LogArgs};
use crate::home::Home;
use crate::ui::{human_bytes, progress, thousands};
use crate::{Outcome, workload};

pub(crate) fn init(home: &Home) -> Result<Outcome> {
    home.create_dir()?;
    let key_path = home.key_path();
    let identity = match Identity::generate()?.save_new(&key_path) {
        Ok(()) => {
            eprintln!("created {} (mode 0600)", key_path.display());
            Identity::load(&key_path)?
        }
        Err(IdentityError::AlreadyExists(_)) => {
            eprintln!("{} already exists; kept it (mindlog never overwrites a key)", key_path.display());
            Identity::load(&key_path)?
        }
        Err(e) => return Err(e.into()),
    };
    let store_path = home.store_path();
    if store_path.exists() {
        Ledger::open(&store_path)?;
        eprintln!("{} already exists; kept it", store_path.display());
    } else {
        Ledger::create(&store_path)?;
        eprintln!("created {}", store_path.display());
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{}", identity.public_key())?;
    Ok(Outcome::Success)
}

pub(crate) fn generate(home: &Home, args: &GenArgs) -> Result<Outcome> {
    let ledger = home.open()?;
    let bar = progress(Some(args.events), "gen");
    let report = workload::run(&ledger, args, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    let skipped =
        if report.skipped > 0 { format!(" ({} already held)", thousands(report.skipped)) } else { String::new() };
    writeln!(
        io::stdout().lock(),
        "wrote {} events{skipped} over {} authors (seed {}) in {:.2} s: {} events/s",
        thousands(report.events),
        args.authors,
        args.seed,
        report.seconds,
        thousands(report.events_per_second as u64)
    )?;
    Ok(Outcome::Success)
}

#[derive(Serialize)]
struct LogLine<'a> {
    offset: u64,
    hash: String,
    author: PublicKey,
    seq: u64,
    ts: u64,
    time: String,
    kind: &'a str,
    refs: Vec<String>,
    payload_size: usize,
    /// The payload decoded, for kinds this build knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<mindlog_commands::Event>,
}

pub(crate) fn log(home: &Home, args: &LogArgs) -> Result<Outcome> {
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let author = match &args.author {
        Some(text) => Some(text.parse::<PublicKey>().with_context(|| format!("--author {text:?}"))?),
        None => None,
    };
    let events = select(&snapshot, author.as_ref(), args.kind.as_deref(), args.after, args.limit)?;
    let mut out = BufWriter::new(io::stdout().lock());
    if !args.json {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<16}  {:>7}  {:<28}  {:>6}  {:<16}",
            "OFFSET", "TIME", "AUTHOR", "SEQ", "KIND", "BYTES", "HASH"
        )?;
    }
    for event in &events {
        let env = event.envelope().with_context(|| format!("offset {}", event.offset))?;
        if args.json {
            let line = LogLine {
                offset: event.offset,
                hash: event.hash.to_string(),
                author: env.author,
                seq: env.seq,
                ts: env.ts,
                time: format_time(env.ts),
                kind: &env.kind,
                refs: env.refs.iter().map(ToString::to_string).collect(),
                payload_size: env.payload.len(),
                event: mindlog_commands::Event::decode(&env.kind, &env.payload).ok().flatten(),
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:>8}  {:<27}  {:<16}  {:>7}  {:<28}  {:>6}  {:<16}",
                event.offset,
                format_time(env.ts),
                &env.author.to_string()[..16],
                env.seq,
                env.kind,
                env.payload.len(),
                &event.hash.to_string()[..16]
            )?;
        }
    }
    if !args.json && events.is_empty() {
        writeln!(out, "(no events match)")?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// The events `log` shows: after `after` (oldest first), or else the latest `limit`.
fn select(
    snapshot: &Snapshot,
    author: Option<&PublicKey>,
    kind: Option<&str>,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<StoredEvent>> {
    let lo = after.map_or(0, |a| a.saturating_add(1));
    let offsets: Box<dyn DoubleEndedIterator<Item = Result<u64, mindlog_ledger::StorageError>>> = match (author, kind) {
        (Some(a), _) => Box::new(snapshot.feed(a, 1..=u64::MAX)?.map(|r| r.map(|(_, o)| o))),
        (None, Some(k)) => Box::new(snapshot.kind_offsets(k, lo..=u64::MAX)?),
        (None, None) => Box::new(snapshot.events(lo..)?.map(|r| r.map(|e| e.offset))),
    };
    let matches = |event: &StoredEvent| -> Result<bool> {
        Ok(event.offset >= lo && kind.is_none_or(|k| event.envelope().is_ok_and(|e| e.kind == k)))
    };
    let mut picked = Vec::new();
    let fetch = |offset: u64| -> Result<StoredEvent> {
        snapshot.event(offset)?.with_context(|| format!("offset {offset} is indexed but missing"))
    };
    if after.is_some() {
        for offset in offsets {
            let event = fetch(offset?)?;
            if matches(&event)? {
                picked.push(event);
                if picked.len() == limit {
                    break;
                }
            }
        }
    } else {
        for offset in offsets.rev() {
            let event = fetch(offset?)?;
            if matches(&event)? {
                picked.push(event);
                if picked.len() == limit {
                    break;
                }
            }
        }
        picked.reverse();
    }
    Ok(picked)
}

#[derive(Serialize)]
struct Stats {
    store: String,
    file_bytes: u64,
    events: u64,
    feeds: u64,
    heads: Vec<mindlog_ledger::Head>,
    kinds: Vec<KindCount>,
}

#[derive(Serialize)]
struct KindCount {
    kind: String,
    events: u64,
}

pub(crate) fn stats(home: &Home, json: bool) -> Result<Outcome> {
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let heads = snapshot.heads()?;
    let stats = Stats {
        store: ledger.path().display().to_string(),
        file_bytes: std::fs::metadata(ledger.path())?.len(),
        events: snapshot.len()?,
        feeds: heads.len() as u64,
        heads,
        kinds: snapshot.kind_counts()?.into_iter().map(|(kind, events)| KindCount { kind, events }).collect(),
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &stats)?;
        writeln!(out)?;
    } else {
        writeln!(out, "store    {} ({})", stats.store, human_bytes(stats.file_bytes))?;
        writeln!(out, "events   {}", thousands(stats.events))?;
        writeln!(out, "feeds    {}", thousands(stats.feeds))?;
        writeln!(out, "\nkinds")?;
        for k in &stats.kinds {
            writeln!(out, "  {:<32} {:>12}", k.kind, thousands(k.events))?;
        }
        writeln!(out, "\nheads (author, seq, hash)")?;
        for h in stats.heads.iter().take(20) {
            writeln!(out, "  {}  {:>9}  {}", h.author, h.seq, h.hash)?;
        }
        if stats.heads.len() > 20 {
            writeln!(out, "  … and {} more (--json lists all)", stats.heads.len() - 20)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

pub(crate) fn verify(home: &Home, json: bool) -> Result<Outcome> {
    let ledger = home.open()?;
    let total = ledger.snapshot()?.len()?;
    let bar = progress(Some(total), "verify");
    let report = ledger.verify(&|n| bar.set_position(n))?;
    bar.finish_and_clear();
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let verdict = if report.ok { "OK" } else { "FAILED" };
        writeln!(
            out,
            "{verdict}: {} events in {} feeds checked in {:.2} s ({} events/s)",
            thousands(report.events),
            thousands(report.feeds),
            report.seconds,
            thousands(report.events_per_second as u64)
        )?;
        if !report.ok {
            writeln!(
                out,
                "{} of {} feeds failed; {} events failed a check",
                report.failed_feeds, report.feeds, report.failed_events
            )?;
            for feed in &report.feed_reports {
                if let Some(f) = &feed.first_failure {
                    let seq = f.seq.map_or("?".into(), |s| s.to_string());
                    writeln!(
                        out,
                        "  feed {}: first failure at seq {seq} (offset {}): {}",
                        feed.author, f.offset, f.problem
                    )?;
                }
            }
            for f in &report.unattributed {
                writeln!(out, "  offset {}: {}", f.offset, f.problem)?;
            }
            for problem in &report.index_failures {
                writeln!(out, "  index: {problem}")?;
            }
        }
    }
    out.flush()?;
    Ok(if report.ok { Outcome::Success } else { Outcome::Failed })
}

pub(crate) fn export(home: &Home, args: &ExportArgs) -> Result<Outcome> {
    if let Some(dir) = &args.parquet {
        return crate::query_cmds::export_parquet(home, dir, args.as_of.map(|t| t.0));
    }
    let ledger = home.open()?;
    let total = ledger.snapshot()?.len()?;
    let bar = progress(Some(total), "export");
    let written = match &args.output {
        None => {
            let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
            ledger.export_jsonl(0, &mut out, &|n| bar.set_position(n))?
        }
        Some(path) => write_atomically(path, |file| Ok(ledger.export_jsonl(0, file, &|n| bar.set_position(n))?))?,
    };
    bar.finish_and_clear();
    if let Some(path) = &args.output {
        eprintln!("exported {} events to {}", thousands(written), path.display());
    }
    Ok(Outcome::Success)
}

/// Writes through a temporary file beside `path` and renames it into place, so `path` is either
/// complete or untouched.
pub(crate) fn write_atomically<T>(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<T> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let value = write(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn import(home: &Home, args: &ImportArgs) -> Result<Outcome> {
    let ledger = home.open()?;
    let (mut input, len): (Box<dyn BufRead>, Option<u64>) = if args.file.as_os_str() == "-" {
        (Box::new(BufReader::with_capacity(1 << 20, io::stdin().lock())), None)
    } else {
        let file = File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, file)), len)
    };
    // Lines are about 1 KiB; the bar counts lines against that estimate.
    let bar = progress(len.map(|l| l / 1000), "import");
    let report = ledger.import_jsonl(&mut input, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    writeln!(
        io::stdout().lock(),
        "imported {} new events ({} already held) from {} lines in {:.2} s",
        thousands(report.stored),
        thousands(report.skipped),
        thousands(report.lines),
        report.seconds
    )?;
    Ok(Outcome::Success)
}

pub(crate) fn demo(home: &Home, args: &DemoArgs) -> Result<Outcome> {
    let mut out = io::stdout().lock();
    writeln!(out, "== mindlog demo in {} ==\n", home.dir().display())?;
    writeln!(out, "-- 1. init: a home with a signing key and a store")?;
    init(home)?;
    let ledger = home.open()?;
    writeln!(out, "\n-- 2. gen: {} signed events from 8 synthetic authors (seed 7)", thousands(args.events))?;
    let gen_args = GenArgs { events: args.events, authors: 8, seed: 7, batch: 4096 };
    let bar = progress(Some(args.events), "gen");
    let report = workload::run(&ledger, &gen_args, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    writeln!(
        out,
        "wrote {} events in {:.2} s ({} events/s)",
        thousands(report.events),
        report.seconds,
        thousands(report.events_per_second as u64)
    )?;
    drop(ledger);
    writeln!(out, "\n-- 3. verify: every hash, link and signature")?;
    let verdict = verify(home, false)?;
    let export_path = home.dir().join("export.jsonl");
    writeln!(out, "\n-- 4. export --jsonl -o {}", export_path.display())?;
    export(home, &ExportArgs { jsonl: true, output: Some(export_path.clone()), parquet: None, as_of: None })?;
    writeln!(out, "\n-- 5. stats")?;
    stats(home, false)?;
    let home_flag = format!("--home {}", home.dir().display());
    writeln!(
        out,
        "\nWhat to try next:\n  mindlog {home_flag} log --limit 5\n  mindlog {home_flag} verify --json | jq .feed_reports[0]\n  head -1 {} | jq .\n  mindlog --home /tmp/copy init && mindlog --home /tmp/copy import {}\n  mindlog bench --events 200000",
        export_path.display(),
        export_path.display()
    )?;
    Ok(verdict)
}
