//! Persistent Mind Model ledgers (docs/pmm.md): `pmm.db` read with SQLite, read-only, and its
//! hash chain re-verified exactly as PMM computes it (`pmm/core/event_log.py`): each event's hash
//! is the lowercase hex SHA-256 of the UTF-8 bytes of Python's
//! `json.dumps({"kind", "content", "meta", "prev_hash"}, sort_keys=True, separators=(",", ":"))`,
//! `meta` parsed from its stored JSON text; `prev_hash` is the previous row's hash in `id` order
//! (JSON `null` for the first). `ts` is not hashed.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::Outcome;
use crate::home::Home;
use crate::output::{Report, emit};
use crate::pyjson::{self, Value};
use crate::ui::{progress, thousands};

/// One row of PMM's `events` table.
#[derive(Clone, Debug)]
pub(crate) struct PmmEvent {
    pub(crate) id: i64,
    pub(crate) ts: String,
    pub(crate) kind: String,
    pub(crate) content: String,
    /// The JSON object, as stored (text).
    pub(crate) meta: String,
    pub(crate) prev_hash: Option<String>,
    pub(crate) hash: Option<String>,
}

/// The hash PMM records for an event of `kind`, `content`, `meta` (its stored JSON text) after
/// `prev_hash`.
pub(crate) fn pmm_hash(kind: &str, content: &str, meta: &str, prev_hash: Option<&str>) -> Result<String, String> {
    let meta = pyjson::loads(meta).map_err(|e| format!("its meta is not JSON ({e})"))?;
    let payload = Value::Dict(vec![
        (Value::str("kind").key(), Value::str(kind)),
        (Value::str("content").key(), Value::str(content)),
        (Value::str("meta").key(), meta),
        (Value::str("prev_hash").key(), prev_hash.map_or(Value::Null, Value::str)),
    ]);
    Ok(hex::encode(Sha256::digest(payload.dumps().as_bytes())))
}

/// A PMM ledger, open read-only.
pub(crate) struct PmmFile {
    conn: rusqlite::Connection,
    path: PathBuf,
}

impl PmmFile {
    /// Opens `path` read-only (never written: SQLite's read-only mode), and checks that it has
    /// PMM's `events` table.
    pub(crate) fn open(path: &Path) -> Result<PmmFile> {
        use rusqlite::OpenFlags;
        if !path.is_file() {
            anyhow::bail!("{} is not a file (a PMM ledger is its pmm.db, e.g. ~/.pmm/pmm.db)", path.display());
        }
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {} with SQLite", path.display()))?;
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('events')")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .with_context(|| format!("{} is not an SQLite database", path.display()))?;
        for wanted in ["id", "ts", "kind", "content", "meta", "prev_hash", "hash"] {
            if !columns.iter().any(|c| c == wanted) {
                anyhow::bail!(
                    "{} is not a PMM ledger: its `events` table has no column `{wanted}`{}",
                    path.display(),
                    if columns.is_empty() { " (it has no `events` table)" } else { "" }
                );
            }
        }
        Ok(PmmFile { conn, path: path.to_owned() })
    }

    /// How many events have an id above `after`.
    pub(crate) fn count_after(&self, after: i64) -> Result<u64> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM events WHERE id > ?1", [after], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Calls `each` with every event with an id above `after`, in id order.
    pub(crate) fn for_each_after(&self, after: i64, mut each: impl FnMut(PmmEvent) -> Result<bool>) -> Result<()> {
        let mut statement = self
            .conn
            .prepare("SELECT id, ts, kind, content, meta, prev_hash, hash FROM events WHERE id > ?1 ORDER BY id ASC")?;
        let mut rows = statement.query([after])?;
        while let Some(row) = rows.next()? {
            let event = PmmEvent {
                id: row.get(0)?,
                ts: row.get(1)?,
                kind: row.get(2)?,
                content: row.get(3)?,
                meta: row.get(4)?,
                prev_hash: row.get(5)?,
                hash: row.get(6)?,
            };
            if !each(event)? {
                break;
            }
        }
        Ok(())
    }
}

