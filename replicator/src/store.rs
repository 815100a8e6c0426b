//! Everything the replicator does with the store, on threads of their own (redb blocks): the
//! writer thread verifies and ingests what peers send, records fork proofs and reads the new
//! tail of the log to publish; readers answer peers' requests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use mindlog_ledger::{
    EventError, FeedProblem, ForkProof, Hash, IngestError, Ingested, Ledger, PublicKey, SignedEvent, VerifiedEvent,
    verify_batch,
};
use tokio::sync::mpsc;

use crate::wire::{PAGE_BYTES, PAGE_EVENTS, WireEvent, WireHead};
use crate::{Follow, Shared, Store};

/// What became of one event a peer sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Verified and stored.
    Stored,
    /// Held already.
    Held,
    /// Its feed is not followed here.
    Unwanted,
    /// Its seq is past the feed's next one: events before it are missing here.
    Early,
    /// Its `prev` is not the hash of the event before it here: a fork of its author before its seq.
    BrokenLink,
    /// Another event with the same author and seq is held here: a fork at its seq.
    Fork,
    /// Malformed, or a bad signature, hash or payload.
    Invalid(String),
    /// The store failed: no fault of the sender.
    Failed(String),
}

/// Where events to ingest came from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// One gossip message of `bytes` bytes, to be validated.
    Gossip { message: libp2p::gossipsub::MessageId, peer: libp2p::PeerId, bytes: usize },
    /// A page of a sync fetch of `author`'s feed (fetch number `fetch`) that asked for seqs
    /// `from..=to`.
    Page { peer: libp2p::PeerId, author: PublicKey, from: u64, to: u64, fetch: u64 },
}

/// Events of one source, checked by the verifier thread: each one's author and seq (when it
/// decodes), and the event verified or why not.
pub(crate) struct Checked {
    source: Source,
    ids: Vec<Option<(PublicKey, u64)>>,
    events: Vec<Result<VerifiedEvent, Outcome>>,
}

/// Work for the writer thread (through the verifier thread, which checks `Ingest` jobs' events
/// while the writer stores the ones before).
pub(crate) enum Job {
    /// Checked events, for the writer.
    Checked(Checked),
    Ingest {
        source: Source,
        events: Vec<WireEvent>,
    },
    /// Fork proofs a peer sent (gossip or sync).
    Forks {
        source: Option<(libp2p::gossipsub::MessageId, libp2p::PeerId, usize)>,
        proofs: Vec<Vec<u8>>,
    },
    /// Compare a peer's events of `author` (asked for as seqs `from..=to`) with ours and record
    /// a fork proof at the first seq where they differ. `blame`: the peer sent an event that
    /// did not fit our feed, which is its fault unless the feeds differ.
    FindFork {
        peer: libp2p::PeerId,
        author: PublicKey,
        from: u64,
        to: u64,
        events: Vec<WireEvent>,
        blame: bool,
    },
    /// Read the log's new events, to publish.
    Tail,
    /// Follow these feeds from now on.
    Follow(Follow),
}

/// What the writer thread reports back to the swarm.
#[derive(Debug)]
pub(crate) enum Done {
    Ingested {
        source: Source,
        outcomes: Vec<Outcome>,
        /// The author and seq of the source's last event now held.
        last: Option<(PublicKey, u64)>,
        /// The author and seq of the source's first event that does not fit our feed (a fork at
        /// or before it, or a broken chain).
        split_at: Option<(PublicKey, u64)>,
        /// Fork proofs recorded from these events, to gossip.
        proofs: Vec<Vec<u8>>,
    },
    /// Fork proofs received: those recorded (new), and how many were invalid; `failed` when
    /// the store failed (no fault of the sender).
    Forks {
        source: Option<(libp2p::gossipsub::MessageId, libp2p::PeerId, usize)>,
        new: Vec<Vec<u8>>,
        invalid: usize,
        failed: bool,
    },
    /// The result of a [`Job::FindFork`]: `proof` when a new one was recorded; `earlier` when
    /// the first differing seq is the first one compared (the fork may be earlier: compare
    /// earlier events); `forked` when the feeds differ; `invalid` when the peer's events were
    /// bad or not what was asked.
    ForkSearch {
        peer: libp2p::PeerId,
        author: PublicKey,
        earlier: Option<u64>,
        invalid: bool,
        forked: bool,
        blame: bool,
        proof: Option<Vec<u8>>,
        /// The answer stopped short (its size limit) with all the same: compare on from here.
        resume: Option<u64>,
    },
    Tail(Vec<WireEvent>),
}

