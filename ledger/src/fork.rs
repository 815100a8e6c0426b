//! Fork proofs: two validly signed events by one author at one seq with different hashes.
//!
//! A feed is one chain; an author who signs two different events at the same seq has forked it.
//! The pair is the proof, and anyone can check it offline with the author's key alone: both
//! envelopes decode, both signatures verify, the authors and seqs agree, the hashes differ.
//! docs/format.md §4 says how to check one; §7 how a store keeps them (the `forks` table).

use crate::envelope::{Envelope, MAX_ENVELOPE_LEN, hash_envelope_bytes};
use crate::event::{EventError, check_signature, decode_and_hash};
use crate::types::{Hash, PublicKey, Signature};

/// Bytes of a [`ForkProof::key`]: author (32) ‖ seq (8, BE) ‖ the two hashes (32 each).
pub(crate) const FORK_KEY_LEN: usize = 32 + 8 + 32 + 32;

/// One event of a proof as it travels: its canonical envelope bytes and its signature.
type SignedBytes = (Vec<u8>, Signature);

/// Two validly signed events by one author with the same seq and different hashes: proof that the
/// author forked its feed, checkable offline by anyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkProof {
    author: PublicKey,
    seq: u64,
    /// The two events, ordered by hash ascending.
    events: [SignedBytes; 2],
    /// Their hashes, ascending.
    hashes: [Hash; 2],
    /// Their envelopes, decoded.
    envelopes: [Envelope; 2],
}

/// Why two events are not a fork proof, or bytes are not an encoded one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForkError {
    /// One of the two events fails its own checks (envelope, author key, signature).
    #[error("event {index} of the pair: {problem}")]
    Event {
        /// Which event: 0 or 1, in the order given (or encoded).
        index: u8,
        /// What is wrong with it.
        problem: EventError,
    },
    /// The two are one event: no fork.
    #[error("both events are {0}: one event is not a fork")]
    SameEvent(Hash),
    /// The two events are by different authors.
    #[error("the events are by different authors ({0} and {1})")]
    DifferentAuthors(PublicKey, PublicKey),
    /// The two events are at different seqs.
    #[error("the events are at different seqs ({0} and {1})")]
    DifferentSeqs(u64, u64),
    /// The encoding ends before a length, an envelope or a signature it announces.
    #[error("truncated: {needed} bytes needed at byte {at}, {available} left")]
    Truncated {
        /// Where the missing part starts.
        at: usize,
        /// Its length.
        needed: usize,
        /// The bytes left.
        available: usize,
    },
    /// An envelope length larger than any valid envelope.
    #[error("an envelope length of {found} bytes at byte {at} is over the maximum of {max}")]
    TooLong {
        /// Where the length is.
        at: usize,
        /// The length given.
        found: u64,
        /// The largest valid envelope.
        max: usize,
    },
    /// Bytes after the second event.
    #[error("{0} bytes after the second event")]
    TrailingBytes(usize),
    /// A stored proof under a key that is not its own (docs/format.md §7).
    #[error("the proof is stored under a key other than its author, seq and hashes")]
    WrongKey,
    /// The encoded events are not ordered by hash, so the bytes are not the proof's one encoding.
    #[error("the two events are not ordered by hash (first {first}, second {second})")]
    NotCanonical {
        /// The hash of the first event encoded.
        first: Hash,
        /// The hash of the second.
        second: Hash,
    },
}

impl ForkProof {
    /// Checks both signatures, same author, same seq, different hashes; orders the two by hash so
    /// that every node builds the same proof from the same pair.
    pub fn new(x: (Vec<u8>, Signature), y: (Vec<u8>, Signature)) -> Result<ForkProof, ForkError> {
        let (ex, hx) = check(0, &x)?;
        let (ey, hy) = check(1, &y)?;
        if hx == hy {
            return Err(ForkError::SameEvent(hx));
        }
        if ex.author != ey.author {
            return Err(ForkError::DifferentAuthors(ex.author, ey.author));
        }
        if ex.seq != ey.seq {
            return Err(ForkError::DifferentSeqs(ex.seq, ey.seq));
        }
        let (author, seq) = (ex.author, ex.seq);
        Ok(if hx < hy {
            ForkProof { author, seq, events: [x, y], hashes: [hx, hy], envelopes: [ex, ey] }
        } else {
            ForkProof { author, seq, events: [y, x], hashes: [hy, hx], envelopes: [ey, ex] }
        })
    }

