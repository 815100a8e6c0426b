//! The log commands: init, gen, log, stats, verify, export, import, demo.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use mindlog_commands::Instant;
use mindlog_ledger::{
    ExportError, ExportOptions, ExportReport, Hash, Identity, IdentityError, ImportReport, Ledger, PublicKey, Snapshot,
    StoredEvent, VerifyReport,
};
use mindlog_projections::{Projections, ViewFinding};
use serde::Serialize;

use crate::cli::{DemoArgs, ExportArgs, GenArgs, ImportArgs, LogArgs, VerifyArgs};
use crate::home::Home;
use crate::output::{Report, emit, json_line};
use crate::refusal::{Refusal, resolved};
use crate::ui::{human_bytes, progress, thousands};
use crate::{Outcome, workload};

/// What `init` made or found.
#[derive(Serialize)]
pub(crate) struct InitReport {
    /// The home folder.
    home: String,
    /// The default identity's public key.
    public_key: PublicKey,
    /// Whether `identity.key` was made now (false: it existed and was kept).
    key_created: bool,
    /// Whether `mind.redb` was made now (false: it existed and was kept).
    store_created: bool,
}

impl Report for InitReport {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.public_key)
    }
}

pub(crate) fn init(home: &Home) -> Result<Outcome> {
    emit(&init_home(home)?, home.format())?;
    Ok(Outcome::Success)
}

/// Makes the home's key and store where missing, saying on stderr what it did.
fn init_home(home: &Home) -> Result<InitReport> {
    home.create_dir()?;
    let key_path = home.key_path();
    let key_created = match Identity::generate()?.save_new(&key_path) {
        Ok(()) => {
            say!("created {} (mode 0600)", key_path.display());
            true
        }
        Err(IdentityError::AlreadyExists(_)) => false,
        Err(e) => return Err(e.into()),
    };
    // A kept key must be one: a regular file others cannot read (else exit 2, `run chmod 600`).
    let identity = Identity::load(&key_path)?;
    if !key_created {
        say!("{} already exists; kept it (mindlog never overwrites a key)", key_path.display());
    }
    let store_path = home.store_path();
    let store_created = if store_path.exists() {
        home.open()?;
        say!("{} already exists; kept it", store_path.display());
        false
    } else {
        Ledger::create(&store_path)?;
        say!("created {}", store_path.display());
        true
    };
    Ok(InitReport {
        home: home.dir().display().to_string(),
        public_key: identity.public_key(),
        key_created,
        store_created,
    })
}

/// What `gen` wrote.
#[derive(Serialize)]
pub(crate) struct GenSummary {
    /// Events written.
    events: u64,
    /// Events already held (the same seed run again), not written twice.
    skipped: u64,
    /// Authors the events are spread over.
    authors: u32,
    /// The seed.
    seed: u64,
    /// Seconds taken.
    seconds: f64,
    /// Events per second.
    events_per_second: f64,
}

impl Report for GenSummary {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let skipped =
            if self.skipped > 0 { format!(" ({} already held)", thousands(self.skipped)) } else { String::new() };
        writeln!(
            out,
            "wrote {} events{skipped} over {} authors (seed {}) in {:.2} s: {} events/s",
            thousands(self.events),
            self.authors,
            self.seed,
            self.seconds,
            thousands(self.events_per_second as u64)
        )
    }
}

pub(crate) fn generate(home: &Home, args: &GenArgs) -> Result<Outcome> {
    let ledger = home.open()?;
    emit(&gen_events(&ledger, args)?, home.format())?;
    Ok(Outcome::Success)
}

fn gen_events(ledger: &Ledger, args: &GenArgs) -> Result<GenSummary> {
    let bar = progress(Some(args.events), "gen");
    let report = workload::run(ledger, args, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    Ok(GenSummary {
        events: report.events,
        skipped: report.skipped,
        authors: args.authors,
        seed: args.seed,
        seconds: report.seconds,
        events_per_second: report.events_per_second,
    })
}

/// One event as `log` shows it.
#[derive(Serialize)]
struct LogLine {
    offset: u64,
    hash: Hash,
    author: PublicKey,
    seq: u64,
    time: Instant,
    kind: String,
    refs: Vec<Hash>,
    payload_size: usize,
    /// The payload decoded, for kinds this build knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<mindlog_commands::Event>,
}

/// What `log` shows; its JSON form is JSON Lines, one event per line.
#[derive(Serialize)]
#[serde(transparent)]
struct LogReport {
    lines: Vec<LogLine>,
    /// `--limit`: with 0 nothing was asked for, so "no events match" is not said.
    #[serde(skip)]
    limit: usize,
}

impl Report for LogReport {
    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        self.lines.iter().try_for_each(|line| json_line(out, line))
    }

    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<16}  {:>7}  {:<28}  {:>6}  {:<16}",
            "OFFSET", "TIME", "AUTHOR", "SEQ", "KIND", "BYTES", "HASH"
        )?;
        for line in &self.lines {
            writeln!(
                out,
                "{:>8}  {:<27}  {:<16}  {:>7}  {:<28}  {:>6}  {:<16}",
                line.offset,
                line.time.to_string(),
                &line.author.to_string()[..16],
                line.seq,
                line.kind,
                line.payload_size,
                &line.hash.to_string()[..16]
            )?;
        }
        if self.lines.is_empty() && self.limit > 0 {
            writeln!(out, "(no events match)")?;
        }
        Ok(())
    }
}

