//! `verify`: re-checks every stored event — encoding, hash, signature, feed links — streaming,
//! with signature checks batched and spread over all cores.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use redb::ReadableTableMetadata;
use serde::Serialize;

use crate::envelope::{Envelope, hash_envelope_bytes};
use crate::error::StorageError;
use crate::event::{EventError, KeyCache, SignatureCheck, bad_in_chunk};
use crate::ledger::Ledger;
use crate::pipeline::{default_window, run_ordered};
use crate::store::{BY_FEED, Head, StoredEvent};
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
    /// Checks of the store's indexes against the log.
    pub index_failures: Vec<String>,
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
    /// A hash or signature failure of a decodable event.
    problem: Option<String>,
}

struct Fields {
    author: PublicKey,
    seq: u64,
    prev: Option<Hash>,
    hash: Hash,
}

thread_local! {
    static KEYS: RefCell<KeyCache> = RefCell::new(KeyCache::default());
}

/// Decodes, hashes and signature-checks one chunk of raw records (runs on a worker thread).
fn check_chunk(records: Vec<(u64, Vec<u8>)>) -> Vec<Checked> {
    let mut out = Vec::with_capacity(records.len());
    let mut batch: Vec<SignatureCheck> = Vec::with_capacity(records.len());
    let mut batch_index = Vec::with_capacity(records.len());
    for (offset, record) in records {
        let event = match StoredEvent::from_record(offset, &record) {
            Ok(e) => e,
            Err(e) => {
                out.push(Checked { offset, fields: Err(e.to_string()), problem: None });
                continue;
            }
        };
        let env = match Envelope::decode(&event.bytes) {
            Ok(env) => env,
            Err(e) => {
                out.push(Checked { offset, fields: Err(e.to_string()), problem: None });
                continue;
            }
        };
        let hash = hash_envelope_bytes(&event.bytes);
        let fields = Fields { author: env.author, seq: env.seq, prev: env.prev, hash };
        let problem = if hash != event.hash {
            Some(EventError::HashMismatch { recorded: event.hash, computed: hash }.to_string())
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
        out.push(Checked { offset, fields: Ok(fields), problem });
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
    last_offset: u64,
    failure: Option<Failure>,
}

impl Ledger {
    /// Re-checks the whole log. `progress` is called with the number of events checked so far.
    ///
    /// Memory is bounded by the number of feeds and a fixed window of in-flight chunks, not by
    /// the length of the log.
    pub fn verify(&self, progress: &dyn Fn(u64)) -> Result<VerifyReport, StorageError> {
        let started = Instant::now();
        let snapshot = self.snapshot()?;
        let mut feeds: HashMap<PublicKey, FeedState> = HashMap::new();
        let mut unattributed = Vec::new();
        let mut failed_events = 0u64;
        let mut events = 0u64;

        let mut apply = |checked: Vec<Checked>| {
            for c in checked {
                events += 1;
                let fields = match c.fields {
                    Ok(f) => f,
                    Err(problem) => {
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
                    last_offset: 0,
                    failure: None,
                });
                state.events += 1;
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
                state.last_offset = c.offset;
            }
            progress(events);
        };

        let mut records = snapshot.records(..)?;
        run_ordered(
            default_window(),
            || -> Result<_, StorageError> {
                let mut chunk = Vec::with_capacity(CHUNK);
                for r in records.by_ref().take(CHUNK) {
                    let (k, v) = r?;
                    chunk.push((k.value(), v.value().to_vec()));
                }
                Ok((!chunk.is_empty()).then_some(chunk))
            },
            check_chunk,
            |checked| {
                apply(checked);
                Ok(())
            },
        )?;

        let heads: HashMap<PublicKey, Head> = snapshot.heads()?.into_iter().map(|h| (h.author, h)).collect();
        let mut index_failures = Vec::new();
        for (author, state) in &feeds {
            match heads.get(author) {
                Some(h)
                    if h.seq == state.last_seq && Some(h.hash) == state.last_hash && h.offset == state.last_offset => {}
                Some(h) => index_failures.push(format!(
                    "feed_heads for {author} says seq {} at offset {}, the log ends at seq {} at offset {}",
                    h.seq, h.offset, state.last_seq, state.last_offset
                )),
                None => index_failures.push(format!("feed_heads has no entry for {author}")),
            }
        }
        for author in heads.keys().filter(|a| !feeds.contains_key(a)) {
            index_failures.push(format!("feed_heads names {author}, which has no events"));
        }
        for (name, next) in snapshot.checkpoints()? {
            if next > events {
                index_failures
                    .push(format!("checkpoint {name:?} is at offset {next}, ahead of the log's {events} events"));
            }
        }
        let feed_index_len =
            snapshot.txn().open_table(BY_FEED).map_err(StorageError::from)?.len().map_err(StorageError::from)?;
        if feed_index_len != events {
            index_failures.push(format!("event_by_feed holds {feed_index_len} entries for {events} events"));
        }

        let mut feed_reports: Vec<FeedReport> = feeds
            .into_iter()
            .map(|(author, s)| FeedReport { author, events: s.events, last_seq: s.last_seq, first_failure: s.failure })
            .collect();
        feed_reports.sort_by_key(|f| f.author);
        let failed_feeds = feed_reports.iter().filter(|f| f.first_failure.is_some()).count() as u64;
        let elapsed = started.elapsed().max(Duration::from_nanos(1));
        Ok(VerifyReport {
            ok: failed_events == 0 && index_failures.is_empty(),
            events,
            feeds: feed_reports.len() as u64,
            failed_feeds,
            failed_events,
            seconds: elapsed.as_secs_f64(),
            events_per_second: events as f64 / elapsed.as_secs_f64(),
            feed_reports,
            unattributed,
            index_failures,
        })
    }
}
