//! mindlog's projections: workers that fold the log, in offset order, into views stored in the
//! same redb file, each view's tables and checkpoint written in one transaction.
//!
//! ```
//! use mindlog_commands::{decide, Command, PersonaCreate};
//! use mindlog_ledger::{Draft, Expect, Identity, Ledger};
//! use mindlog_projections::Projections;
//!
//! let dir = tempfile::tempdir()?;
//! let ledger = Ledger::create(&dir.path().join("mind.redb"))?;
//! let me = Identity::generate()?;
//! let projections = Projections::new(&ledger);
//! let now = 1_767_225_600_000_000;
//! let create = Command::from(PersonaCreate { name: "Echo".into(), description: String::new() });
//! let events = decide(&projections.views()?, &me.public_key(), now, &create)?;
//! let drafts = events.iter().map(|e| Draft { kind: e.kind().into(), payload: e.encode(), refs: e.refs(), ts: now, private: false }).collect();
//! let appended = ledger.append(&me, drafts, Expect::Any)?;
//! projections.catch_up(&|_, _| {})?;
//! let echo = projections.views()?.persona_row(&appended[0].hash)?.expect("folded");
//! assert_eq!(echo.name, "Echo");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs, missing_debug_implementations)]

mod as_of;
mod audit;
mod lists;
mod market;
mod persona;
mod profile;
mod reputation;
mod rows;
mod runner;
mod scores;
mod social;
mod timeline;
mod views;

use mindlog_ledger::{Ledger, StorageError};

pub use crate::as_of::Past;
pub use crate::audit::{Answer, RequestRow, ResultRow};
pub use crate::lists::{ClosedCommitmentLine, MemoryFilter};
pub use crate::market::{
    BookingRow, ConfirmationRow, ListingRow, ListingStats, PurchaseRow, ReviewRow, SubscriptionRow, VersionRow,
};
pub use crate::persona::{
    CommitmentCounts, CommitmentRow, CommitmentStatus, ConsentRow, EmotionNow, MemoryRow, ModelRow, PersonaRow,
    Retirement, RoleCounts,
};
pub use crate::profile::{Stage, close_rate, interactions, memory_strength, stage, trait_word};
pub use crate::reputation::{AttestationRow, ReportRow, VerdictRow, VouchRow};
pub use crate::runner::{CatchUpReport, Decoded, ViewStatus};
pub use crate::scores::{
    CreatorRank, LEADERBOARD_FORMULA, ListingRank, Reputation, Tier, ViolationLine, VouchLine, decay,
};
pub use crate::social::{AwardRow, FollowRow, GuildRow, MemberRow};
pub use crate::timeline::TimelineEvent;
pub use crate::views::{
    AnswerLine, AuditLine, AuditSession, BookingLine, ListingCounts, ListingPage, MemoryLine, MessageCounts,
    PersonaEmotion, PersonaMessage, PersonaProfile, PersonaReflection, ResultLine, ReviewLine, SubscriberLine,
    VersionLine, Views,
};

use crate::runner::Projection;

/// An event's payload as JSON (the fields of its kind with `"kind"` beside them; for an event
/// imported from a PMM ledger, its record as stored), or `None` for a kind this build does not
/// know or a payload that does not decode.
pub fn payload_json(kind: &str, payload: &[u8]) -> Option<String> {
    match mindlog_commands::Event::decode(kind, payload) {
        Ok(Some(event)) => serde_json::to_string(&event).ok(),
        _ => mindlog_commands::PmmRecord::decode(kind, payload).and_then(|_| String::from_utf8(payload.to_vec()).ok()),
    }
}

/// Held while a fold writes the views of a store. A fold reads each view's checkpoint and then
/// folds from there in several transactions: two at once on the same store (a node serving
/// concurrent commands) would fold the same events twice, so a process folds one at a time.
/// A caller that waited finds the views caught up and has little left to do.
fn folding() -> std::sync::MutexGuard<'static, ()> {
    static FOLDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    FOLDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every view this build maintains.
fn all() -> Vec<&'static dyn Projection> {
    vec![
        &persona::PersonaView,
        &market::MarketView,
        &social::SocialView,
        &reputation::ReputationView,
        &audit::AuditView,
    ]
}

/// The names of every view, for `projections rebuild VIEW`.
pub fn view_names() -> Vec<&'static str> {
    all().iter().map(|p| p.name()).collect()
}