/// Starts the verifier thread, which checks the events of `Ingest` jobs (every signature of what
/// is waiting, in one parallel batch) and passes every job on in order, and the writer thread
/// behind it.
pub(crate) fn start_writer(
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    follow: Follow,
    jobs: std_mpsc::Receiver<Job>,
    done: mpsc::UnboundedSender<Done>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let (checked_tx, checked) = std_mpsc::channel();
    std::thread::Builder::new().name("mindlog-verifier".into()).spawn(move || {
        while let Ok(job) = jobs.recv() {
            let mut batch = vec![job];
            while let Ok(more) = jobs.try_recv() {
                batch.push(more);
            }
            // A panic while checking fails the batch's events (no fault of the senders), and
            // every job still goes on to the writer, so every source is answered.
            let shapes: Vec<Option<(Source, usize)>> = batch
                .iter()
                .map(|job| match job {
                    Job::Ingest { source, events } => Some((source.clone(), events.len())),
                    _ => None,
                })
                .collect();
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(batch)));
            let jobs = checked.unwrap_or_else(|_| {
                tracing::error!("the replicator's verifier failed on a batch (a panic): its events are ignored");
                shapes
                    .into_iter()
                    .flatten()
                    .map(|(source, n)| {
                        Job::Checked(Checked {
                            source,
                            ids: vec![None; n],
                            events: (0..n).map(|_| Err(Outcome::Failed("the check failed".into()))).collect(),
                        })
                    })
                    .collect()
            });
            for job in jobs {
                if checked_tx.send(job).is_err() {
                    return;
                }
            }
        }
    })?;
    let jobs = checked;
    std::thread::Builder::new().name("mindlog-replicator".into()).spawn(move || {
        let mut writer = Writer { store, shared, follow, cursor: None, ours: HashSet::new() };
        while let Ok(job) = jobs.recv() {
            // Everything waiting goes into one pass: many small gossip messages share one commit.
            let mut batch = vec![job];
            while let Ok(more) = jobs.try_recv() {
                batch.push(more);
            }
            // What to answer if the batch panics: every source gets its answer all the same.
            let sources = unanswered(&batch);
            let reports =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| writer.run(batch))).unwrap_or_else(|_| {
                    tracing::error!("the replicator's writer failed on a batch (a panic): its events are ignored");
                    writer.cursor = None;
                    sources
                });
            for report in reports {
                if done.send(report).is_err() {
                    return;
                }
            }
        }
    })
}

/// Checks the events of every `Ingest` job of `batch` (in one parallel batch) and makes each a
/// `Checked` job; other jobs pass unchanged, in order.
fn check(batch: Vec<Job>) -> Vec<Job> {
    let mut ids: Vec<Option<(PublicKey, u64)>> = Vec::new();
    let mut signed = Vec::new();
    let mut refused: Vec<Option<Outcome>> = Vec::new();
    let mut shape = Vec::with_capacity(batch.len());
    for job in batch {
        match job {
            Job::Ingest { source, events } => {
                let first = ids.len();
                for event in events {
                    ids.push(mindlog_ledger::EnvelopeRef::decode(&event.bytes).ok().map(|env| (env.author, env.seq)));
                    signed.push(event.into_signed());
                    refused.push(None);
                }
                // A page must be the feed asked for, from the seq asked for, without a gap:
                // anything else is the sender's fault, and nothing of it is stored.
                if let Source::Page { author, from, to, .. } = &source {
                    let page = &ids[first..];
                    let fits = page.len() <= crate::wire::PAGE_EVENTS
                        && page.iter().enumerate().all(|(k, id)| {
                            id.is_some_and(|(a, seq)| a == *author && seq == from + k as u64 && seq <= *to)
                        });
                    if !fits {
                        for slot in &mut refused[first..] {
                            *slot = Some(Outcome::Invalid("not the page asked for".into()));
                        }
                    }
                }
                shape.push(Err((source, first..ids.len())));
            }
            other => shape.push(Ok(other)),
        }
    }
    let mut verified = verify_batch(signed).into_iter().zip(refused).map(|(result, refused)| match refused {
        Some(outcome) => Err(outcome),
        None => result.map_err(|e| Outcome::Invalid(describe(&e))),
    });
    shape
        .into_iter()
        .map(|job| match job {
            Ok(job) => job,
            Err((source, range)) => Job::Checked(Checked {
                source,
                ids: ids[range.clone()].to_vec(),
                events: verified.by_ref().take(range.len()).collect(),
            }),
        })
        .collect()
}

