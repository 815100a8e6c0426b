//! `decide` against an in-memory state: every rejection the persona domain promises, through
//! one `check` helper, and the events of the happy path.

#![allow(clippy::unwrap_used)]

use mindlog_commands::{Command, DecideError, Event, Instant, MemState, Outcome, Role, State, Units, decide};
use mindlog_ledger::{Hash, PublicKey};

const NOW: u64 = 1_767_225_600_000_000;
const ALICE: PublicKey = PublicKey([1; 32]);
const BOB: PublicKey = PublicKey([2; 32]);

/// A world that decides commands and folds their events, with made-up event hashes.
struct World {
    state: MemState,
    counter: u64,
}

impl World {
    fn new() -> World {
        World { state: MemState::default(), counter: 0 }
    }

    /// Decides and applies; returns the events' hashes, or the rejection's message.
    fn run(&mut self, author: PublicKey, command: Command) -> Result<Vec<Hash>, String> {
        let events = decide(&self.state, &author, NOW, &command).map_err(|e| match e {
            DecideError::Rejected(r) => r.to_string(),
            DecideError::State(e) => panic!("state error {e}"),
        })?;
        let mut hashes = Vec::new();
        for event in events {
            // Round-trip through the payload encoding, as the store would.
            let decoded = Event::decode(event.kind(), &event.encode()).unwrap().unwrap();
            self.counter += 1;
            let hash = Hash(*blake3_like(self.counter));
            self.state.apply(&author, hash, &decoded);
            hashes.push(hash);
        }
        Ok(hashes)
    }

    /// Checks that `command` is rejected with a message containing `expected`.
    fn check_rejected(&mut self, author: PublicKey, command: Command, expected: &str) {
        match self.run(author, command.clone()) {
            Ok(_) => panic!("{} was accepted; expected rejection containing {expected:?}", command.name()),
            Err(message) => {
                assert!(message.contains(expected), "{}: {message:?} does not contain {expected:?}", command.name());
                assert_eq!(message.lines().count(), 1, "one line: {message}");
            }
        }
    }
}

fn blake3_like(n: u64) -> Box<[u8; 32]> {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&n.to_be_bytes());
    out[8] = 0xab;
    Box::new(out)
}

fn create(name: &str) -> Command {
    Command::PersonaCreate { name: name.into(), description: "a curious research assistant".into() }
}

fn traits(persona: &str, openness: Option<&str>, neuroticism: Option<&str>) -> Command {
    Command::PersonaTraits {
        persona: persona.into(),
        openness: openness.map(|v| v.parse().unwrap()),
        conscientiousness: None,
        extraversion: None,
        agreeableness: None,
        neuroticism: neuroticism.map(|v| v.parse().unwrap()),
    }
}

#[test]
fn every_rejection_of_the_persona_domain() {
    let mut w = World::new();
    let echo = w.run(ALICE, create("Echo")).unwrap()[0];
    w.check_rejected(ALICE, create("Echo"), "already have a persona named \"Echo\"");
    w.check_rejected(ALICE, traits("Nobody", Some("0.01"), None), "unknown persona \"Nobody\"");
    w.check_rejected(ALICE, traits("Echo", Some("0.06"), None), "openness delta 0.06 is too large");
    w.check_rejected(ALICE, traits("Echo", None, Some("-0.051")), "neuroticism delta -0.051 is too large");
    w.check_rejected(ALICE, traits("Echo", None, None), "no trait change");
    for _ in 0..10 {
        w.run(ALICE, traits("Echo", Some("0.05"), None)).unwrap();
    }
    w.check_rejected(ALICE, traits("Echo", Some("0.000001"), None), "openness would become 1.000001, outside [0, 1]");

    // Commitments
    let cid = w
        .run(
            ALICE,
            Command::CommitmentOpen { persona: "Echo".into(), title: "write the weekly report".into(), due: None },
        )
        .unwrap()[0];
    let close = |c: &Hash| Command::CommitmentClose {
        persona: "Echo".into(),
        commitment: c.to_string(),
        outcome: Outcome::Done,
    };
    w.run(ALICE, close(&cid)).unwrap();
    w.check_rejected(ALICE, close(&cid), "is closed, not open");
    w.check_rejected(
        ALICE,
        Command::CommitmentClose { persona: "Echo".into(), commitment: "ffff".into(), outcome: Outcome::Done },
        "unknown commitment",
    );
    w.check_rejected(
        ALICE,
        Command::CommitmentOpen { persona: "Echo".into(), title: "late".into(), due: Some(Instant(NOW - 1)) },
        "already past",
    );

    // Memory
    w.check_rejected(ALICE, Command::MemoryForget { persona: "Echo".into(), memory: "abcd".into() }, "unknown memory");
    let mid = w
        .run(
            ALICE,
            Command::MemoryAdd {
                persona: "Echo".into(),
                text: "prefers short answers".into(),
                importance: "0.8".parse().unwrap(),
                tags: vec!["style".into()],
            },
        )
        .unwrap()[0];
    w.run(ALICE, Command::MemoryForget { persona: "Echo".into(), memory: mid.to_string() }).unwrap();
    w.check_rejected(
        ALICE,
        Command::MemoryForget { persona: "Echo".into(), memory: mid.to_string() },
        "unknown memory",
    );
    w.check_rejected(
        ALICE,
        Command::MemoryAdd {
            persona: "Echo".into(),
            text: "x".into(),
            importance: "1.5".parse().unwrap(),
            tags: vec![],
        },
        "importance 1.5 is outside [0, 1]",
    );
    let emotion = |v: &str, a: &str| Command::Emotion {
        persona: "Echo".into(),
        valence: v.parse().unwrap(),
        arousal: a.parse().unwrap(),
        label: None,
    };
    w.check_rejected(ALICE, emotion("-1.2", "0.2"), "valence -1.2 is outside [-1, 1]");
    w.check_rejected(ALICE, emotion("0.4", "-0.1"), "arousal -0.1 is outside [0, 1]");
    w.run(ALICE, emotion("0.4", "0.2")).unwrap();

    // Ownership: Bob cannot change Alice's persona, but may fork it (by id).
    w.check_rejected(BOB, traits(&echo.to_string(), Some("0.01"), None), "only its owner can change it");
    w.check_rejected(
        BOB,
        Command::PersonaFork { persona: "Echo".into(), name: "Mine".into(), license: None },
        "unknown persona \"Echo\"",
    );
    w.check_rejected(
        BOB,
        Command::PersonaFork { persona: "0000dead".into(), name: "Mine".into(), license: None },
        "unknown persona",
    );
    w.run(
        BOB,
        Command::PersonaFork {
            persona: echo.to_string()[..12].into(),
            name: "Echo2".into(),
            license: Some("CC-BY-4.0".into()),
        },
    )
    .unwrap();

    // Retirement ends all change.
    w.run(ALICE, Command::PersonaRetire { persona: "Echo".into(), successor: None, reason: Some("done".into()) })
        .unwrap();
    w.check_rejected(ALICE, traits("Echo", Some("-0.01"), None), "\"Echo\" is retired");
    w.check_rejected(
        ALICE,
        Command::Message { persona: "Echo".into(), role: Role::User, text: "hello".into() },
        "is retired",
    );
    w.check_rejected(
        ALICE,
        Command::PersonaRetire { persona: "Echo".into(), successor: None, reason: None },
        "is retired",
    );
}

