//! A stranger's checker: `tests/independent/check_tlog.py`, written in Python from
//! docs/format.md, the C2SP specifications and RFC 9162 only (never from mindlog's source, and
//! with its own Ed25519 and BLAKE3), checks what `mindlog sign` and `mindlog prove` write, and
//! refuses each of them once bent; and the consistency proofs of `mindlog prove --consistency`. Skipped (and passing) where `python3` is not on the PATH.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use common::{json, ok};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("independent").join("check_tlog.py")
}

fn python3() -> bool {
    Command::new("python3").arg("--version").output().is_ok_and(|out| out.status.success())
}

fn checker(args: &[&str]) -> Output {
    Command::new("python3").arg("-B").arg(script()).args(args).output().expect("python3 runs")
}

/// Runs the checker, which must succeed: its one line of output.
fn passes(args: &[&str]) -> String {
    let out = checker(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "check_tlog.py {args:?}: {stdout}{stderr}");
    assert!(stderr.is_empty(), "check_tlog.py {args:?}: {stderr}");
    stdout.trim().to_owned()
}

/// Writes `text` to `file` and runs the checker on it, which must refuse it: exit 1, one line
/// `FAILED: …`, no traceback. The reason.
fn refuses(what: &str, mode: &str, file: &Path, text: &[u8], key: &str) -> String {
    std::fs::write(file, text).unwrap();
    refused(what, &[mode, file.to_str().unwrap(), key])
}

/// Runs the checker with `args`, which must refuse: exit 1, one line `FAILED: …`, no traceback.
/// The reason.
fn refused(what: &str, args: &[&str]) -> String {
    let out = checker(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{what}: {stdout}{stderr}");
    assert!(stdout.starts_with("FAILED: ") && stdout.trim_end().lines().count() == 1, "{what}: {stdout}");
    assert!(stderr.is_empty(), "{what}: {stderr}");
    stdout.trim().to_owned()
}

/// `line` (standard base64) with bit 0 of its byte `at` flipped (`at` from the end when negative).
fn flip(line: &str, at: isize) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(line).unwrap();
    let at = if at < 0 { bytes.len().checked_add_signed(at).unwrap() } else { at.unsigned_abs() };
    bytes[at] ^= 1;
    b64.encode(bytes)
}

/// Proves the event `hash` into `file`; the proof's text.
fn prove(home: &Path, hash: &str, file: &Path) -> String {
    ok(home, &["prove", &hash[..12], "-o", file.to_str().unwrap()]);
    std::fs::read_to_string(file).unwrap()
}

/// A home with two identities (the default and `other`), and `identity list`'s report of them.
fn two_identities() -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init"]);
    ok(dir.path(), &["identity", "new", "other"]);
    let ids = json(&ok(dir.path(), &["--json", "identity", "list"]));
    (dir, ids)
}