/// The answers of a batch that could not be done: every event failed, no fault of the senders.
fn unanswered(batch: &[Job]) -> Vec<Done> {
    batch
        .iter()
        .filter_map(|job| match job {
            Job::Ingest { source, events: _ } | Job::Checked(Checked { source, ids: _, events: _ }) => {
                let n = match job {
                    Job::Ingest { events, .. } => events.len(),
                    Job::Checked(c) => c.events.len(),
                    _ => 0,
                };
                Some(Done::Ingested {
                    source: source.clone(),
                    outcomes: vec![Outcome::Failed("the writer failed".into()); n],
                    last: None,
                    split_at: None,
                    proofs: Vec::new(),
                })
            }
            Job::Forks { source, .. } => {
                Some(Done::Forks { source: source.clone(), new: Vec::new(), invalid: 0, failed: true })
            }
            Job::FindFork { peer, author, blame, .. } => Some(Done::ForkSearch {
                peer: *peer,
                author: *author,
                earlier: None,
                invalid: false,
                forked: true,
                blame: *blame,
                proof: None,
                resume: None,
            }),
            Job::Tail | Job::Follow(_) => None,
        })
        .collect()
}

struct Writer {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    follow: Follow,
    /// The next offset of the log to publish (`None` until first read: the log as it was when
    /// the replicator started is history, which peers pull).
    cursor: Option<u64>,
    /// Offsets this replicator stored, which gossip has already forwarded or peers pull.
    ours: HashSet<u64>,
}

impl Writer {
    fn run(&mut self, batch: Vec<Job>) -> Vec<Done> {
        let mut out = Vec::new();
        let mut ingests = Vec::new();
        let mut tail = false;
        for job in batch {
            // Checked events go in together (one commit), but never after a job that came later.
            if !matches!(job, Job::Checked(_) | Job::Tail) && !ingests.is_empty() {
                out.extend(self.ingest(std::mem::take(&mut ingests)));
            }
            match job {
                Job::Checked(checked) => ingests.push(checked),
                Job::Ingest { .. } => unreachable!("the verifier makes every Ingest job a Checked one"),
                Job::Forks { source, proofs } => out.push(self.forks(source, proofs)),
                Job::FindFork { peer, author, from, to, events, blame } => {
                    out.push(self.find_fork(peer, author, from..=to, events, blame))
                }
                Job::Tail => tail = true,
                Job::Follow(follow) => self.follow = follow,
            }
        }
        if !ingests.is_empty() {
            out.extend(self.ingest(ingests));
        }
        if tail || !out.is_empty() {
            match self.tail() {
                Ok(events) if !events.is_empty() => out.push(Done::Tail(events)),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the new events to publish"),
            }
        }
        out
    }

