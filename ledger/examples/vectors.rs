//! Prints the test vectors of docs/format.md (tests/format.rs checks the document against the code).
//!
//! `cargo run -p mindlog-ledger --example vectors`

#![allow(clippy::unwrap_used)]

use mindlog_ledger::{Envelope, FORMAT_VERSION, Hash, Identity, SealedEnvelope, render_line};

fn main() {
    let secret1: [u8; 32] = std::array::from_fn(|i| i as u8);
    let secret2: [u8; 32] = std::array::from_fn(|i| 0xff - i as u8);
    let id1 = Identity::from_secret(&secret1);
    let id2 = Identity::from_secret(&secret2);
    let v1 = Envelope {
        version: FORMAT_VERSION,
        author: id1.public_key(),
        seq: 1,
        prev: None,
        ts: 1_767_225_600_000_000,
        kind: "note.added/1".into(),
        refs: vec![],
        payload: b"hello".to_vec(),
    };
    let h1 = v1.hash();
    let v2 = Envelope {
        version: FORMAT_VERSION,
        author: id1.public_key(),
        seq: 2,
        prev: Some(h1),
        ts: 1_767_225_601_500_000,
        kind: "persona.traits-changed/1".into(),
        refs: vec![h1],
        payload: (0u8..16).collect(),
    };
    let v3 = Envelope {
        version: FORMAT_VERSION,
        author: id2.public_key(),
        seq: 300,
        prev: Some(Hash([0x11; 32])),
        ts: 1_798_761_599_999_999,
        kind: "rep.attested/2".into(),
        refs: vec![Hash([0x22; 32]), Hash([0x33; 32])],
        payload: (0u8..200).collect(),
    };
    for (n, (secret, id, env)) in
        [(secret1, &id1, v1), (secret1, &id1, v2), (secret2, &id2, v3)].into_iter().enumerate()
    {
        let sealed = SealedEnvelope::new(env.clone()).expect("valid");
        let event = sealed.sign(id);
        println!("vector: {}", n + 1);
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
        println!("payload: {}", hex(&env.payload));
        println!("envelope: {}", hex(event.bytes()));
        println!("hash: {}", event.hash());
        println!("signature: {}", event.signature());
        println!("jsonl: {}", render_line(&env, event.bytes(), event.hash(), event.signature()));
        println!();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
