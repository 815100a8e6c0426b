//! Signed checkpoints and offline proofs of a feed (docs/format.md §10): `sign`, `prove` and
//! `check`, in the C2SP formats (tlog-checkpoint in a signed note, tlog-proof@v1), so tools we
//! did not write can check them.
//!
//! The feed's Merkle tree is worked out from the feed when asked (its event hashes in seq order,
//! read through the feed index); the tree is not stored in the store yet.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mindlog_ledger::note::{Checkpoint, Note, NoteVerifier, TlogProof, sign_note};
use mindlog_ledger::tlog::{self, feed_leaves, feed_origin};
use mindlog_ledger::{Envelope, Identity, PublicKey, hash_envelope_bytes};
use serde::Serialize;

use crate::Outcome;
use crate::home::Home;
use crate::output::{Report, emit};
use crate::refusal::Refusal;

/// The verifier key of an identity's checkpoints: `ORIGIN+KEYID+BASE64`.
pub(crate) fn verifier_key(identity: &Identity) -> String {
    NoteVerifier::for_feed(&identity.public_key()).map(|v| v.to_string()).unwrap_or_default()
}

/// A signed checkpoint of `identity`'s feed at its head.
fn checkpoint_note(home: &Home, identity: &Identity) -> Result<(Checkpoint, Note, Vec<[u8; 32]>)> {
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let author = identity.public_key();
    let size = snapshot.head(&author)?.map_or(0, |h| h.seq);
    let leaves = feed_leaves(&snapshot, &author, size)?;
    let checkpoint =
        Checkpoint { origin: feed_origin(&author), size, root: tlog::root(&leaves), extensions: Vec::new() };
    let note = sign_note(&checkpoint.text(), &checkpoint.origin, identity)?;
    Ok((checkpoint, note, leaves))
}

/// Writes `bytes` to `output`, or to standard output.
fn write_out(output: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display())),
        None => {
            let mut out = crate::output::stdout();
            out.write_all(bytes)?;
            Ok(out.flush()?)
        }
    }
}

/// What `sign` and `prove` made.
#[derive(Serialize)]
struct Made {
    origin: String,
    size: u64,
    root: String,
    /// `prove`: the event's index in the tree (seq − 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    /// The file written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    /// The note or proof itself.
    text: String,
}