    /// Verifies every event of every source (in parallel), then stores those that continue
    /// their feeds, in as few transactions as the events allow.
    fn ingest(&mut self, sources: Vec<Checked>) -> Vec<Done> {
        // Flatten: each event's author and seq, and its outcome when it has one already.
        let mut ids: Vec<Option<(PublicKey, u64)>> = Vec::new();
        let mut verified = Vec::new();
        let mut meta = Vec::with_capacity(sources.len());
        for Checked { source, ids: more, events } in sources {
            let first = ids.len();
            ids.extend(more);
            verified.extend(events);
            meta.push((source, first..ids.len()));
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; verified.len()];
        let ledger = match self.store.ledger() {
            Ok(ledger) => ledger,
            Err(e) => {
                return meta
                    .into_iter()
                    .map(|(source, range)| Done::Ingested {
                        source,
                        outcomes: vec![Outcome::Failed(e.clone()); range.len()],
                        last: None,
                        split_at: None,
                        proofs: Vec::new(),
                    })
                    .collect();
            }
        };
        // The events worth a try, in order, with their places; the rest have their outcome already.
        let (mut places, mut candidates): (Vec<usize>, Vec<VerifiedEvent>) = (Vec::new(), Vec::new());
        // Heads as they will be once the candidates before are stored.
        let mut heads: HashMap<PublicKey, (u64, Option<Hash>)> = HashMap::new();
        for (i, result) in verified.into_iter().enumerate() {
            match result {
                Err(outcome) => outcomes[i] = Some(outcome),
                Ok(event) if !self.follow.follows(&event.author()) => outcomes[i] = Some(Outcome::Unwanted),
                Ok(event) => {
                    let author = event.author();
                    let head = *heads
                        .entry(author)
                        .or_insert_with(|| ledger.head(&author).map_or((0, None), |h| (h.seq, Some(h.hash))));
                    let env = event.envelope();
                    if env.seq > head.0 + 1 {
                        outcomes[i] = Some(Outcome::Early);
                    } else if env.seq == head.0 + 1 && env.prev != head.1 {
                        outcomes[i] = Some(Outcome::BrokenLink);
                    } else {
                        if env.seq == head.0 + 1 {
                            heads.insert(author, (env.seq, Some(event.hash())));
                        }
                        places.push(i);
                        candidates.push(event);
                    }
                }
            }
        }
        // Store the candidates; an event the ledger refuses gets its outcome, and the rest go on.
        let mut forked: Vec<VerifiedEvent> = Vec::new();
        let mut start = 0;
        while start < candidates.len() {
            match ledger.ingest_prefix(&candidates[start..]) {
                Ok((stored, stopped)) => {
                    for (k, ingested) in stored.iter().enumerate() {
                        outcomes[places[start + k]] = Some(match ingested {
                            Ingested::Stored(offset) => {
                                self.ours.insert(*offset);
                                Outcome::Stored
                            }
                            Ingested::AlreadyHeld(_) => Outcome::Held,
                        });
                    }
                    let Some((at, error)) = stopped else { break };
                    let at = start + at;
                    outcomes[places[at]] = Some(match error {
                        IngestError::Feed { problem: FeedProblem::Fork { .. }, .. } => {
                            forked.push(candidates[at].clone());
                            Outcome::Fork
                        }
                        IngestError::Feed { problem: FeedProblem::BrokenLink { .. }, .. } => Outcome::BrokenLink,
                        IngestError::Feed { problem: FeedProblem::Gap { .. }, .. } => Outcome::Early,
                        other => Outcome::Invalid(other.to_string()),
                    });
                    start = at + 1;
                }
                Err(e) => {
                    for &i in &places[start..] {
                        outcomes[i] = Some(Outcome::Failed(e.to_string()));
                    }
                    break;
                }
            }
        }
        // An event that has the seq of one of ours and another hash: the proof is at hand.
        let mut proofs = Vec::new();
        for event in &forked {
            if let Some(ours) = read::event_at(&ledger, &event.author(), event.seq())
                && let Some(Ok(proof)) = self.record(&ledger, (ours.bytes, ours.signature), event)
            {
                tracing::warn!(author = %event.author(), seq = event.seq(), "fork found");
                proofs.push(proof);
            }
        }
        drop(ledger);
        let stored = outcomes.iter().filter(|o| matches!(o, Some(Outcome::Stored))).count() as u64;
        self.shared.counters.received.fetch_add(stored, std::sync::atomic::Ordering::Relaxed);
        // Back to the sources.
        let outcomes: Vec<Outcome> =
            outcomes.into_iter().map(|o| o.unwrap_or(Outcome::Failed("not tried".into()))).collect();
        let mut proofs = Some(proofs);
        meta.into_iter()
            .map(|(source, range)| {
                let (ids, outcomes) = (&ids[range.clone()], &outcomes[range]);
                // The last event of the source that is now held: where the next page starts.
                let last = ids
                    .iter()
                    .zip(outcomes)
                    .rev()
                    .find(|(_, o)| matches!(o, Outcome::Stored | Outcome::Held))
                    .and_then(|(id, _)| *id);
                let split_at = ids
                    .iter()
                    .zip(outcomes)
                    .find(|(_, o)| matches!(o, Outcome::BrokenLink | Outcome::Fork))
                    .and_then(|(id, _)| *id);
                Done::Ingested {
                    source,
                    outcomes: outcomes.to_vec(),
                    last,
                    split_at,
                    proofs: proofs.take().unwrap_or_default(),
                }
            })
            .collect()
    }

