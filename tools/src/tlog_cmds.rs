//! Signed checkpoints and offline proofs of a feed (docs/format.md §10): `sign`, `prove` and
//! `check`, in the C2SP formats (tlog-checkpoint in a signed note, tlog-proof@v1), so tools we
//! did not write can check them.
//!
//! The feed's Merkle tree is worked out from the feed when asked (its event hashes in seq order,
//! read through the feed index); the tree is not stored in the store yet.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mindlog_ledger::note::{Checkpoint, Note, NoteVerifier, TlogProof, cosign, sign_note};
use mindlog_ledger::tlog::{self, FEED_ORIGIN_PREFIX, feed_author, feed_leaves, feed_origin};
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

/// The name of `identity`'s key as a witness: `mindlog.local/witness/KEY`.
fn witness_name(identity: &Identity) -> String {
    format!("mindlog.local/witness/{}", identity.public_key())
}

/// The verifier key of an identity's cosignatures as a witness (type 04).
pub(crate) fn witness_key(identity: &Identity) -> String {
    NoteVerifier::cosigner(&witness_name(identity), identity.verifying_key()).map(|v| v.to_string()).unwrap_or_default()
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

/// What `sign`, `prove` and `witness cosign` made: a checkpoint (or a proof of an event in one).
#[derive(Serialize)]
struct Made {
    origin: String,
    size: u64,
    root: String,
    /// `prove`: the event's index in the tree (seq − 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    /// `witness cosign`: the witness's key name.
    #[serde(skip_serializing_if = "Option::is_none")]
    witness: Option<String>,
    /// `witness cosign`: the size it cosigned of the feed before, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<u64>,
    /// The file written, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<PathBuf>,
    /// The note or proof itself.
    text: String,
}

impl Made {
    fn of(checkpoint: &Checkpoint, bytes: Vec<u8>) -> Result<Made> {
        Ok(Made {
            origin: checkpoint.origin.clone(),
            size: checkpoint.size,
            root: b64(&checkpoint.root),
            index: None,
            witness: None,
            previous: None,
            file: None,
            text: String::from_utf8(bytes).context("a note or proof is text")?,
        })
    }

    /// Writes the note or proof to `output` (without it, the report prints it) and reports it.
    fn deliver(mut self, home: &Home, output: Option<&Path>) -> Result<Outcome> {
        if let Some(path) = output {
            std::fs::write(path, &self.text).with_context(|| format!("writing {}", path.display()))?;
            self.file = Some(path.to_owned());
        }
        emit(&self, home.format())?;
        Ok(Outcome::Success)
    }
}

impl Report for Made {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let Some(file) = &self.file else { return out.write_all(self.text.as_bytes()) };
        write!(out, "wrote {} ({} at size {}, root {}", file.display(), self.origin, self.size, self.root)?;
        if let Some(witness) = &self.witness {
            write!(out, ", cosigned by {witness}")?;
            if let Some(previous) = self.previous {
                write!(out, "; it extends size {previous}, cosigned before")?;
            }
        }
        writeln!(out, ")")
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
    Made::of(&checkpoint, note.to_bytes())?.deliver(home, output)
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
    // The feed as read for the checkpoint holds this very event at its index.
    anyhow::ensure!(
        leaves.get(index as usize) == Some(&tlog::leaf_hash(&stored.hash.0)),
        "the feed index does not hold event {} at seq {}: run mindlog verify",
        stored.hash,
        envelope.seq
    );
    let hashes = tlog::inclusion_proof(&leaves, index as usize).context("the event is beyond the feed's head")?;
    let proof = TlogProof { extra: Some(stored.bytes.clone()), index, hashes, checkpoint: note.to_bytes() };
    Made { index: Some(index), ..Made::of(&checkpoint, proof.to_bytes())? }.deliver(home, output)
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
    /// The witnesses given with --witness whose cosignatures verified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cosigned_by: Vec<String>,
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
        }?;
        if self.problem.is_none() && !self.cosigned_by.is_empty() {
            writeln!(out, "cosigned by {}", self.cosigned_by.join(", "))?;
        }
        Ok(())
    }
}

/// The file in a home where a witness keeps the largest checkpoint it cosigned of each feed.
const WITNESS_FILE: &str = "witness.json";

