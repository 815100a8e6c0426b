//! The event envelope: its fields, its canonical postcard encoding, and the rules a valid one obeys.
//!
//! docs/format.md specifies this byte by byte; the tests in `tests/format.rs` hold the two together.

use serde::{Deserialize, Serialize};

use crate::types::{Hash, PublicKey};

/// The envelope format this build writes. It reads this one and every older one (1 and 2).
pub const FORMAT_VERSION: u8 = 2;

/// The bytes hashed in front of the envelope bytes (domain separation). The same for every
/// envelope format: the format is the envelope's first byte, so it is hashed too.
pub const HASH_DOMAIN: &[u8] = b"mindlog.event.v1\0";

/// The bytes hashed in front of the salt and the payload to make a format-2 payload commitment.
pub const PAYLOAD_DOMAIN: &[u8] = b"mindlog.payload.v2\0";

/// The longest kind, in bytes.
pub(crate) const MAX_KIND_LEN: usize = 64;

/// The most references one event may carry.
pub(crate) const MAX_REFS: usize = 64;

/// The largest payload, in bytes.
pub const MAX_PAYLOAD_LEN: usize = 256 * 1024;

/// The longest valid envelope, in bytes: a format-1 envelope with the largest seq, timestamp,
/// kind, refs and payload (the varints of seq and ts at most 10 bytes, of the kind's and the
/// refs' lengths 1, of the payload's length 3).
pub(crate) const MAX_ENVELOPE_LEN: usize =
    1 + 32 + 10 + 33 + 10 + 1 + MAX_KIND_LEN + 1 + 32 * MAX_REFS + 3 + MAX_PAYLOAD_LEN;

/// The latest timestamp an envelope may carry: 9999-12-31T23:59:59.999999Z, in microseconds.
pub const MAX_TIMESTAMP_MICROS: u64 = 253_402_300_799_999_999;

/// What an envelope says about its payload: the payload itself (format 1), or its size and a
/// commitment to it (format 2), the payload travelling beside the signed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body<P> {
    /// Format 1: the payload bytes are inside the signed envelope.
    Inline(P),
    /// Format 2: the envelope commits to the payload, which is held (or not) beside it.
    Committed {
        /// The payload's length in bytes.
        size: u64,
        /// `blake3(PAYLOAD_DOMAIN ‖ salt ‖ payload)` (see [`payload_commitment`]).
        commitment: Hash,
    },
}

impl<P: AsRef<[u8]>> Body<P> {
    /// Format 2's (size, commitment); `None` for format 1.
    pub fn committed(&self) -> Option<(u64, Hash)> {
        match self {
            Body::Inline(_) => None,
            Body::Committed { size, commitment } => Some((*size, *commitment)),
        }
    }

    /// The payload's length in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Body::Inline(p) => p.as_ref().len() as u64,
            Body::Committed { size, .. } => *size,
        }
    }
}

/// One event, as its author signed it.
///
/// The field order is the encoding order. `prev` is absent exactly when `seq` is 1. The body's
/// shape follows the version: [`Body::Inline`] in format 1, [`Body::Committed`] in format 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Format version: 1 or 2; [`FORMAT_VERSION`] for everything this build writes.
    pub version: u8,
    /// The author's Ed25519 public key.
    pub author: PublicKey,
    /// Position in the author's feed, from 1.
    pub seq: u64,
    /// Hash of the author's event `seq - 1`; `None` for seq 1.
    pub prev: Option<Hash>,
    /// Microseconds since 1970-01-01T00:00:00Z, as the author's clock said.
    pub ts: u64,
    /// A versioned name such as `persona.created/1` (see [`is_valid_kind`]).
    pub kind: String,
    /// Hashes of other events this one refers to.
    pub refs: Vec<Hash>,
    /// The payload (format 1) or a commitment to it (format 2).
    pub body: Body<Vec<u8>>,
}

