//! Signed events: sealing an envelope, signing its hash, and checking signatures one by one or in batches.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;

use crate::envelope::{Body, Envelope, EnvelopeError, hash_envelope_bytes, payload_commitment};
use crate::identity::Identity;
use crate::store::PayloadRef;
use crate::types::{Hash, PublicKey, Signature};

/// Events per batched signature check. The multiscalar multiplication behind batch verification
/// gets cheaper per signature as batches grow (on the reference machine about 50k/s per core at
/// 1024, 67k/s at 4096).
pub(crate) const SIGNATURE_BATCH: usize = 4096;

/// An event as it travels: canonical envelope bytes, a signature and the payload beside them,
/// not yet checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEvent {
    /// The canonical envelope bytes, exactly as signed.
    pub bytes: Vec<u8>,
    /// The author's signature over the hash of `bytes`.
    pub signature: Signature,
    /// The payload as it travels with the envelope: [`PayloadState::Inline`] for format 1.
    pub payload: PayloadState,
}

/// A format-2 payload held beside its envelope, with the salt that makes its commitment hiding.
#[derive(Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// 32 random bytes, secret while the payload is; erased with it.
    pub salt: [u8; 32],
    /// The payload bytes, whose meaning the event's kind gives.
    pub bytes: Vec<u8>,
    /// Private: held here, exported only on request, never sent to peers.
    pub private: bool,
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The salt and the bytes may be secret: only their shape goes into logs.
        f.debug_struct("Sidecar").field("bytes", &self.bytes.len()).field("private", &self.private).finish()
    }
}

impl Sidecar {
    /// The envelope body that commits to this payload.
    pub fn body(&self) -> Body<Vec<u8>> {
        Body::Committed { size: self.bytes.len() as u64, commitment: payload_commitment(&self.salt, &self.bytes) }
    }
}

/// Where an event's payload is. docs/format.md, "Payload states".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadState {
    /// Format 1: the payload is inside the signed envelope.
    Inline,
    /// Format 2, present: payload and salt are held, and the commitment checks.
    Present(Sidecar),
    /// Format 2, erased on purpose: the payload and salt are gone.
    Erased,
    /// Format 2, not held here (another node's private payload, or a copy without payloads).
    Withheld,
}

impl PayloadState {
    /// The state's name, as export writes it (`inline` is never written: format-1 lines have none).
    pub fn name(&self) -> &'static str {
        match self {
            PayloadState::Inline => "inline",
            PayloadState::Present(_) => "present",
            PayloadState::Erased => "erased",
            PayloadState::Withheld => "withheld",
        }
    }
}

/// Checks that `payload` fits `envelope`: format 1 carries its payload inline; a present
/// format-2 payload has the committed size and commitment.
pub(crate) fn check_payload(envelope: &Envelope, payload: &PayloadState) -> Result<(), EventError> {
    check_row(envelope.version, envelope.body.committed(), payload.as_row())
}

/// [`check_payload`] on borrowed parts: `committed` is the envelope's (size, commitment) (`None`
/// for format 1), `row` the payload as stored (`None` for format 1).
pub(crate) fn check_row(
    version: u8,
    committed: Option<(u64, Hash)>,
    row: Option<PayloadRef<'_>>,
) -> Result<(), EventError> {
    match (committed, row) {
        (None, None) => Ok(()),
        (Some((size, commitment)), Some(PayloadRef::Present { bytes, salt, .. })) => {
            if bytes.len() as u64 != size {
                Err(EventError::PayloadSize { committed: size, found: bytes.len() as u64 })
            } else if payload_commitment(salt, bytes) != commitment {
                Err(EventError::CommitmentMismatch)
            } else {
                Ok(())
            }
        }
        (Some(_), Some(PayloadRef::Erased | PayloadRef::Withheld)) => Ok(()),
        (_, row) => Err(EventError::PayloadShape { version, state: row.map_or("inline", |r| r.name()) }),
    }
}

