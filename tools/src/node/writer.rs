//! The node's writer: one thread that decides queued commands in rounds and appends each round
//! as one group commit.
//!
//! A process deciding one command at a time pays for a fold of the views, a read of them and a
//! durable commit per command. The writer takes every command waiting, folds the views once,
//! decides the round's commands on that one state and appends their events in one transaction
//! (`Ledger::append_group`): with 64 clients, one commit carries up to 64 commands.
//!
//! A round holds at most one command per author, so an author's commands are decided in order,
//! each on views that include the one before (the same order and the same `Expect::Head`
//! precondition as [`Session::run_expecting`] in a process). Commands of different authors in
//! one round are decided on the same state, exactly as two processes or two replicating nodes
//! would decide them: a feed is what the ledger keeps consistent; the views settle everything
//! between feeds when they fold.

use std::collections::{HashSet, VecDeque};
use std::sync::{Weak, mpsc};

use anyhow::{Result, anyhow};
use mindlog_commands::{Command, Event};
use mindlog_ledger::{AppendError, Appended, Expect, GroupAppend, Identity};
use mindlog_projections::Projections;
use tokio::sync::oneshot;

use super::hosted::Hosted;
use super::metrics::Metrics;
use crate::session::{NotRun, decide_on};

/// The most commands one round decides.
const MAX_ROUND: usize = 512;

/// What a command became: its events and where they were appended, or why none were.
pub(crate) type Outcome = Result<Result<Vec<(Event, Appended)>, NotRun>>;

/// One command waiting for the writer.
struct Request {
    identity: Identity,
    private: bool,
    command: Command,
    expect_head: Option<u64>,
    reply: oneshot::Sender<Outcome>,
}

/// The way into the writer thread. The thread ends when this is dropped.
pub(crate) struct Writer {
    queue: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts the writer of `hosted`'s store (held weakly: the writer keeps no handle open
    /// between rounds, so a scrub can take the store).
    pub(crate) fn start(hosted: Weak<Hosted>, metrics: Metrics) -> Writer {
        let (queue, requests) = mpsc::channel();
        std::thread::Builder::new()
            .name("mindlog-writer".into())
            .spawn(move || run(&hosted, &metrics, &requests))
            .expect("starting the writer thread");
        Writer { queue }
    }

    /// Queues `command` by `identity` and waits for what it became (from a blocking thread).
    pub(crate) fn run(&self, identity: Identity, private: bool, command: Command, expect_head: Option<u64>) -> Outcome {
        self.submit(identity, private, command, expect_head)?.blocking_recv().map_err(|_| stopped())?
    }

    /// Queues `command` by `identity`; the receiver gets what it became.
    pub(crate) fn submit(
        &self,
        identity: Identity,
        private: bool,
        command: Command,
        expect_head: Option<u64>,
    ) -> Result<oneshot::Receiver<Outcome>> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Request { identity, private, command, expect_head, reply }).map_err(|_| stopped())?;
        Ok(answer)
    }
}

fn stopped() -> anyhow::Error {
    anyhow!("the node's writer has stopped")
}

/// The writer's loop: waits for a command, takes every other one waiting, and decides them in
/// rounds until none is left.
fn run(hosted: &Weak<Hosted>, metrics: &Metrics, requests: &mpsc::Receiver<Request>) {
    let mut pending: VecDeque<Request> = VecDeque::new();
    while let Ok(first) = requests.recv() {
        pending.push_back(first);
        while !pending.is_empty() {
            pending.extend(requests.try_iter().take(MAX_ROUND.saturating_sub(pending.len())));
            let Some(hosted) = hosted.upgrade() else { return };
            let round = take_round(&mut pending);
            let retry = decide_round(&hosted, metrics, round);
            // Commands another writer got ahead of are decided again first, in their order.
            for request in retry.into_iter().rev() {
                pending.push_front(request);
            }
        }
    }
}

