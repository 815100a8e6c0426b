//! The persona-domain commands: persona, commitment, memory, reflect, emotion, consent, model,
//! message, submit, projections.

use std::io::{self, Write};

use anyhow::{Context, Result};
use mindlog_commands::{Command, resolve_persona};
use mindlog_ledger::{Hash, PublicKey};
use mindlog_projections::{ClosedCommitmentLine, MemoryFilter, MemoryLine, PersonaProfile, Projections, ViewStatus};
use serde::Serialize;

use crate::Outcome as Exit;
use crate::cli::{MemoryCmd, PersonaCmd, ProjectionsCmd};
use crate::home::Home;
use crate::output::{Report, decimal, emit};
use crate::refusal::{Refusal, resolved};
use crate::session::{Session, written};
use crate::ui::{now_micros, progress, thousands};

/// Runs one command that writes, printing event hashes on stdout and `what` on stderr; a
/// rejection is the outcome `Rejected` (exit 1).
pub(crate) fn write(home: &Home, command: impl Into<Command>, what: &str) -> Result<Exit> {
    write_private(home, command, what, false)
}

/// [`write`], with the payloads private when `private` (or by their persona's default).
pub(crate) fn write_private(home: &Home, command: impl Into<Command>, what: &str, private: bool) -> Result<Exit> {
    let mut session = Session::open(home)?;
    session.private = private;
    let written = session.run_and_print(&command.into(), home.format(), |events| match events.len() {
        0 => format!("{what}: nothing to do"),
        1 => what.to_string(),
        n => format!("{what} ({n} events)"),
    })?;
    Ok(match written {
        Ok(()) => Exit::Success,
        Err(rejection) => Exit::Rejected(rejection),
    })
}

/// Runs a command declared in a `writes!` enum of `cli.rs`, with what it says once written.
pub(crate) fn write_declared(home: &Home, (command, what, private): (Command, &'static str, bool)) -> Result<Exit> {
    write_private(home, command, what, private)
}

pub(crate) fn persona(home: &Home, cmd: PersonaCmd) -> Result<Exit> {
    match cmd {
        PersonaCmd::Write(cmd) => write_declared(home, cmd.command()),
        PersonaCmd::Show { persona, as_of, all } => show(home, &persona, as_of.map(|t| t.0), all),
        PersonaCmd::List => list(home),
        PersonaCmd::Erase { persona, reason } => crate::erase_cmds::erase_persona(home, &persona, &reason),
    }
}

pub(crate) fn memory(home: &Home, cmd: MemoryCmd) -> Result<Exit> {
    match cmd {
        MemoryCmd::Write(cmd) => write_declared(home, cmd.command()),
        MemoryCmd::Forget { command, erase } => crate::erase_cmds::forget(home, command, erase),
        MemoryCmd::List { persona, all, search, as_of } => {
            memories(home, &persona, MemoryFilter { forgotten: all, search: search.as_deref() }, as_of.map(|t| t.0))
        }
    }
}

/// What `persona show` prints: the profile, and with `--all` the commitments that ended.
#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    profile: PersonaProfile,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_commitments: Option<Vec<ClosedCommitmentLine>>,
    /// The latest reflections, newest first.
    latest_reflections: Vec<ReflectionLine>,
    /// Who is asking, to mark their own personas.
    #[serde(skip)]
    me: PublicKey,
}

/// A reflection `persona show` prints.
#[derive(Serialize)]
struct ReflectionLine {
    id: Hash,
    at: mindlog_commands::Instant,
    text: String,
}

/// How many of the latest reflections `persona show` prints.
const LATEST_REFLECTIONS: usize = 3;
/// How many of the latest models `persona show` prints (`--json`: all).
const MODELS_SHOWN: usize = 5;

fn show(home: &Home, reference: &str, as_of: Option<u64>, all: bool) -> Result<Exit> {
    let session = Session::open(home)?;
    let views = session.views()?;
    let me = session.identity.public_key();
    let info = or_refuse!(resolved(resolve_persona(&views, &me, reference))?);
    // As of an instant: the owner's feed up to it, folded into a scratch store by the same views.
    let past = match as_of {
        None => None,
        Some(t) => match session.projections.persona_past(&info.id, t) {
            Ok(past) => Some(past.context("the persona vanished")?),
            Err(mindlog_projections::ProjectionError::NotYetCreated { name, created }) => {
                return Ok(Exit::Refused(Refusal::NotYetCreated { name, created }));
            }
            Err(e) => return Err(e.into()),
        },
    };
    let views = past.as_deref().unwrap_or(&views);
    let profile = views.profile(&info.id, as_of.unwrap_or_else(now_micros))?.context("the persona vanished")?;
    let closed_commitments = if all { Some(views.closed_commitments(&info.id)?) } else { None };
    // Read from the log, newest first, until the persona's own are found (none: nothing read).
    let latest_reflections = views
        .latest_reflections(&info.id, LATEST_REFLECTIONS.min(profile.reflections as usize))?
        .into_iter()
        .map(|r| ReflectionLine { id: r.hash, at: mindlog_commands::Instant(r.at), text: r.text })
        .collect();
    emit(&Shown { profile, closed_commitments, latest_reflections, me }, home.format())?;
    Ok(Exit::Success)
}