/// What `witness.json` holds: per origin, the size and root last cosigned.
#[derive(Default, Serialize, serde::Deserialize)]
struct WitnessState {
    cosigned: std::collections::BTreeMap<String, Seen>,
}

#[derive(Clone, Serialize, serde::Deserialize)]
struct Seen {
    size: u64,
    root: String,
}

/// `mindlog witness cosign CHECKPOINT [-o FILE]`: cosigns another author's checkpoint (C2SP
/// tlog-cosignature v1, Ed25519) once it is checked: signed by the feed's author, the same root
/// at its size as the feed this store holds — so it extends every checkpoint this witness
/// cosigned of the feed before, which were checked against the same feed — and not smaller than
/// the last one cosigned.
pub(crate) fn witness_cosign(home: &Home, file: &Path, output: Option<&Path>) -> Result<Outcome> {
    let identity = home.identity()?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut seen = Agrees { ok: false, origin: None, size: None, root: None, now: None, problem: None };
    let (mut note, checkpoint, author) = match held_here(home, &bytes, &mut seen)? {
        Ok(held) => held,
        Err(problem) => return Ok(Outcome::Refused(Refusal::CheckpointDoesNotHold { problem })),
    };
    if !home.open()?.snapshot()?.forks_by(&author)?.is_empty() {
        let problem = format!("{author} forked its feed (mindlog forks): a witness cosigns no checkpoint of it");
        return Ok(Outcome::Refused(Refusal::CheckpointDoesNotHold { problem }));
    }
    let path = home.dir().join(WITNESS_FILE);
    let mut state: WitnessState = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("{} is not a witness's state", path.display()))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => WitnessState::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let previous = state.cosigned.get(&checkpoint.origin).cloned();
    if let Some(seen) = &previous
        && seen.size > checkpoint.size
    {
        let problem = format!(
            "this witness cosigned size {} of the feed already; it does not go back to {}",
            seen.size, checkpoint.size
        );
        return Ok(Outcome::Refused(Refusal::CheckpointDoesNotHold { problem }));
    }
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let name = witness_name(&identity);
    cosign(&mut note, &name, &identity, time)?;
    state.cosigned.insert(checkpoint.origin.clone(), Seen { size: checkpoint.size, root: b64(&checkpoint.root) });
    crate::home::write_atomically(&path, &serde_json::to_vec_pretty(&state)?)?;
    Made { witness: Some(name), previous: previous.map(|p| p.size), ..Made::of(&checkpoint, note.to_bytes())? }
        .deliver(home, output)
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
    let found = held_here(home, &bytes, &mut agrees)?;
    agrees.ok = found.is_ok();
    agrees.problem = found.err();
    emit(&agrees, home.format())?;
    Ok(if agrees.ok { Outcome::Success } else { Outcome::Failed })
}