/// An event whose encoding, hash and signature have been checked (or that this process signed).
///
/// Only [`SignedEvent::verify`], [`verify_batch`], [`SealedEnvelope::sign`] and
/// [`Ledger::import_jsonl`](crate::Ledger::import_jsonl) build one, each after checking the
/// signature or making it, so holding a `VerifiedEvent` is proof of those checks. The store
/// accepts nothing else.
///
/// Its fields are private, so it cannot be written out by hand:
///
/// ```compile_fail,E0451
/// use mindlog_ledger::{Envelope, Hash, Signature, VerifiedEvent};
///
/// fn forge(envelope: Envelope, bytes: Vec<u8>, hash: Hash, signature: Signature) -> VerifiedEvent {
///     VerifiedEvent { envelope, bytes, hash, signature, payload: mindlog_ledger::PayloadState::Inline }
/// }
/// ```
///
/// and an event read back from the store becomes one only by having its signature checked again:
///
/// ```compile_fail,E0599
/// use mindlog_ledger::{StoredEvent, VerifiedEvent};
///
/// fn trust(stored: StoredEvent) -> VerifiedEvent {
///     stored.into_trusted().expect("the store checked it once")
/// }
/// ```
///
/// ```
/// use mindlog_ledger::{SignedEvent, StoredEvent, VerifiedEvent};
///
/// fn check(stored: StoredEvent) -> Result<VerifiedEvent, mindlog_ledger::EventError> {
///     SignedEvent { bytes: stored.bytes, signature: stored.signature, payload: stored.payload }.verify()
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEvent {
    envelope: Envelope,
    bytes: Vec<u8>,
    hash: Hash,
    signature: Signature,
    payload: PayloadState,
}

/// Why an event fails its checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The envelope bytes are not a valid envelope.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A hash given beside the event is not the hash of its bytes.
    #[error("hash mismatch: recorded {recorded}, recomputed {computed}")]
    HashMismatch {
        /// The hash that came with the event.
        recorded: Hash,
        /// The hash of its bytes.
        computed: Hash,
    },
    /// The author field is not a usable Ed25519 public key.
    #[error("author {0} is not a valid Ed25519 public key")]
    BadAuthorKey(PublicKey),
    /// The signature does not verify against the author and hash.
    #[error("bad signature")]
    BadSignature,
    /// A present format-2 payload whose length is not the committed size.
    #[error("payload of {found} bytes, but the envelope commits to {committed}")]
    PayloadSize {
        /// The size in the envelope.
        committed: u64,
        /// The payload's length.
        found: u64,
    },
    /// A present format-2 payload that does not match the envelope's commitment: tampering.
    #[error("payload does not match the envelope's commitment")]
    CommitmentMismatch,
    /// A payload state the envelope's format does not allow (a sidecar on format 1, or a
    /// format-2 event whose payload came inline).
    #[error("a format-{version} event cannot have a payload that is {state}")]
    PayloadShape {
        /// The envelope format.
        version: u8,
        /// The state given.
        state: &'static str,
    },
}

impl SignedEvent {
    /// Decodes, hashes and checks the signature of one event.
    pub fn verify(self) -> Result<VerifiedEvent, EventError> {
        let (envelope, hash) = decode_and_hash(&self.bytes)?;
        check_payload(&envelope, &self.payload)?;
        check_signature(envelope.author, hash, self.signature)?;
        Ok(VerifiedEvent { envelope, bytes: self.bytes, hash, signature: self.signature, payload: self.payload })
    }
}

/// Checks one signature by `author` over `hash`, as a batch of one (so it agrees with the
/// batched checks; docs/format.md §3).
pub(crate) fn check_signature(author: PublicKey, hash: Hash, signature: Signature) -> Result<(), EventError> {
    let key = KeyCache::default().get(author)?;
    check_signatures(&[(hash, signature, key)]).map_err(|_| EventError::BadSignature)
}

/// Decodes (and validates) envelope bytes and hashes them.
pub(crate) fn decode_and_hash(bytes: &[u8]) -> Result<(Envelope, Hash), EnvelopeError> {
    let envelope = Envelope::decode(bytes)?;
    Ok((envelope, hash_envelope_bytes(bytes)))
}