impl Report for Shown {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let p = &self.profile;
        let yours = if p.owner == self.me { " (you)" } else { "" };
        writeln!(out, "{}  —  {}", p.name, if p.description.is_empty() { "(no description)" } else { &p.description })?;
        writeln!(out, "  id        {}", p.id)?;
        if let Some(adopted) = &p.adopted_identity {
            writeln!(out, "  identity  {adopted} (the name it adopted for itself)")?;
        }
        writeln!(out, "  owner     {}{yours}", p.owner)?;
        writeln!(out, "  created   {}", p.created)?;
        match &p.retired {
            Some(r) => {
                let successor = r.successor.map(|s| format!(", succeeded by {s}")).unwrap_or_default();
                let reason = r.reason.as_ref().map(|s| format!(": {s}")).unwrap_or_default();
                writeln!(out, "  status    retired {}{successor}{reason}", r.at)?;
            }
            None => writeln!(out, "  status    active")?,
        }
        writeln!(
            out,
            "  stage     {:?} {} ({} interactions; formula {})",
            p.stage.code,
            p.stage.name,
            thousands(p.interactions),
            p.stage.formula
        )?;
        writeln!(out, "\ntraits ({} updates)", p.trait_updates)?;
        for t in &p.traits {
            let bar = "#".repeat((t.value.0.clamp(0, 1_000_000) / 50_000) as usize);
            writeln!(out, "  {:<18} {:<8} {:<20} {}", t.name, t.value.to_string(), bar, t.word)?;
        }
        let c = &p.commitments;
        let rate = c.close_rate.map_or("-".into(), |r| format!("{}%", decimal(r * 100.0, 0)));
        let life = c.mean_lifespan_events.map_or("-".into(), |l| format!("{} events", decimal(l, 1)));
        writeln!(
            out,
            "\ncommitments  {} open, {} closed ({} done), {} expired; close rate {rate}; mean lifespan {life}",
            c.open, c.closed, c.done, c.expired
        )?;
        for o in &c.open_list {
            let due = o.due.map(|d| format!(" (due {d})")).unwrap_or_default();
            writeln!(out, "  {}  {}{due}", &o.id.to_string()[..12], o.title)?;
        }
        for closed in self.closed_commitments.iter().flatten() {
            let how = closed.outcome.map_or(closed.status, |o| o.as_str());
            let ended = closed.ended.map(|e| format!(" {e}")).unwrap_or_default();
            writeln!(out, "  {}  {}  ({how}{ended})", &closed.id.to_string()[..12], closed.title)?;
        }
        let m = &p.memories;
        writeln!(out, "\nmemories     {} kept, {} forgotten; strongest as of {}", m.live, m.forgotten, m.as_of)?;
        for line in &m.strongest {
            let tags = if line.tags.is_empty() { String::new() } else { format!(" [{}]", line.tags.join(", ")) };
            writeln!(out, "  {}  {}  {}{tags}", &line.id.to_string()[..12], decimal(line.strength, 3), line.text)?;
        }
        writeln!(out, "\nconsent")?;
        if p.consent.is_empty() {
            writeln!(out, "  (nothing set)")?;
        }
        for c in &p.consent {
            writeln!(out, "  {:<24} {} since {}", c.scope, if c.allow { "allowed" } else { "denied" }, c.since)?;
        }
        match &p.model.current {
            Some(m) => {
                writeln!(out, "\nmodel        {} ({}) since {}; {} swaps", m.model, m.hash, m.since, p.model.swaps)?
            }
            None => writeln!(out, "\nmodel        (none recorded)")?,
        }
        if p.model.history.len() > 1 {
            let shown = p.model.history.len().min(MODELS_SHOWN);
            let earlier = p.model.history.len() - shown;
            if earlier > 0 {
                writeln!(out, "  ({earlier} earlier; --json lists them all)")?;
            }
            for m in &p.model.history[earlier..] {
                writeln!(out, "  since {}  {}", m.since, m.model)?;
            }
        }
        let e = &p.emotion;
        match &e.latest {
            Some(l) => writeln!(
                out,
                "emotion      valence {} arousal {}{} at {}; rolling mean valence {} arousal {} over {} recorded",
                l.valence,
                l.arousal,
                l.label.as_ref().map(|s| format!(" ({s})")).unwrap_or_default(),
                l.at,
                e.mean_valence.unwrap_or_default(),
                e.mean_arousal.unwrap_or_default(),
                e.recorded
            )?,
            None => writeln!(out, "emotion      (none recorded)")?,
        }
        writeln!(
            out,
            "messages     {} user, {} assistant, {} system; {} reflections",
            p.messages.user, p.messages.assistant, p.messages.system, p.reflections
        )?;
        for r in &self.latest_reflections {
            let line = r.text.lines().next().unwrap_or_default();
            let short: String = line.chars().take(100).collect();
            let more = if short.len() < r.text.len() { "…" } else { "" };
            writeln!(out, "  {}  {}  {short}{more}", &r.id.to_string()[..12], r.at)?;
        }
        let l = &p.lineage;
        let parent = l.parent.map(|h| h.to_string()).unwrap_or_else(|| "(original)".into());
        let license = l.license.as_ref().map(|s| format!(" under {s}")).unwrap_or_default();
        writeln!(out, "lineage      parent {parent}{license}; depth {}; {} fork(s)", l.depth, l.children.len())?;
        for child in &l.children {
            writeln!(out, "  fork {child}")?;
        }
        Ok(())
    }
}

