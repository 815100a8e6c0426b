//! A fork proof held in the store is an upheld violation of its author: it shows in the author's
//! reputation, read at read time from the ledger's `forks` table, and costs as an upheld report.

#![allow(clippy::unwrap_used)]

mod common;

use common::run;
use mindlog_commands::DAY_MICROS;
use mindlog_commands::sim::GEN_EPOCH_MICROS;
use mindlog_ledger::{Draft, ForkProof, Identity, Ledger};
use mindlog_projections::Projections;
use serde_json::json;

fn note(text: &str, ts: u64) -> Draft {
    Draft { kind: "note.added/1".into(), payload: text.as_bytes().to_vec(), refs: vec![], ts, private: false }
}

#[test]
fn a_fork_proof_is_an_upheld_violation_of_its_author() {
    let (alice, bob) = (Identity::from_secret(&[1; 32]), Identity::from_secret(&[2; 32]));
    let ledger = Ledger::in_memory().unwrap();
    let projections = Projections::new(&ledger);
    let now = GEN_EPOCH_MICROS;
    for task in ["build", "review", "deploy"] {
        let attest = json!({"command": "rep.attest", "subject": bob.public_key().to_string(), "task": task, "outcome": "success", "weight": 10});
        run(&ledger, &projections, &alice, now, attest);
    }
    // Bob's feed holds one branch at seq 2; he signed another, later.
    let first = ledger.append_one(&bob, note("first", now)).unwrap();
    let held = ledger.append_one(&bob, note("second", now + 1)).unwrap();
    let held_event = ledger.snapshot().unwrap().event(held.offset).unwrap().unwrap();
    let other = note("second, otherwise", now + DAY_MICROS)
        .seal(bob.public_key(), 2, Some(first.hash), [9; 32])
        .unwrap()
        .sign(&bob);
    let proof =
        ForkProof::new((held_event.bytes, held_event.signature), (other.bytes().to_vec(), other.signature())).unwrap();

    let as_of = now + 2 * DAY_MICROS;
    let before = projections.views().unwrap().reputation(&bob.public_key(), as_of).unwrap();
    assert!(before.violations.is_empty());
    assert!(before.score > 0.0, "{before:?}");

    assert!(ledger.record_fork(&proof).unwrap());
    // A second proof of the same fork (the same pair) changes nothing.
    assert!(!ledger.record_fork(&proof).unwrap());
    let views = projections.views().unwrap();
    let after = views.reputation(&bob.public_key(), as_of).unwrap();
    assert_eq!(after.violations.len(), 1);
    let violation = &after.violations[0];
    assert_eq!(violation.category, "fork");
    assert!(violation.upheld);
    assert_eq!(violation.at.0, now + DAY_MICROS, "dated by the later of the two events");
    assert_eq!(violation.report, proof.hashes()[1]);
    assert!(after.penalty > 0.0);
    assert!(after.score < before.score, "{} is not below {}", after.score, before.score);

    // Before the later event was signed, there was no fork to count.
    let earlier = views.reputation(&bob.public_key(), now + 1).unwrap();
    assert!(earlier.violations.is_empty());
    // Alice forked nothing; Bob is a subject (he would be one for the fork alone).
    assert!(views.reputation(&alice.public_key(), as_of).unwrap().violations.is_empty());
    assert!(views.reputation_subjects().unwrap().contains(&bob.public_key()));
    // The same store read again gives the same answer, to the bit.
    let again = projections.views().unwrap().reputation(&bob.public_key(), as_of).unwrap();
    assert_eq!(serde_json::to_string(&again).unwrap(), serde_json::to_string(&after).unwrap());
}
