//! Erasure: `erase`, `memory forget --erase`, `persona erase`. Each erases payloads in the ledger
//! (signed, or `--local`), lets the views forget them, then scrubs the file, so the erased bytes
//! are nowhere in `mind.redb` (docs/format.md §7, §9).

use std::io::{self, Write};

use anyhow::Result;
use mindlog_commands::{Command, MemoryForget, resolve_persona};
use mindlog_ledger::{AppendError, ERASED_KIND, Hash, Ledger, ScrubReport};
use mindlog_projections::Projections;
use serde::Serialize;

use crate::Outcome;
use crate::cli::EraseArgs;
use crate::home::Home;
use crate::output::{Report, emit};
use crate::refusal::{Refusal, resolved};
use crate::session::{Session, Written, catch_up_views};
use crate::ui::{human_bytes, now_micros, thousands};

/// What an erasure did: its `--json` form.
#[derive(Serialize)]
struct Erased {
    /// Payloads erased.
    erased: usize,
    /// Whether it was local (no signed record).
    local: bool,
    /// The signed `ledger.erased/1` events written (none when local).
    erasures: Vec<Written>,
    /// The scrub that followed; none when there was nothing to erase.
    #[serde(skip_serializing_if = "Option::is_none")]
    scrub: Option<Scrub>,
}

impl Report for Erased {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let how = if self.local { "here only, unsigned".to_owned() } else { signed_by(&self.erasures) };
        let Some(scrub) = &self.scrub else { return writeln!(out, "nothing erased") };
        writeln!(out, "erased {} payload{} ({how})", thousands(self.erased as u64), plural(self.erased))?;
        writeln!(out, "{}", scrubbed(scrub))
    }
}

/// What became of the scrub after an erasure: its report, or `{"deferred": true}` when a node
/// could not hold the store alone in time and scrubs later.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum Scrub {
    Done(ScrubReport),
    Deferred { deferred: bool },
}

/// The line that says what a scrub after an erasure did.
pub(crate) fn scrubbed(scrub: &Scrub) -> String {
    match scrub {
        Scrub::Done(scrub) => format!(
            "views forgot them; the file was rewritten without them in {:.2} s ({} rows copied, the old copy overwritten): {} -> {}",
            scrub.seconds,
            thousands(scrub.rows),
            human_bytes(scrub.size_before),
            human_bytes(scrub.size_after)
        ),
        Scrub::Deferred { .. } => "views forgot them; the file still holds the old bytes: other requests kept the store \
                                   open, and the node rewrites the file as soon as they let go (GET /health: scrub_pending)"
            .to_owned(),
    }
}

/// After payloads were erased: the views fold again without them, then the file is scrubbed
/// (which closes the store: it needs the last handle; a node does it as soon as it can).
pub(crate) fn forget_and_scrub(ledger: Ledger, projections: Projections) -> Result<Scrub> {
    catch_up_views(&projections)?;
    drop(projections);
    let done = match crate::served::current() {
        Some(served) => served.hosted.scrub(ledger)?,
        None => Some(ledger.scrub()?),
    };
    Ok(done.map_or(Scrub::Deferred { deferred: true }, Scrub::Done))
}