/// What `memory list` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Memories(Vec<MemoryLine>);

impl Report for Memories {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{:<12}  {:<20}  {:>10}  {:>8}  TEXT [TAGS]", "ID", "CREATED", "IMPORTANCE", "STRENGTH")?;
        for m in &self.0 {
            let tags = if m.tags.is_empty() { String::new() } else { format!(" [{}]", m.tags.join(", ")) };
            let forgotten = m.forgotten.map(|f| format!(" (forgotten {f})")).unwrap_or_default();
            writeln!(
                out,
                "{:<12}  {:<20}  {:>10}  {:>8}  {}{tags}{forgotten}",
                &m.id.to_string()[..12],
                m.created.to_string(),
                m.importance.to_string(),
                decimal(m.strength, 3),
                m.text
            )?;
        }
        if self.0.is_empty() {
            writeln!(out, "(no memories match)")?;
        }
        Ok(())
    }
}

fn memories(home: &Home, reference: &str, filter: MemoryFilter<'_>, as_of: Option<u64>) -> Result<Exit> {
    let session = Session::open(home)?;
    let views = session.views()?;
    let info = or_refuse!(resolved(resolve_persona(&views, &session.identity.public_key(), reference))?);
    let lines = views.memory_list(&info.id, as_of.unwrap_or_else(now_micros), filter)?;
    emit(&Memories(lines), home.format())?;
    Ok(Exit::Success)
}

#[derive(Serialize)]
struct ListLine {
    id: Hash,
    name: String,
    owner: PublicKey,
    yours: bool,
    status: &'static str,
    stage: String,
    created: mindlog_commands::Instant,
    events: u64,
}

/// What `persona list` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct PersonaList(Vec<ListLine>);

impl Report for PersonaList {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{:<16}  {:<24}  {:<16}  {:<8}  {:<5}  {:>8}  CREATED",
            "ID", "NAME", "OWNER", "STATUS", "STAGE", "EVENTS"
        )?;
        for l in &self.0 {
            let owner = if l.yours { "you".to_owned() } else { l.owner.to_string()[..16].to_owned() };
            writeln!(
                out,
                "{:<16}  {:<24}  {:<16}  {:<8}  {:<5}  {:>8}  {}",
                &l.id.to_string()[..16],
                l.name,
                owner,
                l.status,
                l.stage,
                l.events,
                l.created
            )?;
        }
        if self.0.is_empty() {
            writeln!(out, "(no personas yet: mindlog persona create NAME)")?;
        }
        Ok(())
    }
}

fn list(home: &Home) -> Result<Exit> {
    let session = Session::open(home)?;
    let me = session.identity.public_key();
    let views = session.views()?;
    let lines: Vec<ListLine> = views
        .personas()?
        .into_iter()
        .map(|(id, p)| ListLine {
            id,
            name: p.name.clone(),
            owner: p.owner,
            yours: p.owner == me,
            status: if p.retired.is_some() { "retired" } else { "active" },
            stage: format!("{:?}", mindlog_projections::stage(&p)),
            created: mindlog_commands::Instant(p.created),
            events: p.events,
        })
        .collect();
    emit(&PersonaList(lines), home.format())?;
    Ok(Exit::Success)
}

#[derive(serde::Serialize)]
struct SubmitResult {
    command: &'static str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<crate::session::Written>,
}

