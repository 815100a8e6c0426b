//! Signed notes and checkpoints in the formats of C2SP (c2sp.org/signed-note and
//! c2sp.org/tlog-checkpoint), so that tools we did not write can read and check them.
//!
//! A **note** is UTF-8 text ending in a newline, a blank line, then signature lines `— NAME
//! BASE64`, where BASE64 holds a 4-byte key ID and the signature of the text. An Ed25519 key
//! (signature type 0x01) has the ID `SHA-256(NAME ‖ 0x0A ‖ 0x01 ‖ public key)[..4]` and is written
//! for verifiers as `NAME+KEYID(8 hex)+BASE64(0x01 ‖ public key)`.
//!
//! Checking a note against known keys: a line that names a known key (name and ID) but whose
//! signature does not verify rejects the whole note; lines of unknown keys are ignored; at least
//! one known key must have signed.
//!
//! A **checkpoint** is a note whose text is the origin line, the tree size in decimal, the root
//! hash in base64, and optional extension lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature as DalekSignature, Verifier as _, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::Identity;
use crate::tlog::TreeHash;

/// The signature type of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// The signature type of a witness's Ed25519 cosignature (c2sp.org/tlog-cosignature, v1).
const COSIGNATURE: u8 = 0x04;
/// What starts a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// A note with more signature lines than this is refused.
const MAX_SIGNATURES: usize = 100;

/// Why a note, a verifier key or a checkpoint is refused (each variant's message says it).
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("a note is UTF-8 text ending in a newline, a blank line, then signature lines")]
    Malformed,
    #[error("a note's text may hold no character below U+0020 but newlines")]
    ControlCharacter,
    #[error("signature line {0} is not `— NAME BASE64`")]
    BadSignatureLine(usize),
    #[error("more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("the signature of {0} does not verify")]
    BadSignature(String),
    #[error("no known key signed this note")]
    NotSignedByKnownKey,
    #[error("a key name is not empty and holds no space and no `+`")]
    BadName,
    #[error("a verifier key is NAME+KEYID+BASE64 of an Ed25519 key (type 01)")]
    BadVerifierKey,
    #[error("a checkpoint is an origin line, a decimal size, a base64 root of 32 bytes, then extension lines")]
    BadCheckpoint,
    #[error(
        "a proof is `c2sp.org/tlog-proof@v1`, an optional `extra` line, `index N`, base64 hashes, a blank line, then the checkpoint"
    )]
    BadProof,
    #[error("a consistency proof is `old N`, base64 hashes, a blank line, then the newer checkpoint")]
    BadConsistencyProof,
}

/// A proof file's text: `head` (its first lines), one standard base64 line per hash, a blank line,
/// then the checkpoint's signed note verbatim.
fn proof_text(mut head: String, hashes: &[TreeHash], checkpoint: &[u8]) -> Vec<u8> {
    for h in hashes {
        head.push_str(&B64.encode(h));
        head.push('\n');
    }
    head.push('\n');
    let mut out = head.into_bytes();
    out.extend_from_slice(checkpoint);
    out
}

