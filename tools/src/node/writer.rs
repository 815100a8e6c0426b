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

use std::collections::{HashMap, VecDeque};
use std::sync::{Weak, mpsc};

use anyhow::{Result, anyhow};
use mindlog_commands::{Command, Event};
use mindlog_ledger::{AppendError, Appended, Expect, GroupAppend, Identity, Ledger, PublicKey};
use mindlog_projections::Projections;
use tokio::sync::oneshot;

use super::hosted::Hosted;
use super::metrics::Metrics;
use crate::session::{NotRun, decide_on, head_moved};

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
    /// The handle of a request that holds one while it waits (a CLI command through the node):
    /// the writer may use it when the node's own handle is taken for a scrub, which waits for
    /// this very handle to be dropped.
    held: Option<Ledger>,
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

    /// Queues `command` by `identity` from a request that holds `held`, and waits for what it
    /// became (from a blocking thread).
    pub(crate) fn run(
        &self,
        identity: Identity,
        private: bool,
        command: Command,
        expect_head: Option<u64>,
        held: Ledger,
    ) -> Outcome {
        let answer = self.queue(Request {
            identity,
            private,
            command,
            expect_head,
            held: Some(held),
            reply: oneshot::channel().0,
        })?;
        answer.blocking_recv().unwrap_or_else(|_| Err(lost()))
    }

    /// Queues `command` by `identity`; the receiver gets what it became.
    pub(crate) fn submit(
        &self,
        identity: Identity,
        private: bool,
        command: Command,
        expect_head: Option<u64>,
    ) -> Result<oneshot::Receiver<Outcome>> {
        self.queue(Request { identity, private, command, expect_head, held: None, reply: oneshot::channel().0 })
    }

    fn queue(&self, mut request: Request) -> Result<oneshot::Receiver<Outcome>> {
        let (reply, answer) = oneshot::channel();
        request.reply = reply;
        self.queue.send(request).map_err(|_| anyhow!("the node's writer has stopped"))?;
        Ok(answer)
    }
}

/// What a command whose answer never came became: the writer failed on it (it logged why).
pub(crate) fn lost() -> anyhow::Error {
    anyhow!("deciding the command failed inside the node (the store may be damaged: run mindlog verify)")
}

/// Commands waiting, by author: each author's in order, authors taken in turn.
#[derive(Default)]
struct Pending {
    queues: HashMap<PublicKey, VecDeque<Request>>,
    /// Authors with commands waiting, in the order their turns come.
    order: VecDeque<PublicKey>,
    /// A handle that waiting requests hold, and how many of them hold one.
    held: Option<(Ledger, usize)>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Queues a command last in its author's queue, or (`first`: a command to decide again)
    /// first, its author's turn coming first too.
    fn push(&mut self, request: Request, first: bool) {
        if let Some(handle) = &request.held {
            match &mut self.held {
                Some((_, holders)) => *holders += 1,
                None => self.held = Some((handle.clone(), 1)),
            }
        }
        let author = request.identity.public_key();
        let queue = self.queues.entry(author).or_default();
        match (queue.is_empty(), first) {
            (true, false) => self.order.push_back(author),
            (true, true) => self.order.push_front(author),
            (false, _) => {}
        }
        if first { queue.push_front(request) } else { queue.push_back(request) }
    }

    /// The next command of each of up to [`MAX_ROUND`] authors, in turn; the others wait.
    fn take_round(&mut self) -> Vec<Request> {
        let n = self.order.len().min(MAX_ROUND);
        let mut round = Vec::with_capacity(n);
        for _ in 0..n {
            let Some(author) = self.order.pop_front() else { break };
            let Some(queue) = self.queues.get_mut(&author) else { continue };
            if let Some(request) = queue.pop_front() {
                if request.held.is_some()
                    && let Some((_, holders)) = &mut self.held
                {
                    *holders -= 1;
                    if *holders == 0 {
                        self.held = None;
                    }
                }
                round.push(request);
            }
            if queue.is_empty() {
                self.queues.remove(&author);
            } else {
                self.order.push_back(author);
            }
        }
        round
    }

