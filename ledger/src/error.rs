//! Errors, split by operation so callers can tell an integrity failure from an I/O problem.

use std::path::PathBuf;

use crate::envelope::EnvelopeError;
use crate::event::EventError;
use crate::types::{Hash, PublicKey};

/// A failure of the store itself: redb (I/O, locking) or a record that cannot be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// redb failed.
    #[error("storage error")]
    Redb(#[source] redb::Error),
    /// A stored record does not decode (run `mindlog verify` for the full picture).
    #[error("the record at offset {offset} is damaged: {problem}")]
    Corrupt {
        /// The offset of the damaged record in `events`.
        offset: u64,
        /// Why it does not decode, in one line.
        problem: String,
    },
    /// A stored fork proof does not decode or check (run `mindlog verify` for the full picture).
    #[error("the fork proof stored under {key} is damaged: {problem}")]
    BadForkProof {
        /// Its key in the `forks` table, hex.
        key: String,
        /// What is wrong with it.
        problem: Box<crate::fork::ForkError>,
    },
    /// A table or checkpoint outside the caller's namespace was asked for (see
    /// [`Namespace`](crate::Namespace)): a bug in the caller, never bad data.
    #[error("table or checkpoint {name:?} is outside the namespace {namespace:?}: name it {namespace}.<name>")]
    OutsideNamespace {
        /// The name asked for.
        name: String,
        /// The caller's namespace.
        namespace: &'static str,
    },
    /// Something else went wrong that leaves the operation unable to continue.
    #[error("{0}")]
    Other(String),
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StorageError {
            fn from(e: $t) -> Self {
                StorageError::Redb(e.into())
            }
        }
    )*};
}
storage_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Why a store could not be opened or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No store at the path.
    #[error("no store at {0}: run `mindlog init` first (or pass --home)")]
    NotFound(PathBuf),
    /// A store already exists where one was to be created.
    #[error("a store already exists at {0}")]
    AlreadyExists(PathBuf),
    /// The file was written by a newer store format.
    #[error(
        "{path} was written by a newer mindlog (store format {found}; this build reads up to {supported}): upgrade mindlog"
    )]
    NewerFormat {
        /// The store file.
        path: PathBuf,
        /// The format recorded in the file.
        found: u64,
        /// The newest format this build reads.
        supported: u64,
    },
    /// Another process has the store open.
    #[error("{0} is in use by another mindlog process")]
    Busy(PathBuf),
    /// A redb file, but not a mindlog store.
    #[error("{0} is not a mindlog store (no format record)")]
    NotAStore(PathBuf),
    /// redb refused or failed.
    #[error("{}", path.display())]
    Storage {
        /// The store file.
        path: PathBuf,
        /// The failure.
        source: StorageError,
    },
}

/// Why an append was refused or failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The feed's head was not where the caller expected: another writer got there first.
    #[error("feed {author} is at seq {found}, not {expected} as expected: another writer appended first")]
    Conflict {
        /// The author whose feed it is.
        author: PublicKey,
        /// The head seq the caller expected.
        expected: u64,
        /// The actual head seq.
        found: u64,
    },
    /// A draft is not a valid event.
    #[error("invalid event")]
    Invalid(#[from] EventError),
    /// A draft of one of the ledger's own kinds (`ledger.*`), which only the ledger writes.
    #[error("kind {0} is reserved for the ledger itself")]
    ReservedKind(String),
    /// An event's payload cannot be erased.
    #[error("cannot erase the payload of the event at offset {offset}: {problem}")]
    CannotErase {
        /// The event's offset.
        offset: u64,
        /// Why not.
        problem: EraseProblem,
    },
    /// The operating system gave no randomness for a payload's salt.
    #[error("the operating system's random source failed: {0}")]
    Randomness(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The request got no answer (a panic while committing it).
    #[error("the append got no answer (the commit failed unexpectedly); reopen the store")]
    WriterStopped,
}

/// Why an event's payload cannot be erased.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EraseProblem {
    /// No event at that offset.
    #[error("no such event")]
    NoSuchEvent,
    /// An envelope of format 1 holds its payload inside the signed bytes; removing it would
    /// break the signature.
    #[error("it is in envelope format 1, whose signature covers the payload")]
    FormatOne,
    /// Erased before.
    #[error("it is erased already")]
    AlreadyErased,
    /// Only an event's author can publish its erasure (anyone may erase locally).
    #[error("it was written by {0}, not by you; erase it locally with --local")]
    NotTheAuthor(PublicKey),
}

impl From<EnvelopeError> for AppendError {
    fn from(e: EnvelopeError) -> AppendError {
        AppendError::Invalid(e.into())
    }
}

/// Why verified events could not be added to the store. Nothing of the batch was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The event does not continue its feed.
    #[error("{author} seq {seq}: {problem}")]
    Feed {
        /// The event's author, whose feed it does not continue.
        author: PublicKey,
        /// The event's seq.
        seq: u64,
        /// How it fails to continue the feed.
        problem: FeedProblem,
    },
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How an event fails to continue its author's feed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeedProblem {
    /// Seqs skip: the feed's next seq is `expected`.
    #[error("gap in the feed: expected seq {expected}")]
    Gap {
        /// The seq that would continue the feed.
        expected: u64,
    },
    /// `prev` is not the hash of the previous event.
    #[error("broken link: prev is {found}, but the previous event's hash is {expected}")]
    BrokenLink {
        /// The previous event's hash.
        expected: Hash,
        /// The event's prev.
        found: Hash,
    },
    /// A different event is already held at this seq: the author signed two (a fork).
    #[error("a different event {held} is already held at this seq (the author forked the feed)")]
    Fork {
        /// The hash of the event already held.
        held: Hash,
    },
}

/// Why an import failed. The store is exactly as it was before.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A line is bad.
    #[error("line {line}: {problem}")]
    Line {
        /// 1-based line number in the input.
        line: u64,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// Reading the input failed.
    #[error("reading input")]
    Io(#[from] std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What is wrong with one JSONL line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// Not a JSON object of the export shape.
    #[error("malformed line: {0}")]
    Malformed(String),
    /// `signed` is not base64.
    #[error("signed is not valid base64: {0}")]
    Base64(String),
    /// The event itself fails its checks.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The decoded fields do not match the signed bytes.
    #[error("the decoded fields do not match the signed bytes (the line was edited)")]
    FieldsMismatch,
    /// The event does not continue its feed.
    #[error("{author} seq {seq}: {problem}")]
    Feed {
        /// The event's author, whose feed it does not continue.
        author: PublicKey,
        /// The event's seq.
        seq: u64,
        /// How it fails to continue the feed.
        problem: FeedProblem,
    },
}