/// A proof file split at its first blank line: the lines before it, and the checkpoint after it.
fn split_proof(bytes: &[u8]) -> Option<(std::str::Split<'_, char>, Vec<u8>)> {
    let split = bytes.windows(2).position(|w| w == b"\n\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    Some((head.split('\n'), bytes[split + 2..].to_vec()))
}

/// Lines of standard base64 hashes of 32 bytes each.
fn read_hashes<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Vec<TreeHash>> {
    lines.map(|l| B64.decode(l).ok().and_then(|h| TreeHash::try_from(h).ok())).collect()
}

/// A u64 in decimal without leading zeros (sizes and indexes in every format here).
fn decimal(text: &str) -> Option<u64> {
    let canonical =
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    text.parse().ok().filter(|_| canonical)
}

/// A checkpoint of a mindlog feed signed by that feed's own key — the key its origin
/// (`mindlog.local/feed/KEY`) names: the note, the checkpoint and the author, or why not.
pub fn feed_checkpoint(bytes: &[u8]) -> Result<(Note, Checkpoint, crate::PublicKey), String> {
    let note = Note::parse(bytes).map_err(|e| e.to_string())?;
    let checkpoint = Checkpoint::parse(&note.text).map_err(|e| e.to_string())?;
    let Some(author) = crate::tlog::feed_author(&checkpoint.origin) else {
        return Err(format!("{} is not the origin of a mindlog feed (mindlog.local/feed/KEY)", checkpoint.origin));
    };
    let key = NoteVerifier::for_feed(&author).map_err(|_| format!("{} names no Ed25519 key", checkpoint.origin))?;
    note.verify(std::slice::from_ref(&key)).map_err(|e| e.to_string())?;
    Ok((note, checkpoint, author))
}

fn name_ok(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// What a key signs: notes (signature type 0x01), or cosignatures of checkpoints by a witness
/// (type 0x04: the signature of `cosignature/v1`, a `time` line and the checkpoint's text,
/// after an 8-byte big-endian timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519 note signatures.
    Note,
    /// Ed25519 checkpoint cosignatures, v1.
    Cosignature,
}

impl KeyKind {
    fn byte(self) -> u8 {
        match self {
            KeyKind::Note => ED25519,
            KeyKind::Cosignature => COSIGNATURE,
        }
    }
}

/// The 4-byte ID of an Ed25519 note key named `name`.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    typed_key_id(name, key, KeyKind::Note)
}

fn typed_key_id(name: &str, key: &VerifyingKey, kind: KeyKind) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind.byte()]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A key that checks notes: its name, ID and Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    /// The key's name (for a feed's checkpoints, the feed's origin).
    pub name: String,
    /// Its 4-byte ID.
    pub id: [u8; 4],
    /// The Ed25519 public key.
    pub key: VerifyingKey,
    /// What it signs.
    pub kind: KeyKind,
}

impl NoteVerifier {
    /// The verifier of `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<NoteVerifier, NoteError> {
        if !name_ok(name) {
            return Err(NoteError::BadName);
        }
        Ok(NoteVerifier { name: name.to_owned(), id: key_id(name, &key), key, kind: KeyKind::Note })
    }

    /// The cosigner key of a witness: `key` under `name`, signature type 0x04.
    pub fn cosigner(name: &str, key: VerifyingKey) -> Result<NoteVerifier, NoteError> {
        if !name_ok(name) {
            return Err(NoteError::BadName);
        }
        let kind = KeyKind::Cosignature;
        Ok(NoteVerifier { name: name.to_owned(), id: typed_key_id(name, &key, kind), key, kind })
    }

    /// The key of `author`'s feed: named by the feed's origin ([`crate::tlog::feed_origin`]).
    pub fn for_feed(author: &crate::PublicKey) -> Result<NoteVerifier, NoteError> {
        let key = VerifyingKey::from_bytes(&author.0).map_err(|_| NoteError::BadVerifierKey)?;
        NoteVerifier::new(&crate::tlog::feed_origin(author), key)
    }

    /// Reads `NAME+KEYID+BASE64`; the ID must be the key's.
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let mut parts = text.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadVerifierKey);
        };
        let key = B64.decode(key).map_err(|_| NoteError::BadVerifierKey)?;
        let (kind, key) = match key.as_slice() {
            [ED25519, key @ ..] => (KeyKind::Note, key),
            [COSIGNATURE, key @ ..] => (KeyKind::Cosignature, key),
            _ => return Err(NoteError::BadVerifierKey),
        };
        let key = <[u8; 32]>::try_from(key).map_err(|_| NoteError::BadVerifierKey)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| NoteError::BadVerifierKey)?;
        let verifier = match kind {
            KeyKind::Note => NoteVerifier::new(name, key)?,
            KeyKind::Cosignature => NoteVerifier::cosigner(name, key)?,
        };
        if id.len() != 8 || hex::decode(id).ok().as_deref() != Some(&verifier.id[..]) {
            return Err(NoteError::BadVerifierKey);
        }
        Ok(verifier)
    }
}

