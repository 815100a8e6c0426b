//! Signed checkpoints and offline proofs of a feed (docs/format.md §10): `sign`, `checkpoint`,
//! `prove`, `check` and `witness cosign`, in the C2SP formats (tlog-checkpoint in a signed note,
//! tlog-proof@v1, tlog-witness's add-checkpoint body for consistency), so tools we did not write
//! can check them.
//!
//! A checkpoint is published in its own feed (`ledger.checkpoint/1`); proofs are made only
//! against published checkpoints that check against the store's tree, so every root a proof
//! leads to is one its author signed.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mindlog_ledger::note::{
    Checkpoint, ConsistencyProof, KeyKind, Note, NoteVerifier, TlogProof, cosign, feed_checkpoint,
};
use mindlog_ledger::tlog::{self, FEED_ORIGIN_PREFIX, feed_author, feed_origin};
use mindlog_ledger::{Envelope, Identity, PublicKey, Published, Snapshot, hash_envelope_bytes};
use serde::Serialize;

use crate::Outcome;
use crate::home::Home;
use crate::output::{Report, emit};
use crate::refusal::Refusal;
use crate::ui::now_micros;

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

/// What `sign`, `prove` and `witness cosign` made: a checkpoint (or a proof of an event in one).
#[derive(Serialize)]
struct Made {
    origin: String,
    size: u64,
    root: String,
    /// `prove`: the event's index in the tree (seq − 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    /// `sign`, `checkpoint`: the seq of the event that publishes the checkpoint in its feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    published_seq: Option<u64>,
    /// `witness cosign`: the witness's key name.
    #[serde(skip_serializing_if = "Option::is_none")]
    witness: Option<String>,
    /// `prove --consistency`: the size the proof starts from; `witness cosign`: the size it
    /// cosigned of the feed before, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    extends: Option<u64>,
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
            published_seq: None,
            witness: None,
            extends: None,
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
        if let Some(seq) = self.published_seq {
            write!(out, ", published as seq {seq} of the feed")?;
        }
        if let Some(index) = self.index {
            write!(out, "; proves seq {}", index + 1)?;
        }
        match (&self.witness, self.extends) {
            (Some(witness), Some(size)) => {
                write!(out, ", cosigned by {witness}; it extends size {size}, cosigned before")?
            }
            (Some(witness), None) => write!(out, ", cosigned by {witness}")?,
            (None, Some(size)) => write!(out, "; proves it extends size {size}")?,
            (None, None) => {}
        }
        writeln!(out, ")")
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What a published checkpoint makes of a report.
fn published(p: &Published) -> Result<Made> {
    Ok(Made { published_seq: Some(p.seq), ..Made::of(&p.checkpoint, p.note.clone())? })
}

/// `mindlog sign [-o FILE]`: publishes a checkpoint of your feed at its head.
pub(crate) fn sign(home: &Home, output: Option<&Path>) -> Result<Outcome> {
    let identity = home.identity()?;
    let checkpoint = home.open()?.publish_checkpoint(&identity, now_micros())?;
    published(&checkpoint)?.deliver(home, output)
}

/// `mindlog checkpoint [AUTHOR] [-o FILE]`: the newest checkpoint published in a feed.
pub(crate) fn checkpoint(home: &Home, author: Option<&str>, output: Option<&Path>) -> Result<Outcome> {
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let author = match author {
        None => home.identity()?.public_key(),
        Some(text) => match home.author(text, &snapshot)? {
            Ok(author) => author,
            Err(refusal) => return Ok(Outcome::Refused(refusal)),
        },
    };
    match snapshot.published_checkpoint(&author, 0)? {
        Some(checkpoint) => published(&checkpoint)?.deliver(home, output),
        None => Ok(Outcome::Refused(Refusal::NoCheckpoint { author, seq: None })),
    }
}

/// `mindlog prove EVENT [-o FILE]`: an event of any feed, in the newest checkpoint published in
/// its feed (which must cover it).
pub(crate) fn prove(home: &Home, event: &str, output: Option<&Path>) -> Result<Outcome> {
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let offset = match crate::erase_cmds::resolve_event(&snapshot, event)? {
        Ok(offset) => offset,
        Err(refusal) => return Ok(Outcome::Refused(refusal)),
    };
    match proof_of(&snapshot, offset)? {
        Ok((checkpoint, proof)) => {
            Made { index: Some(proof.index), ..Made::of(&checkpoint, proof.to_bytes())? }.deliver(home, output)
        }
        Err(refusal) => Ok(Outcome::Refused(refusal)),
    }
}

/// The proof of the event at `offset` against the newest checkpoint published in its feed that
/// covers it, checked before it is given out; or why there is none.
pub(crate) fn proof_of(snapshot: &Snapshot, offset: u64) -> Result<Result<(Checkpoint, TlogProof), Refusal>> {
    let stored = snapshot.event(offset)?.context("the event vanished")?;
    let envelope = Envelope::decode(&stored.bytes)?;
    let Some(published) = snapshot.published_checkpoint(&envelope.author, envelope.seq)? else {
        return Ok(Err(Refusal::NoCheckpoint { author: envelope.author, seq: Some(envelope.seq) }));
    };
    let (index, size) = (envelope.seq - 1, published.checkpoint.size);
    let mut tree = snapshot.feed_tree(&envelope.author)?;
    let hashes = tlog::prove_inclusion(&mut tree, size, index)?.context("the event is beyond the checkpoint")?;
    // What is given out must check: the event's own leaf leads to the signed root.
    tlog::verify_inclusion(index, size, &tlog::leaf_hash(&stored.hash.0), &hashes, &published.checkpoint.root)
        .with_context(|| {
            format!("the stored tree does not hold event {} at seq {}: run mindlog verify", stored.hash, envelope.seq)
        })?;
    let proof = TlogProof { extra: Some(stored.bytes), index, hashes, checkpoint: published.note };
    Ok(Ok((published.checkpoint, proof)))
}

/// `mindlog prove --consistency AUTHOR OLD NEW [-o FILE]`: that the feed at size NEW, as a
/// checkpoint published in it says, extends the feed at size OLD.
pub(crate) fn prove_consistency(
    home: &Home,
    author: &str,
    old: u64,
    new: u64,
    output: Option<&Path>,
) -> Result<Outcome> {
    if old > new {
        return Ok(Outcome::Refused(Refusal::BadSizes { old, new }));
    }
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let author = match home.author(author, &snapshot)? {
        Ok(author) => author,
        Err(refusal) => return Ok(Outcome::Refused(refusal)),
    };
    let all = snapshot.published_checkpoints(&author, new)?;
    let Some(published) = all.iter().find(|p| p.checkpoint.size == new) else {
        let sizes = snapshot.published_checkpoints(&author, 0)?.iter().rev().map(|p| p.checkpoint.size).collect();
        return Ok(Outcome::Refused(Refusal::NoCheckpointAt { author, size: new, published: sizes }));
    };
    let mut tree = snapshot.feed_tree(&author)?;
    // From 0 there is nothing to prove: the body only introduces the checkpoint to a witness.
    let hashes = if old == 0 {
        Vec::new()
    } else {
        let hashes = tlog::prove_consistency(&mut tree, old, new)?.context("sizes out of range")?;
        let old_root = tlog::tree_root(&mut tree, old)?;
        tlog::verify_consistency(old, new, &hashes, &old_root, &published.checkpoint.root)
            .context("the stored tree does not lead to the published root: run mindlog verify")?;
        hashes
    };
    let proof = ConsistencyProof { old, hashes, checkpoint: published.note.clone() };
    Made { extends: Some(old), ..Made::of(&published.checkpoint, proof.to_bytes())? }.deliver(home, output)
}

/// What `check` found.
#[derive(Serialize)]
struct Checked {
    ok: bool,
    /// `checkpoint`, `proof` or `consistency`.
    what: &'static str,
    origin: Option<String>,
    size: Option<u64>,
    root: Option<String>,
    /// A consistency proof's older checkpoint: its size and root.
    #[serde(skip_serializing_if = "Option::is_none")]
    old_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_root: Option<String>,
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

impl Checked {
    fn new(what: &'static str) -> Checked {
        Checked {
            ok: false,
            what,
            origin: None,
            size: None,
            root: None,
            old_size: None,
            old_root: None,
            cosigned_by: Vec::new(),
            event: None,
            problem: None,
        }
    }
}

impl Report for Checked {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        let origin = self.origin.as_deref().unwrap_or("");
        match (&self.problem, &self.event) {
            (Some(problem), _) => writeln!(out, "FAILED: {problem}"),
            (None, None) if self.what == "consistency" => writeln!(
                out,
                "OK: the feed {origin} at size {} (root {}) extends it at size {} (root {}); both checkpoints signed by its key",
                self.size.unwrap_or(0),
                self.root.as_deref().unwrap_or(""),
                self.old_size.unwrap_or(0),
                self.old_root.as_deref().unwrap_or("")
            ),
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

/// What `witness.json` holds: per witness (its key name: one per identity of the home), per
/// origin, the checkpoint last cosigned.
#[derive(Default, Serialize, serde::Deserialize)]
struct WitnessState {
    #[serde(default)]
    by_witness: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Seen>>,
}

#[derive(Clone, Serialize, serde::Deserialize)]
struct Seen {
    size: u64,
    root: String,
    /// The checkpoint's signed note as cosigned (kept to show it beside a split view).
    #[serde(default)]
    note: String,
}

/// A split view a witness refused: the feed's author signed a checkpoint that does not extend
/// the one the witness cosigned before — two histories of one feed, both signed.
#[derive(Serialize)]
struct SplitView {
    ok: bool,
    origin: String,
    problem: String,
    /// The checkpoint cosigned before, and the one refused, verbatim.
    cosigned: String,
    refused: String,
}

impl Report for SplitView {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "FAILED: split view of {}: {}", self.origin, self.problem)?;
        writeln!(out, "\ncosigned before:\n{}\nrefused:\n{}", self.cosigned, self.refused)
    }
}

/// What a witness is shown to say that a checkpoint extends the one it cosigned before.
enum Evidence {
    /// A consistency proof from the size cosigned before (tlog-witness's add-checkpoint body).
    Proof(ConsistencyProof),
    /// The feed as this store holds it (the checkpoint has its root at its size).
    Store(PublicKey),
}

/// Whether a checkpoint extends the one cosigned before, by the evidence.
enum Extends {
    Yes,
    /// Not cosigned, for a reason that is no split view.
    Refused(String),
    /// The two checkpoints are of two histories of one feed.
    SplitView(String),
}

/// `mindlog witness cosign FILE [-o FILE]`: cosigns another author's checkpoint (C2SP
/// tlog-cosignature v1) once it is checked: signed by the feed's author, and extending the last
/// checkpoint this witness cosigned of the feed. FILE is either the checkpoint alone — then this
/// store must hold the feed with the checkpoint's root at its size, and the root cosigned before at
/// that size — or a consistency proof from the size last cosigned (`prove --consistency`, C2SP
/// tlog-witness's add-checkpoint body), which needs no store. A checkpoint that does not extend the
/// last one cosigned is a split view: refused, exit 1, with both checkpoints.
pub(crate) fn witness_cosign(home: &Home, file: &Path, output: Option<&Path>) -> Result<Outcome> {
    let identity = home.identity()?;
    let name = witness_name(&identity);
    let bytes = read_input(file)?;
    let refuse = |problem: String| Ok(Outcome::Refused(Refusal::CheckpointDoesNotHold { problem }));
    let (mut note, checkpoint, evidence) = if bytes.starts_with(b"old ") {
        let proof = match ConsistencyProof::parse(&bytes) {
            Ok(proof) => proof,
            Err(e) => return refuse(e.to_string()),
        };
        match feed_checkpoint(&proof.checkpoint) {
            Ok((note, checkpoint, _)) => (note, checkpoint, Evidence::Proof(proof)),
            Err(problem) => return refuse(problem),
        }
    } else {
        let mut seen = Agrees { ok: false, origin: None, size: None, root: None, now: None, problem: None };
        match held_here(home, &bytes, &mut seen)? {
            Ok((note, checkpoint, author)) => (note, checkpoint, Evidence::Store(author)),
            Err(problem) => return refuse(problem),
        }
    };
    if let Some(author) = feed_author(&checkpoint.origin)
        && !home.open()?.snapshot()?.forks_by(&author)?.is_empty()
    {
        return refuse(format!("{author} forked its feed (mindlog forks): a witness cosigns no checkpoint of it"));
    }
    // One witness at a time per home (the node runs each request on a thread of its own): the
    // state is read, checked against and written under one lock.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(home.dir().join("witness.lock"))
        .context("opening the witness's lock file")?;
    lock.lock().context("locking the witness's state")?;
    let path = home.dir().join(WITNESS_FILE);
    let mut state: WitnessState = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("{} is not a witness's state", path.display()))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => WitnessState::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let before = state.by_witness.get(&name).and_then(|m| m.get(&checkpoint.origin)).cloned();
    match extends(home, before.as_ref(), &checkpoint, &evidence)? {
        Extends::Yes => {}
        Extends::Refused(problem) => return refuse(problem),
        Extends::SplitView(problem) => {
            let view = SplitView {
                ok: false,
                origin: checkpoint.origin.clone(),
                problem,
                cosigned: before.map(|b| b.note).unwrap_or_default(),
                refused: String::from_utf8_lossy(&note.to_bytes()).into_owned(),
            };
            emit(&view, home.format())?;
            return Ok(Outcome::Failed);
        }
    }
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    cosign(&mut note, &name, &identity, time)?;
    let seen = Seen {
        size: checkpoint.size,
        root: b64(&checkpoint.root),
        note: String::from_utf8_lossy(&note.to_bytes()).into_owned(),
    };
    state.by_witness.entry(name.clone()).or_default().insert(checkpoint.origin.clone(), seen);
    crate::home::write_atomically(&path, &serde_json::to_vec_pretty(&state)?)?;
    drop(lock);
    let extended = before.map(|b| b.size);
    Made { witness: Some(name), extends: extended, ..Made::of(&checkpoint, note.to_bytes())? }.deliver(home, output)
}

/// The one rule of a witness: a checkpoint is cosigned only if it extends the one cosigned before
/// (the first of a feed is taken on trust), whatever shows it.
fn extends(home: &Home, before: Option<&Seen>, checkpoint: &Checkpoint, evidence: &Evidence) -> Result<Extends> {
    let Some(before) = before else {
        return Ok(match evidence {
            Evidence::Proof(p) if p.old != 0 || !p.hashes.is_empty() => Extends::Refused(format!(
                "this witness has cosigned nothing of the feed, so a proof from size {} proves nothing to it: send \
                 old 0 and no hashes",
                p.old
            )),
            _ => Extends::Yes,
        });
    };
    if before.size > checkpoint.size {
        return Ok(Extends::Refused(format!(
            "this witness cosigned size {} of the feed already; it does not go back to {}",
            before.size, checkpoint.size
        )));
    }
    let old_root = b64_decode(&before.root)?;
    Ok(match evidence {
        Evidence::Proof(p) if p.old != before.size => Extends::Refused(format!(
            "the proof starts from size {}, but the last checkpoint this witness cosigned of the feed is at size {}: \
             send a proof from {}",
            p.old, before.size, before.size
        )),
        // Every tree extends the empty tree.
        Evidence::Proof(p) if before.size == 0 && p.hashes.is_empty() => Extends::Yes,
        Evidence::Proof(p) => {
            match tlog::verify_consistency(before.size, checkpoint.size, &p.hashes, &old_root, &checkpoint.root) {
                Ok(()) => Extends::Yes,
                Err(e) => Extends::SplitView(format!(
                    "the checkpoint at size {} does not extend the one cosigned at size {} ({e})",
                    checkpoint.size, before.size
                )),
            }
        }
        Evidence::Store(_) if before.size == 0 => Extends::Yes,
        Evidence::Store(author) => {
            let ledger = home.open()?;
            let root = tlog::tree_root(&mut ledger.snapshot()?.feed_tree(author)?, before.size)?;
            if root == old_root {
                Extends::Yes
            } else {
                Extends::SplitView(format!(
                    "this store's copy of the feed has root {} at size {}, where the checkpoint cosigned before has {}",
                    b64(&root),
                    before.size,
                    before.root
                ))
            }
        }
    })
}

/// A file's bytes, or standard input's for `-`.
fn read_input(file: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if file == Path::new("-") {
        io::Read::read_to_end(&mut crate::served::stdin(), &mut bytes).context("reading standard input")?;
    } else {
        bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    }
    Ok(bytes)
}

fn b64_decode(text: &str) -> Result<[u8; 32]> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).context("witness.json holds a bad root")?;
    bytes.try_into().ok().context("witness.json holds a root that is not 32 bytes")
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