    fn forks(
        &mut self,
        source: Option<(libp2p::gossipsub::MessageId, libp2p::PeerId, usize)>,
        proofs: Vec<Vec<u8>>,
    ) -> Done {
        let mut new = Vec::new();
        let (mut invalid, mut failed) = (0, false);
        let ledger = self.store.ledger();
        for bytes in proofs {
            match ForkProof::decode(&bytes) {
                // Proofs of feeds not followed here are not kept (nor passed on).
                Ok(proof) if !self.follow.follows(&proof.author()) => {}
                Ok(proof) => match ledger.as_ref().map(|l| l.record_fork(&proof)) {
                    Ok(Ok(true)) => {
                        tracing::warn!(author = %proof.author(), seq = proof.seq(), "fork proof received");
                        new.push(bytes);
                    }
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        failed = true;
                        tracing::warn!(error = %e, "recording a fork proof");
                    }
                    Err(e) => {
                        failed = true;
                        tracing::warn!(error = %e, "recording a fork proof");
                    }
                },
                Err(_) => invalid += 1,
            }
        }
        Done::Forks { source, new, invalid, failed }
    }

    /// Compares a peer's events of `author` (seqs `asked`) with ours; records a proof at the
    /// first seq where they differ.
    fn find_fork(
        &mut self,
        peer: libp2p::PeerId,
        author: PublicKey,
        asked: std::ops::RangeInclusive<u64>,
        events: Vec<WireEvent>,
        blame: bool,
    ) -> Done {
        let answer = |earlier, invalid, forked, proof| Done::ForkSearch {
            peer,
            author,
            earlier,
            invalid,
            forked,
            blame,
            proof,
            resume: None,
        };
        let theirs: Vec<SignedEvent> = events.into_iter().map(WireEvent::into_signed).collect();
        let mut verified = Vec::with_capacity(theirs.len());
        for (i, result) in verify_batch(theirs).into_iter().enumerate() {
            match result {
                // Exactly the seqs asked for, in order (the peer's feed may end before `to`).
                Ok(event)
                    if event.author() == author
                        && event.seq() == asked.start() + i as u64
                        && asked.contains(&event.seq()) =>
                {
                    verified.push(event)
                }
                _ => return answer(None, true, false, None),
            }
        }
        let Ok(ledger) = self.store.ledger() else { return answer(None, false, true, None) };
        let our_head = ledger.head(&author).map_or(0, |h| h.seq);
        for (index, event) in verified.iter().enumerate() {
            let seq = event.seq();
            let Some(ours) = read::event_at(&ledger, &author, seq) else { continue };
            if ours.hash == event.hash() {
                continue;
            }
            // The first seq that differs here: a proof (the store keeps the lowest per author).
            let proof = match self.record(&ledger, (ours.bytes, ours.signature), event) {
                Some(Ok(proof)) => {
                    tracing::warn!(%peer, author = %author, seq, "fork found");
                    Some(proof)
                }
                Some(Err(())) => return answer(None, true, false, None),
                None => None,
            };
            // If it is the first seq compared, the feeds may part earlier still.
            let earlier = (index == 0 && seq > 1).then_some(seq);
            return answer(earlier, false, true, proof);
        }
        // Everything compared is the same. If the answer stopped short (its size limit) of what
        // both hold, compare on from its end; otherwise there is no fork.
        let end = verified.last().map_or(*asked.start(), |e| e.seq() + 1);
        if !verified.is_empty() && end <= (*asked.end()).min(our_head) {
            return Done::ForkSearch {
                peer,
                author,
                earlier: None,
                invalid: false,
                forked: true,
                blame,
                proof: None,
                resume: Some(end),
            };
        }
        answer(None, false, false, None)
    }

    /// Records the proof that `ours` and `theirs` fork their feed: `Some(Ok(bytes))` when new,
    /// `None` when held already (or the store failed), `Some(Err)` when they are no fork.
    fn record(
        &self,
        ledger: &Ledger,
        ours: (Vec<u8>, mindlog_ledger::Signature),
        theirs: &VerifiedEvent,
    ) -> Option<Result<Vec<u8>, ()>> {
        let proof = match ForkProof::new(ours, (theirs.bytes().to_vec(), theirs.signature())) {
            Ok(proof) => proof,
            Err(_) => return Some(Err(())),
        };
        match ledger.record_fork(&proof) {
            Ok(true) => {
                self.shared.counters.forks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(Ok(proof.encode()))
            }
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = %e, "recording a fork proof");
                None
            }
        }
    }

    /// The log's events from the cursor on that this replicator did not store itself, to publish;
    /// at most a page (a bulk write beyond it reaches peers through sync).
    fn tail(&mut self) -> Result<Vec<WireEvent>, String> {
        let ledger = self.store.ledger()?;
        let end = ledger.log_len().map_err(|e| e.to_string())?;
        let from = *self.cursor.get_or_insert(end);
        self.cursor = Some(end);
        if end <= from {
            return Ok(Vec::new());
        }
        let start = if end - from > PAGE_EVENTS as u64 {
            tracing::debug!(skipped = end - from - PAGE_EVENTS as u64, "left to sync: too many new events to gossip");
            end - PAGE_EVENTS as u64
        } else {
            from
        };
        let snapshot = ledger.snapshot().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for event in snapshot.events(start..end).map_err(|e| e.to_string())? {
            let event = event.map_err(|e| e.to_string())?;
            if self.ours.remove(&event.offset) {
                continue;
            }
            if !self.follow.follows(&author_of(&event.bytes)) {
                continue;
            }
            out.push(WireEvent::from_stored(event));
        }
        self.ours.retain(|&offset| offset >= end);
        Ok(out)
    }
}