impl std::fmt::Display for NoteVerifier {
    /// `NAME+KEYID+BASE64(TYPE ‖ public key)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut key = vec![self.kind.byte()];
        key.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex::encode(self.id), B64.encode(key))
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's key name.
    pub name: String,
    /// The signer's key ID.
    pub id: [u8; 4],
    /// The signature's bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A note read from its bytes, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, with its final newline.
    pub text: String,
    /// Its signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Reads a note: the text up to the last blank line, then its signature lines.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        let all = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed)?;
        if all.chars().any(|c| c < '\u{20}' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        let split = all.rfind("\n\n").ok_or(NoteError::Malformed)?;
        let (text, lines) = (&all[..split + 1], &all[split + 2..]);
        if !lines.ends_with('\n') {
            return Err(NoteError::Malformed);
        }
        let mut signatures = Vec::new();
        for (i, line) in lines[..lines.len() - 1].split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or(NoteError::BadSignatureLine(i + 1))?;
            let (name, encoded) = rest.split_once(' ').ok_or(NoteError::BadSignatureLine(i + 1))?;
            let raw = B64.decode(encoded).map_err(|_| NoteError::BadSignatureLine(i + 1))?;
            if !name_ok(name) || raw.len() < 5 {
                return Err(NoteError::BadSignatureLine(i + 1));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                id: [raw[0], raw[1], raw[2], raw[3]],
                signature: raw[4..].to_vec(),
            });
        }
        Ok(Note { text: text.to_owned(), signatures })
    }

    /// Checks the note against `known` keys: the names of those that signed it. Any signature
    /// of a known key that does not verify refuses the whole note; others are ignored.
    pub fn verify(&self, known: &[NoteVerifier]) -> Result<Vec<String>, NoteError> {
        let mut by = Vec::new();
        for s in &self.signatures {
            let Some(key) = known.iter().find(|k| k.name == s.name && k.id == s.id) else { continue };
            let bad = || NoteError::BadSignature(s.name.clone());
            let (message, signature) = match key.kind {
                KeyKind::Note => (self.text.as_bytes().to_vec(), s.signature.as_slice()),
                KeyKind::Cosignature => {
                    let (time, signature) = s.signature.split_at_checked(8).ok_or_else(bad)?;
                    let time = u64::from_be_bytes(time.try_into().map_err(|_| bad())?);
                    if time > i64::MAX as u64 {
                        return Err(bad());
                    }
                    (cosigned_message(time, &self.text).into_bytes(), signature)
                }
            };
            let signature = DalekSignature::from_slice(signature).map_err(|_| bad())?;
            key.key.verify(&message, &signature).map_err(|_| bad())?;
            if !by.contains(&s.name) {
                by.push(s.name.clone());
            }
        }
        if by.is_empty() {
            return Err(NoteError::NotSignedByKnownKey);
        }
        Ok(by)
    }

    /// The note as bytes: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            let mut raw = s.id.to_vec();
            raw.extend_from_slice(&s.signature);
            out.push_str(&format!("{SIGNATURE_PREFIX}{} {}\n", s.name, B64.encode(raw)));
        }
        out.into_bytes()
    }
}

