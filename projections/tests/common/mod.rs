//! Helpers shared by the projections' tests.

#![allow(dead_code, clippy::unwrap_used)]

use mindlog_commands::{Command, decide};
use mindlog_ledger::{Appended, Draft, Expect, Identity, Ledger};
use mindlog_projections::Projections;

/// Decides `command` (its JSON form) as `who` at `now` against the caught-up views, appends its
/// events, folds them, and returns the first one appended.
pub(crate) fn run(
    ledger: &Ledger,
    projections: &Projections,
    who: &Identity,
    now: u64,
    command: serde_json::Value,
) -> Appended {
    let command: Command = serde_json::from_value(command).unwrap();
    projections.catch_up(&|_, _| {}).unwrap();
    let events = decide(&projections.views().unwrap(), &who.public_key(), now, &command).unwrap();
    let drafts = events
        .iter()
        .map(|e| Draft { kind: e.kind().into(), payload: e.encode(), refs: e.refs(), ts: now, private: false })
        .collect();
    let appended = ledger.append(who, drafts, Expect::Any).unwrap();
    projections.catch_up(&|_, _| {}).unwrap();
    appended[0]
}