#[test]
fn a_checker_written_from_the_docs_agrees_with_sign_and_prove() {
    if !python3() {
        println!("skipped: python3 is not on the PATH, so the independent checker cannot run");
        return;
    }
    let selftest = passes(&["selftest"]);
    assert!(selftest.starts_with("OK selftest"), "{selftest}");

    let (dir, ids) = two_identities();
    let home = dir.path();
    let (key, other_key) = (ids[0]["verifier"].as_str().unwrap(), ids[1]["verifier"].as_str().unwrap());
    let created = json(&ok(home, &["--json", "persona", "create", "Echo"]));
    let mut events = vec![(created[0]["hash"].as_str().unwrap().to_owned(), "persona.created/1")];

    // A tree of one leaf: its proof has no hashes.
    let checkpoint = home.join("one.checkpoint");
    ok(home, &["sign", "-o", checkpoint.to_str().unwrap()]);
    assert!(passes(&["checkpoint", checkpoint.to_str().unwrap(), key]).starts_with("OK size=1 root="));
    let proof = home.join("one.tlog-proof");
    let text = prove(home, &events[0].0, &proof);
    assert!(text.contains("\nindex 0\n\n"), "{text}");
    assert_eq!(passes(&["proof", proof.to_str().unwrap(), key]), "OK seq=1 kind=persona.created/1 size=1");
    // That checkpoint is the feed's second event.
    let published = ok(home, &["query", "--format", "csv", "SELECT hash FROM events WHERE seq = 2"]);
    events.push((published.lines().nth(1).unwrap().to_owned(), "ledger.checkpoint/1"));

    for i in 0..5 {
        let written =
            json(&ok(home, &["--json", "memory", "add", "Echo", &format!("memory {i}"), "--importance", "0.5"]));
        events.push((written[0]["hash"].as_str().unwrap().to_owned(), "memory.added/1"));
    }

    // A checkpoint of seven events (the persona, the first checkpoint, five memories), and a proof
    // of each of them (every shape of path in a tree of
    // seven leaves).
    let checkpoint = home.join("feed.checkpoint");
    ok(home, &["sign", "-o", checkpoint.to_str().unwrap()]);
    let signed = std::fs::read_to_string(&checkpoint).unwrap();
    let lines: Vec<&str> = signed.lines().collect();
    assert_eq!(passes(&["checkpoint", checkpoint.to_str().unwrap(), key]), format!("OK size=7 root={}", lines[2]));
    let mut proofs = Vec::new();
    for (i, (hash, kind)) in events.iter().enumerate() {
        let file = home.join(format!("e{i}.tlog-proof"));
        proofs.push(prove(home, hash, &file));
        assert_eq!(passes(&["proof", file.to_str().unwrap(), key]), format!("OK seq={} kind={kind} size=7", i + 1));
    }

    // Bent checkpoints.
    let bent = home.join("bent.checkpoint");
    let root = lines[2];
    let signature = lines[4].rsplit(' ').next().unwrap();
    let checkpoints = [
        ("another key", signed.clone(), other_key, "not signed by"),
        ("a byte of the root", signed.replacen(root, &flip(root, 0), 1), key, "does not verify"),
        ("the last byte of the root", signed.replacen(root, &flip(root, -1), 1), key, "does not verify"),
        ("another size", signed.replacen("\n7\n", "\n8\n", 1), key, "does not verify"),
        ("a byte of the signature", signed.replacen(signature, &flip(signature, -1), 1), key, "does not verify"),
        // Another key ID: the line is another key's, ignored, and no line of the key remains.
        ("a byte of the key id", signed.replacen(signature, &flip(signature, 0), 1), key, "not signed by"),
        ("no signature", signed[..signed.rfind("\n\n").unwrap() + 2].to_owned(), key, "signature lines"),
        ("an extension line", signed.replacen(&format!("{root}\n"), &format!("{root}\nmore\n"), 1), key, "verify"),
        ("nothing", String::new(), key, "no blank line"),
        ("a control character", signed.replacen("\n7\n", "\n7\t\n", 1), key, "control character"),
    ];
    for (what, text, with, why) in checkpoints {
        assert!(text != signed || with != key, "{what}");
        let reason = refuses(what, "checkpoint", &bent, text.as_bytes(), with);
        assert!(reason.contains(why), "{what}: {reason}");
    }
    let reason = refuses("bytes that are not UTF-8", "checkpoint", &bent, b"\xff\xfe\n\n\x80", key);
    assert!(reason.contains("UTF-8"), "{reason}");

    // Bent proofs, of the event at seq 4 (index 3).
    let proof = &proofs[3];
    let lines: Vec<&str> = proof.lines().collect();
    assert_eq!((lines[0], lines[2]), ("c2sp.org/tlog-proof@v1", "index 3"), "{proof}");
    let extra = lines[1].strip_prefix("extra ").unwrap();
    let next: Vec<&str> = proofs[4].lines().collect();
    let bent = home.join("bent.tlog-proof");
    let (root_reached, signature_fails) = ("does not lead to the checkpoint's root", "does not verify");
    let hash_line = format!("{}\n", lines[3]);
    let bends = [
        ("another key", proof.clone(), other_key, "not signed by"),
        ("another index", proof.replacen("index 3\n", "index 2\n", 1), key, "not the index 2 plus one"),
        ("an index past the size", proof.replacen("index 3\n", "index 7\n", 1), key, "not the index 7"),
        ("an index past every size", proof.replacen("index 3\n", "index 18446744073709551615\n", 1), key, "index"),
        ("a flipped proof hash", proof.replacen(lines[3], &flip(lines[3], 0), 1), key, root_reached),
        ("the last proof hash flipped", proof.replacen(lines[5], &flip(lines[5], -1), 1), key, root_reached),
        ("a missing proof hash", proof.replacen(&hash_line, "", 1), key, root_reached),
        ("a repeated proof hash", proof.replacen(&hash_line, &format!("{hash_line}{hash_line}"), 1), key, root_reached),
        ("the extra's last byte changed", proof.replacen(extra, &flip(extra, -1), 1), key, root_reached),
        ("the extra's author changed", proof.replacen(extra, &flip(extra, 1), 1), key, "origin"),
        ("an extra that does not decode", proof.replacen(lines[1], "extra AAAA", 1), key, "envelope"),
        ("no extra", proof.replacen(&format!("{}\n", lines[1]), "", 1), key, "no extra line"),
        ("the next event at this index", proof.replacen(lines[1], next[1], 1), key, "not the index 3 plus one"),
        (
            "the next event with its index, on this event's path",
            proof.replacen(lines[1], next[1], 1).replacen(lines[2], next[2], 1),
            key,
            root_reached,
        ),
        ("a byte of the checkpoint's root", proof.replacen(root, &flip(root, 0), 1), key, signature_fails),
        ("another checkpoint size", proof.replacen("\n7\n", "\n6\n", 1), key, signature_fails),
        ("another header", proof.replacen("tlog-proof@v1", "tlog-proof@v2", 1), key, "c2sp.org/tlog-proof@v1"),
        ("no checkpoint", proof[..proof.find("\n\n").unwrap() + 2].to_owned(), key, "note"),
        ("nothing", String::new(), key, "c2sp.org/tlog-proof@v1"),
    ];
    for (what, text, with, why) in bends {
        assert!(&text != proof || with != key, "{what}");
        let reason = refuses(what, "proof", &bent, text.as_bytes(), with);
        assert!(reason.contains(why), "{what}: {reason}");
    }
}