/// A checkpoint of a feed, checked against this store: signed by the feed's author, and this
/// store's feed has the same root at its size — so the feed held now extends it (the tree at its
/// size is the tree of the first leaves of the feed held now). What was read goes into `seen` as
/// it is found; the note, the checkpoint and the author, or why not.
fn held_here(home: &Home, bytes: &[u8], seen: &mut Agrees) -> Result<Result<(Note, Checkpoint, PublicKey), String>> {
    if let Ok(checkpoint) = Note::parse(bytes).and_then(|note| Checkpoint::parse(&note.text)) {
        seen.origin = Some(checkpoint.origin.clone());
        seen.size = Some(checkpoint.size);
        seen.root = Some(b64(&checkpoint.root));
    }
    let (note, checkpoint, author) = match feed_checkpoint(bytes) {
        Ok(found) => found,
        Err(problem) => return Ok(Err(problem)),
    };
    let ledger = home.open()?;
    let snapshot = ledger.snapshot()?;
    let now = snapshot.head(&author)?.map_or(0, |h| h.seq);
    seen.now = Some(now);
    if now < checkpoint.size {
        return Ok(Err(format!(
            "this store holds {now} events of the feed, and the checkpoint is at size {}: replicate or import the feed first",
            checkpoint.size
        )));
    }
    let root = tlog::tree_root(&mut snapshot.feed_tree(&author)?, checkpoint.size)?;
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
    if key.kind != KeyKind::Note {
        return Err(format!("{} is a witness's key (type 04), not a log's", key.name));
    }
    if let Some(w) = witnesses.iter().find(|w| w.kind != KeyKind::Cosignature) {
        return Err(format!(
            "{} is not a witness's key (type 04): --witness takes the key `identity list` shows as witness",
            w.name
        ));
    }
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
pub(crate) fn check(home: &Home, file: &Path, key: &str, witnesses: &[String], old: Option<&Path>) -> Result<Outcome> {
    let key = read_key(key)?;
    let witnesses = witnesses.iter().map(|w| read_key(w)).collect::<Result<Vec<_>>>()?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let what = if bytes.starts_with(b"c2sp.org/tlog-proof@") {
        "proof"
    } else if bytes.starts_with(b"old ") {
        "consistency"
    } else {
        "checkpoint"
    };
    let old = match (what, old) {
        ("consistency", Some(path)) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        ("consistency", None) => {
            anyhow::bail!(
                "{} is a consistency proof: give the older checkpoint it extends with --old FILE",
                file.display()
            )
        }
        (_, Some(_)) => anyhow::bail!("--old is for consistency proofs; {} is a {what}", file.display()),
        (_, None) => None,
    };
    let mut checked = Checked::new(what);
    let result = match &old {
        _ if what == "proof" => check_proof(&bytes, &key, &witnesses, &mut checked),
        Some(old) => check_consistency(&bytes, old, &key, &witnesses, &mut checked),
        None => check_note(&bytes, &key, &witnesses, &mut checked),
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

/// `check`'s verdict on a proof, as the bench times it: `Ok` or why not.
pub(crate) fn check_proof_file(bytes: &[u8], key: &NoteVerifier) -> Result<(), String> {
    let mut checked = Checked::new("proof");
    check_proof(bytes, key, &[], &mut checked)
}

/// A consistency proof (`prove --consistency`): its checkpoint and the older one both signed by
/// `key`, of one origin, the proof starting at the older one's size and leading from its root to
/// the newer root. Sizes and roots come from the signed checkpoints.
fn check_consistency(
    bytes: &[u8],
    old: &[u8],
    key: &NoteVerifier,
    witnesses: &[NoteVerifier],
    checked: &mut Checked,
) -> Result<(), String> {
    let proof = ConsistencyProof::parse(bytes).map_err(|e| e.to_string())?;
    let new = checked_checkpoint(&proof.checkpoint, key, witnesses, &mut checked.cosigned_by)?;
    checked.origin = Some(new.origin.clone());
    checked.size = Some(new.size);
    checked.root = Some(b64(&new.root));
    let old = checked_checkpoint(old, key, &[], &mut Vec::new()).map_err(|e| format!("the older checkpoint: {e}"))?;
    checked.old_size = Some(old.size);
    checked.old_root = Some(b64(&old.root));
    if proof.old != old.size {
        return Err(format!("the proof starts from size {}, the older checkpoint is at size {}", proof.old, old.size));
    }
    tlog::verify_consistency(old.size, new.size, &proof.hashes, &old.root, &new.root)
        .map_err(|e| format!("the feed at size {} does not extend the checkpoint at size {}: {e}", new.size, old.size))
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