/// An envelope read in place: `kind` and an inline payload borrow the encoded bytes.
///
/// For readers that pass over many stored events and keep little of each (the query layer's
/// scans). It checks the version and that the bytes parse, not that they are canonical: use it on
/// events the store accepted, and [`Envelope::decode`] on anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeRef<'a> {
    /// Format version.
    pub version: u8,
    /// The author's Ed25519 public key.
    pub author: PublicKey,
    /// Position in the author's feed, from 1.
    pub seq: u64,
    /// Hash of the author's event `seq - 1`.
    pub prev: Option<Hash>,
    /// Microseconds since the Unix epoch.
    pub ts: u64,
    /// The versioned kind.
    pub kind: &'a str,
    /// Hashes of other events this one refers to.
    pub refs: Vec<Hash>,
    /// The payload (format 1) or a commitment to it (format 2).
    pub body: Body<&'a [u8]>,
}

/// The fields every envelope format shares, in encoding order.
#[derive(Serialize, Deserialize)]
struct Header<'a> {
    version: u8,
    author: PublicKey,
    seq: u64,
    prev: Option<Hash>,
    ts: u64,
    kind: &'a str,
    refs: Vec<Hash>,
}

impl<'a> EnvelopeRef<'a> {
    /// Parses stored envelope bytes without copying the kind or the payload.
    pub fn decode(bytes: &'a [u8]) -> Result<EnvelopeRef<'a>, EnvelopeError> {
        match bytes.first() {
            Some(&v) if v > FORMAT_VERSION || v == 0 => return Err(EnvelopeError::UnsupportedVersion(v)),
            _ => {}
        }
        let malformed = |e: postcard::Error| EnvelopeError::Malformed(e.to_string());
        let (header, rest) = postcard::take_from_bytes::<Header<'a>>(bytes).map_err(malformed)?;
        let (body, rest) = if header.version == 1 {
            let (payload, rest) = postcard::take_from_bytes::<&'a [u8]>(rest).map_err(malformed)?;
            (Body::Inline(payload), rest)
        } else {
            let (size, rest) = postcard::take_from_bytes::<u64>(rest).map_err(malformed)?;
            let (commitment, rest) = postcard::take_from_bytes::<Hash>(rest).map_err(malformed)?;
            (Body::Committed { size, commitment }, rest)
        };
        if !rest.is_empty() {
            return Err(EnvelopeError::NonCanonical);
        }
        let Header { version, author, seq, prev, ts, kind, refs } = header;
        Ok(EnvelopeRef { version, author, seq, prev, ts, kind, refs, body })
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Envelope {
        Envelope {
            version: self.version,
            author: self.author,
            seq: self.seq,
            prev: self.prev,
            ts: self.ts,
            kind: self.kind.to_owned(),
            refs: self.refs.clone(),
            body: match self.body {
                Body::Inline(p) => Body::Inline(p.to_vec()),
                Body::Committed { size, commitment } => Body::Committed { size, commitment },
            },
        }
    }
}

/// The commitment a format-2 envelope makes to its payload:
/// `blake3(PAYLOAD_DOMAIN ‖ salt ‖ payload)`, unkeyed, 32 bytes.
pub fn payload_commitment(salt: &[u8; 32], payload: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(PAYLOAD_DOMAIN);
    hasher.update(salt);
    hasher.update(payload);
    Hash(*hasher.finalize().as_bytes())
}

/// Why bytes are not a valid envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The bytes do not parse as an envelope.
    #[error("malformed envelope encoding: {0}")]
    Malformed(String),
    /// The bytes parse, but are not the canonical encoding of what they hold
    /// (an overlong integer, or bytes left over at the end).
    #[error("not the canonical encoding (overlong integer or trailing bytes)")]
    NonCanonical,
    /// Written by a newer format than this build reads.
    #[error("envelope format version {0} is newer than this build reads ({FORMAT_VERSION}): upgrade mindlog")]
    UnsupportedVersion(u8),
    /// `seq` is 0.
    #[error("seq must start at 1")]
    SeqZero,
    /// `prev` is present on seq 1, or absent on a later seq.
    #[error("prev must be absent exactly when seq is 1 (seq {seq}, prev {})", if *.has_prev { "present" } else { "absent" })]
    PrevShape {
        /// The envelope's seq.
        seq: u64,
        /// Whether it carries a prev hash.
        has_prev: bool,
    },
    /// The kind is not `name/version`.
    #[error("invalid kind {0:?}: expected name/version such as persona.created/1")]
    BadKind(String),
    /// The timestamp is past year 9999.
    #[error("timestamp {0} is past 9999-12-31")]
    TimestampOutOfRange(u64),
    /// More than 64 references.
    #[error("{0} references; at most {MAX_REFS} are allowed")]
    TooManyRefs(usize),
    /// A payload over [`MAX_PAYLOAD_LEN`] bytes.
    #[error("payload of {0} bytes; at most {MAX_PAYLOAD_LEN} are allowed")]
    PayloadTooLarge(u64),
    /// A format-1 envelope with a payload commitment, or a later one with an inline payload.
    #[error("an envelope of format {0} has the wrong body (format 1 holds its payload, format 2 commits to it)")]
    BodyShape(u8),
}

/// Whether `kind` is a valid kind: a name of lowercase letters, digits, `.`, `_` and `-`
/// starting with a letter, a `/`, and a decimal version without leading zeros;
/// at most 64 bytes in all.
pub fn is_valid_kind(kind: &str) -> bool {
    let Some((name, version)) = kind.split_once('/') else {
        return false;
    };
    kind.len() <= MAX_KIND_LEN
        && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        && !version.is_empty()
        && !version.starts_with('0')
        && version.bytes().all(|b| b.is_ascii_digit())
}

impl Envelope {
    /// Checks the rules every envelope obeys (see docs/format.md, "Validity").
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        if self.version > FORMAT_VERSION || self.version == 0 {
            return Err(EnvelopeError::UnsupportedVersion(self.version));
        }
        if self.seq == 0 {
            return Err(EnvelopeError::SeqZero);
        }
        if (self.seq == 1) == self.prev.is_some() {
            return Err(EnvelopeError::PrevShape { seq: self.seq, has_prev: self.prev.is_some() });
        }
        if !is_valid_kind(&self.kind) {
            return Err(EnvelopeError::BadKind(self.kind.clone()));
        }
        if self.ts > MAX_TIMESTAMP_MICROS {
            return Err(EnvelopeError::TimestampOutOfRange(self.ts));
        }
        if self.refs.len() > MAX_REFS {
            return Err(EnvelopeError::TooManyRefs(self.refs.len()));
        }
        match self.body {
            Body::Inline(_) if self.version != 1 => return Err(EnvelopeError::BodyShape(self.version)),
            Body::Committed { .. } if self.version == 1 => return Err(EnvelopeError::BodyShape(self.version)),
            _ => {}
        }
        if self.body.size() > MAX_PAYLOAD_LEN as u64 {
            return Err(EnvelopeError::PayloadTooLarge(self.body.size()));
        }
        Ok(())
    }