pub(crate) fn log(home: &Home, args: &LogArgs) -> Result<Outcome> {
    if let Some(persona) = &args.persona {
        return timeline(home, persona, args);
    }
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let author = match &args.author {
        Some(text) => Some(or_refuse!(home.author(text, &snapshot)?)),
        None => None,
    };
    let kind = match &args.kind {
        Some(text) => Some(or_refuse!(event_kind(&snapshot, text)?)),
        None => None,
    };
    let events = select(&snapshot, author.as_ref(), kind.as_deref(), args.after, args.limit)?;
    let mut lines = Vec::with_capacity(events.len());
    for event in &events {
        let env = event.as_ref().envelope().with_context(|| format!("offset {}", event.offset))?;
        let decoded =
            event.payload_bytes(&env).and_then(|p| mindlog_commands::Event::decode(env.kind, p).ok().flatten());
        lines.push(LogLine {
            offset: event.offset,
            hash: event.hash,
            author: env.author,
            seq: env.seq,
            time: Instant(env.ts),
            event: decoded,
            kind: env.kind.to_string(),
            refs: env.refs.to_vec(),
            payload_size: env.body.size() as usize,
        });
    }
    emit(&LogReport { lines, limit: args.limit }, home.format())?;
    Ok(Outcome::Success)
}

/// `log --persona`: the persona's timeline, oldest first, as `LogLine`s.
fn timeline(home: &Home, reference: &str, args: &LogArgs) -> Result<Outcome> {
    let session = crate::session::Session::open(home)?;
    let me = session.identity.public_key();
    let info = or_refuse!(resolved(mindlog_commands::resolve_persona(&session.views()?, &me, reference))?);
    let (since, until) = (args.since.map_or(0, |t| t.0), args.until.map_or(u64::MAX, |t| t.0));
    let (author, events) =
        session.projections.persona_timeline(&info.id, since, until)?.context("the persona vanished")?;
    let lines = events
        .into_iter()
        .take(args.limit)
        .map(|e| LogLine {
            offset: e.offset,
            hash: e.hash,
            author,
            seq: e.seq,
            time: e.ts,
            refs: e.refs,
            payload_size: e.payload_size,
            kind: e.kind,
            event: e.event,
        })
        .collect();
    emit(&LogReport { lines, limit: args.limit }, home.format())?;
    Ok(Outcome::Success)
}

/// The kind `text` names: a kind with its version (`memory.added/1`) that this build knows or the
/// store holds, or a kind without its version when it has exactly one; otherwise the refusal that
/// names the kinds that look like it.
fn event_kind(snapshot: &Snapshot, text: &str) -> Result<Result<String, Refusal>> {
    let mut known: Vec<String> = mindlog_commands::Event::KINDS.iter().map(|k| (*k).to_owned()).collect();
    known.extend(snapshot.kind_counts()?.into_iter().map(|(kind, _)| kind));
    known.sort();
    known.dedup();
    if known.iter().any(|k| k == text) {
        return Ok(Ok(text.to_owned()));
    }
    let versions: Vec<&String> =
        known.iter().filter(|k| k.rsplit_once('/').is_some_and(|(name, _)| name == text)).collect();
    if let [one] = versions.as_slice() {
        return Ok(Ok((*one).clone()));
    }
    let name = text.rsplit_once('/').map_or(text, |(name, _)| name);
    let close: Vec<String> = known
        .into_iter()
        .filter(|k| k.contains(name) || name.split('.').any(|part| part.len() > 2 && k.contains(part)))
        .collect();
    Ok(Err(Refusal::UnknownKind { text: text.to_owned(), close }))
}

