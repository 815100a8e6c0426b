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

    // No checkpoint is published yet: nothing to prove against.
    let out = mindlog(home, &["prove", &hashes[0]]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("publishes one with mindlog sign"), "{out:?}");

    // A checkpoint: size 7 (the persona and six memories), checked with the feed's key only,
    // and published as the feed's 8th event.
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

    // Signing again with nothing new gives the same checkpoint; it is in the log, and served.
    ok(home, &["sign", "-o", checkpoint.to_str().unwrap()]);
    let published =
        ok(home, &["query", "--format", "csv", "SELECT seq FROM events WHERE kind = 'ledger.checkpoint/1'"]);
    assert_eq!(published, "seq\n8\n");
    assert_eq!(ok(home, &["checkpoint"]).as_bytes(), std::fs::read(&checkpoint).unwrap().as_slice());
    // The store agrees with a checkpoint it signed, and still does once the feed grows; another
    // store that does not hold the feed cannot say so.
    let agrees = ok_trimmed(home, &["verify", "--checkpoint", checkpoint.to_str().unwrap()]);
    assert!(agrees.starts_with("OK: ") && agrees.ends_with("extends it to size 8"), "{agrees}");
    let more = json(&ok(home, &["--json", "memory", "add", "Echo", "one more", "--importance", "0.5"]));
    let agrees = json(&ok(home, &["--json", "verify", "--checkpoint", checkpoint.to_str().unwrap()]));
    assert_eq!(
        (agrees["ok"].as_bool(), agrees["size"].as_u64(), agrees["now"].as_u64()),
        (Some(true), Some(7), Some(9))
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

    // Any identity proves an event against its author's published checkpoint; an event after
    // the newest checkpoint has none to be proved against.
    let by_other = ok(home, &["--as", "other", "prove", &hashes[0]]);
    assert!(by_other.starts_with("c2sp.org/tlog-proof@v1\n"), "{by_other}");
    let out = mindlog(home, &["prove", more[0]["hash"].as_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("covering seq 9"), "{out:?}");

    // Consistency: the feed at size 9 (a checkpoint published at seq 10) extends size 7. The
    // proof checks against the older checkpoint, and fails bent or against the wrong one.
    let newer = home.join("newer.checkpoint");
    ok(home, &["sign", "-o", newer.to_str().unwrap()]);
    let author = ids[0]["public_key"].as_str().unwrap();
    let consistency = home.join("7-9.proof");
    ok(home, &["prove", "--consistency", author, "7", "9", "-o", consistency.to_str().unwrap()]);
    let checked = ok_trimmed(
        home,
        &["check", consistency.to_str().unwrap(), "--key", key, "--old", checkpoint.to_str().unwrap()],
    );
    assert!(checked.starts_with("OK: the feed") && checked.contains("at size 9") && checked.contains("at size 7"));
    let out = mindlog(home, &["check", consistency.to_str().unwrap(), "--key", key, "--old", newer.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("starts from size 7, the older checkpoint is at size 9"));
    let text = std::fs::read_to_string(&consistency).unwrap();
    let first_hash = text.lines().nth(1).unwrap();
    let bent = home.join("bent.proof");
    std::fs::write(
        &bent,
        text.replacen(
            first_hash,
            &first_hash.replacen(&first_hash[..1], if first_hash.starts_with('A') { "B" } else { "A" }, 1),
            1,
        ),
    )
    .unwrap();
    let out = mindlog(home, &["check", bent.to_str().unwrap(), "--key", key, "--old", checkpoint.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not extend the checkpoint at size 7"), "{out:?}");
    // Sizes that make no proof, and a size no checkpoint was published at.
    let out = mindlog(home, &["prove", "--consistency", author, "9", "7"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("OLD must be at most NEW"), "{out:?}");
    // From 0 the body only introduces the checkpoint (to a witness): no hashes, and no proof.
    let intro = ok(home, &["prove", "--consistency", author, "0", "9"]);
    assert!(intro.starts_with("old 0\n\nmindlog.local/feed/"), "{intro}");
    std::fs::write(home.join("intro.proof"), &intro).unwrap();
    let out = mindlog(
        home,
        &["check", home.join("intro.proof").to_str().unwrap(), "--key", key, "--old", checkpoint.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // A witness's key is no log's key.
    let witness_key = ids[0]["witness"].as_str().unwrap();
    let out = mindlog(home, &["check", checkpoint.to_str().unwrap(), "--key", witness_key]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("is a witness's key"), "{out:?}");
    let out = mindlog(home, &["prove", "--consistency", author, "3", "8"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("it has published sizes 7, 9"), "{out:?}");
    // verify checks both published checkpoints against the tree.
    let verified = json(&ok(home, &["--json", "verify"]));
    assert_eq!((verified["ok"].as_bool(), verified["checkpoints"].as_u64()), (Some(true), Some(2)));
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
    // The feed's checkpoints came with it: they are events of the feed.
    let author_pub = json(&ok(a, &["--json", "identity", "list"]))[0]["public_key"].as_str().unwrap().to_owned();
    assert_eq!(ok(w, &["checkpoint", &author_pub]), std::fs::read_to_string(&large).unwrap());
    let cosigned = w.join("cosigned.checkpoint");
    ok(w, &["witness", "cosign", large.to_str().unwrap(), "-o", cosigned.to_str().unwrap()]);
    let checked = ok(a, &["check", cosigned.to_str().unwrap(), "--key", &a_key, "--witness", &w_key]);
    assert!(checked.contains("at size 3") && checked.contains("cosigned by mindlog.local/witness/"), "{checked}");
    // The plain checkpoint has no cosignature: asking for the witness fails.
    let out = mindlog(a, &["check", large.to_str().unwrap(), "--key", &a_key, "--witness", &w_key]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("did not cosign"), "{out:?}");
    // And the witness does not go back.
    let out = mindlog(w, &["witness", "cosign", small.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not go back"), "{out:?}");

    // Later checkpoints reach the witness as consistency proofs from the size it cosigned (3:
    // the persona, the small checkpoint, the memory): it needs no copy of the new events.
    ok(a, &["memory", "add", "Echo", "even later", "--importance", "0.5"]);
    ok(a, &["sign"]);
    let author_key = json(&ok(a, &["--json", "identity", "list"]))[0]["public_key"].as_str().unwrap().to_owned();
    let from_two = a.join("2-5.proof");
    ok(a, &["prove", "--consistency", &author_key, "2", "5", "-o", from_two.to_str().unwrap()]);
    let out = mindlog(w, &["witness", "cosign", from_two.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("send a proof from 3"), "{out:?}");
    let proof = a.join("proof");
    ok(a, &["prove", "--consistency", &author_key, "3", "5", "-o", proof.to_str().unwrap()]);
    let cosigned = json(&ok(w, &["--json", "witness", "cosign", proof.to_str().unwrap()]));
    assert_eq!((cosigned["size"].as_u64(), cosigned["extends"].as_u64()), (Some(5), Some(3)), "{cosigned}");

    // A split view: the author's key signs a checkpoint of another history at size 7; no proof
    // from 5 leads to it. Refused, exit 1, with both checkpoints.
    let me = mindlog_ledger::Identity::load(&a.join("identity.key")).unwrap();
    let origin = mindlog_ledger::tlog::feed_origin(&me.public_key());
    let text = format!("{origin}\n7\n{}\n", "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=");
    let forged = mindlog_ledger::note::sign_note(&text, &origin, &me).unwrap();
    let body = [b"old 5\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\n".as_slice(), &forged.to_bytes()].concat();
    let split = w.join("split.proof");
    std::fs::write(&split, body).unwrap();
    let out = mindlog(w, &["witness", "cosign", split.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("FAILED: split view of mindlog.local/feed/"), "{said}");
    assert!(said.contains("cosigned before:") && said.contains(&text) && said.contains("\n5\n"), "{said}");
}

/// A witness keeps one rule whatever shows it a checkpoint: a checkpoint of another history of a
/// feed it cosigned — here two copies of one home, one key, each growing its own way — is a split
/// view, whether it comes with a proof or is checked against the witness's copy of the feed.
#[test]
fn a_witness_refuses_a_split_view_however_it_is_shown() {
    let (author, twin, witness) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, t, w) = (author.path(), twin.path(), witness.path());
    ok(a, &["init"]);
    ok(w, &["init"]);
    ok(a, &["persona", "create", "Echo"]);
    for entry in std::fs::read_dir(a).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), t.join(entry.file_name())).unwrap();
        }
    }
    ok(a, &["memory", "add", "Echo", "one way", "--importance", "0.5"]);
    ok(t, &["memory", "add", "Echo", "the other way", "--importance", "0.5"]);
    ok(a, &["sign"]);
    let theirs = t.join("twin.checkpoint");
    ok(t, &["sign", "-o", theirs.to_str().unwrap()]);
    let key = json(&ok(a, &["--json", "identity", "list"]))[0]["public_key"].as_str().unwrap().to_owned();

    // First sight of the feed, by an introduction (old 0): taken on trust.
    let intro = a.join("intro");
    ok(a, &["prove", "--consistency", &key, "0", "2", "-o", intro.to_str().unwrap()]);
    let cosigned = json(&ok(w, &["--json", "witness", "cosign", intro.to_str().unwrap()]));
    assert_eq!((cosigned["size"].as_u64(), cosigned["extends"].as_u64()), (Some(2), None), "{cosigned}");
    // The twin's checkpoint, checked against the witness's copy of the twin's feed.
    let export = t.join("feed.jsonl");
    ok(t, &["export", "--jsonl", "-o", export.to_str().unwrap()]);
    ok(w, &["import", export.to_str().unwrap()]);
    let out = mindlog(w, &["witness", "cosign", theirs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("FAILED: split view of mindlog.local/feed/") && said.contains("cosigned before:"),
        "{said}"
    );
    // The same checkpoint again with an introduction: the witness knows the feed, so no.
    let out = mindlog(w, &["witness", "cosign", intro.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("send a proof from 2"), "{out:?}");
}