/// A checkpoint of a feed, checked against this store: signed by the feed's author (the key its
/// origin names), and this store's feed has the same root at its size — so the feed held now
/// extends it (the tree at its size is built from the first leaves of the feed held now). What
/// was read goes into `seen` as it is found; the note, the checkpoint and the author, or why not.
fn held_here(home: &Home, bytes: &[u8], seen: &mut Agrees) -> Result<Result<(Note, Checkpoint, PublicKey), String>> {
    let note = match Note::parse(bytes) {
        Ok(note) => note,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let checkpoint = match Checkpoint::parse(&note.text) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.to_string())),
    };
    seen.origin = Some(checkpoint.origin.clone());
    seen.size = Some(checkpoint.size);
    seen.root = Some(b64(&checkpoint.root));
    let Some(author) = feed_author(&checkpoint.origin) else {
        return Ok(Err(format!("{} is not the origin of a mindlog feed (mindlog.local/feed/KEY)", checkpoint.origin)));
    };
    let Ok(key) = NoteVerifier::for_feed(&author) else {
        return Ok(Err(format!("{} names no Ed25519 key", checkpoint.origin)));
    };
    if let Err(e) = checked_checkpoint(bytes, &key, &[], &mut Vec::new()) {
        return Ok(Err(e));
    }
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let now = snapshot.head(&author)?.map_or(0, |h| h.seq);
    seen.now = Some(now);
    if now < checkpoint.size {
        return Ok(Err(format!(
            "this store holds {now} events of the feed, the checkpoint {}: replicate or import the feed first",
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
    Ok(Ok((note, checkpoint, author)))
}

/// A signed checkpoint checked with `key` and cosigned by every one of `witnesses`: the
/// checkpoint, or why not. The checkpoint's origin must be the key's name (a feed's key signs
/// only that feed's checkpoints). The witnesses that cosigned go into `cosigned_by`.
fn checked_checkpoint(
    bytes: &[u8],
    key: &NoteVerifier,
    witnesses: &[NoteVerifier],
    cosigned_by: &mut Vec<String>,
) -> Result<Checkpoint, String> {
    let note = Note::parse(bytes).map_err(|e| e.to_string())?;
    let mut known = vec![key.clone()];
    known.extend(witnesses.iter().cloned());
    let signed = note.verify(&known).map_err(|e| e.to_string())?;
    if !signed.contains(&key.name) {
        return Err(format!("{} did not sign this checkpoint", key.name));
    }
    if let Some(missing) = witnesses.iter().find(|w| !signed.contains(&w.name)) {
        return Err(format!("witness {} did not cosign this checkpoint", missing.name));
    }
    cosigned_by.extend(witnesses.iter().map(|w| w.name.clone()));
    let checkpoint = Checkpoint::parse(&note.text).map_err(|e| e.to_string())?;
    if checkpoint.origin != key.name {
        return Err(format!("the checkpoint is of {}, but the key is {}'s", checkpoint.origin, key.name));
    }
    // A mindlog feed's checkpoints are signed by its author's own key: a key that only carries
    // the feed's name is not that.
    if checkpoint.origin.starts_with(FEED_ORIGIN_PREFIX)
        && feed_author(&checkpoint.origin).map(|a| a.0) != Some(key.key.to_bytes())
    {
        return Err(format!("the key named {} is not that author's key", key.name));
    }
    Ok(checkpoint)
}

/// `mindlog check FILE --key VKEY [--witness WKEY]...`: offline, no store needed. Every witness
/// given must have cosigned.
pub(crate) fn check(home: &Home, file: &Path, key: &str, witnesses: &[String]) -> Result<Outcome> {
    let key = read_key(key)?;
    let witnesses = witnesses.iter().map(|w| read_key(w)).collect::<Result<Vec<_>>>()?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let proof = bytes.starts_with(b"c2sp.org/tlog-proof@");
    let mut checked = Checked {
        ok: false,
        what: if proof { "proof" } else { "checkpoint" },
        origin: None,
        size: None,
        root: None,
        cosigned_by: Vec::new(),
        event: None,
        problem: None,
    };
    let result = if proof {
        check_proof(&bytes, &key, &witnesses, &mut checked)
    } else {
        check_note(&bytes, &key, &witnesses, &mut checked)
    };
    checked.ok = result.is_ok();
    checked.problem = result.err();
    emit(&checked, home.format())?;
    Ok(if checked.ok { Outcome::Success } else { Outcome::Failed })
}

fn check_note(
    bytes: &[u8],
    key: &NoteVerifier,
    witnesses: &[NoteVerifier],
    checked: &mut Checked,
) -> Result<(), String> {
    let checkpoint = checked_checkpoint(bytes, key, witnesses, &mut checked.cosigned_by)?;
    checked.origin = Some(checkpoint.origin);
    checked.size = Some(checkpoint.size);
    checked.root = Some(b64(&checkpoint.root));
    Ok(())
}

/// A proof: its checkpoint signed by `key`, the event its `extra` carries of the checkpoint's
/// feed at the proof's index, and the proof leading from that event to the checkpoint's root —
/// with the size taken from the checkpoint, never from the proof.
fn check_proof(
    bytes: &[u8],
    key: &NoteVerifier,
    witnesses: &[NoteVerifier],
    checked: &mut Checked,
) -> Result<(), String> {
    let proof = TlogProof::parse(bytes).map_err(|e| e.to_string())?;
    let checkpoint = checked_checkpoint(&proof.checkpoint, key, witnesses, &mut checked.cosigned_by)?;
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
    if envelope.seq.checked_sub(1) != Some(proof.index) {
        return Err(format!("the event has seq {}, but the proof is for index {}", envelope.seq, proof.index));
    }
    tlog::verify_inclusion(proof.index, checkpoint.size, &tlog::leaf_hash(&hash.0), &proof.hashes, &checkpoint.root)
        .map_err(|e| e.to_string())
}