/// The events `log` shows: after `after` (oldest first), or else the latest `limit`.
fn select(
    snapshot: &Snapshot,
    author: Option<&PublicKey>,
    kind: Option<&str>,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<StoredEvent>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
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

/// What `stats` shows.
#[derive(Serialize)]
pub(crate) struct Stats {
    store: String,
    file_bytes: u64,
    events: u64,
    feeds: u64,
    heads: Vec<mindlog_ledger::Head>,
    kinds: Vec<KindCount>,
    /// The last `verify` (the home's verified.json); `None` if it was never verified.
    last_verified: Option<crate::home::LastVerified>,
}

#[derive(Serialize)]
struct KindCount {
    kind: String,
    events: u64,
}

impl Report for Stats {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "store    {} ({})", self.store, human_bytes(self.file_bytes))?;
        writeln!(out, "events   {}", thousands(self.events))?;
        writeln!(out, "feeds    {}", thousands(self.feeds))?;
        match &self.last_verified {
            Some(v) => writeln!(
                out,
                "verified {} ({}, {} events)",
                v.at,
                if v.ok { "OK" } else { "FAILED" },
                thousands(v.events)
            )?,
            None => writeln!(out, "verified never (mindlog verify)")?,
        }
        writeln!(out, "\nkinds")?;
        for k in &self.kinds {
            writeln!(out, "  {:<32} {:>12}", k.kind, thousands(k.events))?;
        }
        writeln!(out, "\nheads (author, seq, hash)")?;
        for h in self.heads.iter().take(20) {
            writeln!(out, "  {}  {:>9}  {}", h.author, h.seq, h.hash)?;
        }
        if self.heads.len() > 20 {
            writeln!(out, "  … and {} more (--json lists all)", self.heads.len() - 20)?;
        }
        Ok(())
    }
}

pub(crate) fn stats(home: &Home, args: &crate::cli::StatsArgs) -> Result<Outcome> {
    let ledger = home.open()?;
    if args.space {
        emit(&space(&ledger)?, home.format())?;
        return Ok(Outcome::Success);
    }
    let stats = Stats { last_verified: home.last_verified(), ..count(&ledger)? };
    emit(&stats, home.format())?;
    Ok(Outcome::Success)
}

/// What `stats --space` prints: where the store file's bytes go.
#[derive(Serialize)]
struct Space {
    store: String,
    file_bytes: u64,
    events: u64,
    /// The signed records' own bytes, as the format defines them: every event's hash, signature
    /// and envelope (the `events` table's values) and its payload row (flags, salt, payload: the
    /// `payloads` table's values).
    signed_record_bytes: u64,
    tables: Vec<TableLine>,
}

#[derive(Serialize)]
struct TableLine {
    #[serde(flatten)]
    space: mindlog_ledger::TableSpace,
    total_bytes: u64,
}

fn space(ledger: &Ledger) -> Result<Space> {
    let snapshot = ledger.snapshot()?;
    let tables = snapshot.space()?;
    let events = snapshot.len()?;
    // An `events` or `payloads` entry is its offset (8 bytes) and its record.
    let signed_record_bytes = tables
        .iter()
        .filter(|t| t.name == "events" || t.name == "payloads")
        .map(|t| t.stored_bytes.saturating_sub(8 * t.entries))
        .sum();
    Ok(Space {
        store: ledger.path().display().to_string(),
        file_bytes: std::fs::metadata(ledger.path())?.len(),
        events,
        signed_record_bytes,
        tables: tables.into_iter().map(|space| TableLine { total_bytes: space.total_bytes(), space }).collect(),
    })
}

impl Report for Space {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let per_event = |bytes: u64| if self.events == 0 { 0.0 } else { bytes as f64 / self.events as f64 };
        writeln!(out, "store    {} ({}, {} events)", self.store, human_bytes(self.file_bytes), thousands(self.events))?;
        writeln!(
            out,
            "\n{:<28} {:>12} {:>11} {:>11} {:>6} {:>12}",
            "TABLE", "ENTRIES", "STORED", "PAGES", "FILL", "BYTES/EVENT"
        )?;
        let mut in_tables = 0;
        for t in &self.tables {
            in_tables += t.total_bytes;
            let fill =
                if t.total_bytes == 0 { 0.0 } else { 100.0 * t.space.stored_bytes as f64 / t.total_bytes as f64 };
            writeln!(
                out,
                "{:<28} {:>12} {:>11} {:>11} {:>5.0}% {:>12.1}",
                t.space.name,
                thousands(t.space.entries),
                human_bytes(t.space.stored_bytes),
                human_bytes(t.total_bytes),
                fill,
                per_event(t.total_bytes)
            )?;
        }
        writeln!(
            out,
            "{:<28} {:>12} {:>11} {:>11} {:>6} {:>12.1}",
            "(free pages, redb's own)",
            "",
            "",
            human_bytes(self.file_bytes.saturating_sub(in_tables)),
            "",
            per_event(self.file_bytes.saturating_sub(in_tables))
        )?;
        let (file, signed) = (per_event(self.file_bytes), per_event(self.signed_record_bytes));
        let ratio = if signed > 0.0 { file / signed } else { 0.0 };
        writeln!(
            out,
            "\nfile {file:.0} bytes per event; the signed records themselves {signed:.0} bytes per event: {ratio:.2}×"
        )
    }
}

