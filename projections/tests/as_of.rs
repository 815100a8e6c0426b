//! `Projections::persona_as_of`: a persona as it stood at an instant, folded by the real
//! projections from its owner's feed, beside what the present view says.

#![allow(clippy::unwrap_used)]

mod common;

use common::run;
use mindlog_ledger::{Hash, Identity, Ledger};
use mindlog_projections::{ProjectionError, Projections};

const T0: u64 = 1_767_225_600_000_000;
const HOUR: u64 = 3_600_000_000;

#[test]
fn a_persona_as_it_stood_then() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let projections = Projections::new(&ledger);
    let alice = Identity::from_secret(&[1; 32]);
    let bob = Identity::from_secret(&[2; 32]);
    let echo =
        run(&ledger, &projections, &alice, T0, serde_json::json!({"command": "persona.create", "name": "Echo"})).hash;
    // Another author's events in between change nothing of Echo's past.
    run(&ledger, &projections, &bob, T0 + HOUR / 2, serde_json::json!({"command": "persona.create", "name": "Echo"}));
    run(
        &ledger,
        &projections,
        &alice,
        T0 + HOUR,
        serde_json::json!({"command": "persona.traits", "persona": "Echo", "openness": 0.05}),
    );
    run(
        &ledger,
        &projections,
        &alice,
        T0 + 2 * HOUR,
        serde_json::json!({"command": "memory.add", "persona": "Echo", "text": "likes tea", "importance": 0.5}),
    );
    run(
        &ledger,
        &projections,
        &alice,
        T0 + 3 * HOUR,
        serde_json::json!({"command": "persona.traits", "persona": "Echo", "openness": 0.05}),
    );

    let openness = |p: &mindlog_projections::PersonaProfile| p.traits[0].value.to_string();
    let then = projections.persona_as_of(&echo, T0 + HOUR + 1).unwrap().unwrap();
    assert_eq!((openness(&then), then.trait_updates, then.memories.live), ("0.55".into(), 1, 0));
    let later = projections.persona_as_of(&echo, T0 + 2 * HOUR).unwrap().unwrap();
    assert_eq!((openness(&later), later.trait_updates, later.memories.live), ("0.55".into(), 1, 1));
    let now = projections.persona_as_of(&echo, T0 + 10 * HOUR).unwrap().unwrap();
    let present = projections.views().unwrap().profile(&echo, T0 + 10 * HOUR).unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&now).unwrap(),
        serde_json::to_value(&present).unwrap(),
        "as of a time after every event is the present"
    );
    assert_eq!(openness(&now), "0.6");

    match projections.persona_as_of(&echo, T0 - 1) {
        Err(e @ ProjectionError::NotYetCreated { .. }) => {
            assert!(
                e.to_string().starts_with("persona \"Echo\" did not exist yet: it was created at 2026-01-01"),
                "{e}"
            )
        }
        other => panic!("expected NotYetCreated, got {other:?}"),
    }
    assert!(projections.persona_as_of(&Hash([9; 32]), T0).unwrap().is_none());
}

#[test]
fn a_persona_timeline_holds_its_owners_events_about_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let projections = Projections::new(&ledger);
    let alice = Identity::from_secret(&[1; 32]);
    let echo =
        run(&ledger, &projections, &alice, T0, serde_json::json!({"command": "persona.create", "name": "Echo"})).hash;
    run(&ledger, &projections, &alice, T0 + 1, serde_json::json!({"command": "persona.create", "name": "Other"}));
    run(
        &ledger,
        &projections,
        &alice,
        T0 + HOUR,
        serde_json::json!({"command": "reflect", "persona": "Echo", "text": "a quiet day"}),
    );
    run(
        &ledger,
        &projections,
        &alice,
        T0 + HOUR + 1,
        serde_json::json!({"command": "reflect", "persona": "Other", "text": "not about Echo"}),
    );
    let kinds = |since, until| {
        let (_, events) = projections.persona_timeline(&echo, since, until).unwrap().unwrap();
        events.iter().map(|e| format!("{} {}", e.seq, e.kind)).collect::<Vec<_>>()
    };
    assert_eq!(kinds(0, u64::MAX), ["1 persona.created/1", "3 persona.reflected/1"]);
    assert_eq!(kinds(T0 + 1, u64::MAX), ["3 persona.reflected/1"]);
    assert_eq!(kinds(0, T0 + HOUR - 1), ["1 persona.created/1"]);
    assert!(projections.persona_timeline(&Hash([9; 32]), 0, u64::MAX).unwrap().is_none());
}