/// Why a projection operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// No view has that name.
    #[error("unknown view {name:?}; the views are: {}", view_names().join(", "), name = .0)]
    UnknownView(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A persona asked for as of an instant before it was created.
    #[error("persona {name:?} did not exist yet: it was created at {created}")]
    NotYetCreated {
        /// Its name.
        name: String,
        /// When it was created.
        created: mindlog_commands::Instant,
    },
    /// A stored event that does not decode: the store is damaged (`mindlog verify` says where).
    #[error("the event at offset {offset} is damaged: {source}; run mindlog verify")]
    Damaged {
        /// Where it is.
        offset: u64,
        /// What is wrong.
        source: mindlog_ledger::EnvelopeError,
    },
    /// A stored event whose signature no longer checks: the store is damaged.
    #[error("a stored event fails its signature check: {0}; run mindlog verify")]
    Unverifiable(#[from] mindlog_ledger::EventError),
    /// The scratch store of a past state refused an event.
    #[error("folding the past state: {0}")]
    Scratch(#[from] mindlog_ledger::IngestError),
    /// The scratch store could not be made.
    #[error("making a scratch store: {0}")]
    ScratchOpen(#[from] mindlog_ledger::OpenError),
}

/// A view that differs from the same view folded again from offset 0 ([`Projections::check`]).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ViewFinding {
    /// The view.
    pub view: String,
    /// What differs, in one line.
    pub problem: String,
    /// The digest of the view folded from offset 0 (`projections status` shows digests).
    pub expected_digest: mindlog_ledger::Hash,
    /// The digest of the view in the store.
    pub found_digest: mindlog_ledger::Hash,
}

/// The views of one store.
#[derive(Clone, Debug)]
pub struct Projections {
    ledger: Ledger,
}

impl Projections {
    /// The views kept in `ledger`'s file.
    pub fn new(ledger: &Ledger) -> Projections {
        Projections { ledger: ledger.clone() }
    }

    /// Folds every event not folded yet into every view. `progress` gets (done, to do).
    pub fn catch_up(&self, progress: &dyn Fn(u64, u64)) -> Result<CatchUpReport, ProjectionError> {
        if runner::caught_up(&self.ledger, &all())? {
            return Ok(CatchUpReport::default());
        }
        let _one_at_a_time = folding();
        Ok(runner::catch_up(&self.ledger, &all(), progress)?)
    }

    /// Empties `view` (every view if `None`) and folds it again from offset 0.
    pub fn rebuild(&self, view: Option<&str>, progress: &dyn Fn(u64, u64)) -> Result<CatchUpReport, ProjectionError> {
        let chosen: Vec<&dyn Projection> = match view {
            None => all(),
            Some(name) => {
                let found: Vec<_> = all().into_iter().filter(|p| p.name() == name).collect();
                if found.is_empty() {
                    return Err(ProjectionError::UnknownView(name.to_owned()));
                }
                found
            }
        };
        let _one_at_a_time = folding();
        runner::clear(&self.ledger, &chosen)?;
        Ok(runner::catch_up(&self.ledger, &chosen, progress)?)
    }

    /// Per view: checkpoint, lag, rows, digest, skipped and ignored events.
    pub fn status(&self) -> Result<Vec<ViewStatus>, ProjectionError> {
        Ok(runner::status(&self.ledger, &all())?)
    }

    /// Compares every view with the view folded again from offset 0 into `scratch`, an empty
    /// store that nothing else uses (a new file beside the store, or [`Ledger::in_memory`]): the
    /// views here are caught up first, then each one's digest, rows, counters and checkpoint are
    /// compared with the scratch fold's. The views here are not changed beyond the catch-up;
    /// the scratch store is left holding the expected views. `progress` gets the scratch fold's
    /// (done, to do).
    ///
    /// A view that cannot be caught up here (a damaged row stops its fold) is a finding too.
    pub fn check(&self, scratch: &Ledger, progress: &dyn Fn(u64, u64)) -> Result<Vec<ViewFinding>, ProjectionError> {
        let caught_up = self.catch_up(&|_, _| {});
        let snapshot = self.ledger.snapshot()?;
        runner::fold_into(&snapshot, scratch, &all(), progress)?;
        let expected = runner::status_in(&scratch.snapshot()?, &all())?;
        let found = runner::status_in(&snapshot, &all())?;
        let end = snapshot.len()?;
        let mut findings = Vec::new();
        for (e, f) in expected.iter().zip(&found) {
            let problem = if f.checkpoint != end {
                let why = caught_up.as_ref().err().map(|e| format!(": {e}")).unwrap_or_default();
                Some(format!("it stands at offset {} of {end} and could not be caught up{why}", f.checkpoint))
            } else if e.digest != f.digest || e.rows != f.rows {
                Some(format!("its tables differ from a fold from offset 0: {} rows expected, {} found", e.rows, f.rows))
            } else if (e.unknown, e.ignored, e.version) != (f.unknown, f.ignored, f.version) {
                Some(format!(
                    "its counters differ from a fold from offset 0: version {}, {} unknown, {} ignored expected; \
                     version {}, {} unknown, {} ignored found",
                    e.version, e.unknown, e.ignored, f.version, f.unknown, f.ignored
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                findings.push(ViewFinding {
                    view: f.view.clone(),
                    problem,
                    expected_digest: e.digest,
                    found_digest: f.digest,
                });
            }
        }
        Ok(findings)
    }

    /// The views as they are now (call [`Projections::catch_up`] first to include every event).
    pub fn views(&self) -> Result<Views, ProjectionError> {
        Ok(Views::new(self.ledger.snapshot()?))
    }
}

#[cfg(test)]
mod tests {
    /// The runner counts an event that fails `Event::check` against the view named as its domain.
    #[test]
    fn every_domain_has_its_view() {
        assert_eq!(super::view_names(), mindlog_commands::Event::DOMAINS);
    }
}