fn count(ledger: &Ledger) -> Result<Stats> {
    let snapshot = ledger.snapshot()?;
    let heads = snapshot.heads()?;
    Ok(Stats {
        store: ledger.path().display().to_string(),
        file_bytes: std::fs::metadata(ledger.path())?.len(),
        events: snapshot.len()?,
        feeds: heads.len() as u64,
        heads,
        kinds: snapshot.kind_counts()?.into_iter().map(|(kind, events)| KindCount { kind, events }).collect(),
        last_verified: None,
    })
}

impl Report for VerifyReport {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let verdict = if self.ok { "OK" } else { "FAILED" };
        writeln!(
            out,
            "{verdict}: {} events in {} feeds checked in {:.2} s ({} events/s)",
            thousands(self.events),
            thousands(self.feeds),
            self.seconds,
            thousands(self.events_per_second as u64)
        )?;
        let p = &self.payloads;
        if p.present + p.erased + p.withheld > 0 {
            writeln!(
                out,
                "payloads: {} present ({} private), {} erased, {} withheld; {} in format 1",
                thousands(p.present),
                thousands(p.private),
                thousands(p.erased),
                thousands(p.withheld),
                thousands(p.inline)
            )?;
        }
        if self.forks > 0 {
            writeln!(out, "fork proofs held: {} (mindlog forks)", thousands(self.forks))?;
        }
        if self.checkpoints > 0 {
            writeln!(out, "published checkpoints checked against their feeds' trees: {}", thousands(self.checkpoints))?;
        }
        for f in &self.false_checkpoints {
            writeln!(
                out,
                "false checkpoint (evidence against its author, not a failure of this store): {} seq {}: {}",
                f.author, f.seq, f.problem
            )?;
        }
        if self.ok {
            return Ok(());
        }
        for f in &self.bad_forks {
            writeln!(out, "  fork proof {}: {}", f.key, f.problem)?;
        }
        writeln!(
            out,
            "{} of {} feeds failed; {} events failed a check",
            self.failed_feeds, self.feeds, self.failed_events
        )?;
        for feed in &self.feed_reports {
            if let Some(f) = &feed.first_failure {
                let seq = f.seq.map_or("?".into(), |s| s.to_string());
                writeln!(
                    out,
                    "  feed {}: first failure at seq {seq} (offset {}): {}",
                    feed.author, f.offset, f.problem
                )?;
            }
        }
        for f in &self.unattributed {
            writeln!(out, "  offset {}: {}", f.offset, f.problem)?;
        }
        for f in &self.derived {
            writeln!(
                out,
                "  {}: {} wrong {}; first at {}: expected {}, found {}",
                f.table,
                thousands(f.wrong_entries),
                if f.wrong_entries == 1 { "entry" } else { "entries" },
                f.first_key,
                f.expected,
                f.found
            )?;
        }
        if !self.derived.is_empty() {
            let tables: Vec<&str> = self.derived.iter().map(|f| f.table.as_str()).collect();
            writeln!(
                out,
                "derived tables differ from the events ({}): rebuild them with mindlog repair",
                tables.join(", ")
            )?;
        }
        Ok(())
    }
}

/// What `verify` found: the log and its derived tables, and the views if asked.
#[derive(Serialize)]
pub(crate) struct Verified {
    #[serde(flatten)]
    report: VerifyReport,
    views: ViewsChecked,
}

/// The views' part of `verify`.
#[derive(Serialize)]
struct ViewsChecked {
    /// Whether the views were folded again and compared (`--views`, `--full`).
    checked: bool,
    /// Why they were not, when asked for: the views are folded from the events, so they are
    /// not checked while events fail their checks.
    skipped: Option<String>,
    /// How many views were compared.
    compared: usize,
    /// The views that differ from a fold from offset 0.
    findings: Vec<ViewFinding>,
    /// The columnar segments compared with the events they hold (with the views).
    segments: Option<mindlog_query::SegmentsChecked>,
}