fn author_of(bytes: &[u8]) -> PublicKey {
    mindlog_ledger::EnvelopeRef::decode(bytes).map_or(PublicKey([0; 32]), |e| e.author)
}

fn describe(error: &EventError) -> String {
    error.to_string()
}

/// Reads for peers' requests, on a blocking thread.
pub(crate) mod read {
    use super::*;

    /// Heads of the feeds `wanted` admits that this node follows, and the digest of its fork proofs.
    pub(crate) fn heads(ledger: &Ledger, wanted: &Follow, ours: &Follow) -> Result<(Vec<WireHead>, [u8; 32]), String> {
        let snapshot = ledger.snapshot().map_err(|e| e.to_string())?;
        let heads = snapshot
            .heads()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|h| wanted.follows(&h.author) && ours.follows(&h.author))
            .map(|h| WireHead { author: h.author, seq: h.seq, hash: h.hash })
            .collect();
        Ok((heads, forks_digest(&snapshot)?))
    }

    /// The digest of the fork proofs held: equal digests, equal sets.
    pub(crate) fn forks_digest(snapshot: &mindlog_ledger::Snapshot) -> Result<[u8; 32], String> {
        let mut hasher = blake3::Hasher::new();
        for proof in snapshot.forks().map_err(|e| e.to_string())? {
            let [a, b] = proof.hashes();
            hasher.update(&a.0);
            hasher.update(&b.0);
        }
        Ok(*hasher.finalize().as_bytes())
    }

    /// A page of the fork proofs held (one per author), of authors after `after`.
    pub(crate) fn forks(ledger: &Ledger, after: Option<PublicKey>) -> Result<Vec<Vec<u8>>, String> {
        let snapshot = ledger.snapshot().map_err(|e| e.to_string())?;
        Ok(snapshot
            .forks()
            .map_err(|e| e.to_string())?
            .iter()
            .filter(|p| after.is_none_or(|a| p.author() > a))
            .take(crate::wire::FORKS_PAGE)
            .map(ForkProof::encode)
            .collect())
    }

    /// A page of `author`'s feed from `from` to `to`.
    pub(crate) fn page(ledger: &Ledger, author: &PublicKey, from: u64, to: u64) -> Result<Vec<WireEvent>, String> {
        let snapshot = ledger.snapshot().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut bytes = 0;
        if from > to || from == 0 {
            return Ok(out);
        }
        for entry in snapshot.feed(author, from..=to).map_err(|e| e.to_string())? {
            let (_, offset) = entry.map_err(|e| e.to_string())?;
            let Some(event) = snapshot.event(offset).map_err(|e| e.to_string())? else { break };
            let event = WireEvent::from_stored(event);
            bytes += event.size();
            out.push(event);
            if out.len() >= PAGE_EVENTS || bytes >= PAGE_BYTES {
                break;
            }
        }
        Ok(out)
    }

    /// Our event of `author` at `seq`.
    pub(crate) fn event_at(ledger: &Ledger, author: &PublicKey, seq: u64) -> Option<mindlog_ledger::StoredEvent> {
        let snapshot = ledger.snapshot().ok()?;
        let (_, offset) = snapshot.feed(author, seq..=seq).ok()?.next()?.ok()?;
        snapshot.event(offset).ok().flatten()
    }

    /// The hash of our event of `author` at `seq`.
    pub(crate) fn hash_at(ledger: &Ledger, author: &PublicKey, seq: u64) -> Option<Hash> {
        event_at(ledger, author, seq).map(|e| e.hash)
    }

    /// Our heads of `authors`.
    pub(crate) fn local_heads(ledger: &Ledger, authors: &[PublicKey]) -> HashMap<PublicKey, (u64, Hash)> {
        authors.iter().filter_map(|a| ledger.head(a).map(|h| (*a, (h.seq, h.hash)))).collect()
    }
}
