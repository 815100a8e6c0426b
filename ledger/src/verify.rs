//! `verify`: re-checks every stored event — encoding, hash, signature, feed links — streaming,
//! with signature checks batched and spread over all cores, and compares every derived table
//! with what the events imply (`index_check.rs`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::envelope::{Envelope, hash_envelope_bytes};
use crate::error::StorageError;
use crate::event::{EventError, KeyCache, PayloadState, SignatureCheck, bad_in_chunk, check_payload};
use crate::index_check::{DerivedFinding, IndexCheck, IndexTables, Indexed, Lookup};
use crate::ledger::Ledger;
use crate::pipeline::{default_window, run_ordered};
use crate::store::StoredEvent;
use crate::types::{Hash, PublicKey};

/// Events handed to one parallel check.
const CHUNK: usize = crate::event::SIGNATURE_BATCH;

/// What `verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// True when nothing is wrong.
    pub ok: bool,
    /// Events read.
    pub events: u64,
    /// Feeds found.
    pub feeds: u64,
    /// Feeds with at least one failure.
    pub failed_feeds: u64,
    /// Events that failed a check (the first failure of a feed and anything after it that also fails).
    pub failed_events: u64,
    /// Seconds taken.
    pub seconds: f64,
    /// Events per second.
    pub events_per_second: f64,
    /// Each feed with its first failure, ordered by author.
    pub feed_reports: Vec<FeedReport>,
    /// Records that could not be attributed to a feed (undecodable), first 100.
    pub unattributed: Vec<Failure>,
    /// The derived tables (indexes, heads, counters, `meta.indexed_to`, checkpoints) that differ
    /// from what the events imply, one entry per table, in a fixed table order.
    pub derived: Vec<DerivedFinding>,
    /// Where the payloads are: how many inline (format 1), present, erased and withheld.
    pub payloads: PayloadCounts,
    /// Fork proofs held (`forks` table) that check: evidence that their authors forked a feed,
    /// not a failure of this store.
    pub forks: u64,
    /// Rows of the `forks` table that do not hold a valid proof under their own key, first 100.
    pub bad_forks: Vec<ForkFailure>,
    /// Checkpoints published in their feeds (`ledger.checkpoint/1`, payload held) that hold:
    /// signed by the feed's key, of the feed at the size before them, with its root.
    pub checkpoints: u64,
    /// Published checkpoints that do not hold, first 100: their authors signed a checkpoint that
    /// is not their feed's — evidence against them, like a fork proof, not a failure of this
    /// store (the event and its payload check).
    pub false_checkpoints: Vec<FalseCheckpoint>,
}

/// A published checkpoint that does not hold.
#[derive(Clone, Debug, Serialize)]
pub struct FalseCheckpoint {
    /// The author who signed and published it.
    pub author: PublicKey,
    /// The seq of the event that publishes it.
    pub seq: u64,
    /// Its offset in this store.
    pub offset: u64,
    /// What is wrong, in one line.
    pub problem: String,
}

/// A `forks` row that is not a valid fork proof.
#[derive(Clone, Debug, Serialize)]
pub struct ForkFailure {
    /// The row's key, hex.
    pub key: String,
    /// What is wrong, in one line.
    pub problem: String,
}

/// How many events have their payload in each state. Erased and withheld payloads are not
/// failures; a present payload that does not match its commitment is.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PayloadCounts {
    /// Format-1 events (payload inside the signed envelope).
    pub inline: u64,
    /// Format-2 payloads held and checked against their commitment.
    pub present: u64,
    /// Of those present, the private ones.
    pub private: u64,
    /// Format-2 payloads erased.
    pub erased: u64,
    /// Format-2 payloads not held here.
    pub withheld: u64,
}

/// One feed's result.
#[derive(Clone, Debug, Serialize)]
pub struct FeedReport {
    /// The feed's author.
    pub author: PublicKey,
    /// Events read.
    pub events: u64,
    /// The last seq read.
    pub last_seq: u64,
    /// The first failure, if any.
    pub first_failure: Option<Failure>,
}

/// A record that fails a check: where it is and what is wrong.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The event's seq, if it could be decoded.
    pub seq: Option<u64>,
    /// The event's offset in this store.
    pub offset: u64,
    /// What is wrong, in one line.
    pub problem: String,
}

/// The result of the parallel checks on one record.
struct Checked {
    offset: u64,
    /// Decoded fields, or why they could not be.
    fields: Result<Fields, String>,
    /// A hash, payload or signature failure of a decodable event.
    problem: Option<String>,
    /// The payload's state, when the record could be read.
    payload: Option<PayloadKind>,
    /// What the indexes hold for the event, when it decodes and they cover it.
    index: Option<Lookup>,
    /// A published checkpoint's note, checked but for the root: the checkpoint, or why not.
    checkpoint: Option<Result<crate::note::Checkpoint, String>>,
}

