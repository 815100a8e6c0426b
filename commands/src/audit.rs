//! The agent audit log: tool calls, the policy decision on each, approvals of the ones that
//! asked, and results with their cost — the event payloads with their state-free rules
//! (`Check`), and the commands with their rules (`Decide`).

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::catalog::Event;
use crate::check::{self, Check};
use crate::decide::{Context, Decide, DecideError, Decided, IdSpace, RequestInfo, one};
use crate::rejection::Rejection;

/// What the policy said about a tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The tool may run now.
    Allow,
    /// The tool may not run.
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
    /// The policy's reason for its decision, free text (may be empty).
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

// State-free rules of the payloads.

impl Check for ToolRequested {
    fn check(&self) -> Result<(), Rejection> {
        check::word("session", &self.session, 128)?;
        check::word("tool", &self.tool, 128)?;
        check::word("args digest", &self.args_digest, 200)?;
        check::word("scope", &self.scope, 128)?;
        check::text("reason", &self.reason, 0, 2000)
    }
}

impl Check for RequestAnswered {
    fn check(&self) -> Result<(), Rejection> {
        Ok(())
    }
}

impl Check for ToolCompleted {
    fn check(&self) -> Result<(), Rejection> {
        check::text("model", &self.model, 0, 128)
    }
}

// The commands and their rules. Only a request's author answers it or records its result.

/// `audit.tool`: record a tool call an agent asks for and the policy's decision on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct AuditTool {
    /// The agent session
    pub session: String,
    /// The tool, e.g. shell.exec
    #[cfg_attr(feature = "cli", arg(long))]
    pub tool: String,
    /// A digest of the call's arguments
    #[cfg_attr(feature = "cli", arg(long))]
    pub args_digest: String,
    /// What it may touch, e.g. workspace
    #[cfg_attr(feature = "cli", arg(long))]
    pub scope: String,
    /// The policy's decision
    #[cfg_attr(feature = "cli", arg(long, value_enum))]
    pub decision: Decision,
    /// The policy's reason for its decision (free text, may be empty)
    #[cfg_attr(feature = "cli", arg(long, default_value = ""))]
    pub reason: String,
}

impl Decide for AuditTool {
    fn decide(&self, _cx: &Context<'_>) -> Decided {
        one(Event::ToolRequested(ToolRequested {
            session: self.session.clone(),
            tool: self.tool.clone(),
            args_digest: self.args_digest.clone(),
            scope: self.scope.clone(),
            decision: self.decision,
            reason: self.reason.clone(),
        }))
    }
}

/// `audit.approve`: approve a request the policy sent for approval (decision ask).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct AuditApprove {
    /// The request (id or id prefix)
    pub request: String,
}

impl Decide for AuditApprove {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        one(Event::Approved(cx.answer(&self.request)?))
    }
}

/// `audit.deny`: deny a request the policy sent for approval (decision ask).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct AuditDeny {
    /// The request
    pub request: String,
}

impl Decide for AuditDeny {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        one(Event::Denied(cx.answer(&self.request)?))
    }
}

/// `audit.done`: record how an allowed (or approved) call went. In JSON `"ok": true` or
/// `false`; on the command line `--ok` or `--failed`, exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[cfg_attr(
    feature = "cli",
    command(arg(clap::Arg::new("failed").long("failed").action(clap::ArgAction::SetTrue).help("It failed")))
)]
pub struct AuditDone {
    /// The request
    pub request: String,
    /// Whether it succeeded
    #[cfg_attr(
        feature = "cli",
        arg(long, help = "It succeeded", conflicts_with = "failed", required_unless_present = "failed")
    )]
    pub ok: bool,
    /// How long it took
    #[cfg_attr(feature = "cli", arg(long))]
    pub duration_ms: u64,
    /// Model tokens used
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 0))]
    pub tokens: u64,
    /// What it cost, in cents
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 0))]
    pub cost_cents: u64,
    /// The model that ran it
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, default_value = ""))]
    pub model: String,
}

impl Decide for AuditDone {
    fn decide(&self, cx: &Context<'_>) -> Decided {
        let r = cx.own_request(&self.request)?;
        let may_run = match r.decision {
            Decision::Allow => true,
            Decision::Deny => false,
            Decision::Ask => r.answer == Some(true),
        };
        if !may_run {
            return Err(Rejection::NotAllowedToRun(r.id).into());
        }
        if r.completed {
            return Err(Rejection::AlreadyCompleted(r.id).into());
        }
        one(Event::ToolCompleted(ToolCompleted {
            request: r.id,
            ok: self.ok,
            duration_ms: self.duration_ms,
            tokens: self.tokens,
            cost_cents: self.cost_cents,
            model: self.model.clone(),
        }))
    }
}

impl Context<'_> {
    /// A request the author made.
    fn own_request(&self, reference: &str) -> Result<RequestInfo, DecideError> {
        let id = self.resolve(IdSpace::Request, "request", reference)?;
        let unknown = || Rejection::Unknown { what: "request", reference: reference.to_owned() };
        let r = self.state.request(&id)?.ok_or_else(unknown)?;
        if r.author != *self.author {
            let name = r.id.to_string();
            return Err(Rejection::NotYours { what: "request", name, action: "answer it or record its result" }.into());
        }
        Ok(r)
    }

    /// The answer to a request of the author's that asked and is not answered yet.
    fn answer(&self, reference: &str) -> Result<RequestAnswered, DecideError> {
        let r = self.own_request(reference)?;
        if r.decision != Decision::Ask {
            return Err(Rejection::NotAnAskRequest { request: r.id, decision: r.decision }.into());
        }
        if let Some(approved) = r.answer {
            return Err(Rejection::AlreadyAnswered { request: r.id, approved }.into());
        }
        Ok(RequestAnswered { request: r.id })
    }
}
