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

use mindlog_commands::{Command, PMM_POSITION_KIND, PersonaCreate, PmmPosition, PmmRecord, PmmRow, pmm_kind};
use mindlog_ledger::Hash;

use crate::Outcome;
use crate::home::Home;
use crate::output::{Report, emit};
use crate::pyjson::{self, Value};
use crate::session::Session;
use crate::ui::{progress, thousands};

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

    /// How many events have an id above `after` and at most `upto`.
    pub(crate) fn count_between(&self, after: i64, upto: i64) -> Result<u64> {
        let n: i64 =
            self.conn
                .query_row("SELECT count(*) FROM events WHERE id > ?1 AND id <= ?2", [after, upto], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Calls `each` with every event with an id above `after` (or why a row cannot be read), in
    /// id order, until it says stop.
    pub(crate) fn for_each_after(
        &self,
        after: i64,
        mut each: impl FnMut(Result<PmmRow, String>) -> Result<bool>,
    ) -> Result<()> {
        let mut statement = self.conn.prepare(&format!("{SELECT} WHERE id > ?1 ORDER BY id ASC"))?;
        let mut rows = statement.query([after])?;
        while let Some(row) = rows.next()? {
            if !each(read_row(row))? {
                break;
            }
        }
        Ok(())
    }

    /// At most `n` events with ids above `after` and at most `upto`, in id order, read in one
    /// statement that is finished before this returns (PMM, if it runs, can write in between).
    pub(crate) fn chunk(&self, after: i64, upto: i64, n: usize) -> Result<Vec<Result<PmmRow, String>>> {
        let mut statement =
            self.conn.prepare(&format!("{SELECT} WHERE id > ?1 AND id <= ?2 ORDER BY id ASC LIMIT ?3"))?;
        let mut rows = statement.query(rusqlite::params![after, upto, n as i64])?;
        let mut out = Vec::with_capacity(n);
        while let Some(row) = rows.next()? {
            out.push(read_row(row));
        }
        Ok(out)
    }

    /// What names this PMM ledger: its `pmm_database_identity.database_uuid` where PMM keeps one,
    /// otherwise the hash of its first event (`None`: it has none).
    pub(crate) fn identity(&self) -> Result<Option<String>> {
        let uuid: Option<String> =
            self.conn.query_row("SELECT database_uuid FROM pmm_database_identity LIMIT 1", [], |r| r.get(0)).ok();
        if let Some(uuid) = uuid.filter(|u| !u.is_empty()) {
            return Ok(Some(format!("uuid:{uuid}")));
        }
        let first: Option<Option<String>> = self
            .conn
            .query_row("SELECT hash FROM events ORDER BY id ASC LIMIT 1", [], |r| r.get(0))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        Ok(first.map(|h| format!("first:{}", h.unwrap_or_default())))
    }
}

/// The columns of an event, in `PmmRow`'s order.
const SELECT: &str = "SELECT id, ts, kind, content, meta, prev_hash, hash FROM events";

/// One row, or `pmm event ID: …` for a column that is not what PMM writes.
fn read_row(row: &rusqlite::Row<'_>) -> Result<PmmRow, String> {
    let id: i64 = row.get(0).map_err(|e| format!("a row's id is not an integer ({e})"))?;
    let text = |at: usize, name: &str| -> Result<String, String> {
        row.get(at).map_err(|_| format!("pmm event {id}: its {name} is not text"))
    };
    let maybe = |at: usize, name: &str| -> Result<Option<String>, String> {
        row.get(at).map_err(|_| format!("pmm event {id}: its {name} is neither text nor null"))
    };
    Ok(PmmRow {
        id,
        ts: text(1, "ts")?,
        kind: text(2, "kind")?,
        content: text(3, "content")?,
        meta: text(4, "meta")?,
        prev_hash: maybe(5, "prev_hash")?,
        hash: maybe(6, "hash")?,
    })
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
    pub(crate) fn check(&mut self, event: &PmmRow) -> Result<(), String> {
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
                "its hash is {}, but its kind, content, meta and prev_hash hash to {computed} (it was edited, or \
                 written by another rule)",
                event.hash.as_deref().unwrap_or("null")
            ));
        }
        // PMM names the previous hash only when there is one (`_last_hash`).
        self.last = event.hash.clone().filter(|h| !h.is_empty());
        Ok(())
    }
}