impl Checked {
    /// A record that does not decode: nothing else about it is known.
    fn undecodable(offset: u64, problem: String) -> Checked {
        Checked { offset, fields: Err(problem), problem: None, payload: None, index: None, checkpoint: None }
    }
}

/// A payload's state, for counting.
#[derive(Clone, Copy)]
enum PayloadKind {
    Inline,
    Present { private: bool },
    Erased,
    Withheld,
}

struct Fields {
    author: PublicKey,
    seq: u64,
    prev: Option<Hash>,
    hash: Hash,
    ts: u64,
    kind: String,
}

thread_local! {
    static KEYS: RefCell<KeyCache> = RefCell::new(KeyCache::default());
}

/// Decodes, hashes and signature-checks one chunk of raw records and looks up their index
/// entries (runs on a worker thread).
fn check_chunk(records: Vec<(u64, Vec<u8>, Option<Vec<u8>>)>, indexes: &IndexTables) -> Vec<Checked> {
    let mut out = Vec::with_capacity(records.len());
    let mut batch: Vec<SignatureCheck> = Vec::with_capacity(records.len());
    let mut batch_index = Vec::with_capacity(records.len());
    for (offset, record, row) in records {
        let event = match StoredEvent::from_record(offset, &record, row.as_deref()) {
            Ok(e) => e,
            Err(e) => {
                out.push(Checked::undecodable(offset, e.to_string()));
                continue;
            }
        };
        let env = match Envelope::decode(&event.bytes) {
            Ok(env) => env,
            Err(e) => {
                out.push(Checked::undecodable(offset, e.to_string()));
                continue;
            }
        };
        let hash = hash_envelope_bytes(&event.bytes);
        let fields =
            Fields { author: env.author, seq: env.seq, prev: env.prev, hash, ts: env.ts, kind: env.kind.clone() };
        let payload = Some(match &event.payload {
            PayloadState::Inline => PayloadKind::Inline,
            PayloadState::Present(s) => PayloadKind::Present { private: s.private },
            PayloadState::Erased => PayloadKind::Erased,
            PayloadState::Withheld => PayloadKind::Withheld,
        });
        let problem = if hash != event.hash {
            Some(EventError::HashMismatch { recorded: event.hash, computed: hash }.to_string())
        } else if let Err(e) = check_payload(&env, &event.payload) {
            // A missing row reads as inline: on a format-2 envelope that is a shape error too.
            Some(e.to_string())
        } else {
            match KEYS.with(|k| k.borrow_mut().get(env.author)) {
                Ok(key) => {
                    batch_index.push(out.len());
                    batch.push((hash, event.signature, key));
                    None
                }
                Err(e) => Some(e.to_string()),
            }
        };
        let checkpoint = match &event.payload {
            PayloadState::Present(sidecar) if env.kind == crate::published::CHECKPOINT_KIND => {
                Some(crate::published::check_published(&env.author, env.seq, &sidecar.bytes))
            }
            _ => None,
        };
        let index = indexes.lookup(&Indexed {
            offset,
            author: fields.author,
            seq: fields.seq,
            ts: fields.ts,
            kind: &fields.kind,
            hash: fields.hash,
        });
        out.push(Checked { offset, fields: Ok(fields), problem, payload, index, checkpoint });
    }
    for bad in bad_in_chunk(&batch) {
        out[batch_index[bad]].problem = Some(EventError::BadSignature.to_string());
    }
    out
}

/// Per-feed state while walking the log.
struct FeedState {
    events: u64,
    last_seq: u64,
    last_hash: Option<Hash>,
    failure: Option<Failure>,
}

