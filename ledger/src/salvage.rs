//! `salvage`: copying every event that can still be read and verified out of a damaged store
//! into a new one, and saying exactly what was lost.
//!
//! The damaged file is only read, never written. Each record is read by its own lookup, inside a
//! panic boundary: redb may panic on a damaged page (`unreachable` in its B-tree cursor), and a
//! lookup that does is counted as unreadable instead of ending the salvage. Every record read is
//! verified as on import (envelope, hash, signature, payload against its commitment); a record
//! whose payload fails while its envelope verifies keeps its envelope, with the payload
//! withheld. A feed keeps its events up to its first missing or failing seq: what follows cannot
//! be chained to it, so it is reported lost with the rest (docs/cli.md, `repair`).

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use redb::{ReadableDatabase as _, ReadableTable as _, ReadableTableMetadata as _};
use serde::Serialize;

use crate::error::{IngestError, OpenError, StorageError};
use crate::event::{EventError, PayloadState, SignedEvent, VerifiedEvent};
use crate::ledger::Ledger;
use crate::store::{self, EVENTS, EventRef, HEADS, PAYLOADS};
use crate::types::{Hash, PublicKey};

/// Offsets probed past the last one found, in case the table's own bounds are damaged.
const PROBE_PAST_END: u64 = 4096;

/// Events ingested into the new store per transaction.
const BATCH: usize = 4096;

/// Why a salvage could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SalvageError {
    /// The damaged store could not be opened at all, or the new one could not be created.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Writing the new store failed.
    #[error("writing the salvaged store")]
    Write(#[from] IngestError),
}

/// What a feed lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedLoss {
    /// The feed's author.
    pub author: PublicKey,
    /// Its events kept (seqs 1 to `kept`).
    pub kept: u64,
    /// The seqs lost, as inclusive ranges: unreadable or failing ones, and every one after the
    /// first of those, up to the feed's head as the damaged store recorded it (or the highest
    /// seq read).
    pub lost: Vec<(u64, u64)>,
}

/// What a salvage did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SalvageReport {
    /// Records read (whether or not they verified).
    pub read: u64,
    /// Events written to the new store.
    pub kept: u64,
    /// Of those, events whose payload failed its commitment and was kept as withheld.
    pub payloads_withheld: u64,
    /// Offsets whose record could not be read, or did not verify well enough to name its feed.
    pub unreadable: Vec<u64>,
    /// Feeds that lost events, by author.
    pub feeds: Vec<FeedLoss>,
    /// Fork proofs copied (each checked again; one that does not check is left behind).
    pub forks: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl SalvageReport {
    /// Whether anything was lost.
    pub fn lost_anything(&self) -> bool {
        !self.unreadable.is_empty() || !self.feeds.is_empty() || self.payloads_withheld > 0
    }
}

/// A feed's events as read: seq → (hash, prev).
type Links = BTreeMap<u64, (Hash, Option<Hash>)>;