/// Signs `text` (which must end in a newline and hold no blank line or control character) as
/// `name` with `identity`'s key: the note with one signature line.
pub fn sign_note(text: &str, name: &str, identity: &Identity) -> Result<Note, NoteError> {
    if !name_ok(name) {
        return Err(NoteError::BadName);
    }
    if !text.ends_with('\n') || text.contains("\n\n") || text.chars().any(|c| c < '\u{20}' && c != '\n') {
        return Err(NoteError::Malformed);
    }
    let id = key_id(name, &identity.verifying_key());
    let signature = identity.sign(text.as_bytes()).to_bytes().to_vec();
    Ok(Note { text: text.to_owned(), signatures: vec![NoteSignature { name: name.to_owned(), id, signature }] })
}

/// What a witness signs to cosign a checkpoint at POSIX time `time` (tlog-cosignature, v1).
fn cosigned_message(time: u64, checkpoint_text: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{checkpoint_text}")
}

/// Adds a witness's cosignature, at POSIX time `time`, to a checkpoint's note; the note's own
/// signatures are for the caller to have checked.
pub fn cosign(note: &mut Note, name: &str, identity: &Identity, time: u64) -> Result<(), NoteError> {
    let verifier = NoteVerifier::cosigner(name, identity.verifying_key())?;
    let mut signature = time.to_be_bytes().to_vec();
    signature.extend_from_slice(&identity.sign(cosigned_message(time, &note.text).as_bytes()).to_bytes());
    note.signatures.retain(|s| !(s.name == verifier.name && s.id == verifier.id));
    note.signatures.push(NoteSignature { name: verifier.name, id: verifier.id, signature });
    Ok(())
}

/// The first line of a C2SP tlog-proof.
const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// An offline proof that an entry is in a log (c2sp.org/tlog-proof@v1): optional extra data,
/// the entry's index, its inclusion proof, and the log's checkpoint (a signed note) verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque data that is not authenticated by the proof (mindlog: the event's signed bytes).
    pub extra: Option<Vec<u8>>,
    /// The entry's zero-based index (mindlog: seq − 1).
    pub index: u64,
    /// The inclusion proof, from the leaf's sibling up.
    pub hashes: Vec<TreeHash>,
    /// The checkpoint's signed note, as bytes.
    pub checkpoint: Vec<u8>,
}

impl TlogProof {
    /// The proof's text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        proof_text(out, &self.hashes, &self.checkpoint)
    }

    /// Reads a proof; whether its checkpoint is signed and its hashes lead to the root is for the
    /// checker to see.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, NoteError> {
        let bad = || NoteError::BadProof;
        let (mut lines, checkpoint) = split_proof(bytes).ok_or_else(bad)?;
        if lines.next() != Some(PROOF_HEADER) {
            return Err(bad());
        }
        let mut line = lines.next().ok_or_else(bad)?;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(B64.decode(encoded).map_err(|_| bad())?);
            line = lines.next().ok_or_else(bad)?;
        }
        let index = line.strip_prefix("index ").and_then(decimal).ok_or_else(bad)?;
        let hashes = read_hashes(lines).ok_or_else(bad)?;
        Ok(TlogProof { extra, index, hashes, checkpoint })
    }
}

/// A consistency proof with the checkpoint it leads to, as C2SP tlog-witness's `add-checkpoint`
/// request body: `old SIZE`, the proof's hashes (one base64 line each), a blank line, then the
/// checkpoint's signed note verbatim. The root at `old` comes from a checkpoint the checker holds;
/// `old` 0 (with no hashes) says the sender knows of no earlier checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The size the proof starts from.
    pub old: u64,
    /// The consistency proof (RFC 9162 §2.1.4), from the old size to the checkpoint's.
    pub hashes: Vec<TreeHash>,
    /// The newer checkpoint's signed note, as bytes.
    pub checkpoint: Vec<u8>,
}

impl ConsistencyProof {
    /// The body's text.
    pub fn to_bytes(&self) -> Vec<u8> {
        proof_text(format!("old {}\n", self.old), &self.hashes, &self.checkpoint)
    }