impl VerifiedEvent {
    /// The decoded envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
    /// The canonical envelope bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The event hash.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    /// The author's signature.
    pub fn signature(&self) -> Signature {
        self.signature
    }
    /// The author.
    pub fn author(&self) -> PublicKey {
        self.envelope.author
    }
    /// The position in the author's feed.
    pub fn seq(&self) -> u64 {
        self.envelope.seq
    }
    /// Where the payload is.
    pub fn payload_state(&self) -> &PayloadState {
        &self.payload
    }
    /// The payload bytes, when held (inline in format 1, or present beside a format-2 envelope).
    pub fn payload(&self) -> Option<&[u8]> {
        match (&self.envelope.body, &self.payload) {
            (Body::Inline(bytes), _) => Some(bytes),
            (_, PayloadState::Present(sidecar)) => Some(&sidecar.bytes),
            _ => None,
        }
    }
}

/// An envelope that has been validated, encoded and hashed, waiting for its author's signature.
///
/// Sealing is cheap and sequential (each hash feeds the next event's `prev`); signing is the
/// expensive part and may run in parallel.
#[derive(Clone, Debug)]
pub struct SealedEnvelope {
    envelope: Envelope,
    bytes: Vec<u8>,
    hash: Hash,
    payload: PayloadState,
}

impl SealedEnvelope {
    /// Validates and encodes `envelope`, whose payload is `payload` ([`PayloadState::Inline`]
    /// for format 1, usually [`PayloadState::Present`] for format 2).
    pub fn new(envelope: Envelope, payload: PayloadState) -> Result<SealedEnvelope, EventError> {
        envelope.validate()?;
        check_payload(&envelope, &payload)?;
        let bytes = envelope.encode();
        let hash = hash_envelope_bytes(&bytes);
        Ok(SealedEnvelope { envelope, bytes, hash, payload })
    }

    /// The hash the signature will cover.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Signs with `identity`, which must be the envelope's author.
    ///
    /// # Panics
    /// If `identity` is not the author: that is a bug in the caller, not bad input.
    pub fn sign(self, identity: &Identity) -> VerifiedEvent {
        assert_eq!(identity.public_key(), self.envelope.author, "an event is signed by its own author");
        let signature = Signature(identity.sign(self.hash.as_bytes()).to_bytes());
        VerifiedEvent { envelope: self.envelope, bytes: self.bytes, hash: self.hash, signature, payload: self.payload }
    }
}

/// An event whose encoding and hash have been checked, but not yet its signature: what import
/// holds between parsing a line and checking the signatures of its chunk in one batch.
pub(crate) struct Hashed {
    pub(crate) envelope: Envelope,
    pub(crate) bytes: Vec<u8>,
    pub(crate) hash: Hash,
    pub(crate) signature: Signature,
    pub(crate) payload: PayloadState,
}

/// Checks the signatures of `items` in one batch on the current thread (bisecting a failing
/// batch to name the culprits); the good ones become [`VerifiedEvent`]s, a bad one
/// [`EventError::BadSignature`] or [`EventError::BadAuthorKey`]. Errors already in `items` pass
/// through. The result has one entry per input, in order.
pub(crate) fn verify_hashed<E: From<EventError>>(
    items: Vec<Result<Hashed, E>>,
    keys: &mut KeyCache,
) -> Vec<Result<VerifiedEvent, E>> {
    let mut out: Vec<Result<Hashed, E>> = Vec::with_capacity(items.len());
    let mut checks: Vec<SignatureCheck> = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for item in items {
        let at = out.len();
        out.push(item.and_then(|h| {
            let key = keys.get(h.envelope.author)?;
            checks.push((h.hash, h.signature, key));
            positions.push(at);
            Ok(h)
        }));
    }
    for bad in bad_in_chunk(&checks) {
        out[positions[bad]] = Err(EventError::BadSignature.into());
    }
    out.into_iter()
        .map(|item| {
            item.map(|h| VerifiedEvent {
                envelope: h.envelope,
                bytes: h.bytes,
                hash: h.hash,
                signature: h.signature,
                payload: h.payload,
            })
        })
        .collect()
}

