//! The `audit` view: every tool call an agent asked for, the policy's decision, the answer to
//! those that asked, and the result with its cost — per session.

use mindlog_commands::{Decision, Event, Micros};
use mindlog_ledger::{DerivedWriteTxn, PublicKey, StorageError};
use serde::{Deserialize, Serialize};

use crate::rows::{Cached, RawTable, def, key};
use crate::runner::{Applied, Decoded, Fold, Projection};

pub(crate) const REQUESTS: &str = "view.audit_requests";
pub(crate) const SESSIONS: &str = "view.audit_sessions";

/// A tool-call request (`view.audit_requests`, key: id; `view.audit_sessions`: session ‖ 00 ‖
/// author ‖ seq (u64 BE) → id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRow {
    /// The agent.
    pub author: PublicKey,
    /// The session.
    pub session: String,
    /// The tool.
    pub tool: String,
    /// Digest of the arguments.
    pub args_digest: String,
    /// What the call may touch, e.g. workspace.
    pub scope: String,
    /// The policy's decision.
    pub decision: Decision,
    /// The policy's reason for its decision (may be empty).
    pub reason: String,
    /// When it was asked.
    pub at: Micros,
    /// The answer to an `ask`.
    pub answer: Option<Answer>,
    /// The result.
    pub result: Option<ResultRow>,
}

/// Approved or denied, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Approved (true) or denied (false).
    pub approved: bool,
    /// When the answer was recorded (µs since the Unix epoch).
    pub at: Micros,
}

/// How a call went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Whether it succeeded.
    pub ok: bool,
    /// How long the call took, in milliseconds.
    pub duration_ms: u64,
    /// Model tokens the call used.
    pub tokens: u64,
    /// Cost in cents.
    pub cost_cents: u64,
    /// The model that made the call, as the agent names it.
    pub model: String,
    /// When the answer was recorded (µs since the Unix epoch).
    pub at: Micros,
}

impl RequestRow {
    /// Whether the call may run: allowed, or asked and approved.
    pub fn may_run(&self) -> bool {
        match self.decision {
            Decision::Allow => true,
            Decision::Deny => false,
            Decision::Ask => self.answer.as_ref().is_some_and(|a| a.approved),
        }
    }
}

/// The audit view.
pub(crate) struct AuditView;

impl Projection for AuditView {
    fn name(&self) -> &'static str {
        "audit"
    }
    fn version(&self) -> u32 {
        // 2: events that fail `Event::check` (sessions, tools, texts) are ignored.
        2
    }
    fn tables(&self) -> &'static [&'static str] {
        &[REQUESTS, SESSIONS]
    }
    fn fold<'t>(&self, txn: &'t DerivedWriteTxn) -> Result<Box<dyn Fold + 't>, StorageError> {
        Ok(Box::new(AuditFold { requests: Cached::open(txn, REQUESTS)?, sessions: txn.open_table(def(SESSIONS))? }))
    }
}

struct AuditFold<'t> {
    requests: Cached<'t, RequestRow>,
    sessions: RawTable<'t>,
}

impl Fold for AuditFold<'_> {
    fn apply(&mut self, e: &Decoded) -> Result<Applied, StorageError> {
        let Some(event) = &e.event else { return Ok(Applied::Irrelevant) };
        match event {
            Event::ToolRequested(x) => {
                self.requests.put(
                    e.hash.as_bytes().to_vec(),
                    RequestRow {
                        author: e.author,
                        session: x.session.clone(),
                        tool: x.tool.clone(),
                        args_digest: x.args_digest.clone(),
                        scope: x.scope.clone(),
                        decision: x.decision,
                        reason: x.reason.clone(),
                        at: e.ts,
                        answer: None,
                        result: None,
                    },
                );
                let k = key(&[x.session.as_bytes(), &[0], e.author.as_bytes(), &e.seq.to_be_bytes()]);
                self.sessions.insert(k.as_slice(), e.hash.as_bytes().as_slice())?;
                Ok(Applied::Applied)
            }
            Event::Approved(x) | Event::Denied(x) => {
                let approved = matches!(event, Event::Approved(_));
                let Some(r) = self.requests.get_mut(x.request.as_bytes())? else { return Ok(Applied::Ignored) };
                if r.author != e.author || r.decision != Decision::Ask || r.answer.is_some() {
                    return Ok(Applied::Ignored);
                }
                r.answer = Some(Answer { approved, at: e.ts });
                Ok(Applied::Applied)
            }
            Event::ToolCompleted(x) => {
                let Some(r) = self.requests.get_mut(x.request.as_bytes())? else { return Ok(Applied::Ignored) };
                if r.author != e.author || !r.may_run() || r.result.is_some() {
                    return Ok(Applied::Ignored);
                }
                r.result = Some(ResultRow {
                    ok: x.ok,
                    duration_ms: x.duration_ms,
                    tokens: x.tokens,
                    cost_cents: x.cost_cents,
                    model: x.model.clone(),
                    at: e.ts,
                });
                Ok(Applied::Applied)
            }
            _ => Ok(Applied::Irrelevant),
        }
    }

    fn finish(self: Box<Self>) -> Result<(), StorageError> {
        self.requests.flush()
    }
}