impl PmmFile {
    /// Walks the whole chain from the first event with a progress bar, checking each event by
    /// the chain rule and `also`, and handing each that passes to `each`: the first problem, if
    /// any (the walk stops there).
    fn walk_chain(
        &self,
        also: impl Fn(&PmmRow) -> Result<(), String>,
        mut each: impl FnMut(PmmRow),
    ) -> Result<Option<String>> {
        let bar = progress(Some(self.count_between(i64::MIN, i64::MAX)?), "verify pmm");
        let mut chain = Chain::default();
        let mut problem = None;
        self.for_each_after(i64::MIN, |event| {
            match event.and_then(|e| chain.check(&e).and_then(|()| also(&e)).map(|()| e)) {
                Ok(event) => {
                    each(event);
                    bar.inc(1);
                    Ok(true)
                }
                Err(found) => {
                    problem = Some(found);
                    Ok(false)
                }
            }
        })?;
        bar.finish_and_clear();
        Ok(problem)
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
    report.problem = file.walk_chain(
        |_| Ok(()),
        |event| {
            report.events += 1;
            report.first_id.get_or_insert(event.id);
            report.last_id = Some(event.id);
            report.head = event.hash;
            report.last_ts = Some(event.ts);
        },
    )?;
    report.ok = report.problem.is_none();
    report.seconds = started.elapsed().as_secs_f64();
    report.events_per_second = report.events as f64 / report.seconds.max(1e-9);
    emit(&report, home.format())?;
    Ok(if report.ok { Outcome::Success } else { Outcome::Failed })
}

/// What `import --pmm` did.
#[derive(Serialize)]
struct PmmImported {
    ok: bool,
    file: PathBuf,
    /// Which PMM ledger (`uuid:…` or `first:HASH`).
    ledger: Option<String>,
    /// The persona its events feed: its name and id, and whether this import created it.
    persona: Option<String>,
    persona_id: Option<Hash>,
    persona_created: bool,
    /// PMM events whose chain was verified (all of them).
    verified: u64,
    /// Events imported now, and held from earlier imports.
    imported: u64,
    already: u64,
    /// The ids imported now.
    first_id: Option<i64>,
    last_id: Option<i64>,
    seconds: f64,
    events_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

impl Report for PmmImported {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let persona = self.persona.as_deref().unwrap_or("-");
        let created = if self.persona_created { ", created now" } else { "" };
        match (&self.problem, self.imported) {
            (Some(problem), 0) => writeln!(out, "FAILED: {problem}; nothing was imported"),
            (Some(problem), n) => writeln!(
                out,
                "FAILED: {problem}; the {} events before it were imported (ids {} to {})",
                thousands(n),
                self.first_id.unwrap_or(0),
                self.last_id.unwrap_or(0)
            ),
            (None, 0) => writeln!(
                out,
                "nothing new: the {} events of {} are imported already, into the persona {persona} (chain verified)",
                thousands(self.already),
                self.file.display()
            ),
            (None, n) => writeln!(
                out,
                "imported {} PMM events (ids {} to {}) from {} as private pmm.* events of the persona {persona}{created} \
                 ({} held from before; chain verified; {:.2} s, {} events/s)",
                thousands(n),
                self.first_id.unwrap_or(0),
                self.last_id.unwrap_or(0),
                self.file.display(),
                thousands(self.already),
                self.seconds,
                thousands(self.events_per_second as u64)
            ),
        }
    }
}

/// The name of the persona an import creates when it is not given one and the PMM mind adopted
/// no name.
const DEFAULT_PERSONA: &str = "PMM";

/// The persona a PMM ledger's events feed.
struct Bound {
    id: Hash,
    name: String,
    /// Created now: the seq of its creation in your feed.
    created_seq: Option<u64>,
}

/// The persona a PMM ledger's events feed, and whether it was created now: the one an earlier
/// import bound it to (another only with `--persona`, once that one is retired); otherwise
/// `asked` (`--persona`; yours, or created), or a persona named after the name the mind adopted
/// (`adopted`), or PMM — created now (with the seq of its creation in your feed), or the one an
/// interrupted first import created. `Err`: why none can be.
fn bind_persona(
    session: &Session,
    ledger_id: &str,
    bound: Option<Hash>,
    asked: Option<&str>,
    adopted: Option<&str>,
) -> Result<Result<Bound, String>> {
    use mindlog_commands::State as _;
    let views = session.views()?;
    let me = session.identity.public_key();
    let named = |name: &str| views.persona_named(&me, name).map_err(anyhow::Error::from_boxed);
    if let Some(id) = bound {
        let row = views.persona_row(&id)?;
        let name = row.as_ref().map_or_else(|| id.to_string(), |r| r.name.clone());
        let retired = row.as_ref().is_some_and(|r| r.retired.is_some());
        let same = match asked {
            None => true,
            Some(asked) => named(asked)? == Some(id),
        };
        match (same, retired) {
            (true, false) => return Ok(Ok(Bound { id, name, created_seq: None })),
            (false, false) => {
                return Ok(Err(format!(
                    "this PMM ledger was imported into the persona {name}: import it again without --persona, or \
                     with --persona {name}"
                )));
            }
            (_, true) if asked.is_none() => {
                return Ok(Err(format!(
                    "this PMM ledger feeds the persona {name}, which is retired: say which persona feeds on with \
                     --persona NAME"
                )));
            }
            (_, true) => {} // the persona it fed is retired: the one asked for takes over
        }
    }
    let description = format!("imported from the PMM ledger {ledger_id}");
    let name = asked.or(adopted).unwrap_or(DEFAULT_PERSONA);
    if let Some(id) = named(name)? {
        let row = views.persona_row(&id)?;
        if row.as_ref().is_some_and(|p| p.retired.is_some()) {
            return Ok(Err(format!("your persona {name} is retired: import into another with --persona NAME")));
        }
        // Named by you, or created for this ledger by an import that stopped before its events.
        let ours = row.is_some_and(|p| p.description == description);
        return Ok(if asked.is_some() || ours {
            Ok(Bound { id, name: name.to_owned(), created_seq: None })
        } else {
            Err(format!(
                "you already have a persona named {name}: say which persona the PMM mind is with --persona NAME (that \
                 one, or a new name)"
            ))
        });
    }
    Ok(match session.run(&Command::PersonaCreate(PersonaCreate { name: name.to_owned(), description }))? {
        Ok(written) => Ok(Bound { id: written[0].1.hash, name: name.to_owned(), created_seq: Some(written[0].1.seq) }),
        Err(rejection) => Err(format!("cannot create the persona {name}: {rejection}")),
    })
}

/// Why an import stopped when another writer moved your feed.
const MOVED: &str =
    "your feed moved during the import (another import or command wrote to it): run the import again to go on";

/// Events per transaction when importing.
const IMPORT_BATCH: usize = 4096;

/// The mindlog kind and time of a PMM event, or why it has none.
fn importable(event: &PmmRow) -> Result<(String, u64), String> {
    let kind = pmm_kind(&event.kind);
    if !mindlog_ledger::is_valid_kind(&kind) {
        return Err(format!("pmm event {}: its kind {:?} makes no mindlog kind", event.id, event.kind));
    }
    match event.ts.parse::<jiff::Timestamp>() {
        Ok(t) if t.as_microsecond() >= 0 => Ok((kind, t.as_microsecond() as u64)),
        _ => Err(format!("pmm event {}: its ts {:?} is not an RFC 3339 time", event.id, event.ts)),
    }
}

/// `mindlog import --pmm FILE [--persona NAME]`: verifies the PMM chain, then imports every
/// event not imported yet as a private, signed `pmm.<kind>/1` event of your feed, feeding the
/// views of the persona the ledger is bound to (`bind_persona`).
pub(crate) fn import(home: &Home, path: &Path, persona: Option<&str>) -> Result<Outcome> {
    let started = Instant::now();
    let file = PmmFile::open(path)?;
    let mut report = PmmImported {
        ok: false,
        file: file.path.clone(),
        ledger: file.identity()?,
        persona: None,
        persona_id: None,
        persona_created: false,
        verified: 0,
        imported: 0,
        already: 0,
        first_id: None,
        last_id: None,
        seconds: 0.0,
        events_per_second: 0.0,
        problem: None,
    };
    let finish = |report: &mut PmmImported| -> Result<Outcome> {
        report.ok = report.problem.is_none();
        report.seconds = started.elapsed().as_secs_f64();
        report.events_per_second = report.imported as f64 / report.seconds.max(1e-9);
        emit(&*report, home.format())?;
        Ok(if report.ok { Outcome::Success } else { Outcome::Failed })
    };
    // The whole chain first, and every event importable: nothing is written from a ledger that
    // does not verify. Only events verified here are imported (`upto`), whatever PMM adds
    // meanwhile.
    let mut upto = i64::MIN;
    let mut verified = 0;
    let mut adopted = None;
    report.problem = file.walk_chain(
        |event| importable(event).map(|_| ()),
        |event| {
            upto = event.id;
            verified += 1;
            if let Some(name) = event.adopted_name() {
                adopted = Some(name);
            }
        },
    )?;
    report.verified = verified;
    let Some(ledger_id) = report.ledger.clone().filter(|_| report.problem.is_none() && report.verified > 0) else {
        return finish(&mut report);
    };
    let mut session = Session::open(home)?;
    // The persona, if this import creates it, keeps its data private by default, like the events.
    session.private = true;
    let me = session.identity.public_key();
    // How far an earlier import went (the PMM ledger must still hold that event, unchanged:
    // otherwise its history was rewritten), read with the feed's head: every append below
    // expects the feed where this import left it, so two imports at once cannot both write.
    let snapshot = session.ledger.snapshot()?;
    let position = last_position(&snapshot, &me, &ledger_id)?;
    let mut head = snapshot.head(&me)?.map_or(0, |h| h.seq);
    drop(snapshot);
    if position.as_ref().is_some_and(|p| p.persona.is_none()) {
        report.problem = Some(
            "this PMM ledger was imported by an earlier build of mindlog that bound it to no persona; import it into a \
             new home to have its persona"
                .into(),
        );
        return finish(&mut report);
    }
    let mut chain = Chain::default();
    let after = match &position {
        None => i64::MIN,
        Some(p) => {
            let held: Option<Option<String>> = file
                .conn
                .query_row("SELECT hash FROM events WHERE id = ?1", [p.last_id], |r| r.get(0))
                .map(Some)
                .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
            if held.as_ref() != Some(&p.last_hash) {
                report.problem = Some(format!(
                    "the PMM ledger no longer holds event {} with hash {} that an earlier import took (it holds {}): \
                     its history was rewritten, and it is not imported",
                    p.last_id,
                    p.last_hash.as_deref().unwrap_or("null"),
                    held.map_or("no such event".into(), |h| h.unwrap_or_else(|| "null".into()))
                ));
                return finish(&mut report);
            }
            chain.last = p.last_hash.clone();
            p.last_id
        }
    };
    report.already = report.verified - file.count_between(after, upto)?;
    // Bound by an earlier import, or bound (and maybe created) now: an earlier import exists
    // whenever there is nothing new, so nothing is created then.
    let Bound { id: persona_id, name: persona_name, created_seq } = match bind_persona(
        &session,
        &ledger_id,
        position.as_ref().and_then(|p| p.persona),
        persona,
        adopted.as_deref(),
    )? {
        Ok(bound) => bound,
        Err(problem) => {
            report.problem = Some(problem);
            return finish(&mut report);
        }
    };
    report.persona = Some(persona_name);
    report.persona_id = Some(persona_id);
    report.persona_created = created_seq.is_some();
    if let Some(seq) = created_seq {
        if seq != head + 1 {
            report.problem = Some(MOVED.into());
            return finish(&mut report);
        }
        head = seq;
    }
    let bar = progress(Some(file.count_between(after, upto)?), "import pmm");
    let mut at = after;
    loop {
        // A chunk read and its statement finished before anything is written.
        let chunk = file.chunk(at, upto, IMPORT_BATCH)?;
        if chunk.is_empty() {
            break;
        }
        let mut last = (at, None);
        let mut drafts = Vec::with_capacity(chunk.len() + 1);
        for event in chunk {
            // Checked again as it is read for writing: the file may have changed since.
            let checked = event.and_then(|e| chain.check(&e).and_then(|()| importable(&e)).map(|k| (e, k)));
            let (row, (kind, ts)) = match checked {
                Ok(found) => found,
                Err(problem) => {
                    report.problem = Some(problem);
                    break;
                }
            };
            report.first_id.get_or_insert(row.id);
            last = (row.id, row.hash.clone());
            let record = PmmRecord { ledger: ledger_id.clone(), persona: persona_id, row };
            drafts.push(mindlog_ledger::Draft {
                kind,
                payload: serde_json::to_vec(&record)?,
                refs: vec![persona_id],
                ts,
                private: true,
            });
        }
        if report.problem.is_some() {
            break;
        }
        let n = drafts.len() as u64;
        let ts = drafts.last().map_or(0, |d| d.ts);
        let (last_id, last_hash) = last;
        let position =
            PmmPosition { ledger: ledger_id.clone(), persona: Some(persona_id), last_id, last_hash, events: n };
        drafts.push(mindlog_ledger::Draft {
            kind: PMM_POSITION_KIND.into(),
            payload: serde_json::to_vec(&position)?,
            refs: vec![persona_id],
            ts,
            private: false,
        });
        match session.ledger.append(&session.identity, drafts, mindlog_ledger::Expect::Head(head)) {
            Ok(appended) => head = appended.last().map_or(head, |a| a.seq),
            Err(mindlog_ledger::AppendError::Conflict { .. }) => {
                report.problem = Some(MOVED.into());
                break;
            }
            Err(e) => return Err(e.into()),
        }
        report.last_id = Some(last_id);
        report.imported += n;
        bar.inc(n);
        at = last_id;
    }
    bar.finish_and_clear();
    // The persona's views, caught up now rather than by the next command.
    session.catch_up()?;
    finish(&mut report)
}

/// The newest `import.pmm/1` of the PMM ledger `ledger_id` in `author`'s feed, read backward
/// from the feed's head.
fn last_position(
    snapshot: &mindlog_ledger::Snapshot,
    author: &mindlog_ledger::PublicKey,
    ledger_id: &str,
) -> Result<Option<PmmPosition>> {
    let Some(head) = snapshot.head(author)? else { return Ok(None) };
    for entry in snapshot.feed(author, 1..=head.seq)?.rev() {
        let offset = entry?.1;
        let is_position = snapshot
            .with_event(offset, |e| e.envelope().is_ok_and(|env| env.kind == PMM_POSITION_KIND))?
            .unwrap_or(false);
        if !is_position {
            continue;
        }
        let Some(event) = snapshot.event(offset)? else { continue };
        let mindlog_ledger::PayloadState::Present(sidecar) = &event.payload else { continue };
        let of_ledger = serde_json::from_slice::<serde_json::Value>(&sidecar.bytes)
            .is_ok_and(|v| v.get("ledger").and_then(|l| l.as_str()) == Some(ledger_id));
        if of_ledger {
            // The newest position of this ledger, read strictly: skipping it would import again
            // what it counts.
            return serde_json::from_slice::<PmmPosition>(&sidecar.bytes)
                .map(Some)
                .with_context(|| format!("reading how far the import of {ledger_id} went (event {})", event.hash));
        }
    }
    Ok(None)
}
