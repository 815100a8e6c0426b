//! The event envelope: its fields, its canonical postcard encoding, and the rules a valid one obeys.
//!
//! docs/format.md specifies this byte by byte; the tests in `tests/format.rs` hold the two together.

use serde::{Deserialize, Serialize};

use crate::types::{Hash, PublicKey};

/// The envelope format this build writes and the newest it reads.
pub const FORMAT_VERSION: u8 = 1;

/// The bytes hashed in front of the envelope bytes (domain separation).
pub const HASH_DOMAIN: &[u8] = b"mindlog.event.v1\0";

/// The longest kind, in bytes.
pub(crate) const MAX_KIND_LEN: usize = 64;

/// The most references one event may carry.
pub(crate) const MAX_REFS: usize = 64;

/// The largest payload, in bytes.
pub const MAX_PAYLOAD_LEN: usize = 256 * 1024;

/// The latest timestamp an envelope may carry: 9999-12-31T23:59:59.999999Z, in microseconds.
pub const MAX_TIMESTAMP_MICROS: u64 = 253_402_300_799_999_999;

/// One event, as its author signed it.
///
/// The field order is the encoding order. `prev` is absent exactly when `seq` is 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Format version; [`FORMAT_VERSION`] for everything this build writes.
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
    /// Opaque bytes; their meaning is given by `kind`.
    #[serde(with = "payload_bytes")]
    pub payload: Vec<u8>,
}

/// An envelope read in place: `kind` and `payload` borrow the encoded bytes.
///
/// For readers that pass over many stored events and keep little of each (the query layer's
/// scans). It checks the version and that the bytes parse, not that they are canonical: use it on
/// events the store accepted, and [`Envelope::decode`] on anything else.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
    /// The payload bytes.
    pub payload: &'a [u8],
}

impl<'a> EnvelopeRef<'a> {
    /// Parses stored envelope bytes without copying the kind or the payload.
    pub fn decode(bytes: &'a [u8]) -> Result<EnvelopeRef<'a>, EnvelopeError> {
        read_versioned(bytes)
    }
}

/// Parses envelope bytes of a version this build reads, with nothing left over. The version is
/// read first, so a newer format gets its own error rather than a parse failure.
fn read_versioned<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, EnvelopeError> {
    match bytes.first() {
        Some(&v) if v > FORMAT_VERSION || v == 0 => return Err(EnvelopeError::UnsupportedVersion(v)),
        _ => {}
    }
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(EnvelopeError::NonCanonical);
    }
    Ok(value)
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
    PayloadTooLarge(usize),
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
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(EnvelopeError::PayloadTooLarge(self.payload.len()));
        }
        Ok(())
    }

    /// The canonical encoding. Call [`Envelope::validate`] first: this encodes whatever it holds.
    pub fn encode(&self) -> Vec<u8> {
        let capacity = 1 + 32 + 10 + 33 + 10 + 1 + self.kind.len() + 1 + 32 * self.refs.len() + 3 + self.payload.len();
        postcard::to_extend(self, Vec::with_capacity(capacity))
            .expect("encoding into a Vec cannot fail for these field types")
    }

    /// Decodes and validates canonical envelope bytes.
    ///
    /// Refuses anything that would not re-encode to exactly `bytes`, so one envelope has one encoding.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let envelope: Envelope = read_versioned(bytes)?;
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
            + varint_len(self.payload.len() as u64)
            + self.payload.len()
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

/// The payload as a postcard byte string (varint length, then the bytes), not a sequence of u8s.
mod payload_bytes {
    use serde::Serializer;
    use serde::de::{Deserializer, Error, Visitor};
    use std::fmt;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        deserializer.deserialize_bytes(V)
    }
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
        let owned = Envelope {
            version: FORMAT_VERSION,
            author: PublicKey([3; 32]),
            seq: 300,
            prev: Some(Hash([4; 32])),
            ts: 1_767_225_600_123_456,
            kind: "persona.created/1".into(),
            refs: vec![Hash([5; 32]), Hash([6; 32])],
            payload: (0..=255).collect(),
        };
        let bytes = owned.encode();
        let borrowed = EnvelopeRef::decode(&bytes).unwrap();
        assert_eq!(
            (borrowed.version, borrowed.author, borrowed.seq, borrowed.prev, borrowed.ts),
            (owned.version, owned.author, owned.seq, owned.prev, owned.ts)
        );
        assert_eq!(
            (borrowed.kind, &borrowed.refs, borrowed.payload),
            (owned.kind.as_str(), &owned.refs, &owned.payload[..])
        );
        let mut newer = bytes.clone();
        newer[0] = FORMAT_VERSION + 1;
        assert_eq!(EnvelopeRef::decode(&newer), Err(EnvelopeError::UnsupportedVersion(FORMAT_VERSION + 1)));
        assert_eq!(EnvelopeRef::decode(&[bytes.as_slice(), &[0]].concat()), Err(EnvelopeError::NonCanonical));
    }

    #[test]
    fn varint_len_matches_postcard() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            assert_eq!(varint_len(v), postcard::to_allocvec(&v).unwrap().len(), "{v}");
        }
    }
}
