//! The persona-domain commands: persona, commitment, memory, reflect, emotion, consent, model,
//! message, submit, projections.

use std::io::{self, BufWriter, Read, Write};

use anyhow::{Context, Result};
use mindlog_commands::{Command, resolve_persona};
use mindlog_projections::{PersonaProfile, Projections};

use crate::Outcome as Exit;
use crate::cli::{CommitmentCmd, MemoryCmd, ModelCmd, PersonaCmd, ProjectionsCmd};
use crate::home::Home;
use crate::session::{Session, decide_error, written};
use crate::ui::{now_micros, progress, thousands};

/// Runs one command that writes, printing event hashes on stdout and `what` on stderr; a
/// rejection is the outcome `Rejected` (exit 1).
pub(crate) fn write(home: &Home, command: impl Into<Command>, what: &str) -> Result<Exit> {
    let session = Session::open(home)?;
    let written = session.run_and_print(&command.into(), |events| match events.len() {
        0 => format!("{what}: nothing to do"),
        1 => what.to_string(),
        n => format!("{what} ({n} events)"),
    })?;
    Ok(match written {
        Ok(()) => Exit::Success,
        Err(rejection) => Exit::Rejected(rejection),
    })
}

pub(crate) fn persona(home: &Home, cmd: PersonaCmd) -> Result<Exit> {
    match cmd {
        PersonaCmd::Create(c) => {
            let what = format!("created persona {:?}", c.name);
            write(home, c, &what)
        }
        PersonaCmd::Traits(c) => write(home, c, "traits changed"),
        PersonaCmd::Fork(c) => {
            let what = format!("forked into persona {:?}", c.name);
            write(home, c, &what)
        }
        PersonaCmd::Retire(c) => write(home, c, "retired"),
        PersonaCmd::Show { persona, as_of, json } => show(home, &persona, as_of.map(|t| t.0), json),
        PersonaCmd::List(flag) => list(home, flag.json),
    }
}

pub(crate) fn commitment(home: &Home, cmd: CommitmentCmd) -> Result<Exit> {
    match cmd {
        CommitmentCmd::Open(c) => write(home, c, "commitment opened"),
        CommitmentCmd::Close(c) => write(home, c, "commitment closed"),
        CommitmentCmd::Sweep(c) => write(home, c, "overdue commitments expired"),
    }
}

pub(crate) fn memory(home: &Home, cmd: MemoryCmd) -> Result<Exit> {
    match cmd {
        MemoryCmd::Add(c) => write(home, c, "memory added"),
        MemoryCmd::Forget(c) => write(home, c, "memory forgotten"),
    }
}

pub(crate) fn model(home: &Home, cmd: ModelCmd) -> Result<Exit> {
    match cmd {
        ModelCmd::Use(c) => write(home, c, "model recorded"),
    }
}

fn show(home: &Home, reference: &str, as_of: Option<u64>, json: bool) -> Result<Exit> {
    let session = Session::open(home)?;
    let views = session.views()?;
    let me = session.identity.public_key();
    let info = resolve_persona(&views, &me, reference).map_err(decide_error)?;
    let profile = views.profile(&info.id, as_of.unwrap_or_else(now_micros))?.context("the persona vanished")?;
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &profile)?;
        writeln!(out)?;
    } else {
        print_profile(&mut out, &profile, &me)?;
    }
    out.flush()?;
    Ok(Exit::Success)
}

