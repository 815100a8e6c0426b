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
    let lines: Vec<&str> = proof.lines().collect();
    let bends = [
        ("another index", proof.replacen("index 3\n", "index 2\n", 1)),
        ("a flipped hash", proof.replacen(lines[3], &lines[3].replacen(&lines[3][..2], "AA", 1), 1)),
        ("a missing hash", proof.replacen(&format!("{}\n", lines[3]), "", 1)),
        ("another event", proof.replacen(lines[1], "extra AAAA", 1)),
    ];
    for (what, bent) in bends {
        assert_ne!(bent, proof, "{what}");
        let file = home.join("bent.tlog-proof");
        std::fs::write(&file, bent).unwrap();
        let out = mindlog(home, &["check", file.to_str().unwrap(), "--key", key]);
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
    }

    // Only the author proves an event of its feed.
    let other = mindlog(home, &["--as", "other", "prove", &hashes[0]]);
    assert_eq!(other.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&other.stderr).contains("only its author signs"), "{other:?}");
}