    /// The author who forked its feed.
    pub fn author(&self) -> PublicKey {
        self.author
    }

    /// The seq at which the feed forked.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The two events' hashes, ascending.
    pub fn hashes(&self) -> [Hash; 2] {
        self.hashes
    }

    /// The two events (canonical envelope bytes and signature), in the order of [`ForkProof::hashes`].
    pub fn events(&self) -> &[(Vec<u8>, Signature); 2] {
        &self.events
    }

    /// The two events' envelopes, decoded, in the order of [`ForkProof::hashes`].
    pub fn envelopes(&self) -> &[Envelope; 2] {
        &self.envelopes
    }

    /// The portable bytes (docs/format.md §4): for each event in hash order, the envelope's
    /// length (u32 BE) ‖ the envelope bytes ‖ the 64-byte signature.
    pub fn encode(&self) -> Vec<u8> {
        let len = self.events.iter().map(|(bytes, _)| 4 + bytes.len() + 64).sum();
        let mut out = Vec::with_capacity(len);
        for (bytes, signature) in &self.events {
            // A checked envelope is at most MAX_ENVELOPE_LEN bytes, far below u32::MAX.
            out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(bytes);
            out.extend_from_slice(&signature.0);
        }
        out
    }

    /// Decodes and re-checks everything (as [`ForkProof::new`]); never panics on any input;
    /// rejects trailing bytes, lengths over the envelope maximum, and a pair not ordered by hash
    /// (so a proof has one encoding).
    pub fn decode(bytes: &[u8]) -> Result<ForkProof, ForkError> {
        let mut reader = Reader { bytes, at: 0 };
        let first = reader.event()?;
        let second = reader.event()?;
        if reader.at != bytes.len() {
            return Err(ForkError::TrailingBytes(bytes.len() - reader.at));
        }
        let first_hash = hash_envelope_bytes(&first.0);
        let proof = ForkProof::new(first, second)?;
        if proof.hashes[0] != first_hash {
            return Err(ForkError::NotCanonical { first: proof.hashes[1], second: proof.hashes[0] });
        }
        Ok(proof)
    }

    /// The proof's key in the `forks` table: author ‖ seq (BE) ‖ hash 0 ‖ hash 1.
    pub(crate) fn key(&self) -> [u8; FORK_KEY_LEN] {
        let mut key = [0u8; FORK_KEY_LEN];
        key[..32].copy_from_slice(self.author.as_bytes());
        key[32..40].copy_from_slice(&self.seq.to_be_bytes());
        key[40..72].copy_from_slice(self.hashes[0].as_bytes());
        key[72..].copy_from_slice(self.hashes[1].as_bytes());
        key
    }
}

/// Decodes, hashes and signature-checks one event of a pair.
fn check(index: u8, (bytes, signature): &SignedBytes) -> Result<(Envelope, Hash), ForkError> {
    let fail = |problem: EventError| ForkError::Event { index, problem };
    let (envelope, hash) = decode_and_hash(bytes).map_err(|e| fail(e.into()))?;
    check_signature(envelope.author, hash, *signature).map_err(fail)?;
    Ok((envelope, hash))
}