fn print_profile(out: &mut dyn Write, p: &PersonaProfile, me: &mindlog_ledger::PublicKey) -> Result<()> {
    let yours = if p.owner == *me { " (you)" } else { "" };
    writeln!(out, "{}  —  {}", p.name, if p.description.is_empty() { "(no description)" } else { &p.description })?;
    writeln!(out, "  id        {}", p.id)?;
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
    let rate = c.close_rate.map_or("-".into(), |r| format!("{:.0}%", r * 100.0));
    let life = c.mean_lifespan_events.map_or("-".into(), |l| format!("{l:.1} events"));
    writeln!(
        out,
        "\ncommitments  {} open, {} closed ({} done), {} expired; close rate {rate}; mean lifespan {life}",
        c.open, c.closed, c.done, c.expired
    )?;
    for o in &c.open_list {
        let due = o.due.map(|d| format!(" (due {d})")).unwrap_or_default();
        writeln!(out, "  {}  {}{due}", &o.id.to_string()[..12], o.title)?;
    }
    let m = &p.memories;
    writeln!(out, "\nmemories     {} kept, {} forgotten; strongest as of {}", m.live, m.forgotten, m.as_of)?;
    for line in &m.strongest {
        let tags = if line.tags.is_empty() { String::new() } else { format!(" [{}]", line.tags.join(", ")) };
        writeln!(out, "  {}  {:.3}  {}{tags}", &line.id.to_string()[..12], line.strength, line.text)?;
    }
    writeln!(out, "\nconsent")?;
    if p.consent.is_empty() {
        writeln!(out, "  (nothing set)")?;
    }
    for c in &p.consent {
        writeln!(out, "  {:<24} {} since {}", c.scope, if c.allow { "allowed" } else { "denied" }, c.since)?;
    }
    match &p.model.current {
        Some(m) => writeln!(out, "\nmodel        {} ({}) since {}; {} swaps", m.model, m.hash, m.since, p.model.swaps)?,
        None => writeln!(out, "\nmodel        (none recorded)")?,
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
    let l = &p.lineage;
    let parent = l.parent.map(|h| h.to_string()).unwrap_or_else(|| "(original)".into());
    let license = l.license.as_ref().map(|s| format!(" under {s}")).unwrap_or_default();
    writeln!(out, "lineage      parent {parent}{license}; depth {}; {} fork(s)", l.depth, l.children.len())?;
    for child in &l.children {
        writeln!(out, "  fork {child}")?;
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct ListLine {
    id: String,
    name: String,
    owner: String,
    yours: bool,
    status: &'static str,
    stage: String,
    created: mindlog_commands::Instant,
    events: u64,
}

fn list(home: &Home, json: bool) -> Result<Exit> {
    let session = Session::open(home)?;
    let me = session.identity.public_key();
    let views = session.views()?;
    let lines: Vec<ListLine> = views
        .personas()?
        .into_iter()
        .map(|(id, p)| ListLine {
            id: id.to_string(),
            name: p.name.clone(),
            owner: p.owner.to_string(),
            yours: p.owner == me,
            status: if p.retired.is_some() { "retired" } else { "active" },
            stage: format!("{:?}", mindlog_projections::stage(&p)),
            created: mindlog_commands::Instant(p.created),
            events: p.events,
        })
        .collect();
    let mut out = BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &lines)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{:<16}  {:<24}  {:<16}  {:<8}  {:<5}  {:>8}  CREATED",
            "ID", "NAME", "OWNER", "STATUS", "STAGE", "EVENTS"
        )?;
        for l in &lines {
            let owner = if l.yours { "you".to_owned() } else { l.owner[..16].to_owned() };
            writeln!(
                out,
                "{:<16}  {:<24}  {:<16}  {:<8}  {:<5}  {:>8}  {}",
                &l.id[..16],
                l.name,
                owner,
                l.status,
                l.stage,
                l.events,
                l.created
            )?;
        }
        if lines.is_empty() {
            writeln!(out, "(no personas yet: mindlog persona create NAME)")?;
        }
    }
    out.flush()?;
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

/// Reads one command, an array of commands, or one command per line.
fn parse_commands(text: &str) -> Result<Vec<Command>> {
    // A whole document that is JSON: one command or an array of them.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        return match value {
            serde_json::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| serde_json::from_value(v).with_context(|| format!("command {} of the array", i + 1)))
                .collect(),
            other => Ok(vec![serde_json::from_value(other).context("reading the command")?]),
        };
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("line {}", i + 1)))
        .collect()
}

pub(crate) fn submit(home: &Home, file: &std::path::Path) -> Result<Exit> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    }
    let commands = parse_commands(&text)?;
    let session = Session::open(home)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut any_rejected = false;
    for command in &commands {
        let result = match session.run(command)? {
            Ok(events) => SubmitResult { command: command.name(), ok: true, error: None, events: written(&events) },
            Err(rejection) => {
                any_rejected = true;
                SubmitResult { command: command.name(), ok: false, error: Some(rejection.to_string()), events: vec![] }
            }
        };
        serde_json::to_writer(&mut out, &result)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if any_rejected { Exit::Failed } else { Exit::Success })
}

pub(crate) fn projections(home: &Home, cmd: ProjectionsCmd) -> Result<Exit> {
    let ledger = home.open()?;
    let projections = Projections::new(&ledger);
    match cmd {
        ProjectionsCmd::Status(flag) => {
            let status = projections.status()?;
            let mut out = BufWriter::new(io::stdout().lock());
            if flag.json {
                serde_json::to_writer_pretty(&mut out, &status)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<10} {:>7} {:>11} {:>9} {:>10} {:>8} {:>8}  DIGEST",
                    "VIEW", "VERSION", "CHECKPOINT", "LAG", "ROWS", "UNKNOWN", "IGNORED"
                )?;
                for s in &status {
                    writeln!(
                        out,
                        "{:<10} {:>7} {:>11} {:>9} {:>10} {:>8} {:>8}  {}",
                        s.view, s.version, s.checkpoint, s.lag, s.rows, s.unknown, s.ignored, s.digest
                    )?;
                }
            }
            out.flush()?;
        }
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
            writeln!(
                io::stdout().lock(),
                "rebuilt {} from {} events in {:.2} s ({} events/s)",
                view.as_deref().unwrap_or("every view"),
                thousands(report.events),
                report.seconds,
                thousands((report.events as f64 / report.seconds.max(1e-9)) as u64)
            )?;
        }
    }
    Ok(Exit::Success)
}