/// The chain rule, event by event: each event names the hash before it and has the hash its
/// content gives.
#[derive(Default)]
pub(crate) struct Chain {
    /// The last event's hash (`None` before the first, or after an event PMM wrote without one).
    pub(crate) last: Option<String>,
}

impl Chain {
    /// Checks `event` after the ones before it: `Err` says what is wrong, as `pmm event ID: …`.
    pub(crate) fn check(&mut self, event: &PmmEvent) -> Result<(), String> {
        let fail = |what: String| Err(format!("pmm event {}: {what}", event.id));
        if event.prev_hash != self.last {
            return fail(format!(
                "prev_hash is {}, but the event before it has hash {} (an event was removed, inserted or reordered)",
                event.prev_hash.as_deref().unwrap_or("null"),
                self.last.as_deref().unwrap_or("null (it is the first)")
            ));
        }
        let computed = match pmm_hash(&event.kind, &event.content, &event.meta, event.prev_hash.as_deref()) {
            Ok(h) => h,
            Err(e) => return fail(e),
        };
        if event.hash.as_deref() != Some(computed.as_str()) {
            return fail(format!(
                "its hash is {}, but its kind, content, meta and prev_hash hash to {computed} (the event was edited)",
                event.hash.as_deref().unwrap_or("null")
            ));
        }
        // PMM names the previous hash only when there is one (`_last_hash`).
        self.last = event.hash.clone().filter(|h| !h.is_empty());
        Ok(())
    }
}

/// What `verify --pmm` found.
#[derive(Serialize)]
struct PmmVerified {
    ok: bool,
    file: PathBuf,
    events: u64,
    first_id: Option<i64>,
    last_id: Option<i64>,
    /// The last event's hash: the head of the chain.
    head: Option<String>,
    /// The last event's time, as PMM wrote it.
    last_ts: Option<String>,
    seconds: f64,
    events_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

impl Report for PmmVerified {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        match &self.problem {
            Some(problem) => writeln!(out, "FAILED: {problem}"),
            None => writeln!(
                out,
                "OK: {} PMM events (ids {} to {}, the last at {}) in {}, every hash and link as PMM computes \
                 them; head {} ({:.2} s, {} events/s)",
                thousands(self.events),
                self.first_id.unwrap_or(0),
                self.last_id.unwrap_or(0),
                self.last_ts.as_deref().unwrap_or("-"),
                self.file.display(),
                self.head.as_deref().unwrap_or("none"),
                self.seconds,
                thousands(self.events_per_second as u64)
            ),
        }
    }
}

/// `mindlog verify --pmm FILE`: re-verifies a PMM ledger's chain; exit 0 it holds, 1 it does not.
pub(crate) fn verify(home: &Home, path: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let file = PmmFile::open(path)?;
    let bar = progress(Some(file.count_after(i64::MIN)?), "verify pmm");
    let mut chain = Chain::default();
    let mut report = PmmVerified {
        ok: false,
        file: file.path.clone(),
        events: 0,
        first_id: None,
        last_id: None,
        head: None,
        last_ts: None,
        seconds: 0.0,
        events_per_second: 0.0,
        problem: None,
    };
    file.for_each_after(i64::MIN, |event| {
        if let Err(problem) = chain.check(&event) {
            report.problem = Some(problem);
            return Ok(false);
        }
        report.events += 1;
        report.first_id.get_or_insert(event.id);
        report.last_id = Some(event.id);
        report.head = event.hash;
        report.last_ts = Some(event.ts);
        bar.inc(1);
        Ok(true)
    })?;
    bar.finish_and_clear();
    report.ok = report.problem.is_none();
    report.seconds = started.elapsed().as_secs_f64();
    report.events_per_second = report.events as f64 / report.seconds.max(1e-9);
    emit(&report, home.format())?;
    Ok(if report.ok { Outcome::Success } else { Outcome::Failed })
}
