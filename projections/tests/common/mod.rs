//! Helpers shared by the projections' tests.

#![allow(dead_code, clippy::unwrap_used)]

use mindlog_commands::sim::{AuthorSim, GEN_EPOCH_MICROS, GEN_SPACING_MICROS, Rng};
use mindlog_commands::{Command, Event, decide};
use mindlog_ledger::{Appended, Draft, Expect, Hash, Identity, Ledger, VerifiedEvent};
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

/// Per-author feeds of plausible events of every domain, interleaved as `gen` would, signed for
/// real; authors learn each other's public events every 128 events, as in `gen`.
pub(crate) fn workload(seed: u64, authors: u8, n: u64) -> Vec<VerifiedEvent> {
    let ids: Vec<Identity> = (0..authors).map(|a| Identity::from_secret(&[a + 1; 32])).collect();
    let everyone: Vec<_> = ids.iter().map(Identity::public_key).collect();
    let mut sims: Vec<AuthorSim> = ids.iter().map(|i| AuthorSim::new(i.public_key(), &everyone)).collect();
    let mut heads: Vec<(u64, Option<Hash>)> = vec![(0, None); ids.len()];
    let mut chooser = Rng::derive(seed, "author", 0);
    let mut public = Vec::new();
    let mut out = Vec::new();
    for index in 0..n {
        if index % 128 == 0 {
            for sim in &mut sims {
                for (author, hash, event) in &public {
                    sim.learn(author, *hash, event);
                }
            }
            public.clear();
        }
        let a = chooser.below(u64::from(authors)) as usize;
        let mut rng = Rng::derive(seed, "event", index);
        let ts = GEN_EPOCH_MICROS + index * GEN_SPACING_MICROS;
        let event = sims[a].next_event(&mut rng, index, ts).unwrap();
        let signed = seal(&ids[a], &mut heads[a], &event, ts);
        sims[a].observe(signed.hash(), &event);
        if AuthorSim::is_public(&event) {
            public.push((ids[a].public_key(), signed.hash(), event));
        }
        out.push(signed);
    }
    out
}

pub(crate) fn seal(id: &Identity, head: &mut (u64, Option<Hash>), event: &Event, ts: u64) -> VerifiedEvent {
    let draft = Draft { kind: event.kind().into(), payload: event.encode(), refs: event.refs(), ts, private: false };
    let signed = draft.seal(id.public_key(), head.0 + 1, head.1, [head.0 as u8; 32]).unwrap().sign(id);
    *head = (head.0 + 1, Some(signed.hash()));
    signed
}
