//! mindlog's event log: per-author feeds of Ed25519-signed, blake3 hash-chained events,
//! stored in one redb file.
//!
//! Every event has an author (a public key) and a seq in that author's feed; event `seq` names
//! the hash of the author's event `seq - 1`. The store also numbers events in arrival order
//! (the local *offset*), which is what readers walk. docs/format.md specifies every byte.
//!
//! ```
//! use mindlog_ledger::{Draft, Identity, Ledger};
//!
//! let dir = tempfile::tempdir()?;
//! let ledger = Ledger::create(&dir.path().join("mind.redb"))?;
//! let me = Identity::generate()?;
//! let draft = Draft { kind: "note.added/1".into(), payload: b"hello".to_vec(), refs: vec![], ts: 1_767_225_600_000_000, private: false };
//! let appended = ledger.append_one(&me, draft)?;
//! assert_eq!((appended.offset, appended.seq), (0, 1));
//! assert!(ledger.verify(&|_| {})?.ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Other crates keep their own tables in the same file, each inside a [`Namespace`]
//! ([`Ledger::begin_derived_write`], [`Snapshot::derived_tables`]); the ledger's own tables are
//! written only by this crate, and an event is stored only as a [`VerifiedEvent`].

#![warn(missing_docs, missing_debug_implementations)]

mod derived;
mod envelope;
mod error;
mod event;
mod fork;
mod identity;
mod index_check;
mod jsonl;
mod ledger;
pub mod note;
mod pipeline;
mod published;
mod salvage;
mod scrub;
mod store;
#[doc(hidden)]
pub mod testing;
pub mod tlog;
mod types;
mod verify;

pub use crate::derived::{DerivedTables, DerivedWriteTxn, Namespace};
pub use crate::envelope::{
    Body, Envelope, EnvelopeError, EnvelopeRef, FORMAT_VERSION, HASH_DOMAIN, MAX_PAYLOAD_LEN, MAX_TIMESTAMP_MICROS,
    PAYLOAD_DOMAIN, hash_envelope_bytes, is_valid_kind, payload_commitment,
};
pub use crate::error::{
    AppendError, EraseProblem, FeedProblem, ImportError, IngestError, LineProblem, OpenError, StorageError,
};
pub use crate::event::{EventError, PayloadState, SealedEnvelope, Sidecar, SignedEvent, VerifiedEvent, verify_batch};
pub use crate::fork::{ForkError, ForkProof};
pub use crate::identity::{Identity, IdentityError};
pub use crate::index_check::DerivedFinding;
pub use crate::jsonl::{
    ExportError, ExportOptions, ExportReport, ExportedLine, ImportReport, LineFilter, format_time, render_line,
};
pub use crate::ledger::{Appended, Draft, ERASED_KIND, Expect, GroupAppend, Ledger};
pub use crate::published::{CHECKPOINT_KIND, Published, check_published};
pub use crate::salvage::{FeedLoss, SalvageError, SalvageReport};
pub use crate::scrub::ScrubReport;
pub use crate::store::{
    EventIter, EventRef, FeedTree, Head, Ingested, PayloadRef, Snapshot, StoredEvent, TableSpace, set_cache_mb,
};
pub use crate::types::{Hash, ParseHexError, PublicKey, Signature};
pub use crate::verify::{Failure, FalseCheckpoint, FeedReport, ForkFailure, PayloadCounts, VerifyReport};

/// The redb version the store is built on, for the table definitions and table types of crates
/// that keep their own tables in the same file.
pub use redb;