impl Report for Verified {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        self.report.text(out)?;
        let v = &self.views;
        if let Some(why) = &v.skipped {
            return writeln!(out, "views: not checked: {why}");
        }
        if !v.checked {
            return writeln!(
                out,
                "views: not checked (mindlog verify --views folds them again from offset 0 and compares)"
            );
        }
        if let Some(s) = &v.segments {
            for f in &s.findings {
                writeln!(out, "  {f}")?;
            }
            if s.compared == 0 {
                writeln!(out, "segments: none sealed yet (a query seals them)")?;
            } else if s.findings.is_empty() {
                writeln!(out, "segments: all {} match the events they hold", s.compared)?;
            } else {
                writeln!(out, "segments differ from the events: rebuild them with mindlog repair")?;
            }
        }
        if v.findings.is_empty() {
            return writeln!(out, "views: all {} match a fold from offset 0", v.compared);
        }
        for f in &v.findings {
            writeln!(
                out,
                "  view {}: {} (digest {} expected, {} found)",
                f.view, f.problem, f.expected_digest, f.found_digest
            )?;
        }
        let names: Vec<&str> = v.findings.iter().map(|f| f.view.as_str()).collect();
        writeln!(out, "views differ from the events ({}): rebuild them with mindlog repair", names.join(", "))
    }
}

pub(crate) fn verify(home: &Home, args: &VerifyArgs) -> Result<Outcome> {
    if let Some(checkpoint) = &args.checkpoint {
        return crate::tlog_cmds::verify_checkpoint(home, checkpoint);
    }
    if let Some(pmm) = &args.pmm {
        return crate::pmm::verify(home, pmm);
    }
    let ledger = home.open()?;
    let mut report = check(&ledger)?;
    let views = if (args.views || args.full) && report.failed_events > 0 {
        let why = "events fail their checks, and the views are folded from them".to_owned();
        ViewsChecked { checked: false, skipped: Some(why), compared: 0, findings: Vec::new(), segments: None }
    } else if args.views || args.full {
        let findings = check_views(home, &ledger)?;
        let bar = progress(None, "segments");
        let segments = mindlog_query::check_segments(&ledger.snapshot()?, &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })?;
        bar.finish_and_clear();
        let segments = Some(segments);
        ViewsChecked {
            checked: true,
            skipped: None,
            compared: mindlog_projections::view_names().len(),
            findings,
            segments,
        }
    } else {
        ViewsChecked { checked: false, skipped: None, compared: 0, findings: Vec::new(), segments: None }
    };
    report.ok &= views.findings.is_empty() && views.segments.as_ref().is_none_or(|s| s.findings.is_empty());
    home.record_verified(report.ok, report.events);
    let verified = Verified { report, views };
    emit(&verified, home.format())?;
    Ok(if verified.report.ok { Outcome::Success } else { Outcome::Failed })
}

/// What `repair` rebuilt.
#[derive(Serialize)]
pub(crate) struct Repaired {
    /// Events indexed again.
    events: u64,
    /// The views folded again from offset 0.
    views: Vec<&'static str>,
    /// Seconds taken.
    seconds: f64,
}

impl Report for Repaired {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "rebuilt the indexes of {} events and {} views from the events in {:.2} s; mindlog verify --full checks them",
            thousands(self.events),
            self.views.len(),
            self.seconds
        )
    }
}

/// What `repair` made of a store whose events themselves are damaged: a salvaged copy.
#[derive(Serialize)]
struct Salvaged {
    /// The damaged store, left as it was.
    damaged: String,
    /// The new store holding every event that still reads and verifies.
    salvaged: String,
    #[serde(flatten)]
    report: mindlog_ledger::SalvageReport,
}

impl Report for Salvaged {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = &self.report;
        writeln!(
            out,
            "the events themselves are damaged: salvaged {} of {} records read into {} in {:.2} s",
            thousands(r.kept),
            thousands(r.read),
            self.salvaged,
            r.seconds
        )?;
        if r.payloads_withheld > 0 {
            writeln!(out, "  {} payloads failed their commitment and are withheld", thousands(r.payloads_withheld))?;
        }
        if !r.unreadable.is_empty() {
            let first: Vec<String> = r.unreadable.iter().take(10).map(u64::to_string).collect();
            writeln!(
                out,
                "  {} records unreadable (offsets {}…)",
                thousands(r.unreadable.len() as u64),
                first.join(", ")
            )?;
        }
        for feed in &r.feeds {
            let seqs: Vec<String> = feed.lost.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            writeln!(out, "  lost from feed {}: seqs {} (kept 1-{})", feed.author, seqs.join(", "), feed.kept)?;
        }
        writeln!(
            out,
            "{} is untouched; to use the salvaged store: mv {} {}.damaged && mv {} {}",
            self.damaged, self.damaged, self.damaged, self.salvaged, self.damaged
        )
    }
}

