//! A session on a home for commands that write: the store, the identity, and the views, with
//! the decide → append loop that never forks a feed.

use std::io::{self, Write};

use anyhow::{Context, Result};
use mindlog_commands::{Command, DecideError, Event, Rejection, decide};
use mindlog_ledger::{AppendError, Appended, Draft, Expect, Hash, Identity, Ledger, PublicKey};
use mindlog_projections::{Projections, Views};

use crate::home::Home;
use crate::output::{Format, Report, emit};
use crate::ui::{now_micros, progress};

/// An open home, ready to decide and append commands.
pub(crate) struct Session {
    pub(crate) ledger: Ledger,
    pub(crate) identity: Identity,
    pub(crate) projections: Projections,
    /// Write every payload private (`--private`); otherwise personal content follows its
    /// persona's default (`Event::personal_content_of`, `PersonaRow::private`).
    pub(crate) private: bool,
}

/// Why [`Session::run_expecting`] appended nothing.
#[derive(Debug)]
pub(crate) enum NotRun {
    /// The command's rule rejected it.
    Rejected(Rejection),
    /// The author's feed is not at the seq the caller expected.
    HeadMoved { expected: u64, found: u64 },
}

/// A command decided on the views as of its author's feed at seq `head`: the events it becomes
/// and the drafts to append for them (with `Expect::Head(head)`).
pub(crate) struct Decided {
    pub(crate) events: Vec<Event>,
    pub(crate) drafts: Vec<Draft>,
}

/// Decides `command` by `me` on `views`, which include `me`'s feed up to seq `head` (read the head
/// first, then the views); `expect_head` is the caller's precondition on that head. The one rule
/// for what a command writes, shared by a process's [`Session`] and a node's writer.
pub(crate) fn decide_on(
    views: &Views,
    me: &PublicKey,
    head: u64,
    private: bool,
    command: &Command,
    expect_head: Option<u64>,
) -> Result<Result<Decided, NotRun>> {
    if let Some(expected) = expect_head
        && expected != head
    {
        return Ok(Err(NotRun::HeadMoved { expected, found: head }));
    }
    let now = now_micros();
    let events = match decide(views, me, now, command) {
        Ok(events) => events,
        Err(DecideError::Rejected(rejection)) => return Ok(Err(NotRun::Rejected(rejection))),
        Err(DecideError::State(e)) => return Err(anyhow::Error::from_boxed(e).context("reading the views")),
    };
    let private = |e: &Event| -> Result<bool> {
        let Some(persona) = e.personal_content_of() else { return Ok(private) };
        Ok(private || views.persona_row(&persona)?.is_some_and(|p| p.private))
    };
    let drafts = events
        .iter()
        .map(|e| {
            Ok(Draft { kind: e.kind().to_owned(), payload: e.encode(), refs: e.refs(), ts: now, private: private(e)? })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Ok(Decided { events, drafts }))
}

/// What an append that found its feed's head moved means: with the caller's precondition
/// (`expect_head`), the command is not run ([`NotRun::HeadMoved`]); without one, `None`: decide
/// it again on the new head.
pub(crate) fn head_moved(expect_head: Option<u64>, expected: u64, found: u64) -> Option<NotRun> {
    expect_head.map(|_| NotRun::HeadMoved { expected, found })
}

/// An event a command wrote.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Written {
    /// Its kind (`persona.created/1`).
    pub(crate) kind: &'static str,
    /// Its hash (64 hex characters): for a command that creates something, that thing's id.
    #[schema(value_type = String)]
    pub(crate) hash: Hash,
    /// Where it is in this store's log.
    pub(crate) offset: u64,
    /// Where it is in its author's feed, from 1.
    pub(crate) seq: u64,
}

/// Folds whatever `projections` have not seen yet, with a progress bar when that takes a while.
pub(crate) fn catch_up_views(projections: &Projections) -> Result<()> {
    let bar = std::cell::OnceCell::new();
    projections
        .catch_up(&|done, total| {
            if total > 50_000 {
                let b = bar.get_or_init(|| progress(Some(total), "views"));
                b.set_position(done);
            }
        })
        .context("updating the views")?;
    if let Some(b) = bar.get() {
        b.finish_and_clear();
    }
    Ok(())
}

