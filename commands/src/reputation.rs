//! Reputation: task attestations, vouches, reports and their resolution — the event payloads
//! with their state-free rules (`Check`), and the commands with their rules (`Decide`).

use mindlog_ledger::{Hash, PublicKey};
use serde::{Deserialize, Serialize};

use crate::catalog::Event;
use crate::check::{self, Check};
use crate::decide::{Context, Decide, Decided, IdSpace, one, parse_key};
use crate::rejection::Rejection;

/// How a task went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum TaskOutcome {
    /// The task was done as asked.
    Success,
    /// The task was not done, or done badly.
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
    /// How much the task counts, 1 to 10: its share of the subject's evidence.
    pub weight: u32,
}

/// `rep.vouched/1`: the author vouches for `subject`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vouched {
    /// The author vouched for (not the author itself).
    pub subject: PublicKey,
}

/// `rep.unvouched/1`: the author withdraws a vouch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unvouched {
    /// The author vouched for (not the author itself).
    pub subject: PublicKey,
}

/// `rep.reported/1`: the author reports a violation by `subject`. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    /// The author reported (not the reporter itself).
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

// State-free rules of the payloads.

impl Check for Attested {
    fn check(&self) -> Result<(), Rejection> {
        check::word("task", &self.task, 128)?;
        check::number("weight", u64::from(self.weight), 1, 10)
    }
}

impl Check for Vouched {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for Unvouched {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for Reported {
    fn check(&self) -> Result<(), Rejection> {
        check::word("category", &self.category, 64)
    }
}

impl Check for Resolved {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

// The commands and their rules. A subject is an author's public key.

fn default_weight() -> u32 {
    1
}

/// `rep.attest`: attest how an author did on a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct RepAttest {
    /// The author (public key or local identity name)
    pub subject: String,
    /// The task
    #[cfg_attr(feature = "cli", arg(long))]
    pub task: String,
    /// How it went
    #[cfg_attr(feature = "cli", arg(long, value_enum))]
    pub outcome: TaskOutcome,
    /// 1 to 10
    #[serde(default = "default_weight")]
    #[cfg_attr(feature = "cli", arg(long, default_value_t = default_weight()))]
    pub weight: u32,
}

impl Decide for RepAttest {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let subject = parse_key("subject", &self.subject)?;
        if subject == *cx.author {
            return Err(Rejection::SelfReference("attest").into());
        }
        one(Event::Attested(Attested { subject, task: self.task.clone(), outcome: self.outcome, weight: self.weight }))
    }
}

/// `rep.vouch`: vouch for an author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct RepVouch {
    /// The author
    pub subject: String,
}

impl Decide for RepVouch {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let subject = parse_key("subject", &self.subject)?;
        if subject == *cx.author {
            return Err(Rejection::SelfReference("vouch for").into());
        }
        if cx.state.vouches(cx.author, &subject)? {
            return Err(Rejection::AlreadyVouching(subject).into());
        }
        one(Event::Vouched(Vouched { subject }))
    }
}

/// `rep.unvouch`: withdraw a vouch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct RepUnvouch {
    /// The author
    pub subject: String,
}

impl Decide for RepUnvouch {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let subject = parse_key("subject", &self.subject)?;
        if !cx.state.vouches(cx.author, &subject)? {
            return Err(Rejection::NotVouching(subject).into());
        }
        one(Event::Unvouched(Unvouched { subject }))
    }
}

/// `rep.report`: report a violation by an author, with the event that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct RepReport {
    /// The author
    pub subject: String,
    /// The kind of violation, e.g. spam
    #[cfg_attr(feature = "cli", arg(long))]
    pub category: String,
    /// The hash of the event that shows it
    #[cfg_attr(feature = "cli", arg(long))]
    pub evidence: String,
}

impl Decide for RepReport {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let subject = parse_key("subject", &self.subject)?;
        if subject == *cx.author {
            return Err(Rejection::SelfReference("report").into());
        }
        let evidence: Hash = self
            .evidence
            .parse()
            .map_err(|_| Rejection::NotAHash { what: "evidence", value: self.evidence.clone() })?;
        one(Event::Reported(Reported { subject, category: self.category.clone(), evidence }))
    }
}

/// `rep.resolve`: give a verdict on a report (neither its reporter nor its subject may). In
/// JSON `"upheld": true` or `false`; on the command line `--upheld` or `--dismissed`, exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[cfg_attr(
    feature = "cli",
    command(arg(clap::Arg::new("dismissed").long("dismissed").action(clap::ArgAction::SetTrue).help("Dismiss it")))
)]
pub struct RepResolve {
    /// The report (id or id prefix)
    pub report: String,
    /// Upheld (true) or dismissed (false)
    #[cfg_attr(
        feature = "cli",
        arg(long, help = "Uphold it", conflicts_with = "dismissed", required_unless_present = "dismissed")
    )]
    pub upheld: bool,
}

impl Decide for RepResolve {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let id = cx.resolve(IdSpace::Report, "report", &self.report)?;
        let unknown = || Rejection::Unknown { what: "report", reference: self.report.clone() };
        let r = cx.state.report(&id)?.ok_or_else(unknown)?;
        if r.reporter == *cx.author || r.subject == *cx.author {
            return Err(Rejection::OwnReport.into());
        }
        one(Event::Resolved(Resolved { report: r.id, upheld: self.upheld }))
    }
}