/// What `compact` did: the rewrite's report.
#[derive(Serialize)]
struct Compacted(mindlog_ledger::ScrubReport);

impl Report for Compacted {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = &self.0;
        writeln!(
            out,
            "compacted: {} -> {} ({} rows of {} tables copied in key order, {:.2} s; mindlog stats --space shows where \
             the bytes are)",
            human_bytes(r.size_before),
            human_bytes(r.size_after),
            thousands(r.rows),
            r.tables,
            r.seconds
        )
    }
}

/// `mindlog compact`: the store file rewritten as `scrub` rewrites it (every live key and value,
/// table by table in key order, into a new file put in place in one rename).
pub(crate) fn compact(home: &Home) -> Result<Outcome> {
    let report = home.open()?.scrub()?;
    emit(&Compacted(report), home.format())?;
    Ok(Outcome::Success)
}

pub(crate) fn repair(home: &Home) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let ledger = home.open()?;
    // Indexes and views are rebuilt from the events: only if the events themselves are sound. A
    // check that panics (redb on a damaged page) says they are not.
    let sound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&ledger)))
        .is_ok_and(|report| report.is_ok_and(|r| r.failed_events == 0 && r.unattributed.is_empty()));
    if !sound {
        drop(ledger);
        return salvage(home);
    }
    let events = ledger.rebuild_indexes()?;
    let bar = progress(Some(events), "views");
    Projections::new(&ledger).rebuild(None, &|done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    crate::query_cmds::reseal(&ledger)?;
    let repaired =
        Repaired { events, views: mindlog_projections::view_names(), seconds: started.elapsed().as_secs_f64() };
    emit(&repaired, home.format())?;
    Ok(Outcome::Success)
}

/// Copies what still reads and verifies into `mind.salvaged.redb` beside the store; exit 1 when
/// anything was lost.
fn salvage(home: &Home) -> Result<Outcome> {
    if crate::served::current().is_some() {
        // Salvage reads a copy of the file, which must not change under it.
        anyhow::bail!(
            "the events themselves are damaged: stop the node (Ctrl-C), then run mindlog repair to salvage them"
        );
    }
    let damaged = home.store_path();
    let salvaged = damaged.with_file_name("mind.salvaged.redb");
    if salvaged.exists() {
        anyhow::bail!("{} exists (an earlier salvage?): move it away first", salvaged.display());
    }
    let report = Ledger::salvage(&damaged, &salvaged)?;
    let lost = report.lost_anything();
    let salvaged =
        Salvaged { damaged: damaged.display().to_string(), salvaged: salvaged.display().to_string(), report };
    emit(&salvaged, home.format())?;
    Ok(if lost { Outcome::Failed } else { Outcome::Success })
}

/// Folds every view again from offset 0 into a scratch store in a temporary folder inside the
/// home (removed afterwards) and compares it with the store's views.
fn check_views(home: &Home, ledger: &Ledger) -> Result<Vec<ViewFinding>> {
    let scratch_dir = tempfile::Builder::new()
        .prefix(".verify-views-")
        .tempdir_in(home.dir())
        .with_context(|| format!("making a scratch folder in {}", home.dir().display()))?;
    let scratch = Ledger::create(&scratch_dir.path().join("scratch.redb"))?;
    let bar = progress(Some(ledger.snapshot()?.len()?), "views");
    let findings = Projections::new(ledger).check(&scratch, &|done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    drop(scratch);
    Ok(findings)
}

fn check(ledger: &Ledger) -> Result<VerifyReport> {
    let total = ledger.snapshot()?.len()?;
    let bar = progress(Some(total), "verify");
    let report = ledger.verify(&|n| bar.set_position(n))?;
    bar.finish_and_clear();
    Ok(report)
}

/// What `export --jsonl -o FILE` wrote.
#[derive(Serialize)]
pub(crate) struct Exported {
    /// Events written, and records left out.
    #[serde(flatten)]
    report: ExportReport,
    /// The file.
    path: String,
}

impl Report for Exported {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "exported {} events to {}", thousands(self.report.events), self.path)?;
        if let Some(warning) = skipped_warning(&self.report) {
            writeln!(out, "{warning}")?;
        }
        Ok(())
    }
}