impl Report for Made {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        match &self.file {
            None => out.write_all(self.text.as_bytes()),
            Some(file) => {
                writeln!(out, "wrote {} ({} at size {}, root {})", file.display(), self.origin, self.size, self.root)
            }
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `mindlog sign [-o FILE]`.
pub(crate) fn sign(home: &Home, output: Option<&Path>) -> Result<Outcome> {
    let identity = home.identity()?;
    let (checkpoint, note, _) = checkpoint_note(home, &identity)?;
    let text = String::from_utf8(note.to_bytes()).context("a note is text")?;
    if let Some(path) = output {
        write_out(Some(path), text.as_bytes())?;
    }
    let made = Made {
        origin: checkpoint.origin,
        size: checkpoint.size,
        root: b64(&checkpoint.root),
        index: None,
        file: output.map(Path::to_owned),
        text,
    };
    emit(&made, home.format())?;
    Ok(Outcome::Success)
}

/// `mindlog prove EVENT [-o FILE]`: one of your events, in a checkpoint of your feed signed now.
pub(crate) fn prove(home: &Home, event: &str, output: Option<&Path>) -> Result<Outcome> {
    let identity = home.identity()?;
    let stored = {
        let ledger = home.open()?;
        let snapshot = ledger.snapshot()?;
        let offset = match crate::erase_cmds::resolve_event(&snapshot, event)? {
            Ok(offset) => offset,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        };
        snapshot.event(offset)?.context("the event vanished")?
    };
    let envelope = Envelope::decode(&stored.bytes)?;
    if envelope.author != identity.public_key() {
        return Ok(Outcome::Refused(Refusal::NotYourEvent { event: stored.hash, author: envelope.author }));
    }
    let (checkpoint, note, leaves) = checkpoint_note(home, &identity)?;
    let index = envelope.seq - 1;
    let hashes = tlog::inclusion_proof(&leaves, index as usize).context("the event is beyond the feed's head")?;
    let proof = TlogProof { extra: Some(stored.bytes.clone()), index, hashes, checkpoint: note.to_bytes() };
    let text = String::from_utf8(proof.to_bytes()).context("a proof is text")?;
    if let Some(path) = output {
        write_out(Some(path), text.as_bytes())?;
    }
    let made = Made {
        origin: checkpoint.origin,
        size: checkpoint.size,
        root: b64(&checkpoint.root),
        index: Some(index),
        file: output.map(Path::to_owned),
        text,
    };
    emit(&made, home.format())?;
    Ok(Outcome::Success)
}

/// What `check` found.
#[derive(Serialize)]
struct Checked {
    ok: bool,
    /// `checkpoint` or `proof`.
    what: &'static str,
    origin: Option<String>,
    size: Option<u64>,
    root: Option<String>,
    /// A proof's event: its hash, author and seq.
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<ProvedEvent>,
    /// Why it does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

#[derive(Serialize)]
struct ProvedEvent {
    hash: String,
    author: PublicKey,
    seq: u64,
    kind: String,
}

impl Report for Checked {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        match (&self.problem, &self.event) {
            (Some(problem), _) => writeln!(out, "FAILED: {problem}"),
            (None, Some(e)) => writeln!(
                out,
                "OK: event {} ({}, seq {}) is in the feed {} at size {}, root {}",
                e.hash,
                e.kind,
                e.seq,
                self.origin.as_deref().unwrap_or(""),
                self.size.unwrap_or(0),
                self.root.as_deref().unwrap_or("")
            ),
            (None, None) => writeln!(
                out,
                "OK: checkpoint of {} at size {}, root {}, signed by its key",
                self.origin.as_deref().unwrap_or(""),
                self.size.unwrap_or(0),
                self.root.as_deref().unwrap_or("")
            ),
        }
    }
}

/// A verifier key given as text, or as the path of a file holding it.
fn read_key(key: &str) -> Result<NoteVerifier> {
    let text = match std::fs::read_to_string(key) {
        Ok(text) if !key.contains('+') => text,
        _ => key.to_owned(),
    };
    NoteVerifier::parse(text.trim())
        .with_context(|| format!("{key:?} is not a verifier key (mindlog identity list shows yours)"))
}

/// What `verify --checkpoint` found.
#[derive(Serialize)]
struct Agrees {
    ok: bool,
    origin: Option<String>,
    /// The checkpoint's size and root.
    size: Option<u64>,
    root: Option<String>,
    /// The feed's length in this store now.
    now: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

impl Report for Agrees {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        match &self.problem {
            Some(problem) => writeln!(out, "FAILED: {problem}"),
            None => writeln!(
                out,
                "OK: this store's feed {} has root {} at size {}, as the checkpoint says, and extends it to size {}",
                self.origin.as_deref().unwrap_or(""),
                self.root.as_deref().unwrap_or(""),
                self.size.unwrap_or(0),
                self.now.unwrap_or(0)
            ),
        }
    }
}

/// `mindlog verify --checkpoint FILE`: the checkpoint is signed by its feed's author, and this
/// store's feed has the same root at that size. The feed as held now extends it: the tree at the
/// checkpoint's size is built from the first leaves of the feed held now, so the two agree by
/// construction once the root does.
pub(crate) fn verify_checkpoint(home: &Home, file: &Path) -> Result<Outcome> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut agrees = Agrees { ok: false, origin: None, size: None, root: None, now: None, problem: None };
    let found = (|| -> Result<Result<(), String>> {
        let note = match Note::parse(&bytes) {
            Ok(note) => note,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let checkpoint = match Checkpoint::parse(&note.text) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e.to_string())),
        };
        agrees.origin = Some(checkpoint.origin.clone());
        agrees.size = Some(checkpoint.size);
        agrees.root = Some(b64(&checkpoint.root));
        let Some(author) =
            checkpoint.origin.strip_prefix("mindlog.local/feed/").and_then(|a| a.parse::<PublicKey>().ok())
        else {
            return Ok(Err(format!(
                "{} is not the origin of a mindlog feed (mindlog.local/feed/KEY)",
                checkpoint.origin
            )));
        };
        let key = NoteVerifier::for_feed(&author)?;
        if let Err(e) = checked_checkpoint(&bytes, &key) {
            return Ok(Err(e));
        }
        let ledger = home.open()?;
        let snapshot = ledger.snapshot()?;
        let now = snapshot.head(&author)?.map_or(0, |h| h.seq);
        agrees.now = Some(now);
        if now < checkpoint.size {
            return Ok(Err(format!(
                "this store holds {now} events of the feed, the checkpoint {}: it cannot be checked here yet",
                checkpoint.size
            )));
        }
        let root = tlog::root(&feed_leaves(&snapshot, &author, checkpoint.size)?);
        if root != checkpoint.root {
            return Ok(Err(format!(
                "this store's feed has root {} at size {}, not {}: the feed here is not the feed that was signed",
                b64(&root),
                checkpoint.size,
                b64(&checkpoint.root)
            )));
        }
        Ok(Ok(()))
    })()?;
    agrees.ok = found.is_ok();
    agrees.problem = found.err();
    emit(&agrees, home.format())?;
    Ok(if agrees.ok { Outcome::Success } else { Outcome::Failed })
}