    /// A handle some waiting request holds (take it before the round).
    fn held(&self) -> Option<Ledger> {
        self.held.as_ref().map(|(handle, _)| handle.clone())
    }
}

/// The writer's loop: waits for a command, takes every other one waiting, and decides them in
/// rounds until none is left, taking in new commands before each round.
fn run(hosted: &Weak<Hosted>, metrics: &Metrics, requests: &mpsc::Receiver<Request>) {
    let mut pending = Pending::default();
    while let Ok(first) = requests.recv() {
        pending.push(first, false);
        while !pending.is_empty() {
            for request in requests.try_iter() {
                pending.push(request, false);
            }
            let Some(hosted) = hosted.upgrade() else { return };
            let held = pending.held();
            let round = pending.take_round();
            // A panic (redb on a damaged page) fails this round's commands, not the writer: their
            // answers are dropped, which their callers report as `lost`.
            let decided =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decide_round(&hosted, held, metrics, round)));
            match decided {
                // Commands another writer got ahead of are decided again first, in their order.
                Ok(retry) => {
                    for request in retry.into_iter().rev() {
                        pending.push(request, true);
                    }
                }
                Err(panic) => {
                    let message =
                        panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied());
                    tracing::error!(panic = message.unwrap_or("?"), "the writer failed on a round of commands");
                }
            }
        }
    }
}

/// Decides `round` on one state of the views and appends what it became as one group; answers
/// each command, and returns those to decide again (another writer appended to their feed first).
fn decide_round(hosted: &Hosted, held: Option<Ledger>, metrics: &Metrics, round: Vec<Request>) -> Vec<Request> {
    match try_round(hosted, held, metrics, round) {
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

fn try_round(
    hosted: &Hosted,
    held: Option<Ledger>,
    metrics: &Metrics,
    round: Vec<Request>,
) -> Result<Vec<Request>, RoundError> {
    // A waiting request's own handle first: the node's may be taken for a scrub that waits for it.
    let ledger = match held.map_or_else(|| hosted.ledger(), Ok) {
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
            Err(AppendError::Conflict { expected, found, .. }) => {
                match head_moved(request.expect_head, expected, found) {
                    Some(not_run) => {
                        let _ = request.reply.send(Ok(Err(not_run)));
                    }
                    None => {
                        tracing::debug!(
                            command = request.command.name(),
                            "another writer appended first; deciding again"
                        );
                        retry.push(request);
                    }
                }
            }
            Err(e) => {
                let _ = request.reply.send(Err(e.into()));
            }
        }
    }
    Ok(retry)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use mindlog_ledger::{Identity, Ledger};

    use super::super::hosted::{Hosted, WAIT_FOR_REQUESTS};
    use super::super::metrics::Metrics;

    /// A command from a request that holds the store (a CLI command through the node) goes
    /// through while a scrub waits for that very handle: the writer decides it with the request's
    /// handle, so the request ends and the scrub follows — neither waits for the other to give up.
    #[test]
    fn a_request_holding_the_store_is_not_stuck_behind_a_scrub() {
        let dir = tempfile::tempdir().unwrap();
        let hosted = Hosted::new(Ledger::create(&dir.path().join("mind.redb")).unwrap(), Metrics::default());
        let held = hosted.ledger().unwrap();
        let scrub = {
            let hosted = Arc::clone(&hosted);
            std::thread::spawn(move || {
                let mine = hosted.ledger().unwrap();
                hosted.scrub(mine).unwrap()
            })
        };
        let started = Instant::now();
        while hosted.is_open() {
            assert!(started.elapsed() < Duration::from_secs(10), "the scrub never took the store");
            std::thread::sleep(Duration::from_millis(1));
        }
        let command = serde_json::from_str(r#"{"command": "persona.create", "name": "Echo"}"#).unwrap();
        let started = Instant::now();
        let outcome = hosted.writer().run(Identity::generate().unwrap(), false, command, None, held);
        assert_eq!(outcome.unwrap().unwrap().len(), 1, "the command's event was appended");
        assert!(started.elapsed() < WAIT_FOR_REQUESTS, "the command waited for the scrub to give up");
        assert!(scrub.join().unwrap().is_some(), "the scrub ran once the request let go of the store");
    }
}
