//! Prints the test vectors of docs/format.md (tests/format.rs checks the document against the code).
//!
//! `cargo run -p mindlog-ledger --example vectors`

#![allow(clippy::unwrap_used)]

use mindlog_ledger::{Body, Envelope, Hash, Identity, PayloadState, SealedEnvelope, Sidecar, render_line};

fn main() {
    let secret1: [u8; 32] = std::array::from_fn(|i| i as u8);
    let secret2: [u8; 32] = std::array::from_fn(|i| 0xff - i as u8);
    let id1 = Identity::from_secret(&secret1);
    let id2 = Identity::from_secret(&secret2);
    let v1 = Envelope {
        version: 1,
        author: id1.public_key(),
        seq: 1,
        prev: None,
        ts: 1_767_225_600_000_000,
        kind: "note.added/1".into(),
        refs: vec![],
        body: Body::Inline(b"hello".to_vec()),
    };
    let h1 = v1.hash();
    let v2 = Envelope {
        version: 1,
        author: id1.public_key(),
        seq: 2,
        prev: Some(h1),
        ts: 1_767_225_601_500_000,
        kind: "persona.traits-changed/1".into(),
        refs: vec![h1],
        body: Body::Inline((0u8..16).collect()),
    };
    let v3 = Envelope {
        version: 1,
        author: id2.public_key(),
        seq: 300,
        prev: Some(Hash([0x11; 32])),
        ts: 1_798_761_599_999_999,
        kind: "rep.attested/2".into(),
        refs: vec![Hash([0x22; 32]), Hash([0x33; 32])],
        body: Body::Inline((0u8..200).collect()),
    };
    let h2 = v2.hash();
    // Format 2: the envelope commits to the payload, which travels beside it with its salt.
    let memory = Sidecar { salt: [0x42; 32], bytes: b"PIN 1234".to_vec(), private: true };
    let v4 = Envelope {
        version: 2,
        author: id1.public_key(),
        seq: 3,
        prev: Some(h2),
        ts: 1_767_225_602_000_000,
        kind: "memory.added/1".into(),
        refs: vec![],
        body: memory.body(),
    };
    let h4 = v4.hash();
    let reason = Sidecar { salt: [0x43; 32], bytes: b"asked to forget".to_vec(), private: false };
    let v5 = Envelope {
        version: 2,
        author: id1.public_key(),
        seq: 4,
        prev: Some(h4),
        ts: 1_767_225_603_000_000,
        kind: "ledger.erased/1".into(),
        refs: vec![h4],
        body: reason.body(),
    };
    // Long payloads, so that blake3's tree (inputs over 1024 bytes) is exercised by the hash of a
    // format-1 envelope and by a format-2 commitment.
    let h3 = v3.hash();
    let v6 = Envelope {
        version: 1,
        author: id2.public_key(),
        seq: 301,
        prev: Some(h3),
        ts: 1_798_761_600_000_000,
        kind: "note.added/1".into(),
        refs: vec![],
        body: Body::Inline((0..3000u32).map(|i| (i % 251) as u8).collect()),
    };
    let h6 = v6.hash();
    let long = Sidecar { salt: [0x44; 32], bytes: (0..5000u32).map(|i| (i % 253) as u8).collect(), private: false };
    let v7 = Envelope {
        version: 2,
        author: id2.public_key(),
        seq: 302,
        prev: Some(h6),
        ts: 1_798_761_600_000_001,
        kind: "note.added/1".into(),
        refs: vec![h6],
        body: long.body(),
    };
    let inline = || PayloadState::Inline;
    let vectors = [
        (secret1, &id1, v1, inline()),
        (secret1, &id1, v2, inline()),
        (secret2, &id2, v3, inline()),
        (secret1, &id1, v4, PayloadState::Present(memory)),
        (secret1, &id1, v5, PayloadState::Present(reason)),
        (secret2, &id2, v6, inline()),
        (secret2, &id2, v7, PayloadState::Present(long)),
    ];
    for (n, (secret, id, env, payload)) in vectors.into_iter().enumerate() {
        let sealed = SealedEnvelope::new(env.clone(), payload.clone()).expect("valid");
        let event = sealed.sign(id);
        println!("vector: {}", n + 1);
        println!("version: {}", env.version);
        println!("secret: {}", hex(&secret));
        println!("author: {}", env.author);
        println!("seq: {}", env.seq);
        println!("prev: {}", env.prev.map_or("none".into(), |h| h.to_string()));
        println!("ts: {}", env.ts);
        println!("kind: {}", env.kind);
        println!(
            "refs: {}",
            if env.refs.is_empty() {
                "none".into()
            } else {
                env.refs.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(",")
            }
        );
        match (&env.body, &payload) {
            (Body::Inline(p), _) => println!("payload: {}", hex(p)),
            (Body::Committed { size, commitment }, PayloadState::Present(s)) => {
                println!("payload: {}", hex(&s.bytes));
                println!("salt: {}", hex(&s.salt));
                println!("private: {}", s.private);
                println!("size: {size}");
                println!("commitment: {commitment}");
            }
            _ => unreachable!("every vector's payload is present"),
        }
        println!("envelope: {}", hex(event.bytes()));
        println!("hash: {}", event.hash());
        println!("signature: {}", event.signature());
        println!("jsonl: {}", render_line(&env, event.bytes(), event.hash(), event.signature(), &payload));
        if env.version == 2 {
            for state in [PayloadState::Erased, PayloadState::Withheld] {
                let line = render_line(&env, event.bytes(), event.hash(), event.signature(), &state);
                println!("jsonl_{}: {line}", state.name());
            }
        }
        println!();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
