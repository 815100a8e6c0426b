//! The `reputation` view: the raw facts reputation is computed from — attestations, vouches,
//! reports and verdicts. Scores decay with time, so they are computed at read time for an
//! explicit instant (`scores.rs`), never stored.

use mindlog_commands::{Event, Micros, TaskOutcome};
use mindlog_ledger::redb::ReadableTable;
use mindlog_ledger::{DerivedWriteTxn, Hash, PublicKey, StorageError};
use serde::{Deserialize, Serialize};

use crate::rows::{Cached, RawTable, def, encode, key};
use crate::runner::{Applied, Decoded, Fold, Projection};

pub(crate) const ATTESTATIONS: &str = "view.attestations";
pub(crate) const VOUCHES: &str = "view.vouches";
pub(crate) const REPORTS: &str = "view.reports";
pub(crate) const REPORTS_BY_SUBJECT: &str = "view.reports_by_subject";
pub(crate) const VERDICTS: &str = "view.report_verdicts";

/// An attestation (`view.attestations`, key: subject ‖ attester ‖ task; the attester's latest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationRow {
    /// How it went.
    pub outcome: TaskOutcome,
    /// 1 to 10.
    pub weight: u32,
    /// When it was recorded (µs since the Unix epoch).
    pub at: Micros,
}

/// A vouch (`view.vouches`, key: subject ‖ voucher; removed when withdrawn).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VouchRow {
    /// When the vouch was made (µs since the Unix epoch).
    pub since: Micros,
}

/// A report (`view.reports`, key: id; `view.reports_by_subject`: subject ‖ id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    /// The author who made the report.
    pub reporter: PublicKey,
    /// The author the report is about.
    pub subject: PublicKey,
    /// What kind of violation.
    pub category: String,
    /// The event that shows it.
    pub evidence: Hash,
    /// When it was recorded (µs since the Unix epoch).
    pub at: Micros,
}

/// A verdict (`view.report_verdicts`, key: report ‖ resolver; the resolver's latest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRow {
    /// Upheld or dismissed.
    pub upheld: bool,
    /// When it was recorded (µs since the Unix epoch).
    pub at: Micros,
}

/// The reputation view.
pub(crate) struct ReputationView;

impl Projection for ReputationView {
    fn name(&self) -> &'static str {
        "reputation"
    }
    fn version(&self) -> u32 {
        // 2: events that fail `Event::check` (tasks, categories) are ignored.
        2
    }
    fn tables(&self) -> &'static [&'static str] {
        &[ATTESTATIONS, VOUCHES, REPORTS, REPORTS_BY_SUBJECT, VERDICTS]
    }
    fn fold<'t>(&self, txn: &'t DerivedWriteTxn) -> Result<Box<dyn Fold + 't>, StorageError> {
        Ok(Box::new(ReputationFold {
            reports: Cached::open(txn, REPORTS)?,
            attestations: txn.open_table(def(ATTESTATIONS))?,
            vouches: txn.open_table(def(VOUCHES))?,
            by_subject: txn.open_table(def(REPORTS_BY_SUBJECT))?,
            verdicts: txn.open_table(def(VERDICTS))?,
        }))
    }
}

struct ReputationFold<'t> {
    reports: Cached<'t, ReportRow>,
    attestations: RawTable<'t>,
    vouches: RawTable<'t>,
    by_subject: RawTable<'t>,
    verdicts: RawTable<'t>,
}

impl Fold for ReputationFold<'_> {
    fn apply(&mut self, e: &Decoded) -> Result<Applied, StorageError> {
        let Some(event) = &e.event else { return Ok(Applied::Irrelevant) };
        let applied = match event {
            Event::Attested(x) => {
                if x.subject == e.author {
                    false
                } else {
                    let row = AttestationRow { outcome: x.outcome, weight: x.weight, at: e.ts };
                    let k = key(&[x.subject.as_bytes(), e.author.as_bytes(), x.task.as_bytes()]);
                    self.attestations.insert(k.as_slice(), encode(&row).as_slice())?;
                    true
                }
            }
            Event::Vouched(x) => {
                let k = key(&[x.subject.as_bytes(), e.author.as_bytes()]);
                if x.subject == e.author || self.vouches.get(k.as_slice())?.is_some() {
                    false
                } else {
                    self.vouches.insert(k.as_slice(), encode(&VouchRow { since: e.ts }).as_slice())?;
                    true
                }
            }
            Event::Unvouched(x) => {
                self.vouches.remove(key(&[x.subject.as_bytes(), e.author.as_bytes()]).as_slice())?.is_some()
            }
            Event::Reported(x) => {
                if x.subject == e.author {
                    false
                } else {
                    let row = ReportRow {
                        reporter: e.author,
                        subject: x.subject,
                        category: x.category.clone(),
                        evidence: x.evidence,
                        at: e.ts,
                    };
                    self.reports.put(e.hash.as_bytes().to_vec(), row);
                    self.by_subject
                        .insert(key(&[x.subject.as_bytes(), e.hash.as_bytes()]).as_slice(), [].as_slice())?;
                    true
                }
            }
            Event::Resolved(x) => {
                // The reporter cannot judge their own report (known: their report came first).
                // A verdict by the subject is kept here and left out when scores are computed.
                if self.reports.get(x.report.as_bytes())?.is_some_and(|r| r.reporter == e.author) {
                    false
                } else {
                    let k = key(&[x.report.as_bytes(), e.author.as_bytes()]);
                    self.verdicts
                        .insert(k.as_slice(), encode(&VerdictRow { upheld: x.upheld, at: e.ts }).as_slice())?;
                    true
                }
            }
            _ => return Ok(Applied::Irrelevant),
        };
        Ok(if applied { Applied::Applied } else { Applied::Ignored })
    }

    fn finish(self: Box<Self>) -> Result<(), StorageError> {
        self.reports.flush()
    }
}
