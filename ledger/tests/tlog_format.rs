//! docs/format.md §10's test vectors (a feed's Merkle tree, a signed checkpoint, a tlog-proof),
//! checked against the code: the document is the contract. Every value in those blocks is
//! compared with what the code makes, so a changed byte in the document fails here.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::hex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mindlog_ledger::note::{Checkpoint, Note, NoteError, NoteVerifier, TlogProof, key_id, sign_note};
use mindlog_ledger::tlog::{self, TreeHash};
use mindlog_ledger::{
    Body, Envelope, Hash, Identity, Ledger, PayloadState, SealedEnvelope, Sidecar, Signature, SignedEvent,
    VerifiedEvent, hash_envelope_bytes, payload_commitment,
};
use sha2::{Digest as _, Sha256};

type Block = HashMap<String, String>;

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/format.md")).expect("docs/format.md")
}

/// The contents of the ```text blocks of `text`, each exactly as between its fences.
fn text_blocks(text: &str) -> Vec<String> {
    text.split("```text\n").skip(1).map(|b| b.split("```").next().unwrap_or_default().to_owned()).collect()
}

/// The `key: value` lines of a block; every line must be one, and no key may repeat.
fn pairs(block: &str) -> Block {
    let mut out = Block::new();
    for line in block.lines() {
        let (k, v) = line.split_once(": ").unwrap_or_else(|| panic!("not a `key: value` line: {line:?}"));
        assert!(out.insert(k.to_owned(), v.to_owned()).is_none(), "key {k} twice in a block");
    }
    out
}

/// A block's keys are exactly `keys`: none missing, none unchecked.
fn has_keys(block: &Block, keys: &[String], what: &str) {
    let mut got: Vec<&str> = block.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = keys.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{what}: its keys");
}

