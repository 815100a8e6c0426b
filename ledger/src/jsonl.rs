//! `export --jsonl` and `import`: one JSON object per event, canonical, so a line either is exactly
//! what `export` wrote for its signed bytes or is refused.

use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::envelope::{Body, Envelope, EnvelopeRef, hash_envelope_bytes};
use crate::error::{ImportError, IngestError, LineProblem, StorageError};
use crate::event::{EventError, Hashed, KeyCache, PayloadState, Sidecar, VerifiedEvent, check_payload, verify_hashed};
use crate::ledger::Ledger;
use crate::pipeline::{default_window, run_ordered};
use crate::store::{EventRef, PayloadRef};
use crate::types::{Hash, PublicKey, Signature};

/// Events per parallel chunk.
const CHUNK: usize = crate::event::SIGNATURE_BATCH;

/// One exported line. Field order is the output order; docs/format.md gives it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    hash: Hash,
    signature: Signature,
    author: PublicKey,
    seq: u64,
    prev: Option<Hash>,
    ts: u64,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    refs: Cow<'a, [Hash]>,
    payload_size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    commitment: Option<Hash>,
    version: u8,
    #[serde(borrow)]
    signed: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    payload_state: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    salt: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    payload: Option<Cow<'a, str>>,
}

/// What to export, and how.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportOptions {
    /// The first offset to export.
    pub from: u64,
    /// Write private payloads as they are (otherwise as withheld).
    pub include_private: bool,
    /// Leave out records that fail their check, counting them, instead of stopping at the first.
    pub skip_bad: bool,
}

/// What an export wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExportReport {
    /// Lines written.
    pub events: u64,
    /// Records left out because they fail their check (with [`ExportOptions::skip_bad`]).
    pub skipped: u64,
    /// The offset of the first record left out.
    pub first_skipped: Option<u64>,
}

/// Which events [`Ledger::export_lines`] gives: all, or one author's, or one kind's, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineFilter {
    /// Only this author's events.
    pub author: Option<PublicKey>,
    /// Only events of this kind (`persona.created/1`).
    pub kind: Option<String>,
}

impl LineFilter {
    /// Whether an event by `author` of `kind` is one of those wanted.
    pub fn admits(&self, author: &PublicKey, kind: &str) -> bool {
        self.author.is_none_or(|a| a == *author) && self.kind.as_deref().is_none_or(|k| k == kind)
    }
}

