//! The store a node holds open for every request, and the one way to close it for a moment (the
//! scrub after an erasure needs the last handle on the store: one scrub thread waits for it,
//! one scrub at a time).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use mindlog_ledger::{Identity, Ledger, OpenError, ScrubReport};
use tokio::sync::watch;

use super::metrics::Metrics;
use super::writer::Writer;

/// How long a request waits for the store while a scrub holds it.
const WAIT_FOR_SCRUB: Duration = Duration::from_secs(120);
/// How long a scrub waits for other requests to let go of the store before it lets the requests
/// waiting for the store go on (and tries again after [`RETRY_SCRUB`]).
pub(super) const WAIT_FOR_REQUESTS: Duration = Duration::from_secs(5);
/// The pause between two tries of a scrub that found the store busy.
const RETRY_SCRUB: Duration = Duration::from_secs(2);
/// How long an erasure waits for its scrub before it says the scrub is deferred:
/// `$MINDLOG_SCRUB_WAIT` seconds, else 30.
fn wait_for_result() -> Result<Duration> {
    crate::home::seconds_from_env("MINDLOG_SCRUB_WAIT", Duration::from_secs(30))
}

/// The node's store: a handle every request clones, and the count of commits, which live
/// subscriptions wait on.
pub(crate) struct Hosted {
    path: PathBuf,
    state: Mutex<State>,
    reopened: Condvar,
    commits: Arc<watch::Sender<u64>>,
    /// Decides and appends every command the node runs.
    writer: Writer,
    /// Identities loaded from their key files, by path, with the file's modification time.
    identities: Mutex<HashMap<PathBuf, (SystemTime, Identity)>>,
    /// Scrubs asked for and done ([`Hosted::scrub`]).
    scrubs: Mutex<Scrubs>,
    scrubbed: Condvar,
    /// The replicator, when the node runs with `--p2p`.
    replicator: std::sync::OnceLock<mindlog_replicator::Handle>,
}

/// Scrubs by number: a request's scrub is done once `done` reaches the number it got.
#[derive(Default)]
struct Scrubs {
    asked: u64,
    done: u64,
    /// Whether the scrub thread runs.
    running: bool,
    /// What the last scrubs did, each with the `done` it reached (a waiter takes the first that
    /// reached its number).
    outcomes: VecDeque<(u64, Result<ScrubReport, String>)>,
}

/// The node's handle, absent while a scrub holds the store; `closed` once the node stops.
struct State {
    ledger: Option<Ledger>,
    closed: bool,
}

