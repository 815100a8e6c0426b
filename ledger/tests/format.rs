//! docs/format.md's test vectors, checked against the code: the document is the contract.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::hex;

use mindlog_ledger::{
    Body, Envelope, HASH_DOMAIN, Hash, Identity, PAYLOAD_DOMAIN, PayloadState, SealedEnvelope, Sidecar, Signature,
    SignedEvent, hash_envelope_bytes, render_line,
};

fn vectors() -> Vec<HashMap<String, String>> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/format.md")).expect("docs/format.md");
    let mut out = Vec::new();
    for block in doc.split("```text\n").skip(1) {
        let body = block.split("```").next().unwrap_or_default();
        if !body.starts_with("vector:") {
            continue;
        }
        out.push(body.lines().filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_owned(), v.to_owned())).collect());
    }
    out
}

#[test]
fn document_has_vectors_of_both_formats() {
    let v = vectors();
    assert!(v.iter().filter(|v| v["version"] == "1").count() >= 3);
    assert!(v.iter().filter(|v| v["version"] == "2").count() >= 2);
}

#[test]
fn hash_domain_is_as_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/format.md")).unwrap();
    for domain in [HASH_DOMAIN, PAYLOAD_DOMAIN] {
        let domain_hex: String = domain.iter().map(|b| format!("{b:02x}")).collect();
        assert!(doc.contains(&domain_hex), "format.md must give the domain prefix {domain_hex}");
    }
}

#[test]
fn vectors_match_the_code() {
    for v in vectors() {
        let n = &v["vector"];
        let secret: [u8; 32] = hex(&v["secret"]).try_into().unwrap();
        let identity = Identity::from_secret(&secret);
        assert_eq!(identity.public_key().to_string(), v["author"], "vector {n}: author");
        let version: u8 = v["version"].parse().unwrap();
        let payload = hex(&v["payload"]);
        let (body, state) = if version == 1 {
            (Body::Inline(payload.clone()), PayloadState::Inline)
        } else {
            let salt: [u8; 32] = hex(&v["salt"]).try_into().unwrap();
            // The commitment as the document defines it, computed here without the library.
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"mindlog.payload.v2\0");
            hasher.update(&salt);
            hasher.update(&payload);
            let commitment = Hash(*hasher.finalize().as_bytes());
            assert_eq!(commitment.to_string(), v["commitment"], "vector {n}: commitment");
            assert_eq!(v["size"], payload.len().to_string(), "vector {n}: size");
            let sidecar = Sidecar { salt, bytes: payload.clone(), private: v["private"] == "true" };
            (Body::Committed { size: payload.len() as u64, commitment }, PayloadState::Present(sidecar))
        };
        let envelope = common::vector_envelope(&v, version, identity.public_key(), body, &format!("vector {n}"));
        let bytes = hex(&v["envelope"]);
        let hash: Hash = v["hash"].parse().unwrap();
        assert_eq!(hash_envelope_bytes(&bytes), hash, "vector {n}: hash");
        let event = SealedEnvelope::new(envelope.clone(), state.clone()).unwrap().sign(&identity);
        let signature: Signature = v["signature"].parse().unwrap();
        assert_eq!(event.signature(), signature, "vector {n}: signature");
        let verified =
            SignedEvent { bytes: bytes.clone(), signature, payload: state.clone() }.verify().expect("verifies");
        assert_eq!(verified.hash(), hash);
        assert_eq!(verified.payload(), Some(payload.as_slice()));
        assert_eq!(render_line(&envelope, &bytes, hash, signature, &state), v["jsonl"], "vector {n}: jsonl line");
        if version == 2 {
            for other in [PayloadState::Erased, PayloadState::Withheld] {
                let key = format!("jsonl_{}", other.name());
                assert_eq!(render_line(&envelope, &bytes, hash, signature, &other), v[&key], "vector {n}: {key}");
                // Without its payload the event still verifies.
                SignedEvent { bytes: bytes.clone(), signature, payload: other }.verify().expect("verifies");
            }
            // A changed payload does not match the commitment.
            let PayloadState::Present(mut sidecar) = state else { unreachable!() };
            sidecar.bytes[0] ^= 1;
            let tampered = SignedEvent { bytes: bytes.clone(), signature, payload: PayloadState::Present(sidecar) };
            assert_eq!(tampered.verify(), Err(mindlog_ledger::EventError::CommitmentMismatch), "vector {n}");
        }
    }
}

#[test]
fn non_canonical_encodings_are_refused() {
    let v = &vectors()[0];
    let bytes = hex(&v["envelope"]);
    // seq 1 is the byte 0x01 at offset 33; encode it overlong as 0x81 0x00.
    let mut overlong = bytes[..33].to_vec();
    overlong.extend_from_slice(&[0x81, 0x00]);
    overlong.extend_from_slice(&bytes[34..]);
    assert!(Envelope::decode(&overlong).is_err(), "overlong varint");
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(Envelope::decode(&trailing).is_err(), "trailing byte");
    let mut newer = bytes.clone();
    newer[0] = 3;
    let err = Envelope::decode(&newer).unwrap_err().to_string();
    assert!(err.contains("newer"), "{err}");
    let mut bad_tag = bytes;
    bad_tag[34] = 2; // the prev option tag
    assert!(Envelope::decode(&bad_tag).is_err(), "option tag 2");
}
