//! Hostile input on stable Rust: every payload decoder and the command JSON parser never panic,
//! on arbitrary input and on valid input mutated. CI runs a bounded number of cases on a fixed
//! seed; a long run sets more and another seed (docs/reliability.md, "Hostile input files"):
//! `PROPTEST_CASES=200000 MINDLOG_FUZZ_SEED=7 cargo test --release -p mindlog-commands --test fuzz`.

#![allow(clippy::unwrap_used)]

use mindlog_commands::{Command, Event};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn config(default_cases: u32) -> ProptestConfig {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    ProptestConfig {
        cases: env("PROPTEST_CASES").map_or(default_cases, |c| c as u32),
        rng_seed: RngSeed::Fixed(env("MINDLOG_FUZZ_SEED").unwrap_or(20261130)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The JSON form of every command, from docs/commands.md (one example per command there; the
/// acknowledgements shown beside them carry `"ok"`).
fn documented_commands() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/commands.md")).unwrap();
    doc.lines().filter(|l| l.starts_with(r#"{"command""#) && !l.contains(r#""ok":"#)).map(str::to_owned).collect()
}

/// Bytes that look like postcard: mostly small numbers (lengths, varints, tags), some anything.
fn postcard_like() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![3 => 0u8..8, 1 => any::<u8>(), 1 => 0x20u8..0x7f], 0..200)
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn every_payload_decoder_refuses_or_decodes_never_panics(kind in 0usize..1000, bytes in postcard_like()) {
        let kind = Event::KINDS[kind % Event::KINDS.len()];
        if let Ok(Some(event)) = Event::decode(kind, &bytes) {
            // Whatever decodes can be checked, listed and encoded again.
            let _ = event.check();
            let _ = event.refs();
            let again = Event::decode(kind, &event.encode()).unwrap();
            prop_assert_eq!(again, Some(event));
        }
    }

    #[test]
    fn a_mutated_command_line_parses_or_is_refused_never_panics(
        which in 0usize..1000,
        edits in prop::collection::vec((any::<usize>(), any::<char>(), 0u8..3), 1..4),
    ) {
        let commands = documented_commands();
        let mut text: Vec<char> = commands[which % commands.len()].chars().collect();
        for (at, c, op) in edits {
            let i = at % (text.len() + 1);
            match op {
                0 => text.insert(i, c),
                1 if i < text.len() => { text.remove(i); }
                _ if i < text.len() => text[i] = c,
                _ => {}
            }
        }
        let text: String = text.into_iter().collect();
        if let Ok(command) = serde_json::from_str::<Command>(&text) {
            let json = serde_json::to_string(&command).unwrap();
            prop_assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), command);
        }
    }
}

#[test]
fn every_documented_command_parses() {
    // The mutation test starts from these: it can find something only if they are valid.
    let commands = documented_commands();
    assert!(commands.len() >= 20, "{} commands found in docs/commands.md", commands.len());
    for line in commands {
        serde_json::from_str::<Command>(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}
