//! Signed checkpoints and offline proofs of a feed: `sign`, `prove` and `check`, end to end, and
//! the checks a proof must fail.

#![allow(clippy::unwrap_used)]

mod common;

use common::{json, mindlog, ok, ok_trimmed};

#[test]
fn a_checkpoint_and_a_proof_check_offline_and_tampering_fails() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["init"]);
    ok(home, &["identity", "new", "other"]);
    ok(home, &["persona", "create", "Echo"]);
    let mut hashes = Vec::new();
    for i in 0..6 {
        let written =
            json(&ok(home, &["--json", "memory", "add", "Echo", &format!("memory {i}"), "--importance", "0.5"]));
        hashes.push(written[0]["hash"].as_str().unwrap().to_owned());
    }
    let ids = json(&ok(home, &["--json", "identity", "list"]));
    let (key, other_key) = (ids[0]["verifier"].as_str().unwrap(), ids[1]["verifier"].as_str().unwrap());
    assert!(key.starts_with(&format!("mindlog.local/feed/{}+", ids[0]["public_key"].as_str().unwrap())), "{key}");

    // A checkpoint: size 7 (the persona and six memories), checked with the feed's key only.
    let checkpoint = home.join("feed.checkpoint");
    ok(home, &["sign", "-o", checkpoint.to_str().unwrap()]);
    let checked = json(&ok(home, &["--json", "check", checkpoint.to_str().unwrap(), "--key", key]));
    assert_eq!((checked["ok"].as_bool(), checked["size"].as_u64()), (Some(true), Some(7)), "{checked}");
    let wrong_key = mindlog(home, &["check", checkpoint.to_str().unwrap(), "--key", other_key]);
    assert_eq!(wrong_key.status.code(), Some(1));
    let text = std::fs::read_to_string(&checkpoint).unwrap();
    std::fs::write(&checkpoint, text.replacen("\n7\n", "\n8\n", 1)).unwrap();
    let out = mindlog(home, &["check", checkpoint.to_str().unwrap(), "--key", key]);
    assert_eq!(out.status.code(), Some(1), "a changed size breaks the signature");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FAILED: the signature"), "{out:?}");

    // The store agrees with a checkpoint it signed, and still does once the feed grows; another
    // store that does not hold the feed cannot say so.
    ok(home, &["sign", "-o", checkpoint.to_str().unwrap()]);
    let agrees = ok_trimmed(home, &["verify", "--checkpoint", checkpoint.to_str().unwrap()]);
    assert!(agrees.starts_with("OK: ") && agrees.ends_with("extends it to size 7"), "{agrees}");
    ok(home, &["memory", "add", "Echo", "one more", "--importance", "0.5"]);
    let agrees = json(&ok(home, &["--json", "verify", "--checkpoint", checkpoint.to_str().unwrap()]));
    assert_eq!(
        (agrees["ok"].as_bool(), agrees["size"].as_u64(), agrees["now"].as_u64()),
        (Some(true), Some(7), Some(8))
    );
    let elsewhere = tempfile::tempdir().unwrap();
    ok(elsewhere.path(), &["init"]);
    let out = mindlog(elsewhere.path(), &["verify", "--checkpoint", checkpoint.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("holds 0 events of the feed"), "{out:?}");

    // A proof of every memory, each checked; then each way of bending one fails.
    for (i, hash) in hashes.iter().enumerate() {
        let file = home.join(format!("m{i}.tlog-proof"));
        ok(home, &["prove", &hash[..12], "-o", file.to_str().unwrap()]);
        let checked = ok_trimmed(home, &["check", file.to_str().unwrap(), "--key", key]);
        assert!(checked.starts_with(&format!("OK: event {hash} (memory.added/1, seq {})", i + 2)), "{checked}");
    }
    let proof = std::fs::read_to_string(home.join("m2.tlog-proof")).unwrap();
    let next = std::fs::read_to_string(home.join("m3.tlog-proof")).unwrap();
    let lines: Vec<&str> = proof.lines().collect();
    let next_lines: Vec<&str> = next.lines().collect();
    let flipped = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut hash = b64.decode(lines[3]).unwrap();
        hash[0] ^= 1;
        b64.encode(hash)
    };
    let bends = [
        ("another index", proof.replacen("index 3\n", "index 2\n", 1), "is for index 2"),
        ("a flipped hash", proof.replacen(lines[3], &flipped, 1), "does not lead to the root"),
        ("a missing hash", proof.replacen(&format!("{}\n", lines[3]), "", 1), "does not lead to the root"),
        ("an event that does not decode", proof.replacen(lines[1], "extra AAAA", 1), "does not decode"),
        // The next event with its own index, on this event's path: only the tree can tell.
        (
            "another event of the feed",
            proof.replacen(lines[1], next_lines[1], 1).replacen(lines[2], next_lines[2], 1),
            "does not lead to the root",
        ),
        ("an index past every size", proof.replacen("index 3\n", "index 18446744073709551615\n", 1), "is for index"),
    ];
    for (what, bent, why) in bends {
        assert_ne!(bent, proof, "{what}");
        let file = home.join("bent.tlog-proof");
        std::fs::write(&file, bent).unwrap();
        let out = mindlog(home, &["check", file.to_str().unwrap(), "--key", key]);
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(why), "{what}: {out:?}");
    }

    // A key that carries the feed's name but is not its author's key checks nothing of the feed.
    let impostor = mindlog_ledger::Identity::from_secret(&[5u8; 32]);
    let name = key.split('+').next().unwrap();
    let forged_key = mindlog_ledger::note::NoteVerifier::new(name, impostor.verifying_key()).unwrap().to_string();
    let text = format!("{name}\n1000\n{}\n", "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=");
    let forged = mindlog_ledger::note::sign_note(&text, name, &impostor).unwrap();
    let file = home.join("forged.checkpoint");
    std::fs::write(&file, forged.to_bytes()).unwrap();
    let out = mindlog(home, &["check", file.to_str().unwrap(), "--key", &forged_key]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("is not that author's key"), "{out:?}");

    // Only the author proves an event of its feed.
    let other = mindlog(home, &["--as", "other", "prove", &hashes[0]]);
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stderr).contains("only its author signs"), "{other:?}");
}