    /// This envelope, borrowed.
    pub fn as_ref(&self) -> EnvelopeRef<'_> {
        EnvelopeRef {
            version: self.version,
            author: self.author,
            seq: self.seq,
            prev: self.prev,
            ts: self.ts,
            kind: &self.kind,
            refs: self.refs.clone(),
            body: match &self.body {
                Body::Inline(p) => Body::Inline(p.as_slice()),
                Body::Committed { size, commitment } => Body::Committed { size: *size, commitment: *commitment },
            },
        }
    }

    /// The canonical encoding. Call [`Envelope::validate`] first: this encodes whatever it holds.
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            version: self.version,
            author: self.author,
            seq: self.seq,
            prev: self.prev,
            ts: self.ts,
            kind: &self.kind,
            refs: self.refs.clone(),
        };
        let out = Vec::with_capacity(self.encoded_len());
        let out = postcard::to_extend(&header, out);
        let out = match &self.body {
            Body::Inline(payload) => out.and_then(|o| postcard::to_extend(&serde_bytes_ref(payload), o)),
            Body::Committed { size, commitment } => {
                out.and_then(|o| postcard::to_extend(size, o)).and_then(|o| postcard::to_extend(commitment, o))
            }
        };
        out.expect("encoding into a Vec cannot fail for these field types")
    }

    /// Decodes and validates canonical envelope bytes.
    ///
    /// Refuses anything that would not re-encode to exactly `bytes`, so one envelope has one encoding.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let envelope = EnvelopeRef::decode(bytes)?.to_owned();
        envelope.validate()?;
        if envelope.encoded_len() != bytes.len() {
            // Every field but the varints has one length; a length mismatch means an overlong varint.
            return Err(EnvelopeError::NonCanonical);
        }
        Ok(envelope)
    }

    /// The length of [`Envelope::encode`]'s output, without encoding.
    pub fn encoded_len(&self) -> usize {
        1 + 32
            + varint_len(self.seq)
            + if self.prev.is_some() { 33 } else { 1 }
            + varint_len(self.ts)
            + varint_len(self.kind.len() as u64)
            + self.kind.len()
            + varint_len(self.refs.len() as u64)
            + 32 * self.refs.len()
            + match &self.body {
                Body::Inline(p) => varint_len(p.len() as u64) + p.len(),
                Body::Committed { size, .. } => varint_len(*size) + 32,
            }
    }

    /// The hash of this envelope's canonical encoding.
    pub fn hash(&self) -> Hash {
        hash_envelope_bytes(&self.encode())
    }
}

