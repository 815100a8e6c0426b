//! The `Ledger` handle: opening a store, appending with group commit, and batch ingestion.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use redb::Database;

use crate::derived::{DerivedWriteTxn, Namespace};
use crate::envelope::{Envelope, FORMAT_VERSION};
use crate::error::{AppendError, EraseProblem, IngestError, OpenError, StorageError};
use crate::event::{EventError, PayloadState, SealedEnvelope, Sidecar, VerifiedEvent};
use crate::fork::ForkProof;
use crate::identity::Identity;
use crate::store::{self, Head, Indexes, Ingested, LogTable, Snapshot};
use crate::types::{Hash, PublicKey};

/// The [`Ledger::path`] of a store held in memory.
const IN_MEMORY: &str = ":memory:";

/// The most append requests one group commit takes.
const MAX_GROUP: usize = 1024;

/// An event to append, before the ledger gives it a seq and a prev and its author signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// A versioned kind such as `persona.created/1`.
    pub kind: String,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// Hashes of events this one refers to.
    pub refs: Vec<Hash>,
    /// Microseconds since the Unix epoch; the caller's clock.
    pub ts: u64,
    /// Private: kept in this store, exported only on request, never sent to peers.
    pub private: bool,
}

/// The kind of the event that erases payloads: refs name the erased events (all by its author,
/// earlier in the feed); the payload is the reason, UTF-8, possibly empty. docs/format.md, §9.
pub const ERASED_KIND: &str = "ledger.erased/1";

/// Kinds starting with this are the ledger's own; [`Ledger::append`] refuses them.
const RESERVED_PREFIX: &str = "ledger.";

/// A fresh random salt for a payload commitment.
pub(crate) fn random_salt() -> Result<[u8; 32], AppendError> {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).map_err(|e| AppendError::Randomness(e.to_string()))?;
    Ok(salt)
}

impl Draft {
    /// Seals this draft as `author`'s event `seq` after `prev`, in envelope format 2, committing
    /// to the payload with `salt` (which must be random and secret unless the payload is public:
    /// `gen` derives it from its seed so that its stores are reproducible).
    pub fn seal(
        &self,
        author: PublicKey,
        seq: u64,
        prev: Option<Hash>,
        salt: [u8; 32],
    ) -> Result<SealedEnvelope, EventError> {
        let sidecar = Sidecar { salt, bytes: self.payload.clone(), private: self.private };
        SealedEnvelope::new(
            Envelope {
                version: FORMAT_VERSION,
                author,
                seq,
                prev,
                ts: self.ts,
                kind: self.kind.clone(),
                refs: self.refs.clone(),
                body: sidecar.body(),
            },
            PayloadState::Present(sidecar),
        )
    }
}

/// Where the author's feed must stand for an append to go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Append wherever the feed stands.
    Any,
    /// The feed's last seq must be this (0 for an empty feed); otherwise [`AppendError::Conflict`].
    Head(u64),
}

/// Where an appended event landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Its offset in this store.
    pub offset: u64,
    /// The seq the ledger gave it in the author's feed.
    pub seq: u64,
    /// Its hash, which other events name it by.
    pub hash: Hash,
}

/// A handle on one store file. Cheap to clone; all clones share one commit queue.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

/// Every feed's head as of the last commit. Read and written only by the holder of the write
/// transaction, and updated before that transaction's commit is visible to the next writer.
type HeadCache = Arc<Mutex<HashMap<PublicKey, Head>>>;

struct Inner {
    db: Arc<Database>,
    path: PathBuf,
    heads: HeadCache,
    /// A damaged record found beyond the indexes: writes are refused until it is dealt with.
    damaged: Mutex<Option<(u64, String)>>,
    /// Appends waiting for a commit.
    queue: Mutex<Vec<Job>>,
    /// Held by the caller that is committing the queue (the group-commit leader).
    leader: Mutex<()>,
    /// Called after every commit that adds events or changes a payload ([`Ledger::on_commit`]).
    commit_hook: OnceLock<CommitHook>,
    /// Set up for a long-running process ([`Ledger::long_running`]): derived writes (the views)
    /// commit without waiting for the disk, and every append indexes its own events.
    long_running: std::sync::atomic::AtomicBool,
}