/// Reads the events of an encoded proof.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, needed: usize) -> Result<&'a [u8], ForkError> {
        let available = self.bytes.len() - self.at;
        if needed > available {
            return Err(ForkError::Truncated { at: self.at, needed, available });
        }
        let out = &self.bytes[self.at..self.at + needed];
        self.at += needed;
        Ok(out)
    }

    fn event(&mut self) -> Result<SignedBytes, ForkError> {
        let at = self.at;
        let mut len = [0u8; 4];
        len.copy_from_slice(self.take(4)?);
        let len = u32::from_be_bytes(len);
        if len as usize > MAX_ENVELOPE_LEN {
            return Err(ForkError::TooLong { at, found: u64::from(len), max: MAX_ENVELOPE_LEN });
        }
        let envelope = self.take(len as usize)?.to_vec();
        let mut signature = [0u8; 64];
        signature.copy_from_slice(self.take(64)?);
        Ok((envelope, Signature(signature)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::identity::Identity;
    use crate::ledger::Draft;

    const TS: u64 = 1_767_225_600_000_000;

    fn identity(n: u8) -> Identity {
        Identity::from_secret(&[n; 32])
    }

    /// `identity`'s event at `seq` saying `text`, as (envelope bytes, signature).
    fn event(identity: &Identity, seq: u64, text: &str) -> SignedBytes {
        let draft =
            Draft { kind: "note.added/1".into(), payload: text.into(), refs: vec![], ts: TS + seq, private: false };
        let prev = (seq > 1).then_some(Hash([9; 32]));
        let event = draft.seal(identity.public_key(), seq, prev, [7; 32]).unwrap().sign(identity);
        (event.bytes().to_vec(), event.signature())
    }

    fn hash(event: &SignedBytes) -> Hash {
        hash_envelope_bytes(&event.0)
    }

    #[test]
    fn two_forked_events_make_a_proof_in_one_order() {
        let me = identity(1);
        let (a, b) = (event(&me, 3, "left"), event(&me, 3, "right"));
        let proof = ForkProof::new(a.clone(), b.clone()).unwrap();
        assert_eq!(proof, ForkProof::new(b.clone(), a.clone()).unwrap(), "argument order does not matter");
        assert_eq!((proof.author(), proof.seq()), (me.public_key(), 3));
        let mut hashes = [hash(&a), hash(&b)];
        hashes.sort();
        assert_eq!(proof.hashes(), hashes);
        assert_eq!(proof.events().iter().map(hash).collect::<Vec<_>>(), hashes);
        assert_eq!(proof.envelopes()[0].hash(), hashes[0]);
        let bytes = proof.encode();
        assert_eq!(ForkProof::decode(&bytes).unwrap(), proof);
        assert_eq!(bytes.len(), 4 + a.0.len() + 64 + 4 + b.0.len() + 64);
    }

    #[test]
    fn pairs_that_are_not_forks_are_refused() {
        let (me, you) = (identity(1), identity(2));
        let a = event(&me, 3, "left");
        assert_eq!(ForkProof::new(a.clone(), a.clone()), Err(ForkError::SameEvent(hash(&a))));
        assert_eq!(
            ForkProof::new(a.clone(), event(&you, 3, "right")),
            Err(ForkError::DifferentAuthors(me.public_key(), you.public_key()))
        );
        assert_eq!(ForkProof::new(a.clone(), event(&me, 4, "right")), Err(ForkError::DifferentSeqs(3, 4)));
        let mut forged = event(&me, 3, "right");
        forged.1.0[10] ^= 1;
        assert_eq!(
            ForkProof::new(a.clone(), forged.clone()),
            Err(ForkError::Event { index: 1, problem: EventError::BadSignature })
        );
        assert!(matches!(
            ForkProof::new((b"not an envelope".to_vec(), forged.1), a),
            Err(ForkError::Event { index: 0, problem: EventError::Envelope(_) })
        ));
    }

    #[test]
    fn decoding_refuses_damaged_bytes_without_panicking() {
        let me = identity(1);
        let proof = ForkProof::new(event(&me, 3, "left"), event(&me, 3, "right")).unwrap();
        let bytes = proof.encode();
        for end in 0..bytes.len() {
            assert!(ForkProof::decode(&bytes[..end]).is_err(), "a proof cut to {end} bytes");
        }
        assert_eq!(ForkProof::decode(&[bytes.as_slice(), &[0]].concat()), Err(ForkError::TrailingBytes(1)));
        assert!(matches!(ForkProof::decode(&[0xff; 8]), Err(ForkError::TooLong { at: 0, .. })));
        // Every single-byte change is refused.
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0x20;
            assert!(ForkProof::decode(&changed).is_err(), "a change at byte {at}");
        }
        // The two events swapped: the same pair, not in its one encoding.
        let [first, second] = proof.events();
        let swapped = ForkProof { events: [second.clone(), first.clone()], ..proof.clone() }.encode();
        assert!(matches!(ForkProof::decode(&swapped), Err(ForkError::NotCanonical { .. })));
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = ForkProof::decode(&bytes);
        }
    }
}