/// blake3 over [`HASH_DOMAIN`] followed by the envelope bytes.
pub fn hash_envelope_bytes(bytes: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(HASH_DOMAIN);
    hasher.update(bytes);
    Hash(*hasher.finalize().as_bytes())
}

/// Bytes of a LEB128 varint (postcard's encoding of unsigned integers).
fn varint_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

/// A byte slice that serialises as a postcard byte string (varint length, then the bytes),
/// not as a sequence of u8s.
fn serde_bytes_ref(bytes: &[u8]) -> impl Serialize + '_ {
    struct B<'a>(&'a [u8]);
    impl Serialize for B<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    B(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for good in ["persona.created/1", "a/1", "gen.note/12", "market.listing-published/3", "x_y/9"] {
            assert!(is_valid_kind(good), "{good}");
        }
        for bad in ["", "/1", "a/", "a/01", "A/1", "1a/1", "a b/1", "a/1/2", "a/x", &format!("{}/1", "a".repeat(63))] {
            assert!(!is_valid_kind(bad), "{bad}");
        }
    }

    #[test]
    fn the_borrowed_envelope_reads_what_the_owned_one_does() {
        for body in [
            Body::Inline((0..=255).collect()),
            Body::Committed { size: 300, commitment: payload_commitment(&[7; 32], b"x") },
        ] {
            let owned = Envelope {
                version: if matches!(body, Body::Inline(_)) { 1 } else { 2 },
                author: PublicKey([3; 32]),
                seq: 300,
                prev: Some(Hash([4; 32])),
                ts: 1_767_225_600_123_456,
                kind: "persona.created/1".into(),
                refs: vec![Hash([5; 32]), Hash([6; 32])],
                body,
            };
            owned.validate().unwrap();
            let bytes = owned.encode();
            assert_eq!(bytes.len(), owned.encoded_len());
            let borrowed = EnvelopeRef::decode(&bytes).unwrap();
            assert_eq!(borrowed.to_owned(), owned);
            assert_eq!(Envelope::decode(&bytes).unwrap(), owned);
            let mut newer = bytes.clone();
            newer[0] = FORMAT_VERSION + 1;
            assert_eq!(EnvelopeRef::decode(&newer), Err(EnvelopeError::UnsupportedVersion(FORMAT_VERSION + 1)));
            assert_eq!(EnvelopeRef::decode(&[bytes.as_slice(), &[0]].concat()), Err(EnvelopeError::NonCanonical));
            // The other format's body under this version byte is refused.
            let mut other = bytes.clone();
            other[0] = 3 - other[0];
            assert!(Envelope::decode(&other).is_err());
        }
    }

    #[test]
    fn the_largest_envelope_fits_the_maximum() {
        let largest = Envelope {
            version: 1,
            author: PublicKey([3; 32]),
            seq: u64::MAX,
            prev: Some(Hash([4; 32])),
            ts: MAX_TIMESTAMP_MICROS,
            kind: format!("{}/9", "a".repeat(MAX_KIND_LEN - 2)),
            refs: vec![Hash([5; 32]); MAX_REFS],
            body: Body::Inline(vec![0; MAX_PAYLOAD_LEN]),
        };
        largest.validate().unwrap();
        assert!(largest.encode().len() <= MAX_ENVELOPE_LEN);
        assert!(largest.encode().len() + 2 >= MAX_ENVELOPE_LEN, "the maximum is tight");
    }

    #[test]
    fn varint_len_matches_postcard() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            assert_eq!(varint_len(v), postcard::to_allocvec(&v).unwrap().len(), "{v}");
        }
    }
}