/// What [`Ledger::on_commit`] calls.
type CommitHook = Arc<dyn Fn() + Send + Sync>;

impl Inner {
    /// Whether [`Ledger::long_running`] was called: then every append indexes its own events and
    /// derived writes commit lazily.
    fn long_running(&self) -> bool {
        self.long_running.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Every append has returned by now (each holds a clone of the handle). Index what single
        // appends left unindexed, so the next open starts clean.
        if let Err(e) = store::catch_up_indexes(&self.db) {
            tracing::warn!(error = %e, "could not index the tail of the log on close; the next open will");
        }
        if self.long_running() {
            // A durable commit makes the lazy ones before it durable too.
            let durable = || -> Result<(), StorageError> { Ok(self.db.begin_write()?.commit()?) };
            if let Err(e) = durable() {
                tracing::warn!(error = %e, "could not make the views durable on close; the next open folds again");
            }
        }
    }
}

/// One request of [`Ledger::append_group`]: `drafts` to sign as `identity` and append to its feed.
#[derive(Debug)]
pub struct GroupAppend {
    /// Who signs the events.
    pub identity: Identity,
    /// The events to append, in order.
    pub drafts: Vec<Draft>,
    /// What the feed's head must be.
    pub expect: Expect,
}

struct Job {
    identity: Identity,
    drafts: Vec<Draft>,
    expect: Expect,
    /// The ledger's own kinds (`ledger.*`) are allowed: the ledger itself asks.
    ledger_kinds: bool,
    reply: SyncSender<Result<Vec<Appended>, AppendError>>,
}

/// Unindexed events a run of single appends may leave before their write transaction also
/// brings the indexes up to date.
const INDEX_BATCH: u64 = 1024;

impl Ledger {
    /// Creates a new, empty store at `path`, readable and writable by its owner only (mode 0600,
    /// whatever the umask). Fails if a file is there.
    pub fn create(path: &Path) -> Result<Ledger, OpenError> {
        store::create_private_file(path)?;
        let db = store::open_database(path, true)?;
        store::initialise(&db).map_err(|source| OpenError::Storage { path: path.to_owned(), source })?;
        Ledger::from_db(db, path)
    }

    /// A new, empty store held in memory and gone when dropped: a scratch log for folding a
    /// subset of events the way the views of a real store fold them (a persona as it stood at
    /// an instant). Its [`Ledger::path`] is `:memory:`.
    pub fn in_memory() -> Result<Ledger, OpenError> {
        Ledger::on_backend(redb::backends::InMemoryBackend::new())
    }

    /// A store on storage of the caller's (redb's [`redb::StorageBackend`]), created if the
    /// storage is empty, opened (and repaired, after a crash) if not. Tests use it to fail or
    /// damage I/O on a schedule. Its [`Ledger::path`] is `:memory:`: there is no file to scrub.
    pub fn on_backend(backend: impl redb::StorageBackend) -> Result<Ledger, OpenError> {
        let path = Path::new(IN_MEMORY);
        let fail = |source: StorageError| OpenError::Storage { path: path.to_owned(), source };
        let db = store::builder().create_with_backend(backend).map_err(|e| fail(e.into()))?;
        store::initialise(&db).map_err(fail)?;
        store::check_format(&db, path)?;
        Ledger::from_db(db, path)
    }

    /// Opens an existing store, refusing one written by a newer format. Fails with
    /// [`OpenError::Busy`] while another process has it open.
    pub fn open(path: &Path) -> Result<Ledger, OpenError> {
        if !path.exists() {
            return Err(OpenError::NotFound(path.to_owned()));
        }
        let db = store::open_database(path, false)?;
        store::check_format(&db, path)?;
        Ledger::from_db(db, path)
    }