impl Session {
    pub(crate) fn open(home: &Home) -> Result<Session> {
        let ledger = home.open()?;
        let identity = home.identity()?;
        let projections = Projections::new(&ledger);
        let session = Session { ledger, identity, projections, private: false };
        session.catch_up()?;
        Ok(session)
    }

    /// Folds whatever the views have not seen yet, with a progress bar when that takes a while.
    pub(crate) fn catch_up(&self) -> Result<()> {
        catch_up_views(&self.projections)
    }

    /// The views, caught up.
    pub(crate) fn views(&self) -> Result<Views> {
        Ok(self.projections.views()?)
    }

    /// Decides `command` against views caught up to this author's head, and appends its events
    /// expecting that head; if another writer got there first, decides again. `Ok(Err(_))`: the
    /// command was rejected and nothing was appended; `Err(_)`: it could not run (I/O, store).
    pub(crate) fn run(&self, command: &Command) -> Result<Result<Vec<(Event, Appended)>, Rejection>> {
        Ok(self.run_expecting(command, None)?.map_err(|not_run| match not_run {
            NotRun::Rejected(rejection) => rejection,
            NotRun::HeadMoved { .. } => unreachable!("no head expected"),
        }))
    }

    /// [`Session::run`], and with `expect_head`, only if this author's feed is still at that seq
    /// (an application's precondition: it decided on what it read there); otherwise nothing is
    /// appended and [`NotRun::HeadMoved`] says where the head is.
    pub(crate) fn run_expecting(
        &self,
        command: &Command,
        expect_head: Option<u64>,
    ) -> Result<Result<Vec<(Event, Appended)>, NotRun>> {
        // A node decides the commands of every request in its writer, many at once.
        if let Some(served) = crate::served::current() {
            let (identity, held) = (self.identity.clone(), self.ledger.clone());
            return served.hosted.writer().run(identity, self.private, command.clone(), expect_head, held);
        }
        let me = self.identity.public_key();
        loop {
            // The head first, then the views: the views then include every event up to it.
            let head = self.ledger.head(&me).map_or(0, |h| h.seq);
            self.catch_up()?;
            let decided = match decide_on(&self.views()?, &me, head, self.private, command, expect_head)? {
                Ok(decided) => decided,
                Err(not_run) => return Ok(Err(not_run)),
            };
            if decided.events.is_empty() {
                return Ok(Ok(Vec::new()));
            }
            match self.ledger.append(&self.identity, decided.drafts, Expect::Head(head)) {
                Ok(appended) => {
                    self.catch_up()?;
                    return Ok(Ok(decided.events.into_iter().zip(appended).collect()));
                }
                Err(AppendError::Conflict { expected, found, .. }) => match head_moved(expect_head, expected, found) {
                    Some(not_run) => return Ok(Err(not_run)),
                    None => tracing::debug!(command = command.name(), "another writer appended first; deciding again"),
                },
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Runs `command` and prints the events written (text: the hash of each, one per line — for a
    /// command that creates something, that is its id), and `what` on stderr; or returns its
    /// rejection, having printed nothing.
    pub(crate) fn run_and_print(
        &self,
        command: &Command,
        format: Format,
        what: impl Fn(&[(Event, Appended)]) -> String,
    ) -> Result<Result<(), Rejection>> {
        let events = match self.run(command)? {
            Ok(events) => events,
            Err(rejection) => return Ok(Err(rejection)),
        };
        emit(&WrittenReport(written(&events)), format)?;
        say!("{}", what(&events));
        Ok(Ok(()))
    }
}

/// The events a command wrote: its `--json` output.
#[derive(serde::Serialize)]
#[serde(transparent)]
pub(crate) struct WrittenReport(pub(crate) Vec<Written>);

impl Report for WrittenReport {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        for event in &self.0 {
            writeln!(out, "{}", event.hash)?;
        }
        Ok(())
    }
}

pub(crate) fn written(events: &[(Event, Appended)]) -> Vec<Written> {
    events.iter().map(|(e, a)| Written { kind: e.kind(), hash: a.hash, offset: a.offset, seq: a.seq }).collect()
}