/// A witness that holds the feed cosigns its author's checkpoint; a checker that asks for the
/// witness sees its cosignature; the witness does not go back to a smaller checkpoint, and does
/// not cosign a feed it does not hold.
#[test]
fn a_witness_cosigns_what_it_can_check() {
    let (author, witness) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, w) = (author.path(), witness.path());
    ok(a, &["init"]);
    ok(w, &["init"]);
    ok(a, &["persona", "create", "Echo"]);
    let small = a.join("small.checkpoint");
    ok(a, &["sign", "-o", small.to_str().unwrap()]);
    ok(a, &["memory", "add", "Echo", "later", "--importance", "0.5"]);
    let large = a.join("large.checkpoint");
    ok(a, &["sign", "-o", large.to_str().unwrap()]);
    let a_key = json(&ok(a, &["--json", "identity", "list"]))[0]["verifier"].as_str().unwrap().to_owned();
    let w_key = json(&ok(w, &["--json", "identity", "list"]))[0]["witness"].as_str().unwrap().to_owned();

    // Without the feed, nothing to check it against.
    let out = mindlog(w, &["witness", "cosign", large.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds 0 events of the feed"), "{out:?}");

    let export = a.join("feed.jsonl");
    ok(a, &["export", "--jsonl", "-o", export.to_str().unwrap()]);
    ok(w, &["import", export.to_str().unwrap()]);
    let cosigned = w.join("cosigned.checkpoint");
    ok(w, &["witness", "cosign", large.to_str().unwrap(), "-o", cosigned.to_str().unwrap()]);
    let checked = ok(a, &["check", cosigned.to_str().unwrap(), "--key", &a_key, "--witness", &w_key]);
    assert!(checked.contains("at size 2") && checked.contains("cosigned by mindlog.local/witness/"), "{checked}");
    // The plain checkpoint has no cosignature: asking for the witness fails.
    let out = mindlog(a, &["check", large.to_str().unwrap(), "--key", &a_key, "--witness", &w_key]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("did not cosign"), "{out:?}");
    // And the witness does not go back.
    let out = mindlog(w, &["witness", "cosign", small.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not go back"), "{out:?}");
}