    fn from_db(db: Database, path: &Path) -> Result<Ledger, OpenError> {
        let fail = |source: StorageError| OpenError::Storage { path: path.to_owned(), source };
        // A crash may have left single appends unindexed: bring the indexes up to date first.
        let caught_up = store::catch_up_indexes(&db).map_err(fail)?;
        tracing::debug!(indexed = caught_up.indexed, "indexes caught up on open");
        let heads = store::load_heads(&db).map_err(fail)?;
        let ledger = Ledger {
            inner: Arc::new(Inner {
                db: Arc::new(db),
                path: path.to_owned(),
                heads: Arc::new(Mutex::new(heads)),
                damaged: Mutex::new(None),
                queue: Mutex::new(Vec::new()),
                leader: Mutex::new(()),
                commit_hook: OnceLock::new(),
                long_running: std::sync::atomic::AtomicBool::new(false),
            }),
        };
        ledger.note_damage(caught_up.damaged);
        Ok(ledger)
    }

    fn note_damage(&self, damaged: Option<(u64, String)>) {
        if let Some((offset, problem)) = damaged {
            tracing::warn!(offset, %problem, "damaged record beyond the indexes; writes are refused");
            *self.inner.damaged.lock().unwrap_or_else(|e| e.into_inner()) = Some((offset, problem));
        }
    }

