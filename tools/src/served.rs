//! A command run by a node on behalf of a client (`mindlog` on the same home while a node runs,
//! or an HTTP route served by a command): where its output goes, what its standard input is, the
//! folder its relative paths mean, and the store it shares with every other request.
//!
//! The command itself does not know: it prints through [`crate::output`], reads standard input
//! through [`stdin`], opens the store through [`crate::home::Home`], and each of those asks
//! [`current`]. Outside a node nothing is set and everything is the process's own.

use std::cell::RefCell;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use crate::node::hosted::Hosted;

/// Where a served command's standard output and standard error go.
pub(crate) trait Sink: Send + Sync {
    /// Bytes for standard output. An error means the reader went away.
    fn stdout(&self, bytes: &[u8]) -> io::Result<()>;
    /// Bytes for standard error.
    fn stderr(&self, bytes: &[u8]) -> io::Result<()>;
    /// How far a long step has come; never waits (an update with no room is dropped).
    fn progress(&self, _progress: Progress) {}
}

/// How far a served command's long step has come (what `mindlog` draws as a progress bar).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct Progress {
    /// The step: `verify`, `export`, `views`, …
    pub(crate) what: String,
    /// Events done so far.
    pub(crate) done: u64,
    /// Events to do, when known.
    pub(crate) total: Option<u64>,
}

/// How often a served command's progress is sent.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Sends `bar`'s position to the served command's client while the bar lives and is not
/// finished (the bar itself draws nothing when served: the node's terminal is not the client's).
pub(crate) fn report_progress(bar: &indicatif::ProgressBar, what: &str) {
    let Some(served) = current() else { return };
    let (sink, bar, what) = (Arc::clone(&served.sink), bar.downgrade(), what.to_owned());
    let _ = std::thread::Builder::new().name("mindlog-progress".into()).spawn(move || {
        loop {
            std::thread::sleep(PROGRESS_EVERY);
            let Some(bar) = bar.upgrade() else { return };
            if bar.is_finished() {
                return;
            }
            let message = bar.message();
            let what = if message.is_empty() { what.clone() } else { message };
            sink.progress(Progress { what, done: bar.position(), total: bar.length() });
        }
    });
}

/// The context of one served command.
pub(crate) struct Served {
    pub(crate) sink: Arc<dyn Sink>,
    /// The client's standard input, for `submit -` and `import -`.
    pub(crate) stdin: Mutex<Option<Box<dyn Read + Send>>>,
    /// The client's working folder: relative paths on its command line mean paths in it.
    pub(crate) cwd: Option<PathBuf>,
    /// Whether the client's standard output is a terminal.
    pub(crate) terminal: bool,
    /// The node's store.
    pub(crate) hosted: Arc<Hosted>,
}

thread_local! {
    static SERVED: RefCell<Option<Rc<Served>>> = const { RefCell::new(None) };
}

/// The served command running on this thread, if any.
pub(crate) fn current() -> Option<Rc<Served>> {
    SERVED.with(|s| s.borrow().clone())
}

/// Runs `f` as a served command on this thread (a blocking thread of the node).
pub(crate) fn within<R>(served: Served, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SERVED.with(|s| s.borrow_mut().take());
        }
    }
    SERVED.with(|s| *s.borrow_mut() = Some(Rc::new(served)));
    let _reset = Reset;
    f()
}

/// Whether standard output is a terminal: the client's when served, else the process's.
pub(crate) fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    current().map_or_else(|| io::stdout().is_terminal(), |served| served.terminal)
}

/// Standard input: the client's when served, else the process's.
pub(crate) fn stdin() -> Box<dyn Read> {
    match current() {
        Some(served) => match served.stdin.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(input) => input,
            None => Box::new(io::empty()),
        },
        None => Box::new(io::stdin().lock()),
    }
}

/// A path from the command line: relative to the client's working folder when served (the node
/// runs elsewhere), as given otherwise.
pub(crate) fn path(given: &Path) -> PathBuf {
    match current().and_then(|s| s.cwd.clone()) {
        Some(cwd) if given.is_relative() && given.as_os_str() != "-" => cwd.join(given),
        _ => given.to_owned(),
    }
}

/// clap's value parser for every path argument: see [`path`].
pub(crate) fn path_arg(text: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(path(Path::new(text)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use super::*;

    /// A sink that keeps what it is given.
    #[derive(Default)]
    struct Kept(Mutex<Vec<Progress>>);

    impl Sink for Kept {
        fn stdout(&self, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
        fn stderr(&self, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
        fn progress(&self, progress: Progress) {
            self.0.lock().unwrap().push(progress);
        }
    }

    /// A served command's progress bar draws nothing but reports its position to the client
    /// while it runs, and stops once it is finished.
    #[test]
    fn a_served_progress_bar_reports_to_the_client() {
        let kept = Arc::new(Kept::default());
        let ledger = mindlog_ledger::Ledger::in_memory().unwrap();
        let hosted = crate::node::hosted::Hosted::new(ledger, crate::node::metrics::Metrics::default());
        let served = Served { sink: kept.clone(), stdin: Mutex::new(None), cwd: None, terminal: false, hosted };
        within(served, || {
            let bar = crate::ui::progress(Some(1000), "verify");
            bar.set_position(400);
            std::thread::sleep(PROGRESS_EVERY * 3);
            bar.finish_and_clear();
        });
        let seen = kept.0.lock().unwrap().clone();
        assert!(seen.contains(&Progress { what: "verify".into(), done: 400, total: Some(1000) }), "{seen:?}");
        let count = seen.len();
        std::thread::sleep(PROGRESS_EVERY * 2);
        assert_eq!(kept.0.lock().unwrap().len(), count, "nothing after the bar finished");
    }
}