    /// Reads a body; whether its checkpoint is signed and its proof holds is for the checker.
    pub fn parse(bytes: &[u8]) -> Result<ConsistencyProof, NoteError> {
        let bad = || NoteError::BadConsistencyProof;
        let (mut lines, checkpoint) = split_proof(bytes).ok_or_else(bad)?;
        let old = lines.next().and_then(|l| l.strip_prefix("old ")).and_then(decimal).ok_or_else(bad)?;
        let hashes = read_hashes(lines).ok_or_else(bad)?;
        Ok(ConsistencyProof { old, hashes, checkpoint })
    }
}

/// A checkpoint: the origin, the tree's size and root, and extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log it is of (for a feed: `mindlog.local/feed/<author hex>`).
    pub origin: String,
    /// How many leaves the tree has.
    pub size: u64,
    /// The tree's root.
    pub root: TreeHash,
    /// Lines after the root, each non-empty.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text of the checkpoint.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Reads a checkpoint's text (a note's text).
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let body = text.strip_suffix('\n').ok_or(NoteError::BadCheckpoint)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(NoteError::BadCheckpoint);
        };
        let size = decimal(size).ok_or(NoteError::BadCheckpoint)?;
        let root = B64.decode(root).ok().and_then(|r| TreeHash::try_from(r).ok()).ok_or(NoteError::BadCheckpoint)?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if origin.is_empty() || extensions.iter().any(String::is_empty) {
            return Err(NoteError::BadCheckpoint);
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root, extensions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the C2SP signed-note specification.
    const SPEC_KEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn the_specifications_example_verifies() {
        let key = NoteVerifier::parse(SPEC_KEY).unwrap();
        assert_eq!(key.to_string(), SPEC_KEY);
        let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        assert_eq!(note.text, "This is an example message.\n");
        assert_eq!(note.verify(std::slice::from_ref(&key)).unwrap(), ["example.com/foo"]);
        assert_eq!(note.to_bytes(), SPEC_NOTE.as_bytes());
        // One changed character of the text, and it no longer verifies.
        let bent = SPEC_NOTE.replacen("example message", "example messagE", 1);
        assert_eq!(
            Note::parse(bent.as_bytes()).unwrap().verify(&[key]),
            Err(NoteError::BadSignature("example.com/foo".into()))
        );
    }

    #[test]
    fn known_bad_signatures_refuse_unknown_ones_are_ignored() {
        let key = Identity::from_secret(&[7u8; 32]);
        let other = Identity::from_secret(&[8u8; 32]);
        let mine = NoteVerifier::new("mindlog.local/me", key.verifying_key()).unwrap();
        let mut note = sign_note("hello\n", "mindlog.local/me", &key).unwrap();
        // A line of a key nobody asked about: ignored.
        let stranger = sign_note("hello\n", "witness.example", &other).unwrap();
        note.signatures.extend(stranger.signatures.clone());
        assert_eq!(
            Note::parse(&note.to_bytes()).unwrap().verify(std::slice::from_ref(&mine)).unwrap(),
            ["mindlog.local/me"]
        );
        // Only unknown keys: not signed by anyone we know.
        let witness = NoteVerifier::new("witness.example", other.verifying_key()).unwrap();
        let only_stranger = Note::parse(&stranger.to_bytes()).unwrap();
        assert_eq!(only_stranger.verify(std::slice::from_ref(&mine)), Err(NoteError::NotSignedByKnownKey));
        assert!(only_stranger.verify(std::slice::from_ref(&witness)).is_ok());
        // A line naming a known key (name and ID) with a bad signature refuses the whole note,
        // even when another known key signed it well.
        let mut forged = note.clone();
        forged.signatures[1].signature[0] ^= 1;
        let forged = Note::parse(&forged.to_bytes()).unwrap();
        assert_eq!(forged.verify(&[mine, witness]), Err(NoteError::BadSignature("witness.example".into())));
    }

    #[test]
    fn malformed_notes_are_refused() {
        for bad in [
            "no signatures\n",
            "text\n\n",
            "text\n\nnot a signature line\n",
            "text\n\n\u{2014} name\n",
            "text\n\n\u{2014} name AAAA\n",
            "text\r\n\n\u{2014} name AAAAAAAA\n",
            "text\n\n\u{2014} name AAAAAAAA",
        ] {
            assert!(Note::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(Note::parse(b"\xff\n\n").is_err());
        let key = Identity::from_secret(&[7u8; 32]);
        assert!(sign_note("two\n\nparagraphs\n", "me", &key).is_err());
        assert!(sign_note("no newline", "me", &key).is_err());
        assert!(sign_note("ok\n", "has space", &key).is_err());
    }

    /// A witness cosigns as c2sp.org/tlog-cosignature v1 says, and its cosignature checks.
    #[test]
    fn a_witness_cosigns_and_its_cosignature_checks() {
        let log = Identity::from_secret(&[7u8; 32]);
        let witness = Identity::from_secret(&[9u8; 32]);
        let text = "example.com/log\n5\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n";
        let mut note = sign_note(text, "example.com/log", &log).unwrap();
        cosign(&mut note, "witness.example/w1", &witness, 1_679_315_147).unwrap();
        let w = NoteVerifier::cosigner("witness.example/w1", witness.verifying_key()).unwrap();
        assert_eq!(NoteVerifier::parse(&w.to_string()).unwrap(), w, "a type-04 verifier key reads back");
        let l = NoteVerifier::new("example.com/log", log.verifying_key()).unwrap();
        let parsed = Note::parse(&note.to_bytes()).unwrap();
        assert_eq!(parsed.verify(&[l.clone(), w.clone()]).unwrap(), ["example.com/log", "witness.example/w1"]);
        assert_eq!(parsed.signatures[1].signature[..8], 1_679_315_147u64.to_be_bytes());
        // The same key as a note key is another key ID: the line is not its.
        let as_note = NoteVerifier::new("witness.example/w1", witness.verifying_key()).unwrap();
        assert_ne!(as_note.id, w.id);
        // A changed timestamp breaks the cosignature.
        let mut bent = parsed.clone();
        bent.signatures[1].signature[7] ^= 1;
        assert_eq!(bent.verify(&[l, w]), Err(NoteError::BadSignature("witness.example/w1".into())));
    }

    #[test]
    fn proofs_round_trip_and_refuse_what_is_not_one() {
        let p = TlogProof {
            extra: Some(b"event".to_vec()),
            index: 7,
            hashes: vec![[1u8; 32], [2u8; 32]],
            checkpoint: "o\n1\nx\n\n\u{2014} o AAAAAAAA\n".as_bytes().to_vec(),
        };
        assert_eq!(TlogProof::parse(&p.to_bytes()).unwrap(), p);
        let bare = TlogProof { extra: None, index: 0, hashes: vec![], checkpoint: b"c\n".to_vec() };
        assert_eq!(TlogProof::parse(&bare.to_bytes()).unwrap(), bare);
        let text = String::from_utf8(p.to_bytes()).unwrap();
        for bad in [
            text.replace("index 7", "index 07"),
            text.replace("index 7", "index -7"),
            text.replace("tlog-proof@v1", "tlog-proof@v2"),
            text.replacen("AQEB", "AQE", 1),
            text.replace("index 7\n", ""),
        ] {
            assert!(TlogProof::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checkpoints_round_trip_and_refuse_what_is_not_one() {
        let c = Checkpoint {
            origin: "mindlog.local/feed/00ff".into(),
            size: 42,
            root: [9u8; 32],
            extensions: vec!["an extension".into()],
        };
        assert_eq!(Checkpoint::parse(&c.text()).unwrap(), c);
        for bad in [
            "",
            "origin\n",
            "origin\n42\n",
            "origin\n042\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "origin\n-1\nCQ==\n",
            "\n1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "o\n1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