    /// Refuses writes to a store with a damaged record past its indexes: its feeds' heads are
    /// unknown, so appending could fork them.
    fn check_writable(&self) -> Result<(), StorageError> {
        match &*self.inner.damaged.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((offset, problem)) => Err(StorageError::Corrupt {
                offset: *offset,
                problem: format!("{problem}; writes are refused until `mindlog verify` passes"),
            }),
            None => Ok(()),
        }
    }

    /// Holds off every writer of this handle until the guard drops (group commits and erasures).
    pub(crate) fn lock_writers(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.leader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls `hook` after every durable commit that adds events to the log, changes a payload or
    /// records a fork proof (appends, ingest, import, erasures, [`Ledger::record_fork`]), once per commit, on the committing thread, after the
    /// commit is visible to new readers: a live reader waits for it instead of polling. One hook
    /// per store; returns `false` (and keeps the first) if one is set already.
    pub fn on_commit(&self, hook: impl Fn() + Send + Sync + 'static) -> bool {
        self.inner.commit_hook.set(Arc::new(hook)).is_ok()
    }

    fn committed(&self) {
        if let Some(hook) = self.inner.commit_hook.get() {
            hook();
        }
    }

    /// How many handles (clones of this one) are open on the store in this process, this one
    /// included: a host that must close the store (for a scrub) waits until it holds the last.
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.inner)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Drops this handle and, if it was the last, closes the store: whether it did.
    pub(crate) fn close_if_last(self) -> bool {
        Arc::try_unwrap(self.inner).is_ok()
    }

    /// Whether this store lives in memory ([`Ledger::in_memory`]) rather than in a file.
    pub(crate) fn is_in_memory(&self) -> bool {
        self.inner.path == Path::new(IN_MEMORY)
    }

    /// Begins a write transaction over the tables and checkpoints of `namespace`, for a crate that
    /// keeps its own tables in the store's file (the views). The ledger's own tables are out of
    /// its reach.
    ///
    /// redb has one writer at a time: this waits while another write transaction is open, and
    /// while it is open appends and [`Ledger::snapshot`] wait for it (take the snapshot first).
    pub fn begin_derived_write(&self, namespace: Namespace) -> Result<DerivedWriteTxn, StorageError> {
        let mut txn = self.inner.db.begin_write()?;
        if self.inner.long_running() {
            txn.set_durability(redb::Durability::None).map_err(|e| StorageError::Other(e.to_string()))?;
        }
        Ok(DerivedWriteTxn::new(txn, namespace))
    }

    /// Sets the store up for a long-running process (`mindlog node`) that many readers and
    /// writers share:
    /// - derived writes (the views' folds) commit without waiting for the disk: atomic and
    ///   visible at once, and durable with the next durable commit (any append) or when the store
    ///   closes. A crash loses only folds, which the next catch-up redoes from the views' last
    ///   durable checkpoints; every command would otherwise wait for one more disk flush.
    /// - every append indexes its own events in its own transaction, so no read has to bring the
    ///   indexes up to date in a durable transaction of its own first.
    pub fn long_running(&self) {
        self.inner.long_running.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// A consistent read view as of now, with the indexes brought up to date first.
    pub fn snapshot(&self) -> Result<Snapshot, StorageError> {
        let caught_up = store::catch_up_indexes(&self.inner.db)?;
        self.note_damage(caught_up.damaged);
        Snapshot::new(&self.inner.db)
    }

    /// A read view for reads by offset only, without bringing the indexes up to date first (which
    /// needs the write transaction): live readers of the log never wait for a writer.
    pub(crate) fn log_snapshot(&self) -> Result<Snapshot, StorageError> {
        Snapshot::new(&self.inner.db)
    }

    /// How many events the log holds (the offset the next one gets), read without bringing the
    /// indexes up to date: never waits for a writer.
    pub fn log_len(&self) -> Result<u64, StorageError> {
        self.log_snapshot()?.len()
    }

    /// Rebuilds every derived table of the ledger (`event_by_feed`, `feed_numbers`,
    /// `event_by_kind`, `kind_numbers`, `event_by_time`, `feed_heads`, `kind_counts`,
    /// `feed_tree`, `meta.indexed_to`) from `events`, in durable transactions of 262,144 events,
    /// holding off every other writer (a reader's catch-up may index some chunks itself): for a store whose indexes `verify` found
    /// wrong. Returns the number of events indexed. A damaged record stops the indexing there
    /// (the indexes are complete below it) and is returned as [`StorageError::Corrupt`].
    pub fn rebuild_indexes(&self) -> Result<u64, StorageError> {
        let _writers = self.lock_writers();
        let outcome = store::rebuild_indexes(&self.inner.db)?;
        *lock(&self.inner.heads) = store::load_heads(&self.inner.db)?;
        self.note_damage(outcome.damaged.clone());
        match outcome.damaged {
            Some((offset, problem)) => Err(StorageError::Corrupt { offset, problem }),
            None => Ok(outcome.indexed),
        }
    }

    /// The head of `author`'s feed, as of the last commit.
    pub fn head(&self, author: &PublicKey) -> Option<Head> {
        lock(&self.inner.heads).get(author).copied()
    }

    /// Signs `drafts` as `identity` and appends them to its feed, all or none, acknowledging only
    /// after a durable commit. Concurrent calls from any thread share one commit (group commit).
    pub fn append(
        &self,
        identity: &Identity,
        drafts: Vec<Draft>,
        expect: Expect,
    ) -> Result<Vec<Appended>, AppendError> {
        let mut results = self.append_group(vec![GroupAppend { identity: identity.clone(), drafts, expect }])?;
        results.pop().unwrap_or(Err(AppendError::WriterStopped))
    }

    /// Appends several requests (each all or none, as [`Ledger::append`]; requests of one author
    /// apply in order) in one durable commit when they fit one group, and answers each: a host
    /// that decides many commands at once writes them as one group instead of waiting for other
    /// threads to join it. The outer error: nothing could be appended at all.
    pub fn append_group(
        &self,
        requests: Vec<GroupAppend>,
    ) -> Result<Vec<Result<Vec<Appended>, AppendError>>, AppendError> {
        self.run_jobs(requests.into_iter().map(|r| (r, false)).collect())
    }

    /// Appends one event of the ledger's own kinds (`ledger.*`) through the group commit.
    pub(crate) fn append_ledger_kind(
        &self,
        identity: &Identity,
        draft: Draft,
        expect: Expect,
    ) -> Result<Appended, AppendError> {
        let request = GroupAppend { identity: identity.clone(), drafts: vec![draft], expect };
        let mut results = self.run_jobs(vec![(request, true)])?;
        results.pop().unwrap_or(Err(AppendError::WriterStopped))?.pop().ok_or(AppendError::WriterStopped)
    }

    /// The group commit behind every append: queues the requests (each with whether it may use
    /// the ledger's own kinds) and waits for their answers.
    fn run_jobs(
        &self,
        requests: Vec<(GroupAppend, bool)>,
    ) -> Result<Vec<Result<Vec<Appended>, AppendError>>, AppendError> {
        self.check_writable()?;
        let mut answers = Vec::with_capacity(requests.len());
        {
            let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
            for (GroupAppend { identity, drafts, expect }, ledger_kinds) in requests {
                let (reply, answer) = mpsc::sync_channel(1);
                queue.push(Job { identity, drafts, expect, ledger_kinds, reply });
                answers.push(answer);
            }
        }
        // Group commit without a writer thread: whoever gets the leader lock commits everything
        // queued (its own requests included) in one transaction, and repeats until the queue is
        // empty; the others wait for their answer. A request queued just as a leader finished is
        // picked up by its own caller on the next turn of this loop.
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(loop {
                if let Ok(_leader) = self.inner.leader.try_lock() {
                    loop {
                        let group: Vec<Job> = {
                            let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
                            let n = queue.len().min(MAX_GROUP);
                            queue.drain(..n).collect()
                        };
                        if group.is_empty() {
                            break;
                        }
                        commit_and_answer(&self.inner.db, &self.inner.heads, group, self.inner.long_running());
                        self.committed();
                    }
                }
                match answer.recv_timeout(std::time::Duration::from_micros(200)) {
                    Ok(result) => break result,
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break Err(AppendError::WriterStopped),
                }
            });
        }
        Ok(results)
    }

    /// Appends one event; see [`Ledger::append`].
    pub fn append_one(&self, identity: &Identity, draft: Draft) -> Result<Appended, AppendError> {
        let mut out = self.append(identity, vec![draft], Expect::Any)?;
        out.pop().ok_or(AppendError::WriterStopped)
    }

    /// Opens a write transaction for adding events signed elsewhere (import).
    /// Nothing is visible or durable until [`WriteBatch::commit`].
    pub(crate) fn write_batch(&self) -> Result<WriteBatch, StorageError> {
        self.check_writable()?;
        let txn = self.inner.db.begin_write()?;
        {
            // Bulk writes index as they go, so the indexes must start complete.
            let log = LogTable::open(&txn)?;
            let mut indexes = Indexes::open(&txn)?;
            let caught_up = indexes.catch_up(&log)?;
            indexes.finish(&log)?;
            if let Some((offset, problem)) = caught_up.damaged {
                self.note_damage(Some((offset, problem.clone())));
                return Err(StorageError::Corrupt { offset, problem });
            }
        }
        Ok(WriteBatch {
            txn,
            hook: self.inner.commit_hook.get().cloned(),
            heads: Arc::clone(&self.inner.heads),
            changed: HashMap::new(),
            poisoned: false,
            stored: 0,
            skipped: 0,
            erased: 0,
            filled: 0,
        })
    }

    /// Adds verified events in one durable transaction, all or nothing; events already held are skipped.
    pub fn ingest(&self, events: &[VerifiedEvent]) -> Result<Vec<Ingested>, IngestError> {
        let mut batch = self.write_batch()?;
        let out = batch.ingest(events)?;
        batch.commit()?;
        Ok(out)
    }

    /// Adds verified events in one durable transaction, as [`Ledger::ingest`], up to the first
    /// that does not continue its feed ([`IngestError::Feed`]): the events before it are
    /// committed (one answer each, in order), and that event's index in `events` and its error
    /// are returned beside them; nothing after it is looked at. For pages of events from peers,
    /// where one bad event must not cost the good ones before it. A storage failure fails the
    /// whole call, and nothing is written.
    #[allow(clippy::type_complexity)]
    pub fn ingest_prefix(
        &self,
        events: &[VerifiedEvent],
    ) -> Result<(Vec<Ingested>, Option<(usize, IngestError)>), StorageError> {
        let mut batch = self.write_batch()?;
        let out = batch.ingest_prefix(events)?;
        batch.commit()?;
        Ok(out)
    }

    /// Stores a fork proof in the `forks` table, in its own durable transaction, keeping one
    /// proof per author: the lowest by key (the fork's first seq, then the hashes). A proof at
    /// or above the one held is not recorded (false); a lower one replaces it (true). Every
    /// store that sees the same proofs therefore keeps the same one, and an author who forks
    /// many times costs one row. The proof is evidence from outside the log: recording it
    /// changes no feed (the store keeps the branch it holds). Wakes live readers as every commit
    /// does ([`Ledger::on_commit`]).
    pub fn record_fork(&self, proof: &ForkProof) -> Result<bool, StorageError> {
        self.check_writable()?;
        let txn = self.inner.db.begin_write()?;
        let key = proof.key();
        let new = {
            use redb::ReadableTable as _;
            let mut forks = txn.open_table(store::FORKS)?;
            let author = &key[..32];
            let mut held = Vec::new();
            for row in forks.range(author..)? {
                let (k, _) = row?;
                let k = k.value().to_vec();
                if !k.starts_with(author) {
                    break;
                }
                held.push(k);
            }
            if held.iter().any(|k| k.as_slice() <= key.as_slice()) {
                false
            } else {
                for k in &held {
                    forks.remove(k.as_slice())?;
                }
                forks.insert(key.as_slice(), proof.encode().as_slice())?;
                true
            }
        };
        if !new {
            txn.abort()?;
            return Ok(false);
        }
        txn.commit()?;
        tracing::info!(author = %proof.author(), seq = proof.seq(), "fork proof recorded");
        self.committed();
        Ok(true)
    }
}