/// One line [`Ledger::export_lines`] gives: the event's offset, author and kind, and its export
/// line (without the newline).
#[derive(Debug)]
pub struct ExportedLine<'a> {
    /// The event's offset in this store.
    pub offset: u64,
    /// Its author.
    pub author: PublicKey,
    /// Its kind.
    pub kind: &'a str,
    /// Its export line.
    pub line: &'a [u8],
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A stored record fails its check (hash, or payload against its commitment): the store is
    /// damaged or was edited. Nothing after it was written.
    #[error(
        "the record at offset {offset} fails its check ({problem}): the store is damaged; run mindlog verify, or \
         export --skip-bad to leave such records out"
    )]
    BadRecord {
        /// The record's offset.
        offset: u64,
        /// What is wrong with it.
        problem: EventError,
    },
    /// Writing failed (a closed pipe shows up here as `BrokenPipe`).
    #[error("writing output")]
    Io(#[from] std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Formats microseconds since the epoch as RFC 3339 UTC with six fractional digits.
pub fn format_time(ts: u64) -> String {
    let seconds = (ts / 1_000_000) as i64;
    let micros = ts % 1_000_000;
    match jiff::Timestamp::from_second(seconds) {
        Ok(t) => format!("{}.{micros:06}Z", t.strftime("%Y-%m-%dT%H:%M:%S")),
        Err(_) => format!("@{ts}"),
    }
}

/// The canonical export line (without its newline) for an event whose payload is `payload`
/// ([`PayloadState::Inline`] for format 1).
pub fn render_line(
    envelope: &Envelope,
    bytes: &[u8],
    hash: Hash,
    signature: Signature,
    payload: &PayloadState,
) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2 + 512);
    write_line(&mut out, &envelope.as_ref(), bytes, hash, signature, payload.as_row());
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the canonical export line (without its newline) of an event to `out`; `row` is its
/// payload as stored (`None`: format 1, inline).
fn write_line(
    out: &mut Vec<u8>,
    envelope: &EnvelopeRef<'_>,
    bytes: &[u8],
    hash: Hash,
    signature: Signature,
    row: Option<PayloadRef<'_>>,
) {
    let (salt, payload) = match row {
        Some(PayloadRef::Present { salt, bytes, .. }) => (Some(*salt), Some(bytes)),
        _ => (None, None),
    };
    let mut salt_hex = [0u8; 64];
    let line = Line {
        hash,
        signature,
        author: envelope.author,
        seq: envelope.seq,
        prev: envelope.prev,
        ts: envelope.ts,
        time: Cow::Owned(format_time(envelope.ts)),
        kind: Cow::Borrowed(envelope.kind),
        refs: Cow::Borrowed(&envelope.refs),
        payload_size: envelope.body.size(),
        commitment: match envelope.body {
            Body::Committed { commitment, .. } => Some(commitment),
            Body::Inline(_) => None,
        },
        version: envelope.version,
        signed: Cow::Owned(BASE64.encode(bytes)),
        payload_state: row.map(|r| Cow::Borrowed(r.name())),
        private: match row {
            Some(PayloadRef::Present { private, .. }) => Some(private),
            _ => None,
        },
        salt: salt.map(|salt| Cow::Borrowed(crate::types::hex_str(&salt, &mut salt_hex))),
        payload: payload.map(|p| Cow::Owned(BASE64.encode(p))),
    };
    // Writing into a Vec cannot fail, and every field serializes.
    let _ = serde_json::to_writer(out, &line);
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// Lines read.
    pub lines: u64,
    /// Events added.
    pub stored: u64,
    /// Events already held, skipped.
    pub skipped: u64,
    /// Payloads held here that the imported `ledger.erased/1` events erased (the caller should
    /// let its views catch up, then [`Ledger::scrub`]).
    pub erased: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl Ledger {
    /// Writes every event from `options.from` on, in offset order, one JSON line each, after
    /// checking each record's hash and payload (a record that fails stops the export, or with
    /// `skip_bad` is left out and counted). Private payloads are written as withheld unless
    /// `include_private`. `progress` is called with the number of records read so far.
    pub fn export_jsonl(
        &self,
        options: &ExportOptions,
        out: &mut dyn Write,
        progress: &dyn Fn(u64),
    ) -> Result<ExportReport, ExportError> {
        let ExportOptions { from, include_private, skip_bad } = *options;
        let snapshot = self.snapshot()?;
        let mut records = snapshot.records(from..)?;
        let mut report = ExportReport::default();
        let mut read = 0u64;
        run_ordered(
            default_window(),
            || -> Result<_, ExportError> {
                let mut chunk = Vec::with_capacity(CHUNK);
                for r in records.by_ref().take(CHUNK) {
                    let (offset, record, row) = r?;
                    chunk.push((offset, record.value().to_vec(), row.map(|r| r.value().to_vec())));
                }
                Ok((!chunk.is_empty()).then_some(chunk))
            },
            |chunk: Vec<(u64, Vec<u8>, Option<Vec<u8>>)>| -> Result<(Vec<u8>, u64, Vec<u64>), ExportError> {
                let mut buf = Vec::with_capacity(chunk.len() * 1200);
                let mut bad = Vec::new();
                for (offset, record, row) in &chunk {
                    let event = EventRef::from_record(*offset, record, row.as_deref())?;
                    let envelope = event.envelope()?;
                    let mut row = event.payload(&envelope).map(|_| event.row)?;
                    if let Err(problem) = event.check(&envelope) {
                        if !skip_bad {
                            return Err(ExportError::BadRecord { offset: *offset, problem });
                        }
                        bad.push(*offset);
                        continue;
                    }
                    if let Some(PayloadRef::Present { private: true, .. }) = row
                        && !include_private
                    {
                        row = Some(PayloadRef::Withheld);
                    }
                    write_line(&mut buf, &envelope, event.bytes, event.hash, event.signature, row);
                    buf.push(b'\n');
                }
                Ok((buf, chunk.len() as u64, bad))
            },
            |rendered| {
                let (buf, n, bad) = rendered?;
                out.write_all(&buf)?;
                read += n;
                report.events += n - bad.len() as u64;
                report.skipped += bad.len() as u64;
                report.first_skipped = report.first_skipped.or(bad.first().copied());
                progress(read);
                Ok(())
            },
        )?;
        out.flush()?;
        Ok(report)
    }

    /// Renders the export lines of the events at `offsets` that `filter` admits, in offset order,
    /// checking each record as [`Ledger::export_jsonl`] does, and gives each to `each` (with its
    /// offset, author and kind); private payloads are withheld. Stops after `limit`
    /// lines, or when `each` returns `false`, or at the end of the log. Returns the offset to
    /// read from next. A filter is answered from the indexes as far as they reach, the rest by
    /// reading the log in order; nothing here brings the indexes up to date (that needs the
    /// writer), so a live reader never waits for one. Memory stays bounded by one line.
    pub fn export_lines(
        &self,
        offsets: std::ops::Range<u64>,
        filter: &LineFilter,
        limit: u64,
        each: &mut dyn FnMut(&ExportedLine<'_>) -> bool,
    ) -> Result<u64, ExportError> {
        let snapshot = self.log_snapshot()?;
        let end = offsets.end.min(snapshot.len()?);
        let mut next = offsets.start;
        let mut sent = 0u64;
        let mut line = Vec::with_capacity(2048);
        // Renders the record at `offset` if the filter admits it; `false`: stop here.
        let mut render = |offset: u64, record: &[u8], row: Option<&[u8]>| -> Result<bool, ExportError> {
            let event = EventRef::from_record(offset, record, row)?;
            let envelope = event.envelope()?;
            if !filter.admits(&envelope.author, envelope.kind) {
                return Ok(true);
            }
            let mut row = event.payload(&envelope).map(|_| event.row)?;
            event.check(&envelope).map_err(|problem| ExportError::BadRecord { offset, problem })?;
            if let Some(PayloadRef::Present { private: true, .. }) = row {
                row = Some(PayloadRef::Withheld);
            }
            line.clear();
            write_line(&mut line, &envelope, event.bytes, event.hash, event.signature, row);
            sent += 1;
            let exported = ExportedLine { offset, author: envelope.author, kind: envelope.kind, line: &line };
            Ok(each(&exported) && sent < limit)
        };
        // Below the indexes' reach, a filter is answered by an index (the author's feed, or the
        // kind's offsets), so only the events it admits are read; what lies beyond (appends not
        // indexed yet) is read in order.
        let indexed = snapshot.indexed_to()?.min(end);
        if next < indexed && (filter.author.is_some() || filter.kind.is_some()) {
            let from = next;
            let candidates: Box<dyn Iterator<Item = Result<u64, StorageError>>> = match (&filter.author, &filter.kind) {
                // A feed's offsets grow with its seqs.
                (Some(author), _) => Box::new(
                    snapshot
                        .feed(author, 1..=u64::MAX)?
                        .map(|r| r.map(|(_, offset)| offset))
                        .filter(move |r| !matches!(r, Ok(offset) if *offset < from))
                        .take_while(move |r| !matches!(r, Ok(offset) if *offset >= indexed)),
                ),
                (None, Some(kind)) => Box::new(snapshot.kind_offsets(kind, from..=indexed - 1)?),
                (None, None) => Box::new(std::iter::empty()),
            };
            for offset in candidates {
                let offset = offset?;
                let Some(r) = snapshot.records(offset..offset + 1)?.next() else { continue };
                let (offset, record, row) = r?;
                next = offset + 1;
                if !render(offset, record.value(), row.as_ref().map(|r| r.value()))? {
                    return Ok(next.max(offsets.start));
                }
            }
            next = indexed;
        }
        for r in snapshot.records(next..end)? {
            let (offset, record, row) = r?;
            next = offset + 1;
            if !render(offset, record.value(), row.as_ref().map(|r| r.value()))? {
                break;
            }
        }
        Ok(next.max(offsets.start))
    }

    /// Reads exported lines, checks every one (shape, hash, signature, feed continuity), and adds
    /// the new events in one durable transaction. On any bad line nothing is written, and the
    /// error names the line. Events already held are skipped.
    pub fn import_jsonl(&self, input: &mut dyn BufRead, progress: &dyn Fn(u64)) -> Result<ImportReport, ImportError> {
        let started = Instant::now();
        let mut batch = self.write_batch()?;
        let mut line_no = 0u64;
        let mut report = ImportReport::default();
        run_ordered(
            default_window(),
            || -> Result<_, ImportError> {
                let mut chunk = Vec::with_capacity(CHUNK);
                while chunk.len() < CHUNK {
                    let mut line = Vec::new();
                    if input.read_until(b'\n', &mut line)? == 0 {
                        break;
                    }
                    line_no += 1;
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    chunk.push((line_no, line));
                }
                Ok((!chunk.is_empty()).then_some(chunk))
            },
            check_lines,
            |checked| {
                let mut events = Vec::with_capacity(checked.len());
                let mut numbers = Vec::with_capacity(checked.len());
                for (line, result) in checked {
                    match result {
                        Ok(event) => {
                            events.push(event);
                            numbers.push(line);
                        }
                        Err(problem) => {
                            // Earlier lines of this chunk are good; report the first bad one after
                            // checking they continue their feeds, so the error names the first line at fault.
                            ingest_lines(&mut batch, &events, &numbers)?;
                            return Err(ImportError::Line { line, problem });
                        }
                    }
                }
                ingest_lines(&mut batch, &events, &numbers)?;
                report.lines += numbers.len() as u64;
                progress(report.lines);
                Ok(())
            },
        )?;
        report.stored = batch.stored();
        report.skipped = batch.skipped();
        report.erased = batch.erased();
        batch.commit()?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }
}

fn ingest_lines(
    batch: &mut crate::ledger::WriteBatch,
    events: &[VerifiedEvent],
    numbers: &[u64],
) -> Result<(), ImportError> {
    for (event, &line) in events.iter().zip(numbers) {
        match batch.ingest(std::slice::from_ref(event)) {
            Ok(_) => {}
            Err(IngestError::Feed { author, seq, problem }) => {
                return Err(ImportError::Line { line, problem: LineProblem::Feed { author, seq, problem } });
            }
            Err(IngestError::Storage(e)) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Parses and checks one chunk of lines (on a worker thread): each line's shape and hash first,
/// then the signatures of the chunk in one batch. Only lines whose signature checks become
/// [`VerifiedEvent`]s.
fn check_lines(lines: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Result<VerifiedEvent, LineProblem>)> {
    thread_local! {
        static KEYS: std::cell::RefCell<KeyCache> = std::cell::RefCell::new(KeyCache::default());
    }
    let (numbers, hashed): (Vec<u64>, Vec<Result<Hashed, LineProblem>>) =
        lines.into_iter().map(|(line_no, line)| (line_no, check_line(&line))).unzip();
    let verified = KEYS.with(|keys| verify_hashed(hashed, &mut keys.borrow_mut()));
    numbers.into_iter().zip(verified).collect()
}

/// Everything about one line but its signature, which is checked in batches.
fn check_line(line: &[u8]) -> Result<Hashed, LineProblem> {
    let text = std::str::from_utf8(line).map_err(|_| LineProblem::Malformed("not UTF-8".into()))?;
    let parsed: Line<'_> = serde_json::from_str(text).map_err(|e| LineProblem::Malformed(e.to_string()))?;
    let bytes = BASE64.decode(parsed.signed.as_bytes()).map_err(|e| LineProblem::Base64(e.to_string()))?;
    let envelope = Envelope::decode(&bytes).map_err(EventError::from)?;
    let hash = hash_envelope_bytes(&bytes);
    if hash != parsed.hash {
        return Err(EventError::HashMismatch { recorded: parsed.hash, computed: hash }.into());
    }
    let payload = match (parsed.payload_state.as_deref(), parsed.salt, parsed.payload) {
        (None, _, _) => PayloadState::Inline,
        (Some("present"), Some(salt), Some(payload)) => PayloadState::Present(Sidecar {
            salt: crate::types::parse_hex::<32>(&salt).map_err(|e| LineProblem::Malformed(format!("salt: {e}")))?,
            bytes: BASE64.decode(payload.as_bytes()).map_err(|e| LineProblem::Base64(e.to_string()))?,
            private: parsed.private.unwrap_or(false),
        }),
        (Some("erased"), None, None) => PayloadState::Erased,
        (Some("withheld"), None, None) => PayloadState::Withheld,
        (Some(state), _, _) => {
            return Err(LineProblem::Malformed(format!(
                "payload_state {state:?} with the wrong members (present has private, salt and payload; erased and withheld have none)"
            )));
        }
    };
    check_payload(&envelope, &payload)?;
    if render_line(&envelope, &bytes, hash, parsed.signature, &payload) != text {
        return Err(LineProblem::FieldsMismatch);
    }
    Ok(Hashed { envelope, bytes, hash, signature: parsed.signature, payload })
}
