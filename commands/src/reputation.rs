//! Reputation's event payloads: task attestations, vouches, reports and their resolution.

use mindlog_ledger::{Hash, PublicKey};
use serde::{Deserialize, Serialize};

/// How a task went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskOutcome {
    /// It succeeded.
    Success,
    /// It failed.
    Failure,
}

/// `rep.attested/1`: the author attests how `subject` did on `task`; a later attestation by the
/// same author for the same subject and task supersedes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attested {
    /// Who did the task.
    pub subject: PublicKey,
    /// The task's name.
    pub task: String,
    /// How it went.
    pub outcome: TaskOutcome,
    /// 1 to 10.
    pub weight: u32,
}

/// `rep.vouched/1`: the author vouches for `subject`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vouched {
    /// Whom.
    pub subject: PublicKey,
}

/// `rep.unvouched/1`: the author withdraws a vouch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unvouched {
    /// Whom.
    pub subject: PublicKey,
}

/// `rep.reported/1`: the author reports a violation by `subject`. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    /// Who.
    pub subject: PublicKey,
    /// What kind of violation, e.g. spam.
    pub category: String,
    /// The event that shows it.
    pub evidence: Hash,
}

/// `rep.resolved/1`: the author's verdict on a report (neither its reporter nor its subject may
/// give one). A report is upheld when more distinct resolvers uphold it than dismiss it; each
/// resolver's latest verdict counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The report.
    pub report: Hash,
    /// Upheld (true) or dismissed (false).
    pub upheld: bool,
}