/// The first waiting command of each author, in queue order; the rest stay queued in order.
fn take_round(pending: &mut VecDeque<Request>) -> Vec<Request> {
    let mut authors = HashSet::new();
    let mut round = Vec::new();
    let mut later = VecDeque::with_capacity(pending.len());
    for request in pending.drain(..) {
        if round.len() < MAX_ROUND && authors.insert(request.identity.public_key()) {
            round.push(request);
        } else {
            later.push_back(request);
        }
    }
    *pending = later;
    round
}

/// Decides `round` on one state of the views and appends what it became as one group; answers
/// each command, and returns those to decide again (another writer appended to their feed first).
fn decide_round(hosted: &Hosted, metrics: &Metrics, round: Vec<Request>) -> Vec<Request> {
    match try_round(hosted, metrics, round) {
        Ok(retry) => retry,
        Err((round, e)) => {
            let message = format!("{e:#}");
            for request in round {
                let _ = request.reply.send(Err(anyhow!("{message}")));
            }
            Vec::new()
        }
    }
}

type RoundError = (Vec<Request>, anyhow::Error);

fn try_round(hosted: &Hosted, metrics: &Metrics, round: Vec<Request>) -> Result<Vec<Request>, RoundError> {
    let ledger = match hosted.ledger() {
        Ok(ledger) => ledger,
        Err(e) => return Err((round, e)),
    };
    // The heads first, then the views: the views then include every event up to each head.
    let heads: Vec<u64> = round.iter().map(|r| ledger.head(&r.identity.public_key()).map_or(0, |h| h.seq)).collect();
    let started = std::time::Instant::now();
    let projections = Projections::new(&ledger);
    let folded = projections.catch_up(&|_, _| {});
    let fold_us = started.elapsed().as_micros() as u64;
    let views = match folded.and_then(|_| projections.views()) {
        Ok(views) => views,
        Err(e) => return Err((round, anyhow::Error::from(e).context("updating the views"))),
    };
    let mut appends = Vec::new();
    let mut decided = Vec::new();
    for (request, head) in round.into_iter().zip(heads) {
        let me = request.identity.public_key();
        match decide_on(&views, &me, head, request.private, &request.command, request.expect_head) {
            Ok(Ok(d)) if d.events.is_empty() => {
                let _ = request.reply.send(Ok(Ok(Vec::new())));
            }
            Ok(Ok(d)) => {
                appends.push(GroupAppend {
                    identity: request.identity.clone(),
                    drafts: d.drafts,
                    expect: Expect::Head(head),
                });
                decided.push((request, d.events));
            }
            Ok(Err(not_run)) => {
                let _ = request.reply.send(Ok(Err(not_run)));
            }
            Err(e) => {
                let _ = request.reply.send(Err(e));
            }
        }
    }
    drop(views);
    if appends.is_empty() {
        return Ok(Vec::new());
    }
    let decided_in = started.elapsed();
    let commands = appends.len();
    metrics.commit_group(commands);
    let results = match ledger.append_group(appends) {
        Ok(results) => results,
        Err(e) => return Err((decided.into_iter().map(|(r, _)| r).collect(), e.into())),
    };
    tracing::debug!(
        commands,
        fold_us,
        decided_us = decided_in.as_micros() as u64,
        total_us = started.elapsed().as_micros() as u64,
        "round"
    );
    let mut retry = Vec::new();
    for ((request, events), result) in decided.into_iter().zip(results) {
        match result {
            Ok(appended) => {
                let _ = request.reply.send(Ok(Ok(events.into_iter().zip(appended).collect())));
            }
            Err(AppendError::Conflict { expected, found, .. }) if request.expect_head.is_some() => {
                let _ = request.reply.send(Ok(Err(NotRun::HeadMoved { expected, found })));
            }
            Err(AppendError::Conflict { .. }) => {
                tracing::debug!(command = request.command.name(), "another writer appended first; deciding again");
                retry.push(request);
            }
            Err(e) => {
                let _ = request.reply.send(Err(e.into()));
            }
        }
    }
    Ok(retry)
}