impl std::fmt::Debug for Hosted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hosted").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Hosted {
    pub(crate) fn new(ledger: Ledger, metrics: Metrics) -> Arc<Hosted> {
        let commits = Arc::new(watch::Sender::new(0));
        watch_commits(&ledger, &commits);
        Arc::new_cyclic(|me| Hosted {
            path: ledger.path().to_owned(),
            state: Mutex::new(State { ledger: Some(ledger), closed: false }),
            reopened: Condvar::new(),
            commits,
            writer: Writer::start(me.clone(), metrics),
            identities: Mutex::new(HashMap::new()),
            scrubs: Mutex::new(Scrubs::default()),
            scrubbed: Condvar::new(),
            replicator: std::sync::OnceLock::new(),
        })
    }

    /// The identity in the key file at `path`, loaded once (and again if the file changes): a
    /// key's public half costs a scalar multiplication to derive, too much for every request.
    pub(crate) fn identity_at(&self, path: &std::path::Path) -> Result<Identity> {
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .with_context(|| format!("reading {}", path.display()))?;
        let mut cache = self.identities.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, identity)) = cache.get(path)
            && *seen == modified
        {
            return Ok(identity.clone());
        }
        let identity = Identity::load(path)?;
        cache.insert(path.to_owned(), (modified, identity.clone()));
        Ok(identity)
    }

    /// The replicator, when the node replicates.
    pub(crate) fn replicator(&self) -> Option<&mindlog_replicator::Handle> {
        self.replicator.get()
    }

    pub(crate) fn set_replicator(&self, handle: mindlog_replicator::Handle) {
        let _ = self.replicator.set(handle);
    }

    /// The writer every command goes through.
    pub(crate) fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The home folder the store is in.
    pub(crate) fn home(&self) -> &std::path::Path {
        self.path.parent().unwrap_or(std::path::Path::new("."))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A handle on the store; waits while a scrub holds it.
    pub(crate) fn ledger(&self) -> Result<Ledger> {
        let (state, timeout) = self
            .reopened
            .wait_timeout_while(self.lock(), WAIT_FOR_SCRUB, |state| state.ledger.is_none() && !state.closed)
            .unwrap_or_else(|e| e.into_inner());
        match &state.ledger {
            Some(ledger) => Ok(ledger.clone()),
            None if state.closed => anyhow::bail!("the node is shutting down"),
            None if timeout.timed_out() => anyhow::bail!("the store has been closed for a scrub for too long"),
            None => anyhow::bail!("the store is closed"),
        }
    }

    /// Whether the store is open now (not closed for a scrub, not shut down); never waits.
    pub(crate) fn is_open(&self) -> bool {
        self.lock().ledger.is_some()
    }

    /// Counts commits; a subscription reads the log again whenever it moves.
    pub(crate) fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Scrubs the file (after an erasure) as soon as the node can hold the store alone, and
    /// waits for that at most `$MINDLOG_SCRUB_WAIT` seconds (30): the report, or `None` when the scrub is
    /// deferred (other requests kept the store open; the node goes on trying). Scrubs asked for
    /// at once run one at a time, and one scrub serves every request that asked before it began.
    pub(crate) fn scrub(self: &Arc<Self>, mine: Ledger) -> Result<Option<ScrubReport>> {
        drop(mine);
        let wait = wait_for_result()?;
        let ticket = {
            let mut scrubs = self.scrubs.lock().unwrap_or_else(|e| e.into_inner());
            scrubs.asked += 1;
            if !scrubs.running {
                scrubs.running = true;
                let hosted = Arc::clone(self);
                std::thread::Builder::new()
                    .name("mindlog-scrub".into())
                    .spawn(move || hosted.scrubber())
                    .context("starting the scrub")?;
            }
            scrubs.asked
        };
        let (scrubs, _) = self
            .scrubbed
            .wait_timeout_while(self.scrubs.lock().unwrap_or_else(|e| e.into_inner()), wait, |s| s.done < ticket)
            .unwrap_or_else(|e| e.into_inner());
        if scrubs.done < ticket {
            return Ok(None);
        }
        match scrubs.outcomes.iter().find(|(done, _)| *done >= ticket).map(|(_, outcome)| outcome) {
            Some(Ok(report)) => Ok(Some(report.clone())),
            Some(Err(message)) => anyhow::bail!("{message}"),
            None => Ok(None),
        }
    }

    /// Whether a scrub is waiting for the store.
    pub(crate) fn scrub_pending(&self) -> bool {
        let scrubs = self.scrubs.lock().unwrap_or_else(|e| e.into_inner());
        scrubs.done < scrubs.asked
    }

    /// The scrub thread: scrubs until every request's scrub is done (or the node stops).
    fn scrubber(&self) {
        loop {
            let target = {
                let mut scrubs = self.scrubs.lock().unwrap_or_else(|e| e.into_inner());
                if scrubs.done >= scrubs.asked || self.lock().closed {
                    scrubs.running = false;
                    return;
                }
                scrubs.asked
            };
            // A panic (redb on a damaged page) fails this scrub, not the node: the store is opened
            // again either way (in `alone`), and the thread goes on.
            let tried =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.alone(|ledger| Ok(ledger.scrub()?))));
            let tried = tried.unwrap_or_else(|_| {
                Err(anyhow::anyhow!("the scrub failed (the store may be damaged: run mindlog verify)"))
            });
            let outcome = match tried {
                Ok(Some(report)) => Ok(report),
                Ok(None) => {
                    // Busy: let the requests waiting for the store go on, and try again.
                    tracing::info!("a scrub waits: other requests hold the store");
                    std::thread::sleep(RETRY_SCRUB);
                    continue;
                }
                Err(e) => Err(format!("{e:#}")),
            };
            let mut scrubs = self.scrubs.lock().unwrap_or_else(|e| e.into_inner());
            scrubs.done = target;
            scrubs.outcomes.push_back((target, outcome));
            if scrubs.outcomes.len() > 16 {
                scrubs.outcomes.pop_front();
            }
            self.scrubbed.notify_all();
        }
    }

    /// Runs `f` with the only handle on the store: new requests wait, the node's handle is taken,
    /// and `f` starts once every other request has dropped its handle — `None` if they have not
    /// within [`WAIT_FOR_REQUESTS`] (the store is then given back untouched). The store is
    /// opened again afterwards.
    fn alone<R>(&self, f: impl FnOnce(Ledger) -> Result<R>) -> Result<Option<R>> {
        let Some(mine) = self.lock().ledger.take() else { anyhow::bail!("the node is shutting down") };
        let started = Instant::now();
        while mine.handles() > 1 {
            if started.elapsed() > WAIT_FOR_REQUESTS {
                let mut state = self.lock();
                if !state.closed {
                    state.ledger = Some(mine);
                }
                drop(state);
                self.reopened.notify_all();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(mine))).unwrap_or_else(|_| {
            Err(anyhow::anyhow!("the scrub failed (the store may be damaged: run mindlog verify)"))
        });
        let reopened = reopen(&self.path).context("opening the store again after the scrub");
        match reopened {
            Ok(ledger) => {
                watch_commits(&ledger, &self.commits);
                let mut state = self.lock();
                if !state.closed {
                    state.ledger = Some(ledger);
                }
                drop(state);
                self.reopened.notify_all();
                self.commits.send_modify(|n| *n += 1);
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the store could not be opened again; the node cannot serve");
                // Requests fail at once instead of waiting for a store that will not come back.
                self.lock().closed = true;
                self.reopened.notify_all();
                return Err(e);
            }
        }
        result.map(Some)
    }

    /// Lets go of the node's handle (at shutdown): the store closes when the last request ends.
    pub(crate) fn close(&self) {
        let held = {
            let mut state = self.lock();
            state.closed = true;
            state.ledger.take()
        };
        drop(held);
        self.reopened.notify_all();
    }
}

/// What the node sets on every handle it opens: a hook for subscriptions, and the long-running
/// setup (lazy view commits: a crash loses only folds, redone on the next start; appends index
/// their own events).
fn watch_commits(ledger: &Ledger, commits: &Arc<watch::Sender<u64>>) {
    ledger.long_running();
    let commits = Arc::clone(commits);
    ledger.on_commit(move || commits.send_modify(|n| *n += 1));
}

/// Opens the store again; the handle just closed may take a moment to release the file.
fn reopen(path: &std::path::Path) -> Result<Ledger> {
    let started = Instant::now();
    loop {
        match Ledger::open(path) {
            Err(OpenError::Busy(_)) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return Ok(result?),
        }
    }
}