impl Ledger {
    /// Erases the payloads of `offsets`, events of `identity`'s own feed in envelope format 2,
    /// and appends the signed `ledger.erased/1` events that say so (refs: their hashes, at most
    /// 64 to an event; payload: `reason`), in one durable transaction. The payloads and salts are
    /// removed from the log; their bytes may stay in the file (free pages, unused tails of pages)
    /// until [`Ledger::scrub`] rewrites it. Returns the erasure events.
    pub fn erase(
        &self,
        identity: &Identity,
        offsets: &[u64],
        reason: &str,
        ts: u64,
    ) -> Result<Vec<Appended>, AppendError> {
        self.check_writable()?;
        // Holding the leader lock keeps group commits out while this transaction moves the head.
        let _leader = self.lock_writers();
        let author = identity.public_key();
        let txn = self.inner.db.begin_write().map_err(StorageError::from)?;
        let appended = {
            let mut log = LogTable::open(&txn)?;
            let mut refs = Vec::with_capacity(offsets.len());
            for &offset in offsets {
                let event = erasable(&log, offset)?;
                let envelope =
                    event.envelope().map_err(|e| StorageError::Corrupt { offset, problem: e.to_string() })?;
                if envelope.author != author {
                    return Err(AppendError::CannotErase {
                        offset,
                        problem: EraseProblem::NotTheAuthor(envelope.author),
                    });
                }
                refs.push(event.hash);
            }
            let head = lock(&self.inner.heads).get(&author).copied();
            let (mut seq, mut prev) = head.map_or((0, None), |h| (h.seq, Some(h.hash)));
            let mut appended = Vec::new();
            for refs in refs.chunks(crate::envelope::MAX_REFS) {
                seq += 1;
                let payload = reason.as_bytes().to_vec();
                let draft = Draft { kind: ERASED_KIND.into(), payload, refs: refs.to_vec(), ts, private: false };
                let event = draft.seal(author, seq, prev, random_salt()?)?.sign(identity);
                let offset = log.append(&event)?;
                prev = Some(event.hash());
                appended.push(Appended { offset, seq, hash: event.hash() });
            }
            for &erased in offsets {
                log.set_payload(erased, &PayloadState::Erased)?;
            }
            appended
        };
        if let Some(last) = appended.last() {
            let head = Head { author, seq: last.seq, hash: last.hash, offset: last.offset };
            commit_with_heads(txn, &self.inner.heads, HashMap::from([(author, head)]))?;
            self.committed();
        }
        Ok(appended)
    }