/// What `export --skip-bad` left out, in one line, if anything.
fn skipped_warning(report: &ExportReport) -> Option<String> {
    let first = report.first_skipped?;
    Some(format!(
        "left out {} records that fail their check (the first at offset {first}): the store is damaged; run mindlog verify",
        thousands(report.skipped)
    ))
}

pub(crate) fn export(home: &Home, args: &ExportArgs) -> Result<Outcome> {
    if let Some(dir) = &args.parquet {
        return crate::query_cmds::export_parquet(home, dir, args.as_of.map(|t| t.0));
    }
    let ledger = home.open()?;
    let options =
        ExportOptions { include_private: args.include_private, skip_bad: args.skip_bad, ..Default::default() };
    // A record that fails its check stops the export: exit 1, naming it.
    let bad = match &args.output {
        None => {
            let bar = progress(Some(ledger.snapshot()?.len()?), "export");
            let mut out = crate::output::stdout();
            let report = ledger.export_jsonl(&options, &mut out, &|n| bar.set_position(n));
            bar.finish_and_clear();
            match report {
                Ok(report) => {
                    out.flush()?;
                    if let Some(warning) = skipped_warning(&report) {
                        say!("mindlog: {warning}");
                    }
                    None
                }
                Err(e @ ExportError::BadRecord { .. }) => Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Some(path) => match export_to(&ledger, path, &options)? {
            Ok(exported) => {
                emit(&exported, home.format())?;
                None
            }
            Err(e) => Some(e),
        },
    };
    match bad {
        None => Ok(Outcome::Success),
        Some(e) => {
            say!("mindlog: {e}");
            Ok(Outcome::Failed)
        }
    }
}

/// Exports to `path`, written atomically. `Ok(Err(_))`: a record fails its check, and `path`
/// was left as it was.
fn export_to(ledger: &Ledger, path: &Path, options: &ExportOptions) -> Result<Result<Exported, ExportError>> {
    let bar = progress(Some(ledger.snapshot()?.len()?), "export");
    let bad = std::cell::RefCell::new(None);
    let written = write_atomically(path, |file| match ledger.export_jsonl(options, file, &|n| bar.set_position(n)) {
        Ok(report) => Ok(report),
        Err(e @ ExportError::BadRecord { .. }) => {
            let message = e.to_string();
            *bad.borrow_mut() = Some(e);
            Err(anyhow::anyhow!(message))
        }
        Err(e) => Err(e.into()),
    });
    bar.finish_and_clear();
    if let Some(e) = bad.into_inner() {
        return Ok(Err(e));
    }
    Ok(Ok(Exported { report: written?, path: path.display().to_string() }))
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

impl Report for Imported {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let r = &self.report;
        writeln!(
            out,
            "imported {} new events ({} already held) from {} lines in {:.2} s",
            thousands(r.stored),
            thousands(r.skipped),
            thousands(r.lines),
            r.seconds
        )?;
        if let Some(scrub) = &self.scrub {
            writeln!(out, "erased {} payloads held here, as imported erasures ask", thousands(r.erased))?;
            writeln!(out, "{}", crate::erase_cmds::scrubbed(scrub))?;
        }
        Ok(())
    }
}

pub(crate) fn import(home: &Home, args: &ImportArgs) -> Result<Outcome> {
    let path = match (&args.file, &args.pmm) {
        (_, Some(pmm)) => return crate::pmm::import(home, pmm, args.persona.as_deref()),
        (Some(path), None) => path,
        (None, None) => anyhow::bail!("give a file to import, or --pmm FILE"),
    };
    let ledger = home.open()?;
    let (mut input, len): (Box<dyn BufRead>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(BufReader::with_capacity(1 << 20, crate::served::stdin())), None)
    } else {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, file)), len)
    };
    // Lines are about 1 KiB; the bar counts lines against that estimate.
    let bar = progress(len.map(|l| l / 1000), "import");
    let report = match ledger.import_jsonl(&mut input, &|n| bar.set_position(n)) {
        Ok(report) => report,
        Err(mindlog_ledger::ImportError::Line { line, problem }) => {
            bar.finish_and_clear();
            return Ok(Outcome::Refused(Refusal::BadImportLine { line, problem }));
        }
        Err(e) => return Err(e.into()),
    };
    bar.finish_and_clear();
    // Imported erasures erased payloads held here: the views forget them, the file is scrubbed.
    let scrub = if report.erased > 0 {
        let projections = mindlog_projections::Projections::new(&ledger);
        Some(crate::erase_cmds::forget_and_scrub(ledger, projections)?)
    } else {
        None
    };
    emit(&Imported { report, scrub }, home.format())?;
    Ok(Outcome::Success)
}