#[test]
fn a_checker_written_from_the_docs_agrees_with_consistency_proofs() {
    if !python3() {
        println!("skipped: python3 is not on the PATH, so the independent checker cannot run");
        return;
    }
    let (dir, ids) = two_identities();
    let home = dir.path();
    let (key, other_key) = (ids[0]["verifier"].as_str().unwrap(), ids[1]["verifier"].as_str().unwrap());
    let author = ids[0]["public_key"].as_str().unwrap();
    ok(home, &["persona", "create", "Echo"]);
    let add = |text: &str| ok(home, &["memory", "add", "Echo", text, "--importance", "0.5"]);

    // A checkpoint of 3 events (the persona, two memories), published at seq 4; then three more
    // memories and a checkpoint of 7 (a size that is not a power of two, and one that is not a
    // subtree of the other).
    add("memory 0");
    add("memory 1");
    let older = home.join("three.checkpoint");
    ok(home, &["sign", "-o", older.to_str().unwrap()]);
    let older_text = std::fs::read_to_string(&older).unwrap();
    assert!(passes(&["checkpoint", older.to_str().unwrap(), key]).starts_with("OK size=3 root="));
    for i in 2..5 {
        add(&format!("memory {i}"));
    }
    let newer = home.join("seven.checkpoint");
    ok(home, &["sign", "-o", newer.to_str().unwrap()]);
    let newer_text = std::fs::read_to_string(&newer).unwrap();
    assert!(passes(&["checkpoint", newer.to_str().unwrap(), key]).starts_with("OK size=7 root="));

    let (older_path, newer_path) = (older.to_str().unwrap(), newer.to_str().unwrap());
    let file = home.join("3-7.consistency");
    let file_path = file.to_str().unwrap();
    ok(home, &["prove", "--consistency", author, "3", "7", "-o", file_path]);
    let proof = std::fs::read_to_string(&file).unwrap();
    assert!(proof.starts_with("old 3\n") && proof.ends_with(&format!("\n\n{newer_text}")), "{proof}");
    assert_eq!(passes(&["consistency", file_path, older_path, key]), "OK old=3 new=7");

    // Equal sizes: an empty proof and equal roots.
    let same = home.join("7-7.consistency");
    ok(home, &["prove", "--consistency", author, "7", "7", "-o", same.to_str().unwrap()]);
    let same_text = std::fs::read_to_string(&same).unwrap();
    assert_eq!(same_text, format!("old 7\n\n{newer_text}"));
    assert_eq!(passes(&["consistency", same.to_str().unwrap(), newer_path, key]), "OK old=7 new=7");

    // `old 0` as mindlog writes it (no hashes): a witness's introduction, never a proof.
    let zero = home.join("0-7.consistency");
    ok(home, &["prove", "--consistency", author, "0", "7", "-o", zero.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&zero).unwrap(), format!("old 0\n\n{newer_text}"));
    let reason = refused("mindlog's old 0", &["consistency", zero.to_str().unwrap(), older_path, key]);
    assert!(reason.contains("size 0"), "{reason}");

    // Bent consistency proofs, checked against the checkpoint of size 3.
    let lines: Vec<&str> = proof.lines().collect();
    let hashes = &lines[1..lines.iter().position(|line| line.is_empty()).unwrap()];
    assert!(hashes.len() >= 2, "{proof}");
    let (first, last) = (hashes[0], hashes[hashes.len() - 1]);
    let first_line = format!("{first}\n");
    let not_reached = "does not lead from the root at size 3 to the root at size 7";
    let new_root = newer_text.lines().nth(2).unwrap();
    let bends = [
        ("a flipped proof hash", proof.replacen(first, &flip(first, 0), 1), key, not_reached),
        ("the last proof hash flipped", proof.replacen(last, &flip(last, -1), 1), key, not_reached),
        ("a missing proof hash", proof.replacen(&first_line, "", 1), key, not_reached),
        (
            "a repeated proof hash",
            proof.replacen(&first_line, &format!("{first_line}{first_line}"), 1),
            key,
            not_reached,
        ),
        ("no proof hashes", format!("old 3\n\n{newer_text}"), key, not_reached),
        ("old 0", proof.replacen("old 3\n", "old 0\n", 1), key, "size 0"),
        ("old 0 without hashes", format!("old 0\n\n{newer_text}"), key, "size 0"),
        ("another old size", proof.replacen("old 3\n", "old 4\n", 1), key, "not the older checkpoint's size 3"),
        ("old with a leading zero", proof.replacen("old 3\n", "old 03\n", 1), key, "leading zeros"),
        ("no old line", proof.replacen("old 3\n", "", 1), key, "old"),
        ("a byte of the newer root", proof.replacen(new_root, &flip(new_root, 0), 1), key, "does not verify"),
        ("another key", proof.clone(), other_key, "not signed by"),
        ("no checkpoint", proof[..proof.find("\n\n").unwrap() + 2].to_owned(), key, "note"),
        ("nothing", String::new(), key, "old"),
    ];
    let bent = home.join("bent.consistency");
    let bent_path = bent.to_str().unwrap();
    for (what, text, with, why) in bends {
        assert!(text != proof || with != key, "{what}");
        std::fs::write(&bent, text).unwrap();
        let reason = refused(what, &["consistency", bent_path, older_path, with]);
        assert!(reason.contains(why), "{what}: {reason}");
    }

    // The right proof against the wrong older checkpoint: the newer one (size 7), a bent one, none.
    let reason = refused("the newer checkpoint as the older", &["consistency", file_path, newer_path, key]);
    assert!(reason.contains("not the older checkpoint's size 7"), "{reason}");
    let wrong = home.join("wrong.checkpoint");
    let old_root = older_text.lines().nth(2).unwrap();
    std::fs::write(&wrong, older_text.replacen(old_root, &flip(old_root, 0), 1)).unwrap();
    let reason = refused("a bent older checkpoint", &["consistency", file_path, wrong.to_str().unwrap(), key]);
    assert!(reason.contains("does not verify"), "{reason}");
    let reason =
        refused("no older checkpoint", &["consistency", file_path, home.join("absent").to_str().unwrap(), key]);
    assert!(reason.contains("cannot read"), "{reason}");
}