/// The commands of one JSON value read by `submit`: one command, or an array of them (every
/// element parsed before any runs). `number` counts the values read so far, for the message.
fn commands_of(value: serde_json::Value, number: usize) -> Result<Vec<Command>> {
    match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| serde_json::from_value(v).with_context(|| format!("command {} of array {number}", i + 1)))
            .collect(),
        other => Ok(vec![serde_json::from_value(other).with_context(|| format!("command {number}"))?]),
    }
}

/// Runs `command` and writes its acknowledgement line, flushed at once: a caller reading the
/// output sees each command's line as soon as its events are committed. Whether it was rejected.
fn submit_one(session: &Session, command: &Command, out: &mut dyn Write) -> Result<bool> {
    let (result, rejected) = match session.run(command)? {
        Ok(events) => {
            (SubmitResult { command: command.name(), ok: true, error: None, events: written(&events) }, false)
        }
        Err(rejection) => (
            SubmitResult { command: command.name(), ok: false, error: Some(rejection.to_string()), events: vec![] },
            true,
        ),
    };
    crate::output::json_line(out, &result)?;
    out.flush()?;
    Ok(rejected)
}

/// `submit FILE`: every command of the file is parsed before any runs. `submit -`: the commands
/// on stdin run as they arrive, each value (a command, or an array of them) as soon as it is
/// complete, so a program can hold a conversation with mindlog through a pipe.
pub(crate) fn submit(home: &Home, file: &std::path::Path) -> Result<Exit> {
    let mut out = crate::output::stdout();
    let mut any_rejected = false;
    if file.as_os_str() == "-" {
        let session = Session::open(home)?;
        let values = serde_json::Deserializer::from_reader(crate::served::stdin()).into_iter::<serde_json::Value>();
        for (i, value) in values.enumerate() {
            let value = value.with_context(|| format!("reading command {} from stdin", i + 1))?;
            for command in commands_of(value, i + 1)? {
                any_rejected |= submit_one(&session, &command, &mut out)?;
            }
        }
    } else {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let mut commands = Vec::new();
        for (i, value) in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>().enumerate() {
            let value = value.with_context(|| format!("reading command {} of {}", i + 1, file.display()))?;
            commands.extend(commands_of(value, i + 1)?);
        }
        let session = Session::open(home)?;
        for command in &commands {
            any_rejected |= submit_one(&session, command, &mut out)?;
        }
    }
    Ok(if any_rejected { Exit::Failed } else { Exit::Success })
}

/// What `projections status` prints.
#[derive(Serialize)]
#[serde(transparent)]
struct Status(Vec<ViewStatus>);

impl Report for Status {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{:<10} {:>7} {:>11} {:>9} {:>10} {:>8} {:>8}  DIGEST",
            "VIEW", "VERSION", "CHECKPOINT", "LAG", "ROWS", "UNKNOWN", "IGNORED"
        )?;
        for s in &self.0 {
            writeln!(
                out,
                "{:<10} {:>7} {:>11} {:>9} {:>10} {:>8} {:>8}  {}",
                s.view, s.version, s.checkpoint, s.lag, s.rows, s.unknown, s.ignored, s.digest
            )?;
        }
        Ok(())
    }
}

/// What `projections rebuild` did.
#[derive(Serialize)]
struct Rebuilt {
    /// The view rebuilt; none for every view.
    view: Option<String>,
    /// Events folded.
    events: u64,
    /// Seconds taken.
    seconds: f64,
    /// Events per second.
    events_per_second: f64,
}

impl Report for Rebuilt {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "rebuilt {} from {} events in {:.2} s ({} events/s)",
            self.view.as_deref().unwrap_or("every view"),
            thousands(self.events),
            self.seconds,
            thousands(self.events_per_second as u64)
        )
    }
}

pub(crate) fn projections(home: &Home, cmd: ProjectionsCmd) -> Result<Exit> {
    let ledger = home.open()?;
    let projections = Projections::new(&ledger);
    match cmd {
        ProjectionsCmd::Status => emit(&Status(projections.status()?), home.format())?,
        ProjectionsCmd::Rebuild { view } => {
            if let Some(v) = &view
                && !mindlog_projections::view_names().contains(&v.as_str())
            {
                anyhow::bail!("unknown view {v:?}; the views are: {}", mindlog_projections::view_names().join(", "));
            }
            let total = ledger.snapshot()?.len()?;
            let bar = progress(Some(total), "rebuild");
            let report = projections.rebuild(view.as_deref(), &|done, _| bar.set_position(done))?;
            bar.finish_and_clear();
            if view.is_none() {
                // Every derived table of the query layer too: the columnar segments.
                crate::query_cmds::reseal(&ledger)?;
            }
            let rebuilt = Rebuilt {
                view,
                events: report.events,
                seconds: report.seconds,
                events_per_second: report.events as f64 / report.seconds.max(1e-9),
            };
            emit(&rebuilt, home.format())?;
        }
    }
    Ok(Exit::Success)
}