/// What `import` did: its `--json` form.
#[derive(Serialize)]
struct Imported {
    #[serde(flatten)]
    report: ImportReport,
    /// The scrub after imported erasures erased payloads held here.
    #[serde(skip_serializing_if = "Option::is_none")]
    scrub: Option<crate::erase_cmds::Scrub>,
}

/// What `demo` did, step by step, and the disk space it used.
#[derive(Serialize)]
struct DemoReport {
    init: InitReport,
    #[serde(rename = "gen")]
    generated: GenSummary,
    verify: VerifyReport,
    export: Exported,
    stats: Stats,
    disk: DiskUse,
}

/// The files of a home and their sizes.
#[derive(Serialize)]
struct DiskUse {
    /// The home folder.
    home: String,
    /// Bytes of every file in it.
    bytes: u64,
    /// Each file, by name.
    files: Vec<FileSize>,
}

#[derive(Serialize)]
struct FileSize {
    name: String,
    bytes: u64,
}

impl Report for DemoReport {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let home = &self.disk.home;
        writeln!(out, "== mindlog demo in {home} ==\n")?;
        writeln!(out, "-- 1. init: a home with a signing key and a store")?;
        self.init.text(out)?;
        writeln!(
            out,
            "\n-- 2. gen: {} signed events from {} synthetic authors (seed {})",
            thousands(self.generated.events),
            self.generated.authors,
            self.generated.seed
        )?;
        self.generated.text(out)?;
        writeln!(out, "\n-- 3. verify: every hash, link and signature")?;
        self.verify.text(out)?;
        writeln!(out, "\n-- 4. export --jsonl -o {}", self.export.path)?;
        self.export.text(out)?;
        writeln!(out, "\n-- 5. stats")?;
        self.stats.text(out)?;
        let files: Vec<String> =
            self.disk.files.iter().map(|f| format!("{} {}", f.name, human_bytes(f.bytes))).collect();
        writeln!(
            out,
            "\ndisk used: {} in {home} ({}); remove it with: rm -r {home}",
            human_bytes(self.disk.bytes),
            files.join(", ")
        )?;
        let export = &self.export.path;
        writeln!(
            out,
            "\nWhat to try next:\n  mindlog --home {home} log --limit 5\n  mindlog --home {home} verify --json | jq .feed_reports[0]\n  head -1 {export} | jq .\n  mindlog --home /tmp/copy init && mindlog --home /tmp/copy import {export}\n  mindlog bench --events 200000"
        )
    }
}

pub(crate) fn demo(home: &Home, args: &DemoArgs) -> Result<Outcome> {
    if home.store_path().exists() {
        let held = home.open()?.snapshot()?.len()?;
        anyhow::ensure!(
            held == 0,
            "{} already holds {} events; demo writes synthetic events only into an empty home: give it one, \
             e.g. mindlog demo --home /tmp/mindlog-demo",
            home.dir().display(),
            thousands(held)
        );
    }
    let init = init_home(home)?;
    let ledger = home.open()?;
    let generated = gen_events(&ledger, &GenArgs { events: args.events, authors: 8, seed: 7, batch: 4096 })?;
    let verify = check(&ledger)?;
    let export = export_to(&ledger, &home.dir().join("export.jsonl"), &ExportOptions::default())??;
    let stats = count(&ledger)?;
    drop(ledger);
    let disk = disk_use(home.dir())?;
    let ok = verify.ok;
    emit(&DemoReport { init, generated, verify, export, stats, disk }, home.format())?;
    Ok(if ok { Outcome::Success } else { Outcome::Failed })
}

/// The files directly in `dir` (and in its sub-folders, counted under the folder's name).
fn disk_use(dir: &Path) -> Result<DiskUse> {
    fn size(path: &Path) -> io::Result<u64> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_dir() {
            return Ok(meta.len());
        }
        let mut total = 0;
        for entry in std::fs::read_dir(path)? {
            total += size(&entry?.path())?;
        }
        Ok(total)
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        files.push(FileSize { name: entry.file_name().to_string_lossy().into_owned(), bytes: size(&entry.path())? });
    }
    files.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    Ok(DiskUse { home: dir.display().to_string(), bytes: files.iter().map(|f| f.bytes).sum(), files })
}