impl Ledger {
    /// Re-checks the whole log and every derived table. `progress` is called with the number of
    /// events checked so far.
    ///
    /// Memory is bounded by the number of feeds, the number of kinds and a fixed window of
    /// in-flight chunks, not by the length of the log.
    pub fn verify(&self, progress: &dyn Fn(u64)) -> Result<VerifyReport, StorageError> {
        let started = Instant::now();
        let snapshot = self.snapshot()?;
        let mut feeds: HashMap<PublicKey, FeedState> = HashMap::new();
        let mut unattributed = Vec::new();
        let mut failed_events = 0u64;
        let mut events = 0u64;
        let mut payloads = PayloadCounts::default();
        let mut checkpoints = 0u64;
        let mut false_checkpoints = Vec::new();
        let mut indexes = IndexCheck::new(Arc::new(IndexTables::open(snapshot.txn())?));
        let tables = indexes.tables();

        let mut apply = |checked: Vec<Checked>| {
            for c in checked {
                events += 1;
                match c.payload {
                    Some(PayloadKind::Inline) => payloads.inline += 1,
                    Some(PayloadKind::Present { private }) => {
                        payloads.present += 1;
                        payloads.private += u64::from(private);
                    }
                    Some(PayloadKind::Erased) => payloads.erased += 1,
                    Some(PayloadKind::Withheld) => payloads.withheld += 1,
                    None => {}
                }
                let fields = match c.fields {
                    Ok(f) => f,
                    Err(problem) => {
                        indexes.undecodable(c.offset);
                        failed_events += 1;
                        if unattributed.len() < 100 {
                            unattributed.push(Failure { seq: None, offset: c.offset, problem });
                        }
                        continue;
                    }
                };
                let state = feeds.entry(fields.author).or_insert(FeedState {
                    events: 0,
                    last_seq: 0,
                    last_hash: None,
                    failure: None,
                });
                state.events += 1;
                // A published checkpoint must hold the feed's root at its size: the tree as
                // rebuilt up to the event before it.
                let publishes = c.checkpoint.is_some();
                let checkpoint_problem = match c.checkpoint {
                    None => None,
                    Some(Err(problem)) => Some(problem),
                    Some(Ok(checkpoint)) => match indexes.root_before(&fields.author, fields.seq) {
                        Some(root) if root != checkpoint.root => {
                            Some(format!("its root at size {} is not the feed's", checkpoint.size))
                        }
                        _ => None,
                    },
                };
                match checkpoint_problem {
                    Some(problem) if false_checkpoints.len() < 100 => false_checkpoints.push(FalseCheckpoint {
                        author: fields.author,
                        seq: fields.seq,
                        offset: c.offset,
                        problem,
                    }),
                    Some(_) => {}
                    None if publishes => checkpoints += 1,
                    None => {}
                }
                indexes.event(
                    &Indexed {
                        offset: c.offset,
                        author: fields.author,
                        seq: fields.seq,
                        ts: fields.ts,
                        kind: &fields.kind,
                        hash: fields.hash,
                    },
                    c.index,
                );
                let link_problem = if fields.seq != state.last_seq + 1 {
                    Some(format!("gap in the feed: expected seq {}, found {}", state.last_seq + 1, fields.seq))
                } else if fields.prev != state.last_hash {
                    Some(format!(
                        "broken link: prev is {}, but the previous event's hash is {}",
                        fields.prev.map_or("absent".into(), |h| h.to_string()),
                        state.last_hash.map_or("absent".into(), |h| h.to_string())
                    ))
                } else {
                    None
                };
                if let Some(problem) = c.problem.or(link_problem) {
                    failed_events += 1;
                    if state.failure.is_none() {
                        state.failure = Some(Failure { seq: Some(fields.seq), offset: c.offset, problem });
                    }
                }
                state.last_seq = fields.seq;
                state.last_hash = Some(fields.hash);
            }
            progress(events);
        };

        let mut records = snapshot.records(..)?;
        run_ordered(
            default_window(),
            || -> Result<_, StorageError> {
                let mut chunk = Vec::with_capacity(CHUNK);
                for r in records.by_ref().take(CHUNK) {
                    let (offset, record, row) = r?;
                    chunk.push((offset, record.value().to_vec(), row.map(|r| r.value().to_vec())));
                }
                Ok((!chunk.is_empty()).then_some(chunk))
            },
            |records| check_chunk(records, &tables),
            |checked| {
                apply(checked);
                Ok(())
            },
        )?;

        let derived = indexes.finish(snapshot.txn(), snapshot.len()?, snapshot.checkpoints()?)?;
        let (mut forks, mut bad_forks, mut bad_fork_rows) = (0u64, Vec::new(), 0u64);
        for row in snapshot.fork_rows(None, |key, value| {
            crate::store::decode_fork_row(key, value)
                .map_err(|problem| ForkFailure { key: hex::encode(key), problem: problem.to_string() })
        })? {
            match row {
                Ok(_) => forks += 1,
                Err(failure) => {
                    bad_fork_rows += 1;
                    if bad_forks.len() < 100 {
                        bad_forks.push(failure);
                    }
                }
            }
        }

        let mut feed_reports: Vec<FeedReport> = feeds
            .into_iter()
            .map(|(author, s)| FeedReport { author, events: s.events, last_seq: s.last_seq, first_failure: s.failure })
            .collect();
        feed_reports.sort_by_key(|f| f.author);
        let failed_feeds = feed_reports.iter().filter(|f| f.first_failure.is_some()).count() as u64;
        let elapsed = started.elapsed().max(Duration::from_nanos(1));
        Ok(VerifyReport {
            ok: failed_events == 0 && derived.is_empty() && bad_fork_rows == 0,
            events,
            feeds: feed_reports.len() as u64,
            failed_feeds,
            failed_events,
            seconds: elapsed.as_secs_f64(),
            events_per_second: events as f64 / elapsed.as_secs_f64(),
            feed_reports,
            unattributed,
            derived,
            payloads,
            forks,
            bad_forks,
            checkpoints,
            false_checkpoints,
        })
    }
}