/// A signed checkpoint checked with `key`: the checkpoint, or why not. The checkpoint's origin
/// must be the key's name (a feed's key signs only that feed's checkpoints).
fn checked_checkpoint(bytes: &[u8], key: &NoteVerifier) -> Result<Checkpoint, String> {
    let note = Note::parse(bytes).map_err(|e| e.to_string())?;
    note.verify(std::slice::from_ref(key)).map_err(|e| e.to_string())?;
    let checkpoint = Checkpoint::parse(&note.text).map_err(|e| e.to_string())?;
    if checkpoint.origin != key.name {
        return Err(format!("the checkpoint is of {}, but the key is {}'s", checkpoint.origin, key.name));
    }
    Ok(checkpoint)
}

/// `mindlog check FILE --key VKEY`: offline, no store needed.
pub(crate) fn check(home: &Home, file: &Path, key: &str) -> Result<Outcome> {
    let key = read_key(key)?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let proof = bytes.starts_with(b"c2sp.org/tlog-proof@");
    let mut checked = Checked {
        ok: false,
        what: if proof { "proof" } else { "checkpoint" },
        origin: None,
        size: None,
        root: None,
        event: None,
        problem: None,
    };
    let result = if proof { check_proof(&bytes, &key, &mut checked) } else { check_note(&bytes, &key, &mut checked) };
    checked.ok = result.is_ok();
    checked.problem = result.err();
    emit(&checked, home.format())?;
    Ok(if checked.ok { Outcome::Success } else { Outcome::Failed })
}

fn check_note(bytes: &[u8], key: &NoteVerifier, checked: &mut Checked) -> Result<(), String> {
    let checkpoint = checked_checkpoint(bytes, key)?;
    checked.origin = Some(checkpoint.origin);
    checked.size = Some(checkpoint.size);
    checked.root = Some(b64(&checkpoint.root));
    Ok(())
}

/// A proof: its checkpoint signed by `key`, the event its `extra` carries of the checkpoint's
/// feed at the proof's index, and the proof leading from that event to the checkpoint's root —
/// with the size taken from the checkpoint, never from the proof.
fn check_proof(bytes: &[u8], key: &NoteVerifier, checked: &mut Checked) -> Result<(), String> {
    let proof = TlogProof::parse(bytes).map_err(|e| e.to_string())?;
    let checkpoint = checked_checkpoint(&proof.checkpoint, key)?;
    checked.origin = Some(checkpoint.origin.clone());
    checked.size = Some(checkpoint.size);
    checked.root = Some(b64(&checkpoint.root));
    let signed =
        proof.extra.as_deref().ok_or("the proof carries no event (its extra line is the event's signed bytes)")?;
    let envelope = Envelope::decode(signed).map_err(|e| format!("the proof's event does not decode: {e}"))?;
    let hash = hash_envelope_bytes(signed);
    checked.event = Some(ProvedEvent {
        hash: hash.to_string(),
        author: envelope.author,
        seq: envelope.seq,
        kind: envelope.kind.clone(),
    });
    if feed_origin(&envelope.author) != checkpoint.origin {
        return Err(format!("the event is {}'s, not of the feed {}", envelope.author, checkpoint.origin));
    }
    if envelope.seq != proof.index + 1 {
        return Err(format!(
            "the event has seq {}, but the proof is for index {} (seq {})",
            envelope.seq,
            proof.index,
            proof.index + 1
        ));
    }
    tlog::verify_inclusion(proof.index, checkpoint.size, &tlog::leaf_hash(&hash.0), &proof.hashes, &checkpoint.root)
        .map_err(|e| e.to_string())
}