#[test]
fn ambiguous_prefixes_are_refused() {
    let mut w = World::new();
    // Made-up hashes all start with the same bytes, so a short prefix matches both.
    w.run(ALICE, create("A")).unwrap();
    w.run(ALICE, create("B")).unwrap();
    w.check_rejected(ALICE, traits("00000000", Some("0.01"), None), "ambiguous");
}

#[test]
fn fork_carries_the_parents_traits_and_sweep_expires_overdue_commitments() {
    let mut w = World::new();
    w.run(ALICE, create("Echo")).unwrap();
    w.run(ALICE, traits("Echo", Some("0.05"), Some("-0.02"))).unwrap();
    let echo = w.state.persona_named(&ALICE, "Echo").unwrap().unwrap();
    let events = decide(
        &w.state,
        &BOB,
        NOW,
        &Command::PersonaFork { persona: echo.to_string(), name: "Fork".into(), license: None },
    )
    .unwrap();
    let Event::PersonaForked(fork) = &events[0] else { panic!("{events:?}") };
    assert_eq!(fork.traits.openness, Units(550_000));
    assert_eq!(fork.traits.neuroticism, Units(480_000));
    assert_eq!(events[0].refs(), vec![echo]);

    // A commitment due soon, then a sweep after it is due.
    let due = Instant(NOW + 10);
    w.run(ALICE, Command::CommitmentOpen { persona: "Echo".into(), title: "soon".into(), due: Some(due) }).unwrap();
    let none = decide(&w.state, &ALICE, NOW, &Command::CommitmentSweep {}).unwrap();
    assert!(none.is_empty(), "nothing is overdue yet");
    let later = decide(&w.state, &ALICE, NOW + 11, &Command::CommitmentSweep {}).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].kind(), "commitment.expired/1");
    let others = decide(&w.state, &BOB, NOW + 11, &Command::CommitmentSweep {}).unwrap();
    assert!(others.is_empty(), "a sweep touches only the author's commitments");
}

#[test]
fn commands_have_a_json_form() {
    let json = r#"{"command":"persona.traits","persona":"Echo","openness":0.05,"neuroticism":-0.02}"#;
    let command: Command = serde_json::from_str(json).unwrap();
    assert_eq!(command, traits("Echo", Some("0.05"), Some("-0.02")));
    let open: Command =
        serde_json::from_str(r#"{"command":"commitment.open","persona":"Echo","title":"t","due":"2026-12-01"}"#)
            .unwrap();
    assert!(matches!(open, Command::CommitmentOpen { due: Some(_), .. }));
    let bad = serde_json::from_str::<Command>(r#"{"command":"persona.create","name":"E","colour":"red"}"#);
    assert!(bad.unwrap_err().to_string().contains("unknown field"));
}