    /// Erases the payloads of `offsets` (format-2 events of any author) in this store only,
    /// without a signed record: the store owner's own decision, which peers never learn.
    pub fn erase_local(&self, offsets: &[u64]) -> Result<(), AppendError> {
        self.check_writable()?;
        let txn = self.inner.db.begin_write().map_err(StorageError::from)?;
        {
            let mut log = LogTable::open(&txn)?;
            for &offset in offsets {
                erasable(&log, offset)?;
                log.set_payload(offset, &PayloadState::Erased)?;
            }
        }
        txn.commit().map_err(StorageError::from)?;
        self.committed();
        Ok(())
    }
}

/// The event at `offset`, if its payload can be erased: it exists, is in format 2, and is not
/// erased already.
fn erasable(log: &LogTable<'_>, offset: u64) -> Result<crate::store::StoredEvent, AppendError> {
    let cannot = |problem| AppendError::CannotErase { offset, problem };
    let event = log.event(offset)?.ok_or(cannot(EraseProblem::NoSuchEvent))?;
    match event.payload {
        PayloadState::Inline => Err(cannot(EraseProblem::FormatOne)),
        PayloadState::Erased => Err(cannot(EraseProblem::AlreadyErased)),
        PayloadState::Present(_) | PayloadState::Withheld => Ok(event),
    }
}