fn signed_by(erasures: &[Written]) -> String {
    let hashes: Vec<String> = erasures.iter().map(|w| w.hash.to_string()).collect();
    format!("signed in {ERASED_KIND} {}", hashes.join(", "))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `mindlog erase EVENT... [--reason TEXT] [--local]`.
pub(crate) fn erase(home: &Home, args: &EraseArgs) -> Result<Outcome> {
    let session = Session::open(home)?;
    let snapshot = session.ledger.snapshot()?;
    let mut offsets = Vec::with_capacity(args.events.len());
    for text in &args.events {
        offsets.push(match resolve_event(&snapshot, text)? {
            Ok(offset) => offset,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        });
    }
    drop(snapshot);
    erase_offsets(home, session, &offsets, &args.reason, args.local)
}

/// `mindlog memory forget PERSONA MEMORY [--erase]`: the memory is forgotten (an event), and with
/// `--erase` the `memory.added/1` that holds its text is erased too.
pub(crate) fn forget(home: &Home, command: MemoryForget, erase: bool) -> Result<Outcome> {
    let session = Session::open(home)?;
    let events = match session.run(&Command::from(command))? {
        Ok(events) => events,
        Err(rejection) => return Ok(Outcome::Rejected(rejection)),
    };
    if !erase {
        emit(&crate::session::WrittenReport(crate::session::written(&events)), home.format())?;
        say!("memory forgotten");
        return Ok(Outcome::Success);
    }
    let memories: Vec<Hash> = events
        .iter()
        .filter_map(|(e, _)| match e {
            mindlog_commands::Event::MemoryForgotten(x) => Some(x.memory),
            _ => None,
        })
        .collect();
    let snapshot = session.ledger.snapshot()?;
    let mut offsets = Vec::new();
    for memory in memories {
        match resolve_event(&snapshot, &memory.to_string())? {
            Ok(offset) => offsets.push(offset),
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        }
    }
    drop(snapshot);
    say!("memory forgotten");
    erase_offsets(home, session, &offsets, "", false)
}

/// `mindlog persona erase NAME`: every present payload of the persona's memories, messages,
/// reflections and emotions.
pub(crate) fn erase_persona(home: &Home, reference: &str, reason: &str) -> Result<Outcome> {
    let session = Session::open(home)?;
    let me = session.identity.public_key();
    let info = {
        let views = session.views()?;
        match resolved(resolve_persona(&views, &me, reference))? {
            Ok(info) => info,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        }
    };
    if info.owner != me {
        return Ok(Outcome::Refused(Refusal::NotYourPersona { name: info.name }));
    }
    let Some((_, timeline)) = session.projections.persona_timeline(&info.id, 0, u64::MAX)? else {
        anyhow::bail!("persona {} vanished from the views", info.name);
    };
    let offsets: Vec<u64> = timeline
        .iter()
        .filter(|t| t.event.as_ref().and_then(|e| e.personal_content_of()) == Some(info.id))
        .map(|t| t.offset)
        .collect();
    if offsets.is_empty() {
        say!("persona {:?} has no memories, messages, reflections or emotions to erase", info.name);
        emit(&Erased { erased: 0, local: false, erasures: Vec::new(), scrub: None }, home.format())?;
        return Ok(Outcome::Success);
    }
    erase_offsets(home, session, &offsets, reason, false)
}

/// Erases `offsets` (signed by the session's identity, or locally), lets the views forget, and
/// scrubs the file (closing the session).
fn erase_offsets(home: &Home, session: Session, offsets: &[u64], reason: &str, local: bool) -> Result<Outcome> {
    let erasures = if local {
        session.ledger.erase_local(offsets).map(|()| Vec::new())
    } else {
        session.ledger.erase(&session.identity, offsets, reason, now_micros())
    };
    let erasures = match erasures {
        Ok(erasures) => erasures,
        Err(AppendError::CannotErase { offset, problem }) => {
            let event = session.ledger.snapshot()?.event(offset)?.map(|e| e.hash);
            return Ok(Outcome::Refused(Refusal::CannotErase { event, offset, problem }));
        }
        Err(e) => return Err(e.into()),
    };
    // A signed erasure is an event: catch-up folds the views again. A local one is not: rebuild.
    if local {
        session.projections.rebuild(None, &|_, _| {})?;
    }
    let Session { ledger, projections, .. } = session;
    let scrub = forget_and_scrub(ledger, projections)?;
    let erasures = erasures
        .into_iter()
        .map(|a| Written { kind: ERASED_KIND, hash: a.hash, offset: a.offset, seq: a.seq })
        .collect();
    emit(&Erased { erased: offsets.len(), local, erasures, scrub: Some(scrub) }, home.format())?;
    Ok(Outcome::Success)
}

/// The offset of the one event whose hash is `text` or starts with it (at least 4 characters).
pub(crate) fn resolve_event(snapshot: &mindlog_ledger::Snapshot, text: &str) -> Result<Result<u64, Refusal>> {
    let valid = text.len() >= 4 && text.len() <= 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return Ok(Err(Refusal::NotAnEventHash { text: text.to_owned() }));
    }
    let found = snapshot.find_hash_prefix(text)?;
    Ok(match found.as_slice() {
        [(offset, _)] => Ok(*offset),
        [] => Err(Refusal::UnknownEvent { text: text.to_owned() }),
        more => Err(Refusal::AmbiguousEvent { prefix: text.to_owned(), count: more.len() }),
    })
}