fn strs(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

fn hex32(text: &str) -> [u8; 32] {
    hex(text).try_into().expect("32 bytes")
}

fn hex_list(hashes: &[TreeHash]) -> String {
    hashes.iter().map(hex::encode).collect::<Vec<_>>().join(",")
}

/// §10's test vectors, read from the document.
struct Vectors {
    /// The `tlog_vector: event` blocks: seqs 5 to 7 of the feed.
    events: Vec<Block>,
    tree: Block,
    checkpoint: Block,
    /// The signed checkpoint, verbatim.
    note: String,
    /// The tlog-proof@v1 file, verbatim.
    proof: String,
    /// §8's vectors 1, 2, 4 and 5: seqs 1 to 4 of the same feed.
    section8: Vec<Block>,
}

fn vectors() -> Vectors {
    let doc = doc();
    let start = doc.find("\n## 10. ").expect("format.md has a §10");
    let section = &doc[start..];
    // Up to the next section, if one is ever added after §10.
    let section = section[1..].find("\n## ").map_or(section, |end| &section[..end + 1]);
    let at = section.find("\n### Test vectors\n").expect("§10 has a `### Test vectors` subsection");
    let (mut events, mut tree, mut checkpoint, mut note, mut proof) = (Vec::new(), None, None, None, None);
    for block in text_blocks(&section[at..]) {
        if block.starts_with("tlog_vector: ") {
            let b = pairs(&block);
            match b["tlog_vector"].as_str() {
                "event" => events.push(b),
                "tree" => assert!(tree.replace(b).is_none(), "one tree block"),
                "checkpoint" => assert!(checkpoint.replace(b).is_none(), "one checkpoint block"),
                other => panic!("unknown block tlog_vector: {other}"),
            }
        } else if block.starts_with("c2sp.org/tlog-proof@v1\n") {
            assert!(proof.replace(block).is_none(), "one proof");
        } else if block.starts_with(tlog::FEED_ORIGIN_PREFIX) {
            assert!(note.replace(block).is_none(), "one checkpoint note");
        } else {
            panic!("a block §10's test vectors do not explain: {block:?}");
        }
    }
    let all8: Vec<Block> = text_blocks(&doc).iter().filter(|b| b.starts_with("vector: ")).map(|b| pairs(b)).collect();
    let section8 = ["1", "2", "4", "5"]
        .iter()
        .map(|n| all8.iter().find(|v| v["vector"] == *n).unwrap_or_else(|| panic!("§8 has vector {n}")).clone())
        .collect();
    assert_eq!(events.len(), 3, "three event blocks (seqs 5 to 7)");
    Vectors {
        events,
        tree: tree.expect("a tree block"),
        checkpoint: checkpoint.expect("a checkpoint block"),
        note: note.expect("the checkpoint's note"),
        proof: proof.expect("the proof"),
        section8,
    }
}

/// Builds and signs the event a block describes (§8's keys), checking every value on the way.
fn event_of(v: &Block, what: &str) -> VerifiedEvent {
    let identity = Identity::from_secret(&hex32(&v["secret"]));
    assert_eq!(identity.public_key().to_string(), v["author"], "{what}: author");
    let version: u8 = v["version"].parse().unwrap();
    let payload = hex(&v["payload"]);
    let (body, state) = match version {
        1 => (Body::Inline(payload.clone()), PayloadState::Inline),
        2 => {
            let salt = hex32(&v["salt"]);
            let commitment = payload_commitment(&salt, &payload);
            assert_eq!(commitment.to_string(), v["commitment"], "{what}: commitment");
            assert_eq!(v["size"], payload.len().to_string(), "{what}: size");
            // Whether a payload is private enters no hash: §10's blocks leave it out.
            let private = v.get("private").map(String::as_str);
            assert!(matches!(private, None | Some("true" | "false")), "{what}: private");
            let sidecar = Sidecar { salt, bytes: payload.clone(), private: private == Some("true") };
            (Body::Committed { size: payload.len() as u64, commitment }, PayloadState::Present(sidecar))
        }
        other => panic!("{what}: version {other}"),
    };
    let envelope = common::vector_envelope(v, version, identity.public_key(), body, what);
    let bytes = hex(&v["envelope"]);
    let event = SealedEnvelope::new(envelope, state.clone()).unwrap().sign(&identity);
    assert_eq!(event.hash().to_string(), v["hash"], "{what}: hash");
    assert_eq!(event.signature().to_string(), v["signature"], "{what}: signature");
    let signature: Signature = v["signature"].parse().unwrap();
    let verified = SignedEvent { bytes, signature, payload: state }.verify().expect("verifies");
    assert_eq!(verified.hash(), event.hash());
    event
}

/// The feed's 7 events, seq 1 to 7: §8's vectors 1, 2, 4, 5, then §10's event blocks.
fn feed(v: &Vectors) -> Vec<VerifiedEvent> {
    let mut out: Vec<VerifiedEvent> = Vec::new();
    let blocks = v.section8.iter().map(|b| (b, format!("§8 vector {}", b["vector"])));
    let blocks = blocks.chain(v.events.iter().map(|b| (b, format!("§10 event {}", b["seq"]))));
    for (b, what) in blocks {
        let event = event_of(b, &what);
        assert_eq!(event.seq(), out.len() as u64 + 1, "{what}: seq");
        assert_eq!(event.envelope().prev, out.last().map(VerifiedEvent::hash), "{what}: prev");
        out.push(event);
    }
    out
}

fn leaves(events: &[VerifiedEvent]) -> Vec<TreeHash> {
    events.iter().map(|e| tlog::leaf_hash(&e.hash().0)).collect()
}

#[test]
fn event_blocks_continue_section_8s_feed() {
    let v = vectors();
    let keys = strs(&[
        "tlog_vector",
        "version",
        "secret",
        "author",
        "seq",
        "prev",
        "ts",
        "kind",
        "refs",
        "payload",
        "salt",
        "size",
        "commitment",
        "envelope",
        "hash",
        "signature",
    ]);
    for (i, b) in v.events.iter().enumerate() {
        has_keys(b, &keys, &format!("event block {}", i + 1));
        assert_eq!(b["seq"], (i + 5).to_string(), "event blocks are seqs 5, 6, 7 in order");
    }
    let events = feed(&v);
    assert_eq!(events.len(), 7);
    // A store takes the whole feed (erasure of seq 3's payload by seq 4 included) and finds it sound.
    let ledger = Ledger::in_memory().unwrap();
    ledger.ingest(&events).unwrap();
    let head = ledger.head(&events[0].author()).expect("the feed is held");
    assert_eq!((head.seq, head.hash), (7, events[6].hash()));
    assert!(ledger.verify(&|_| {}).unwrap().ok, "the store verifies");
}

#[test]
fn tree_matches_the_code() {
    let v = vectors();
    let t = &v.tree;
    let mut keys = strs(&["tlog_vector", "author", "origin", "inclusion_index_2_size_7", "consistency_size_3_to_7"]);
    keys.extend((1..=7).flat_map(|s| [format!("seq_{s}_event_hash"), format!("seq_{s}_leaf_hash")]));
    keys.extend((0..=7).flat_map(|n| [format!("size_{n}_root"), format!("size_{n}_root_base64")]));
    has_keys(t, &keys, "tree block");
    let events = feed(&v);
    let author = events[0].author();
    assert_eq!(t["author"], author.to_string(), "author");
    assert_eq!(t["origin"], tlog::feed_origin(&author), "origin");
    assert_eq!(t["origin"], format!("mindlog.local/feed/{author}"), "origin, as §10 defines it");
    let leaves = leaves(&events);
    for (i, (event, leaf)) in events.iter().zip(&leaves).enumerate() {
        let s = i + 1;
        assert_eq!(t[&format!("seq_{s}_event_hash")], event.hash().to_string(), "seq {s}: event hash");
        assert_eq!(hash_envelope_bytes(event.bytes()), event.hash());
        // The leaf hash as RFC 9162 defines it, computed here without the library.
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(event.hash().0);
        assert_eq!(<[u8; 32]>::from(h.finalize()), *leaf, "seq {s}: leaf hash");
        assert_eq!(t[&format!("seq_{s}_leaf_hash")], hex::encode(leaf), "seq {s}: leaf hash");
    }
    for n in 0..=7 {
        let root = tlog::root(&leaves[..n]);
        assert_eq!(t[&format!("size_{n}_root")], hex::encode(root), "size {n}: root");
        assert_eq!(t[&format!("size_{n}_root_base64")], B64.encode(root), "size {n}: root in base64");
    }
    assert_eq!(tlog::empty_root(), hex32(&t["size_0_root"]), "the empty tree's root");
    let root = |n: usize| hex32(&t[&format!("size_{n}_root")]);

    let inclusion = tlog::inclusion_proof(&leaves, 2).unwrap();
    assert_eq!(t["inclusion_index_2_size_7"], hex_list(&inclusion), "inclusion proof of leaf index 2");
    let documented: Vec<Vec<u8>> = t["inclusion_index_2_size_7"].split(',').map(hex).collect();
    tlog::verify_inclusion(2, 7, &leaves[2], &documented, &root(7)).unwrap();
    assert!(tlog::verify_inclusion(3, 7, &leaves[2], &documented, &root(7)).is_err(), "not at index 3");
    assert!(tlog::verify_inclusion(2, 7, &leaves[3], &documented, &root(7)).is_err(), "not another leaf");

    let consistency = tlog::consistency_proof(&leaves, 3).unwrap();
    assert_eq!(t["consistency_size_3_to_7"], hex_list(&consistency), "consistency proof from size 3 to 7");
    let documented: Vec<Vec<u8>> = t["consistency_size_3_to_7"].split(',').map(hex).collect();
    tlog::verify_consistency(3, 7, &documented, &root(3), &root(7)).unwrap();
    assert!(tlog::verify_consistency(2, 7, &documented, &root(2), &root(7)).is_err(), "not from size 2");
    assert!(tlog::verify_consistency(3, 7, &documented, &root(2), &root(7)).is_err(), "not another old root");
}

#[test]
fn checkpoint_matches_the_code() {
    let v = vectors();
    let c = &v.checkpoint;
    let keys = strs(&[
        "tlog_vector",
        "secret",
        "origin",
        "size",
        "root_base64",
        "key_name",
        "key_id",
        "verifier_key",
        "signature",
    ]);
    has_keys(c, &keys, "checkpoint block");
    let events = feed(&v);
    let identity = Identity::from_secret(&hex32(&c["secret"]));
    let author = identity.public_key();
    assert_eq!(author, events[0].author(), "the checkpoint is signed by the feed's author");
    let origin = tlog::feed_origin(&author);
    assert_eq!((&c["origin"], &c["key_name"]), (&origin, &origin), "origin and key name");
    assert_eq!(c["size"], "7");
    let root = tlog::root(&leaves(&events));
    assert_eq!(c["root_base64"], B64.encode(root), "root");
    assert_eq!(c["root_base64"], v.tree["size_7_root_base64"], "the tree block's root of size 7");

    // The key ID as C2SP signed-note defines it, computed here without the library.
    let mut h = Sha256::new();
    h.update(origin.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(author.0);
    let id = &h.finalize()[..4];
    assert_eq!(c["key_id"], hex::encode(id), "key ID");
    assert_eq!(key_id(&origin, &identity.verifying_key()), id);
    let mut typed = vec![0x01];
    typed.extend_from_slice(&author.0);
    assert_eq!(c["verifier_key"], format!("{origin}+{}+{}", hex::encode(id), B64.encode(typed)), "verifier key");
    let verifier = NoteVerifier::for_feed(&author).unwrap();
    assert_eq!(c["verifier_key"], verifier.to_string(), "verifier key, as the library writes it");
    assert_eq!(NoteVerifier::parse(&c["verifier_key"]).unwrap(), verifier);

    // Signed again: the same bytes (Ed25519 is deterministic).
    let checkpoint = Checkpoint { origin: origin.clone(), size: 7, root, extensions: vec![] };
    let text = format!("{origin}\n7\n{}\n", c["root_base64"]);
    assert_eq!(checkpoint.text(), text, "the checkpoint's text");
    let note = sign_note(&text, &origin, &identity).unwrap();
    assert_eq!(c["signature"], hex::encode(&note.signatures[0].signature), "signature");
    assert_eq!(String::from_utf8(note.to_bytes()).unwrap(), v.note, "the signed checkpoint, byte for byte");
    let mut raw = id.to_vec();
    raw.extend_from_slice(&hex(&c["signature"]));
    assert_eq!(v.note, format!("{text}\n\u{2014} {origin} {}\n", B64.encode(raw)), "the note's layout");

    // Checked with the documented verifier key, as `mindlog check` does.
    let key = NoteVerifier::parse(&c["verifier_key"]).unwrap();
    let parsed = Note::parse(v.note.as_bytes()).unwrap();
    assert_eq!(parsed.verify(std::slice::from_ref(&key)).unwrap(), std::slice::from_ref(&origin));
    assert_eq!(Checkpoint::parse(&parsed.text).unwrap(), checkpoint);
    assert_eq!(tlog::feed_author(&Checkpoint::parse(&parsed.text).unwrap().origin), Some(author));
    let bent = v.note.replacen("\n7\n", "\n6\n", 1);
    assert_eq!(Note::parse(bent.as_bytes()).unwrap().verify(&[key]), Err(NoteError::BadSignature(origin)));
}

#[test]
fn proof_matches_the_code() {
    let v = vectors();
    let events = feed(&v);
    let leaves = leaves(&events);
    let seq3 = &events[2];
    // Made again, as `mindlog prove` makes it: seq 3's envelope, index 2, its proof in the tree of
    // size 7, the checkpoint verbatim.
    let made = TlogProof {
        extra: Some(seq3.bytes().to_vec()),
        index: 2,
        hashes: tlog::inclusion_proof(&leaves, 2).unwrap(),
        checkpoint: v.note.as_bytes().to_vec(),
    };
    assert_eq!(String::from_utf8(made.to_bytes()).unwrap(), v.proof, "the proof, byte for byte");
    let lines: Vec<&str> = v.proof.lines().collect();
    assert_eq!(lines[1], format!("extra {}", B64.encode(hex(&v.section8[2]["envelope"]))), "extra: §8 vector 4");

    // Checked as `mindlog check` does, with the documented verifier key only.
    let proof = TlogProof::parse(v.proof.as_bytes()).unwrap();
    assert_eq!(proof, made);
    let key = NoteVerifier::parse(&v.checkpoint["verifier_key"]).unwrap();
    let note = Note::parse(&proof.checkpoint).unwrap();
    note.verify(std::slice::from_ref(&key)).unwrap();
    let checkpoint = Checkpoint::parse(&note.text).unwrap();
    assert_eq!(checkpoint.origin, key.name);
    let signed = proof.extra.as_deref().unwrap();
    let envelope = Envelope::decode(signed).unwrap();
    let hash: Hash = hash_envelope_bytes(signed);
    assert_eq!(hash.to_string(), v.tree["seq_3_event_hash"]);
    assert_eq!(tlog::feed_origin(&envelope.author), checkpoint.origin, "the event is of the checkpoint's feed");
    assert_eq!(envelope.seq - 1, proof.index, "the proof's index is seq − 1");
    let leaf = tlog::leaf_hash(&hash.0);
    tlog::verify_inclusion(proof.index, checkpoint.size, &leaf, &proof.hashes, &checkpoint.root).unwrap();
    // Any other index, or any hash bent, and it fails.
    for index in [1, 3] {
        assert!(tlog::verify_inclusion(index, checkpoint.size, &leaf, &proof.hashes, &checkpoint.root).is_err());
    }
    for at in 0..proof.hashes.len() {
        let mut bent = proof.hashes.clone();
        bent[at][0] ^= 1;
        assert!(tlog::verify_inclusion(proof.index, checkpoint.size, &leaf, &bent, &checkpoint.root).is_err());
    }
}