fn lock(heads: &Mutex<HashMap<PublicKey, Head>>) -> std::sync::MutexGuard<'_, HashMap<PublicKey, Head>> {
    // A panic while holding the lock cannot leave the map half-updated (updates are single inserts).
    heads.lock().unwrap_or_else(|e| e.into_inner())
}

/// Commits `txn`, then records the heads it changed, holding the head cache across the commit so
/// the next writer (who must first get the write transaction) never reads stale heads.
fn commit_with_heads(
    txn: redb::WriteTransaction,
    heads: &HeadCache,
    changed: HashMap<PublicKey, Head>,
) -> Result<(), StorageError> {
    let mut cache = lock(heads);
    txn.commit()?;
    cache.extend(changed);
    Ok(())
}

/// Commits one group of requests and answers each. If the shared transaction fails, each
/// request gets a transaction of its own, so each gets its own answer.
fn commit_and_answer(db: &Database, heads: &HeadCache, group: Vec<Job>, index: bool) {
    tracing::trace!(requests = group.len(), "group commit");
    match commit_group(db, heads, &group, index) {
        Ok(results) => {
            for (job, result) in group.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(_) => {
            for job in group {
                let result = commit_group(db, heads, std::slice::from_ref(&job), index)
                    .map_err(AppendError::from)
                    .and_then(|mut r| r.pop().unwrap_or(Err(AppendError::WriterStopped)));
                let _ = job.reply.send(result);
            }
        }
    }
}

/// One group commit. Single appends write only the log; the indexes catch up in the same
/// transaction once [`INDEX_BATCH`] events are waiting, or always with `index`.
fn commit_group(
    db: &Database,
    heads: &HeadCache,
    group: &[Job],
    index: bool,
) -> Result<Vec<Result<Vec<Appended>, AppendError>>, StorageError> {
    let txn = db.begin_write()?;
    let mut results = Vec::with_capacity(group.len());
    let mut changed: HashMap<PublicKey, Head> = HashMap::new();
    {
        let mut log = LogTable::open(&txn)?;
        for job in group {
            let author = job.identity.public_key();
            let head = changed.get(&author).copied().or_else(|| lock(heads).get(&author).copied());
            results.push(match seal_job(head, job) {
                Ok(events) => {
                    let mut appended = Vec::with_capacity(events.len());
                    for event in &events {
                        let offset = log.append(event)?;
                        changed.insert(author, Head { author, seq: event.seq(), hash: event.hash(), offset });
                        appended.push(Appended { offset, seq: event.seq(), hash: event.hash() });
                    }
                    Ok(appended)
                }
                Err(AppendError::Storage(e)) => return Err(e),
                Err(e) => Err(e),
            });
        }
        if index || log.next_offset() - store::indexed_to(&txn)? >= INDEX_BATCH {
            // A damaged record stops the indexes short; the next open or snapshot reports it.
            let mut indexes = Indexes::open(&txn)?;
            indexes.catch_up(&log)?;
            indexes.finish(&log)?;
        }
    }
    commit_with_heads(txn, heads, changed)?;
    Ok(results)
}

/// Builds and signs a request's events on top of its feed's current head.
fn seal_job(head: Option<Head>, job: &Job) -> Result<Vec<VerifiedEvent>, AppendError> {
    let author = job.identity.public_key();
    let (mut seq, mut prev) = head.map_or((0, None), |h| (h.seq, Some(h.hash)));
    if let Expect::Head(expected) = job.expect
        && expected != seq
    {
        return Err(AppendError::Conflict { author, expected, found: seq });
    }
    let mut events = Vec::with_capacity(job.drafts.len());
    for draft in &job.drafts {
        if draft.kind.starts_with(RESERVED_PREFIX) && !job.ledger_kinds {
            return Err(AppendError::ReservedKind(draft.kind.clone()));
        }
        seq += 1;
        let event = draft.seal(author, seq, prev, random_salt()?)?.sign(&job.identity);
        prev = Some(event.hash());
        events.push(event);
    }
    Ok(events)
}

/// An open write transaction for verified events. Dropping it without [`WriteBatch::commit`]
/// discards everything it holds.
pub(crate) struct WriteBatch {
    txn: redb::WriteTransaction,
    /// The store's commit hook, called once this batch is committed.
    hook: Option<CommitHook>,
    heads: HeadCache,
    changed: HashMap<PublicKey, Head>,
    poisoned: bool,
    stored: u64,
    skipped: u64,
    erased: u64,
    filled: u64,
}

impl WriteBatch {
    /// Adds events that continue their feeds, indexing them as it goes; skips events already held.
    ///
    /// After an error the batch refuses to commit: drop it and the store is as it was.
    pub(crate) fn ingest(&mut self, events: &[VerifiedEvent]) -> Result<Vec<Ingested>, IngestError> {
        match self.ingest_prefix(events)? {
            (out, None) => Ok(out),
            (_, Some((_, error))) => {
                // The events before it are in the batch: all or nothing means none.
                self.poisoned = true;
                Err(error)
            }
        }
    }

    /// Adds events as [`WriteBatch::ingest`] does, up to the first that does not continue its
    /// feed, and returns its index and error beside the answers for the events before it. That
    /// event wrote nothing ([`Indexes::ingest`] checks the feed before it writes), so the batch
    /// stays usable. After a storage error the batch refuses to commit.
    #[allow(clippy::type_complexity)]
    pub(crate) fn ingest_prefix(
        &mut self,
        events: &[VerifiedEvent],
    ) -> Result<(Vec<Ingested>, Option<(usize, IngestError)>), StorageError> {
        if self.poisoned {
            return Err(poisoned());
        }
        self.poisoned = true;
        let mut log = LogTable::open(&self.txn)?;
        let mut indexes = Indexes::open(&self.txn)?;
        let mut out = Vec::with_capacity(events.len());
        let mut stopped = None;
        for (index, event) in events.iter().enumerate() {
            match indexes.ingest(&mut log, event) {
                Ok(ingested) => {
                    match ingested {
                        Ingested::Stored(_) => self.stored += 1,
                        Ingested::AlreadyHeld(_) => self.skipped += 1,
                    }
                    out.push(ingested);
                }
                Err(IngestError::Storage(e)) => return Err(e),
                Err(error) => {
                    stopped = Some((index, error));
                    break;
                }
            }
        }
        self.erased += indexes.erased;
        self.filled += indexes.filled;
        self.changed.extend(indexes.finish(&log)?);
        self.poisoned = false;
        Ok((out, stopped))
    }

    /// Events stored so far.
    pub(crate) fn stored(&self) -> u64 {
        self.stored
    }

    /// Events skipped so far because they were already held.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Payloads held here that ingested erasures erased so far.
    pub(crate) fn erased(&self) -> u64 {
        self.erased
    }

    /// Commits durably.
    pub(crate) fn commit(self) -> Result<(), StorageError> {
        if self.poisoned {
            return Err(poisoned());
        }
        if self.stored == 0 && self.erased == 0 && self.filled == 0 {
            // Nothing new (every event was held): no durable commit, and nobody is woken.
            self.txn.abort()?;
            return Ok(());
        }
        commit_with_heads(self.txn, &self.heads, self.changed)?;
        if let Some(hook) = &self.hook {
            hook();
        }
        Ok(())
    }
}

fn poisoned() -> StorageError {
    StorageError::Other("a failed ingest left this batch unusable; drop it".into())
}
