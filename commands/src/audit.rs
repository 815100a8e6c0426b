//! The agent audit log's event payloads: tool calls, the policy decision on each, approvals of
//! the ones that asked, and results with their cost.

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

/// What the policy said about a tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused.
    Deny,
    /// A person must approve first.
    Ask,
}

impl Decision {
    /// The word used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Ask => "ask",
        }
    }
}

/// `audit.tool-requested/1`: an agent asks to call a tool. Its id is this event's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRequested {
    /// The agent session.
    pub session: String,
    /// The tool, e.g. shell.exec.
    pub tool: String,
    /// A digest of the call's arguments (the arguments themselves stay private).
    pub args_digest: String,
    /// What it may touch, e.g. workspace.
    pub scope: String,
    /// The policy's decision.
    pub decision: Decision,
    /// Why.
    pub reason: String,
}

/// `audit.approved/1` or `audit.denied/1`: the answer to a request that asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAnswered {
    /// The request.
    pub request: Hash,
}

/// `audit.completed/1`: how an allowed (or approved) call went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCompleted {
    /// The request.
    pub request: Hash,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took.
    pub duration_ms: u64,
    /// Model tokens used.
    pub tokens: u64,
    /// What it cost, in cents.
    pub cost_cents: u64,
    /// The model that ran it.
    pub model: String,
}