impl Ledger {
    /// Copies every event of the store at `from` that can be read and verified into a new store
    /// created at `to` (which must not exist), leaving `from` untouched; reports what was lost.
    /// No handle on `from` may be open.
    pub fn salvage(from: &Path, to: &Path) -> Result<SalvageReport, SalvageError> {
        let started = Instant::now();
        if to.exists() {
            return Err(OpenError::AlreadyExists(to.to_owned()).into());
        }
        // redb writes to a file it opens (its header, a repair): it reads a copy, never `from`.
        let mut copy = to.as_os_str().to_owned();
        copy.push(".source");
        let copy = std::path::PathBuf::from(copy);
        let storage = |source: StorageError| OpenError::Storage { path: from.to_owned(), source };
        std::fs::copy(from, &copy).map_err(|e| storage(StorageError::Other(format!("copying the store: {e}"))))?;
        let mut report = SalvageReport::default();
        let read = catch_unwind(AssertUnwindSafe(|| -> Result<_, OpenError> {
            let db = store::open_database(&copy, false)?;
            read_all(&db, &mut report).map_err(storage)
        }));
        let _ = std::fs::remove_file(&copy);
        let (found, recorded_heads, forks) = match read {
            Ok(read) => read?,
            Err(_) => return Err(storage(StorageError::Other("redb cannot open the store at all".into())).into()),
        };

        // Per feed, the events that chain from seq 1 without a gap.
        let mut by_feed: HashMap<PublicKey, Links> = HashMap::new();
        for event in &found {
            let e = event.envelope();
            by_feed.entry(e.author).or_default().insert(e.seq, (event.hash(), e.prev));
        }
        let mut keep: HashMap<PublicKey, u64> = HashMap::new();
        for (author, events) in &by_feed {
            let mut kept = 0u64;
            let mut prev = None;
            for (&seq, &(hash, link)) in events {
                if seq != kept + 1 || link != prev {
                    break;
                }
                kept = seq;
                prev = Some(hash);
            }
            keep.insert(*author, kept);
        }
        let mut authors: Vec<PublicKey> = by_feed.keys().chain(recorded_heads.keys()).copied().collect();
        authors.sort();
        authors.dedup();
        for author in authors {
            let kept = keep.get(&author).copied().unwrap_or(0);
            let highest_read = by_feed.get(&author).and_then(|e| e.keys().next_back().copied()).unwrap_or(0);
            let head = recorded_heads.get(&author).copied().unwrap_or(0).max(highest_read);
            if head > kept {
                report.feeds.push(FeedLoss { author, kept, lost: vec![(kept + 1, head)] });
            }
        }

        let ledger = Ledger::create(to)?;
        let kept: Vec<VerifiedEvent> = found
            .into_iter()
            .filter(|event| event.envelope().seq <= keep.get(&event.envelope().author).copied().unwrap_or(0))
            .collect();
        for batch in kept.chunks(BATCH) {
            ledger.ingest(batch)?;
            report.kept += batch.len() as u64;
        }
        // Fork proofs are evidence from outside the log: copied as they are, if they check.
        for proof in &forks {
            if ledger.record_fork(proof).map_err(IngestError::Storage)? {
                report.forks += 1;
            }
        }
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

/// Reads and verifies every record it can, in offset order, and the feeds' heads as recorded.
#[allow(clippy::type_complexity)]
fn read_all(
    db: &redb::Database,
    report: &mut SalvageReport,
) -> Result<(Vec<VerifiedEvent>, HashMap<PublicKey, u64>, Vec<crate::fork::ForkProof>), StorageError> {
    let txn = db.begin_read()?;
    let events = txn.open_table(EVENTS)?;
    let payloads = txn.open_table(PAYLOADS)?;
    let guarded = |f: &mut dyn FnMut() -> Option<u64>| catch_unwind(AssertUnwindSafe(f)).ok().flatten();
    let end = guarded(&mut || events.last().ok().flatten().map(|(k, _)| k.value() + 1)).unwrap_or(0);
    let len = guarded(&mut || events.len().ok()).unwrap_or(0);
    let mut found = Vec::new();
    let (mut offset, mut last_found) = (0u64, 0u64);
    while offset < end.max(len) || offset < last_found + PROBE_PAST_END {
        let record = catch_unwind(AssertUnwindSafe(|| {
            let record = events.get(offset).ok()??.value().to_vec();
            let row = payloads.get(offset).ok().flatten().map(|r| r.value().to_vec());
            Some((record, row))
        }));
        match record {
            Ok(Some((record, row))) => {
                report.read += 1;
                last_found = offset;
                match verify_record(offset, &record, row.as_deref()) {
                    Some((event, withheld)) => {
                        report.payloads_withheld += u64::from(withheld);
                        found.push(event);
                    }
                    None => report.unreadable.push(offset),
                }
            }
            Ok(None) if offset < end.max(len) => report.unreadable.push(offset),
            Ok(None) => {}
            Err(_) => report.unreadable.push(offset),
        }
        offset += 1;
    }
    let heads = catch_unwind(AssertUnwindSafe(|| -> Option<HashMap<PublicKey, u64>> {
        let table = txn.open_table(HEADS).ok()?;
        let mut heads = HashMap::new();
        for entry in table.iter().ok()? {
            let (author, head) = entry.ok()?;
            let head = store::Head::decode(PublicKey(*author.value()), head.value());
            heads.insert(head.author, head.seq);
        }
        Some(heads)
    }))
    .ok()
    .flatten()
    .unwrap_or_default();
    // The fork proofs that can be read and still check (a store older than them has none).
    let forks = catch_unwind(AssertUnwindSafe(|| -> Option<Vec<crate::fork::ForkProof>> {
        let table = txn.open_table(store::FORKS).ok()?;
        let rows = table.iter().ok()?;
        Some(rows.filter_map(|row| crate::fork::ForkProof::decode(row.ok()?.1.value()).ok()).collect())
    }))
    .ok()
    .flatten()
    .unwrap_or_default();
    Ok((found, heads, forks))
}

/// A record verified as on import; `true` beside it when its payload failed and is withheld.
fn verify_record(offset: u64, record: &[u8], row: Option<&[u8]>) -> Option<(VerifiedEvent, bool)> {
    let event = EventRef::from_record(offset, record, None).ok()?;
    let signed = |payload| SignedEvent { bytes: event.bytes.to_vec(), signature: event.signature, payload };
    let verified = |payload| signed(payload).verify().ok().filter(|v: &VerifiedEvent| v.hash() == event.hash);
    let payload = match row.map(|r| store::decode_payload_row(offset, r)) {
        None => Ok(PayloadState::Inline),
        Some(Ok(row)) => Ok(row.to_state()),
        // A payload row that does not even decode: a payload that fails.
        Some(Err(_)) => Err(()),
    };
    match payload.map(|p| signed(p).verify()) {
        Ok(Ok(v)) => (v.hash() == event.hash).then_some((v, false)),
        Ok(Err(EventError::CommitmentMismatch | EventError::PayloadSize { .. })) | Err(()) => {
            verified(PayloadState::Withheld).map(|v| (v, true))
        }
        Ok(Err(_)) => None,
    }
}