/// Decompressed author keys, so a feed's key is parsed once, not once per event.
#[derive(Default)]
pub(crate) struct KeyCache {
    keys: HashMap<PublicKey, Result<VerifyingKey, ()>>,
}

impl KeyCache {
    pub(crate) fn get(&mut self, author: PublicKey) -> Result<VerifyingKey, EventError> {
        self.keys
            .entry(author)
            .or_insert_with(|| match VerifyingKey::from_bytes(author.as_bytes()) {
                // A small-order key would let anyone sign as it.
                Ok(key) if !key.is_weak() => Ok(key),
                _ => Err(()),
            })
            .map_err(|()| EventError::BadAuthorKey(author))
    }
}

/// A hash to check, its signature, and the author's key.
pub(crate) type SignatureCheck = (Hash, Signature, VerifyingKey);

/// Checks signatures with Ed25519 batch verification (the cofactored equation; see docs/format.md).
/// Err means at least one of them is bad.
pub(crate) fn check_signatures(items: &[SignatureCheck]) -> Result<(), ()> {
    let messages: Vec<&[u8]> = items.iter().map(|c| c.0.as_bytes().as_slice()).collect();
    let signatures: Vec<ed25519_dalek::Signature> =
        items.iter().map(|c| ed25519_dalek::Signature::from_bytes(&c.1.0)).collect();
    let keys: Vec<VerifyingKey> = items.iter().map(|c| c.2).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).map_err(|_| ())
}

/// Checks that each item's signature is good, in batches spread over all cores, and returns the
/// indexes of the bad ones (in order).
pub(crate) fn find_bad_signatures(items: &[SignatureCheck]) -> Vec<usize> {
    items
        .par_chunks(SIGNATURE_BATCH)
        .enumerate()
        .flat_map_iter(|(chunk_index, chunk)| {
            let base = chunk_index * SIGNATURE_BATCH;
            bad_in_chunk(chunk).into_iter().map(move |i| base + i)
        })
        .collect()
}

/// The indexes of the bad signatures of one batch, checked on the current thread. A failing
/// batch is split in halves until the culprits are found: k bad among n cost about 2k·log2(n)
/// batch checks, not n single ones.
pub(crate) fn bad_in_chunk(chunk: &[SignatureCheck]) -> Vec<usize> {
    fn bisect(items: &[SignatureCheck], base: usize, bad: &mut Vec<usize>) {
        if items.is_empty() || check_signatures(items).is_ok() {
            return;
        }
        if items.len() == 1 {
            bad.push(base);
            return;
        }
        let mid = items.len() / 2;
        bisect(&items[..mid], base, bad);
        bisect(&items[mid..], base + mid, bad);
    }
    let mut bad = Vec::new();
    bisect(chunk, 0, &mut bad);
    bad
}

/// Verifies many events, in parallel. The result has one entry per input, in order.
pub fn verify_batch(events: Vec<SignedEvent>) -> Vec<Result<VerifiedEvent, EventError>> {
    let mut keys = KeyCache::default();
    let mut checked: Vec<Result<(Envelope, Hash, VerifyingKey), EventError>> = events
        .par_iter()
        .map(|e| -> Result<_, EventError> {
            let (envelope, hash) = decode_and_hash(&e.bytes)?;
            check_payload(&envelope, &e.payload)?;
            Ok((envelope, hash))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|r| r.and_then(|(env, hash)| keys.get(env.author).map(|k| (env, hash, k))))
        .collect();
    let pending: Vec<(usize, SignatureCheck)> = checked
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().ok().map(|(_, h, k)| (i, (*h, events[i].signature, *k))))
        .collect();
    let items: Vec<_> = pending.iter().map(|p| p.1).collect();
    for bad in find_bad_signatures(&items) {
        checked[pending[bad].0] = Err(EventError::BadSignature);
    }
    checked
        .into_iter()
        .zip(events)
        .map(|(r, e)| {
            r.map(|(envelope, hash, _)| VerifiedEvent {
                envelope,
                bytes: e.bytes,
                hash,
                signature: e.signature,
                payload: e.payload,
            })
        })
        .collect()
}
