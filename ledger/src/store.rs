//! The redb store: table layout, opening, reading, and the one place events are inserted.
//!
//! docs/format.md lists every table with its key and value encodings.

use std::collections::HashMap;
use std::ops::{RangeBounds, RangeInclusive};
use std::path::Path;

use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, Table,
    TableDefinition, WriteTransaction,
};

use crate::derived::{DerivedTables, Namespace};
use crate::envelope::{Body, Envelope, EnvelopeError, EnvelopeRef};
use crate::error::{FeedProblem, IngestError, OpenError, StorageError};
use crate::event::{PayloadState, Sidecar, VerifiedEvent};
use crate::fork::ForkProof;
use crate::types::{Hash, PublicKey, Signature};

/// The store layout this build writes and the newest it opens. Format 2 added `payloads`,
/// format 3 `feed_tree`, format 4 `feed_numbers` and `kind_numbers` (the feed and kind indexes
/// keyed by numbers, not by keys and names) and stopped keeping the tree's level 0 (the leaf
/// hashes, which the events hold); an older store is upgraded when it is first opened (the
/// tables created and, from format 3 or older, the derived tables rebuilt).
pub(crate) const STORE_FORMAT: u64 = 4;

/// `offset → hash ‖ signature ‖ envelope bytes`: the log itself.
pub(crate) const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// `offset → payload row` for format-2 events: `01 ‖ flags ‖ salt ‖ payload` (present),
/// `02` (erased), `03` (withheld). Format-1 events have no row.
pub(crate) const PAYLOADS: TableDefinition<u64, &[u8]> = TableDefinition::new("payloads");
/// `feed number (u32 BE) ‖ seq (u64 BE) → offset`.
pub(crate) const BY_FEED: TableDefinition<&[u8; 12], u64> = TableDefinition::new("event_by_feed");
/// `author → feed number`: 0, 1, 2, … in the order the feeds were first indexed in this store
/// (local, like offsets), so that `event_by_feed` keys are 12 bytes, not 40.
pub(crate) const FEED_NUMBERS: TableDefinition<&[u8; 32], u32> = TableDefinition::new("feed_numbers");
/// `kind number (u32 BE) ‖ offset (u64 BE) → ()`.
pub(crate) const BY_KIND: TableDefinition<&[u8; 12], ()> = TableDefinition::new("event_by_kind");
/// `kind → kind number`: 0, 1, 2, … in the order the kinds were first indexed in this store.
pub(crate) const KIND_NUMBERS: TableDefinition<&str, u32> = TableDefinition::new("kind_numbers");
/// `ts (u64 BE) ‖ offset (u64 BE) → ()`.
pub(crate) const BY_TIME: TableDefinition<&[u8; 16], ()> = TableDefinition::new("event_by_time");
/// `author → seq (u64 BE) ‖ offset (u64 BE) ‖ hash`: each feed's last event.
pub(crate) const HEADS: TableDefinition<&[u8; 32], &[u8; 48]> = TableDefinition::new("feed_heads");
/// `kind → number of events`.
pub(crate) const KIND_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("kind_counts");
/// `author ‖ level (u8, 1 or more) ‖ tile (u64 BE) → 1 to 256 hashes of 32 bytes`: each feed's
/// Merkle tree (`tlog`) as the tiles of C2SP tlog-tiles: the tile holds the hashes of the tree's
/// nodes at height 8·level numbered 256·tile onward, every complete one. Level 0, the leaf
/// hashes, is not kept: leaf i is SHA-256(0x00 ‖ hash of the event at seq i + 1), read through
/// `event_by_feed` and `events` ([`feed_leaves`]).
pub(crate) const FEED_TREE: TableDefinition<&[u8; 41], &[u8]> = TableDefinition::new("feed_tree");
/// `name → value`: `store_format`, `indexed_to`.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// `name → next offset`: how far each consumer of the log (a projection) has read.
pub(crate) const CHECKPOINTS: TableDefinition<&str, u64> = TableDefinition::new("checkpoints");
/// `author ‖ seq (u64 BE) ‖ hash ‖ hash → fork proof` ([`ForkProof::encode`]), the two hashes
/// ascending: evidence that an author forked its feed. Primary data, not derived from `events`.
pub(crate) const FORKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("forks");
/// The `meta` entry holding the offset up to which the derived indexes are complete.
pub(crate) const INDEXED_TO: &str = "indexed_to";

/// The height of a tile of `feed_tree`: a tile holds up to 2^8 hashes of one height.
const TILE_HEIGHT: u32 = 8;
/// The most hashes a tile holds.
const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The `feed_tree` key of a tile.
pub(crate) fn tile_key(author: &PublicKey, level: u8, tile: u64) -> [u8; 41] {
    let mut key = [0u8; 41];
    key[..32].copy_from_slice(author.as_bytes());
    key[32] = level;
    key[33..].copy_from_slice(&tile.to_be_bytes());
    key
}

/// Where in `feed_tree` the node at `height`, number `index`, of a feed's tree is kept, if it is
/// kept (heights that are positive multiples of 8): the tile's level and number, and the place in it.
pub(crate) fn tile_place(height: u32, index: u64) -> Option<(u8, u64, usize)> {
    (height > 0 && height.is_multiple_of(TILE_HEIGHT)).then_some((
        (height / TILE_HEIGHT) as u8,
        index / TILE_WIDTH,
        (index % TILE_WIDTH) as usize,
    ))
}

/// The hashes a tile's bytes hold.
fn tile_hashes(bytes: &[u8]) -> Vec<crate::tlog::TreeHash> {
    bytes.chunks_exact(32).map(|c| c.try_into().unwrap_or_default()).collect()
}

/// The expected width (hashes) of tile `tile` of a level with `nodes` complete nodes.
pub(crate) fn tile_width(nodes: u64, tile: u64) -> u64 {
    nodes.saturating_sub(tile * TILE_WIDTH).min(TILE_WIDTH)
}

/// The leaf hashes of feed `number` numbered `from` up to `to` (leaf i: SHA-256(0x00 ‖ the hash
/// of the event at seq i + 1)), read through `event_by_feed` and `hash_at`; fewer when the feed
/// or its index stops short of `to`.
fn feed_leaves(
    by_feed: &impl ReadableTable<&'static [u8; 12], u64>,
    mut hash_at: impl FnMut(u64) -> Result<Option<Hash>, StorageError>,
    number: u32,
    from: u64,
    to: u64,
) -> Result<Vec<crate::tlog::TreeHash>, StorageError> {
    let mut leaves = Vec::with_capacity(to.saturating_sub(from) as usize);
    if from >= to {
        return Ok(leaves);
    }
    for entry in by_feed.range::<&[u8; 12]>(&number_key(number, from + 1)..=&number_key(number, to))? {
        let (key, offset) = entry?;
        if split_key(key.value()).1 != from + 1 + leaves.len() as u64 {
            break;
        }
        let Some(hash) = hash_at(offset.value())? else { break };
        leaves.push(crate::tlog::leaf_hash(&hash.0));
    }
    Ok(leaves)
}

fn missing_tile(author: &PublicKey, level: u8, tile: u64, want: usize, found: usize) -> StorageError {
    StorageError::Other(format!(
        "the stored Merkle tree of {author} is damaged: tile {level}/{tile} holds {found} hashes, {want} are needed \
         (run mindlog verify, then mindlog repair)"
    ))
}

/// Adds `hashes`, the nodes of height 8·`level` numbered `first` onward, to `author`'s tiles;
/// every tile it completes adds its root one level up.
fn extend_tree(
    tree: &mut Table<'_, &'static [u8; 41], &'static [u8]>,
    author: &PublicKey,
    level: u8,
    first: u64,
    hashes: &[crate::tlog::TreeHash],
) -> Result<(), StorageError> {
    let (mut at, mut rest) = (first, hashes);
    let mut completed = Vec::new();
    let first_tile = first / TILE_WIDTH;
    while !rest.is_empty() {
        let (tile, place) = (at / TILE_WIDTH, (at % TILE_WIDTH) as usize);
        let take = rest.len().min(TILE_WIDTH as usize - place);
        let key = tile_key(author, level, tile);
        let mut row = Vec::with_capacity((place + take) * 32);
        if place > 0 {
            let held = tree.get(&key)?.map(|v| v.value().to_vec()).unwrap_or_default();
            if held.len() != place * 32 {
                // A damaged tree (or log): stop growing it rather than refuse the events. Reading
                // it fails with what is missing; verify names it, and repair rebuilds it.
                tracing::warn!(%author, level, tile, "the stored Merkle tree is damaged; it is not extended");
                return Ok(());
            }
            row = held;
        }
        for hash in &rest[..take] {
            row.extend_from_slice(hash);
        }
        tree.insert(&key, row.as_slice())?;
        if place + take == TILE_WIDTH as usize {
            completed.push(crate::tlog::perfect_root(&tile_hashes(&row)));
        }
        at += take as u64;
        rest = &rest[take..];
    }
    if completed.is_empty() {
        return Ok(());
    }
    // The first tile completed is the first one touched unless that one was already full
    // (it never is: a full tile is never extended).
    extend_tree(tree, author, level + 1, first_tile, &completed)
}

/// A feed's Merkle tree as the store keeps it: reads the tiles of one snapshot
/// ([`Snapshot::feed_tree`]) and works out any complete subtree's hash from them (at most 2^7 − 1
/// node hashes per subtree), remembering what it worked out.
pub struct FeedTree {
    tiles: ReadOnlyTable<&'static [u8; 41], &'static [u8]>,
    by_feed: ReadOnlyTable<&'static [u8; 12], u64>,
    events: ReadOnlyTable<u64, &'static [u8]>,
    author: PublicKey,
    /// The feed's number in `event_by_feed`, if it has one.
    number: Option<u32>,
    known: HashMap<(u32, u64), crate::tlog::TreeHash>,
}

impl std::fmt::Debug for FeedTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedTree").field("author", &self.author).finish_non_exhaustive()
    }
}

impl crate::tlog::Subtrees for FeedTree {
    type Error = StorageError;

    fn subtree(&mut self, height: u32, index: u64) -> Result<crate::tlog::TreeHash, StorageError> {
        if let Some(hash) = self.known.get(&(height, index)) {
            return Ok(*hash);
        }
        let below = height % TILE_HEIGHT;
        let level = (height / TILE_HEIGHT) as u8;
        let first = index << below;
        let (tile, place) = (first / TILE_WIDTH, (first % TILE_WIDTH) as usize);
        let want = 1usize << below;
        let hash = if level == 0 {
            let events = &self.events;
            let hash_at = |offset| Ok(events.get(offset)?.map(|r| record_hash(r.value())));
            let leaves = match self.number {
                Some(number) => feed_leaves(&self.by_feed, hash_at, number, first, first + want as u64)?,
                None => Vec::new(),
            };
            if leaves.len() < want {
                let seq = first + leaves.len() as u64 + 1;
                return Err(StorageError::Other(format!(
                    "the feed index of {} has no event at seq {seq}, which its Merkle tree needs \
                     (run mindlog verify, then mindlog repair)",
                    self.author
                )));
            }
            crate::tlog::perfect_root(&leaves)
        } else {
            let row = self.tiles.get(&tile_key(&self.author, level, tile))?;
            let bytes = row.as_ref().map_or(&[][..], |r| r.value());
            let Some(slice) = bytes.get(place * 32..(place + want) * 32) else {
                return Err(missing_tile(&self.author, level, tile, place + want, bytes.len() / 32));
            };
            crate::tlog::perfect_root(&tile_hashes(slice))
        };
        self.known.insert((height, index), hash);
        Ok(hash)
    }
}

/// Bytes before the envelope in an `events` value: the hash and the signature.
pub(crate) const RECORD_HEADER: usize = 32 + 64;

/// The hash an `events` value records (zeros if it is too short to hold one).
fn record_hash(record: &[u8]) -> Hash {
    Hash(record.get(..32).and_then(|h| h.try_into().ok()).unwrap_or_default())
}

/// The last event of a feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Head {
    /// The feed's author.
    pub author: PublicKey,
    /// The seq of the feed's last event (its length).
    pub seq: u64,
    /// The last event's hash, which the next event names as `prev`.
    pub hash: Hash,
    /// The last event's offset in this store.
    pub offset: u64,
}

impl Head {
    fn encode(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        out[..8].copy_from_slice(&self.seq.to_be_bytes());
        out[8..16].copy_from_slice(&self.offset.to_be_bytes());
        out[16..].copy_from_slice(self.hash.as_bytes());
        out
    }

    pub(crate) fn decode(author: PublicKey, bytes: &[u8; 48]) -> Head {
        let (seq, rest) = bytes.split_at(8);
        let (offset, hash) = rest.split_at(8);
        Head {
            author,
            seq: u64::from_be_bytes(seq.try_into().unwrap_or_default()),
            offset: u64::from_be_bytes(offset.try_into().unwrap_or_default()),
            hash: Hash(hash.try_into().unwrap_or_default()),
        }
    }
}

/// One event as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Local position in this store (arrival order, from 0; never signed).
    pub offset: u64,
    /// The hash recorded when the event was accepted.
    pub hash: Hash,
    /// The author's signature.
    pub signature: Signature,
    /// The canonical envelope bytes, exactly as signed.
    pub bytes: Vec<u8>,
    /// Where the payload is: inside `bytes` (format 1) or beside them.
    pub payload: PayloadState,
}

/// The `payloads` row tags.
const ROW_PRESENT: u8 = 1;
const ROW_ERASED: u8 = 2;
const ROW_WITHHELD: u8 = 3;
/// The `flags` bit of a present row that marks the payload private.
const FLAG_PRIVATE: u8 = 1;

/// The `payloads` row for `state`, or `None` for a format-1 event (which has no row).
pub(crate) fn encode_payload_row(state: &PayloadState, out: &mut Vec<u8>) -> bool {
    out.clear();
    match state {
        PayloadState::Inline => return false,
        PayloadState::Present(sidecar) => {
            out.reserve(34 + sidecar.bytes.len());
            out.push(ROW_PRESENT);
            out.push(if sidecar.private { FLAG_PRIVATE } else { 0 });
            out.extend_from_slice(&sidecar.salt);
            out.extend_from_slice(&sidecar.bytes);
        }
        PayloadState::Erased => out.push(ROW_ERASED),
        PayloadState::Withheld => out.push(ROW_WITHHELD),
    }
    true
}

/// A payload as the store holds it, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadRef<'a> {
    /// Format 1: inside the envelope.
    Inline(&'a [u8]),
    /// Format 2, held beside the envelope.
    Present {
        /// The payload bytes.
        bytes: &'a [u8],
        /// The salt of its commitment.
        salt: &'a [u8; 32],
        /// Whether it is private.
        private: bool,
    },
    /// Format 2, erased.
    Erased,
    /// Format 2, not held here.
    Withheld,
}

impl PayloadState {
    /// The `payloads` row this state is stored as, borrowed: `None` for format 1 (inline).
    pub fn as_row(&self) -> Option<PayloadRef<'_>> {
        match self {
            PayloadState::Inline => None,
            PayloadState::Present(s) => {
                Some(PayloadRef::Present { bytes: &s.bytes, salt: &s.salt, private: s.private })
            }
            PayloadState::Erased => Some(PayloadRef::Erased),
            PayloadState::Withheld => Some(PayloadRef::Withheld),
        }
    }
}

impl<'a> PayloadRef<'a> {
    /// The state's name, as export writes it (format-1 lines have none).
    pub fn name(&self) -> &'static str {
        match self {
            PayloadRef::Inline(_) => "inline",
            PayloadRef::Present { .. } => "present",
            PayloadRef::Erased => "erased",
            PayloadRef::Withheld => "withheld",
        }
    }

    /// The payload bytes, when held.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            PayloadRef::Inline(b) | PayloadRef::Present { bytes: b, .. } => Some(b),
            PayloadRef::Erased | PayloadRef::Withheld => None,
        }
    }

    /// An owned copy.
    pub fn to_state(&self) -> PayloadState {
        match *self {
            PayloadRef::Inline(_) => PayloadState::Inline,
            PayloadRef::Present { bytes, salt, private } => {
                PayloadState::Present(Sidecar { salt: *salt, bytes: bytes.to_vec(), private })
            }
            PayloadRef::Erased => PayloadState::Erased,
            PayloadRef::Withheld => PayloadState::Withheld,
        }
    }
}

/// Reads a `payloads` row.
pub(crate) fn decode_payload_row(offset: u64, row: &[u8]) -> Result<PayloadRef<'_>, StorageError> {
    let corrupt = |problem: String| StorageError::Corrupt { offset, problem };
    match row {
        [ROW_PRESENT, flags, rest @ ..] if rest.len() >= 32 && *flags & !FLAG_PRIVATE == 0 => {
            let (salt, bytes) = rest.split_at(32);
            Ok(PayloadRef::Present {
                bytes,
                salt: salt.try_into().map_err(|_| corrupt("payload row: short salt".into()))?,
                private: *flags & FLAG_PRIVATE != 0,
            })
        }
        [ROW_ERASED] => Ok(PayloadRef::Erased),
        [ROW_WITHHELD] => Ok(PayloadRef::Withheld),
        _ => Err(corrupt(format!("payload row of {} bytes is not a valid row", row.len()))),
    }
}

impl StoredEvent {
    /// Splits an `events` value and its `payloads` row into their parts.
    pub(crate) fn from_record(offset: u64, record: &[u8], row: Option<&[u8]>) -> Result<StoredEvent, StorageError> {
        EventRef::from_record(offset, record, row)?.to_stored()
    }

    /// Decodes the envelope.
    pub fn envelope(&self) -> Result<Envelope, EnvelopeError> {
        Envelope::decode(&self.bytes)
    }
}

/// A stored event borrowed from the store (see [`Snapshot::with_event`]).
#[derive(Clone, Copy, Debug)]
pub struct EventRef<'a> {
    /// Local position in this store.
    pub offset: u64,
    /// The hash recorded when the event was accepted.
    pub hash: Hash,
    /// The author's signature.
    pub signature: Signature,
    /// The canonical envelope bytes, exactly as signed.
    pub bytes: &'a [u8],
    /// The event's `payloads` row, decoded (format 2), or `None` (format 1).
    pub(crate) row: Option<PayloadRef<'a>>,
}

impl<'a> EventRef<'a> {
    /// Splits an `events` value (hash ‖ signature ‖ envelope bytes) into its parts.
    pub(crate) fn from_record(
        offset: u64,
        record: &'a [u8],
        row: Option<&'a [u8]>,
    ) -> Result<EventRef<'a>, StorageError> {
        if record.len() < RECORD_HEADER {
            return Err(StorageError::Corrupt {
                offset,
                problem: format!("record of {} bytes is truncated", record.len()),
            });
        }
        let (hash, rest) = record.split_at(32);
        let (signature, bytes) = rest.split_at(64);
        Ok(EventRef {
            offset,
            hash: Hash(hash.try_into().unwrap_or_default()),
            signature: Signature(signature.try_into().unwrap_or([0; 64])),
            bytes,
            row: row.map(|r| decode_payload_row(offset, r)).transpose()?,
        })
    }

    /// An owned copy.
    pub(crate) fn to_stored(self) -> Result<StoredEvent, StorageError> {
        let payload = self.row.map_or(PayloadState::Inline, |row| row.to_state());
        Ok(StoredEvent {
            offset: self.offset,
            hash: self.hash,
            signature: self.signature,
            bytes: self.bytes.to_vec(),
            payload,
        })
    }

    /// Where the payload is. `envelope` is this event's (from [`EventRef::envelope`]).
    pub fn payload(&self, envelope: &EnvelopeRef<'a>) -> Result<PayloadRef<'a>, StorageError> {
        match (&envelope.body, self.row) {
            (Body::Inline(bytes), None) => Ok(PayloadRef::Inline(bytes)),
            (Body::Committed { .. }, Some(row)) => Ok(row),
            (Body::Inline(_), Some(_)) => {
                Err(StorageError::Corrupt { offset: self.offset, problem: "a format-1 event has a payload row".into() })
            }
            (Body::Committed { .. }, None) => Err(StorageError::Corrupt {
                offset: self.offset,
                problem: "a format-2 event has no payload row".into(),
            }),
        }
    }

    /// Checks what can be checked without the signature: the recorded hash against the envelope
    /// bytes, and a present payload against the envelope's commitment. `envelope` is this
    /// event's (from [`EventRef::envelope`]).
    pub(crate) fn check(&self, envelope: &EnvelopeRef<'a>) -> Result<(), crate::event::EventError> {
        let computed = crate::envelope::hash_envelope_bytes(self.bytes);
        if computed != self.hash {
            return Err(crate::event::EventError::HashMismatch { recorded: self.hash, computed });
        }
        crate::event::check_row(envelope.version, envelope.body.committed(), self.row)
    }

    /// The envelope, read in place.
    pub fn envelope(&self) -> Result<EnvelopeRef<'a>, StorageError> {
        EnvelopeRef::decode(self.bytes)
            .map_err(|e| StorageError::Corrupt { offset: self.offset, problem: e.to_string() })
    }
}

impl StoredEvent {
    /// This event, borrowed.
    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            offset: self.offset,
            hash: self.hash,
            signature: self.signature,
            bytes: &self.bytes,
            row: self.payload.as_row(),
        }
    }

    /// The payload bytes, when held: from the envelope (format 1) or beside it (format 2).
    pub fn payload_bytes<'e>(&'e self, envelope: &'e EnvelopeRef<'e>) -> Option<&'e [u8]> {
        match (&envelope.body, &self.payload) {
            (Body::Inline(bytes), _) => Some(bytes),
            (_, PayloadState::Present(sidecar)) => Some(&sidecar.bytes),
            _ => None,
        }
    }
}

/// An `event_by_feed` or `event_by_kind` key: a feed's or kind's number, then a seq or offset.
pub(crate) fn number_key(number: u32, n: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&number.to_be_bytes());
    key[4..].copy_from_slice(&n.to_be_bytes());
    key
}

/// The two halves of an `event_by_feed` or `event_by_kind` key: a number and a u64.
pub(crate) fn split_key(key: &[u8; 12]) -> (u32, u64) {
    (u32::from_be_bytes(key[..4].try_into().unwrap_or_default()), be_u64(&key[4..]))
}

/// A numbering table (`feed_numbers`, `kind_numbers`) open for writing, with the numbers this
/// transaction has looked up or given. Numbers are given in order, 0, 1, 2, …: a table's
/// numbers are always exactly 0 to its length − 1 (`verify` checks it), so the next is its length.
struct Numbering<'t, K: redb::Key + 'static, T> {
    table: Table<'t, K, u32>,
    seen: HashMap<T, u32>,
}

impl<'t, K: redb::Key + 'static, T: Eq + std::hash::Hash> Numbering<'t, K, T> {
    fn open(txn: &'t WriteTransaction, definition: TableDefinition<'_, K, u32>) -> Result<Self, StorageError> {
        Ok(Numbering { table: txn.open_table(definition)?, seen: HashMap::new() })
    }

    /// The number of `key` (`owned` as the cache holds it), given now if it has none yet.
    fn number<'k, Q>(&mut self, owned: &Q, key: &K::SelfType<'k>) -> Result<u32, StorageError>
    where
        Q: ?Sized + Eq + std::hash::Hash + ToOwned<Owned = T>,
        T: std::borrow::Borrow<Q>,
    {
        use redb::TableHandle as _;
        if let Some(number) = self.seen.get(owned) {
            return Ok(*number);
        }
        let held = self.table.get(key)?.map(|v| v.value());
        let number = match held {
            Some(number) => number,
            None => {
                let number = u32::try_from(self.table.len()?).map_err(|_| {
                    StorageError::Other(format!("{} holds 2^32 entries, the most it can number", self.table.name()))
                })?;
                self.table.insert(key, number)?;
                number
            }
        };
        self.seen.insert(owned.to_owned(), number);
        Ok(number)
    }
}

pub(crate) fn time_key(ts: u64, offset: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&ts.to_be_bytes());
    key[8..].copy_from_slice(&offset.to_be_bytes());
    key
}

fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().unwrap_or_default())
}

/// Opens redb. One process at a time holds a store (redb's exclusive mode); another gets
/// [`OpenError::Busy`] and may wait and retry.
/// redb's page cache, MiB, for stores opened from now on in this process, unless
/// `MINDLOG_CACHE_MB` says otherwise ([`set_cache_mb`]).
///
/// 64 MiB by default: a one-shot command scans each page once, and every page cached is fresh
/// memory to fault in (on 1,000,000 events 64 MiB rather than redb's own 1 GiB cut `projections
/// rebuild` from 4.3 s to 2.4 s and the peak memory of `verify`, `query` and `export` from 850 MB
/// to 180 MB). A warm, long-running process reads the same pages again and again and asks for
/// more (`mindlog node`: 256 MiB). docs/performance.md has the figures.
static CACHE_MB: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(64);

/// Sets the page cache, MiB, of stores this process opens from now on (`MINDLOG_CACHE_MB`, when
/// set, still wins).
pub fn set_cache_mb(mb: usize) {
    CACHE_MB.store(mb, std::sync::atomic::Ordering::Relaxed);
}

/// How every store file is opened.
pub(crate) fn builder() -> redb::Builder {
    let mb = std::env::var("MINDLOG_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| CACHE_MB.load(std::sync::atomic::Ordering::Relaxed));
    let mut builder = redb::Builder::new();
    builder.set_cache_size(mb.max(1) << 20);
    builder
}

/// Makes the empty file a new store is initialised in, with mode 0600 from the start (redb
/// would create it with 0666 less the umask, and a descriptor opened in the meantime stays
/// open). Fails with [`OpenError::AlreadyExists`] if anything is at `path`.
pub(crate) fn create_private_file(path: &Path) -> Result<(), OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(OpenError::AlreadyExists(path.to_owned())),
        Err(e) => Err(OpenError::Storage { path: path.to_owned(), source: redb::StorageError::Io(e).into() }),
    }
}

pub(crate) fn open_database(path: &Path, create: bool) -> Result<Database, OpenError> {
    let builder = builder();
    let result = if create { builder.create(path) } else { builder.open(path) };
    result.map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => OpenError::Busy(path.to_owned()),
        e => OpenError::Storage { path: path.to_owned(), source: e.into() },
    })
}

/// Creates the tables and the format record of a new store; leaves a store that has a format
/// record to [`check_format`] (which upgrades an older one).
pub(crate) fn initialise(db: &Database) -> Result<(), StorageError> {
    {
        let read = db.begin_read()?;
        match read.open_table(META) {
            Ok(meta) if meta.get("store_format")?.is_some() => return Ok(()),
            Ok(_) | Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let txn = db.begin_write()?;
    {
        LogTable::open(&txn)?;
        Indexes::open(&txn)?;
        txn.open_table(CHECKPOINTS)?;
        txn.open_table(META)?.insert("store_format", STORE_FORMAT)?;
    }
    txn.commit()?;
    Ok(())
}

/// Upgrades a store of format `old`: in one transaction the tables a newer format added are
/// created, from format 3 or older the derived tables emptied (format 3 added each feed's tree,
/// format 4 changed the keys of `event_by_feed` and `event_by_kind` and the tree's levels), and
/// the format record raised; then the indexes are rebuilt as any catch-up is, in transactions of
/// [`CATCH_UP_CHUNK`] events (an interrupted rebuild goes on at the next open).
fn upgrade(db: &Database, old: u64) -> Result<(), StorageError> {
    tracing::info!(from = old, to = STORE_FORMAT, "upgrading the store's format");
    let txn = db.begin_write()?;
    LogTable::open(&txn)?;
    txn.open_table(CHECKPOINTS)?;
    if old < 4 {
        clear_indexes(&txn)?;
    }
    txn.open_table(META)?.insert("store_format", STORE_FORMAT)?;
    if old < 4 {
        index_and_commit(db, txn)?;
    } else {
        txn.commit()?;
    }
    Ok(())
}

/// Checks the format record of an existing store.
pub(crate) fn check_format(db: &Database, path: &Path) -> Result<(), OpenError> {
    let storage = |e: StorageError| OpenError::Storage { path: path.to_owned(), source: e };
    let txn = db.begin_read().map_err(|e| storage(e.into()))?;
    let meta = match txn.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Err(OpenError::NotAStore(path.to_owned())),
        Err(e) => return Err(storage(e.into())),
    };
    match meta.get("store_format").map_err(|e| storage(e.into()))? {
        None => Err(OpenError::NotAStore(path.to_owned())),
        Some(v) if v.value() > STORE_FORMAT => {
            Err(OpenError::NewerFormat { path: path.to_owned(), found: v.value(), supported: STORE_FORMAT })
        }
        Some(v) if v.value() < STORE_FORMAT => {
            let old = v.value();
            drop(meta);
            drop(txn);
            upgrade(db, old).map_err(storage)
        }
        Some(_) => Ok(()),
    }
}

/// The log table, open for appending in one write transaction.
pub(crate) struct LogTable<'t> {
    events: Table<'t, u64, &'static [u8]>,
    payloads: Table<'t, u64, &'static [u8]>,
    next_offset: u64,
    record: Vec<u8>,
}

impl<'t> LogTable<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<LogTable<'t>, StorageError> {
        let events = txn.open_table(EVENTS)?;
        let payloads = txn.open_table(PAYLOADS)?;
        let next_offset = events.last()?.map_or(0, |(k, _)| k.value() + 1);
        Ok(LogTable { events, payloads, next_offset, record: Vec::new() })
    }

    /// The event at `offset`, owned.
    pub(crate) fn event(&self, offset: u64) -> Result<Option<StoredEvent>, StorageError> {
        let Some(record) = self.events.get(offset)? else { return Ok(None) };
        let row = self.payloads.get(offset)?;
        StoredEvent::from_record(offset, record.value(), row.as_ref().map(|r| r.value())).map(Some)
    }

    /// Whether the payload of the event at `offset` is withheld here (reads its row only).
    pub(crate) fn is_withheld(&self, offset: u64) -> Result<bool, StorageError> {
        Ok(self.payloads.get(offset)?.is_some_and(|row| row.value() == [ROW_WITHHELD]))
    }

    /// Replaces the payload of the format-2 event at `offset` (erasing it, or filling in a
    /// withheld one).
    pub(crate) fn set_payload(&mut self, offset: u64, state: &PayloadState) -> Result<(), StorageError> {
        if encode_payload_row(state, &mut self.record) {
            self.payloads.insert(offset, self.record.as_slice())?;
        }
        Ok(())
    }

    /// The offset the next event will get.
    pub(crate) fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Writes an event's record. The caller has checked that it continues its feed.
    pub(crate) fn append(&mut self, event: &VerifiedEvent) -> Result<u64, StorageError> {
        let offset = self.next_offset;
        self.record.clear();
        self.record.extend_from_slice(event.hash().as_bytes());
        self.record.extend_from_slice(&event.signature().0);
        self.record.extend_from_slice(event.bytes());
        self.events.insert(offset, self.record.as_slice())?;
        if encode_payload_row(event.payload_state(), &mut self.record) {
            self.payloads.insert(offset, self.record.as_slice())?;
        }
        self.next_offset += 1;
        Ok(offset)
    }

    fn hash_at(&self, offset: u64) -> Result<Option<Hash>, StorageError> {
        Ok(self.events.get(offset)?.map(|r| record_hash(r.value())))
    }
}

/// What [`Indexes::ingest`] did with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingested {
    /// Stored at this offset.
    Stored(u64),
    /// Already held (same hash at the same feed position) at this offset; nothing written.
    AlreadyHeld(u64),
}

/// The derived indexes (`event_by_feed`, `feed_numbers`, `event_by_kind`, `kind_numbers`,
/// `event_by_time`, `feed_heads`, `kind_counts`, `feed_tree`), open in one write transaction.
///
/// They are a function of `events` up to `meta.indexed_to`, kept in the same file and advanced
/// in batches: bulk writes index as they go; single appends write only `events`, and the
/// indexes catch up once the unindexed tail is long enough, or before anyone reads them.
pub(crate) struct Indexes<'t> {
    by_feed: Table<'t, &'static [u8; 12], u64>,
    by_kind: Table<'t, &'static [u8; 12], ()>,
    by_time: Table<'t, &'static [u8; 16], ()>,
    heads: Table<'t, &'static [u8; 32], &'static [u8; 48]>,
    kind_counts: Table<'t, &'static str, u64>,
    meta: Table<'t, &'static str, u64>,
    tree: Table<'t, &'static [u8; 41], &'static [u8]>,
    feed_numbers: Numbering<'t, &'static [u8; 32], PublicKey>,
    kind_numbers: Numbering<'t, &'static str, String>,
    indexed_to: u64,
    changed_heads: HashMap<PublicKey, Head>,
    /// Per feed, the leaf indexes of the events indexed in this transaction (contiguous: a gap
    /// ends them), whose completed groups of 256 [`Indexes::finish`] adds to `feed_tree`.
    new_leaves: HashMap<PublicKey, std::ops::Range<u64>>,
    new_kinds: HashMap<String, u64>,
    /// Payloads erased by `ledger.erased/1` events ingested through these indexes.
    pub(crate) erased: u64,
    /// Withheld payloads filled in by events offered again with their payload.
    pub(crate) filled: u64,
}

/// The offset up to which the indexes are complete, as of `txn`.
pub(crate) fn indexed_to(txn: &WriteTransaction) -> Result<u64, StorageError> {
    Ok(txn.open_table(META)?.get(INDEXED_TO)?.map_or(0, |v| v.value()))
}

impl<'t> Indexes<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Indexes<'t>, StorageError> {
        let meta = txn.open_table(META)?;
        let indexed_to = meta.get(INDEXED_TO)?.map_or(0, |v| v.value());
        Ok(Indexes {
            by_feed: txn.open_table(BY_FEED)?,
            by_kind: txn.open_table(BY_KIND)?,
            by_time: txn.open_table(BY_TIME)?,
            heads: txn.open_table(HEADS)?,
            kind_counts: txn.open_table(KIND_COUNTS)?,
            meta,
            tree: txn.open_table(FEED_TREE)?,
            feed_numbers: Numbering::open(txn, FEED_NUMBERS)?,
            kind_numbers: Numbering::open(txn, KIND_NUMBERS)?,
            indexed_to,
            changed_heads: HashMap::new(),
            new_leaves: HashMap::new(),
            new_kinds: HashMap::new(),
            erased: 0,
            filled: 0,
        })
    }

    /// Indexes every event of `log` not indexed yet, stopping short of a damaged record
    /// (the indexes then end just before it; `verify` reports it).
    pub(crate) fn catch_up(&mut self, log: &LogTable<'_>) -> Result<CatchUp, StorageError> {
        self.catch_up_to(log, u64::MAX)
    }

    /// Indexes at most `most` events of `log` not indexed yet, as [`Indexes::catch_up`] does.
    fn catch_up_to(&mut self, log: &LogTable<'_>, most: u64) -> Result<CatchUp, StorageError> {
        let start = self.indexed_to;
        let end = log.next_offset.min(start.saturating_add(most));
        for entry in log.events.range(start..end)? {
            let (k, v) = entry?;
            let decoded =
                EventRef::from_record(k.value(), v.value(), None).and_then(|event| Ok((event.envelope()?, event)));
            match decoded {
                Ok((env, event)) => self.add(event.offset, env.author, env.seq, env.ts, env.kind, event.hash)?,
                Err(StorageError::Corrupt { offset, problem }) => {
                    return Ok(CatchUp { indexed: self.indexed_to - start, damaged: Some((offset, problem)) });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(CatchUp { indexed: self.indexed_to - start, damaged: None })
    }

    fn head(&self, author: &PublicKey) -> Result<Option<Head>, StorageError> {
        if let Some(head) = self.changed_heads.get(author) {
            return Ok(Some(*head));
        }
        Ok(self.heads.get(author.as_bytes())?.map(|v| Head::decode(*author, v.value())))
    }

    /// `author`'s feed number, given now if its feed has none yet.
    fn feed_number(&mut self, author: &PublicKey) -> Result<u32, StorageError> {
        self.feed_numbers.number(author, &author.as_bytes())
    }

    /// Indexes the event at `offset`, which must be the next unindexed one.
    fn add(
        &mut self,
        offset: u64,
        author: PublicKey,
        seq: u64,
        ts: u64,
        kind: &str,
        hash: Hash,
    ) -> Result<(), StorageError> {
        debug_assert_eq!(offset, self.indexed_to, "events are indexed in offset order");
        let number = self.feed_number(&author)?;
        self.by_feed.insert(&number_key(number, seq), offset)?;
        let kind_number = self.kind_numbers.number(kind, &kind)?;
        self.by_kind.insert(&number_key(kind_number, offset), ())?;
        self.by_time.insert(&time_key(ts, offset), ())?;
        self.changed_heads.insert(author, Head { author, seq, hash, offset });
        let leaves = self.new_leaves.entry(author).or_insert(seq.saturating_sub(1)..seq.saturating_sub(1));
        // A feed skips a seq only in a damaged log (verify reports it): its tree then stops
        // growing, and verify names what is missing from it.
        if leaves.end + 1 == seq {
            leaves.end = seq;
        }
        match self.new_kinds.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.new_kinds.insert(kind.to_owned(), 1);
            }
        }
        self.indexed_to = offset + 1;
        Ok(())
    }

    /// Adds a verified event that continues its feed, indexing it at once; skips one already
    /// held. The indexes must be caught up with `log` (see [`Indexes::catch_up`]).
    ///
    /// "Already held" is decided by the feed index: an event is held when its author's feed has
    /// an event at its seq with the same hash; a different hash there is a fork.
    pub(crate) fn ingest(&mut self, log: &mut LogTable<'_>, event: &VerifiedEvent) -> Result<Ingested, IngestError> {
        let env = event.envelope();
        let head = self.head(&env.author)?;
        let head_seq = head.map_or(0, |h| h.seq);
        let problem = if env.seq <= head_seq {
            let number = self.feed_number(&env.author)?;
            let held = self.by_feed.get(&number_key(number, env.seq)).map_err(StorageError::from)?.map(|v| v.value());
            let held_hash = match held {
                Some(offset) => log.hash_at(offset)?.unwrap_or(Hash([0; 32])),
                None => Hash([0; 32]),
            };
            if held_hash == event.hash() {
                let offset = held.unwrap_or_default();
                // A payload withheld here and now offered is filled in (an erased one stays erased).
                if let PayloadState::Present(_) = event.payload_state()
                    && log.is_withheld(offset)?
                {
                    log.set_payload(offset, event.payload_state())?;
                    self.filled += 1;
                }
                return Ok(Ingested::AlreadyHeld(offset));
            }
            Some(FeedProblem::Fork { held: held_hash })
        } else if env.seq != head_seq + 1 {
            Some(FeedProblem::Gap { expected: head_seq + 1 })
        } else {
            match (head, env.prev) {
                (Some(h), Some(prev)) if h.hash != prev => {
                    Some(FeedProblem::BrokenLink { expected: h.hash, found: prev })
                }
                _ => None,
            }
        };
        if let Some(problem) = problem {
            return Err(IngestError::Feed { author: env.author, seq: env.seq, problem });
        }
        let offset = log.append(event)?;
        self.add(offset, env.author, env.seq, env.ts, &env.kind, event.hash())?;
        if env.kind == crate::ledger::ERASED_KIND {
            self.apply_erasure(log, env)?;
        }
        Ok(Ingested::Stored(offset))
    }

    /// Erases here the payloads an incoming `ledger.erased/1` names: its refs that are earlier
    /// events of the same author in format 2 (all held, since a feed is held from seq 1). Refs
    /// to anything else erase nothing. The feed is searched backward from the erasure, so
    /// erasing recent events is cheap; an erasure of a feed's first events reads the whole feed.
    fn apply_erasure(&mut self, log: &mut LogTable<'_>, erasure: &Envelope) -> Result<(), StorageError> {
        let mut wanted: std::collections::HashSet<Hash> = erasure.refs.iter().copied().collect();
        let number = self.feed_number(&erasure.author)?;
        let (lower, upper) = (number_key(number, 1), number_key(number, erasure.seq.saturating_sub(1)));
        let mut found = Vec::new();
        for entry in self.by_feed.range::<&[u8; 12]>(&lower..=&upper)?.rev() {
            if wanted.is_empty() {
                break;
            }
            let offset = entry?.1.value();
            if let Some(hash) = log.hash_at(offset)?
                && wanted.remove(&hash)
            {
                found.push(offset);
            }
        }
        for offset in found {
            if let Some(event) = log.event(offset)?
                && !matches!(event.payload, PayloadState::Inline | PayloadState::Erased)
            {
                log.set_payload(offset, &PayloadState::Erased)?;
                self.erased += 1;
            }
        }
        Ok(())
    }

    /// Writes the changed heads, the per-kind counts, each feed's tree's new nodes (level 1 up)
    /// and the checkpoint; call before committing. Returns the heads this transaction changed.
    pub(crate) fn finish(mut self, log: &LogTable<'_>) -> Result<HashMap<PublicKey, Head>, StorageError> {
        for (author, leaves) in std::mem::take(&mut self.new_leaves) {
            // Level 0 is not kept: each group of 256 leaves these events complete adds its root
            // to level 1, the group's leaves read from the events (this transaction's included).
            let start = leaves.start - leaves.start % TILE_WIDTH;
            let end = leaves.end - leaves.end % TILE_WIDTH;
            if end <= start {
                continue;
            }
            let number = self.feed_number(&author)?;
            let group = feed_leaves(&self.by_feed, |offset| log.hash_at(offset), number, start, end)?;
            if group.len() as u64 != end - start {
                tracing::warn!(%author, leaf = start + group.len() as u64, "a feed's event is missing; its stored Merkle tree is not extended");
                continue;
            }
            let roots: Vec<_> = group.chunks_exact(TILE_WIDTH as usize).map(crate::tlog::perfect_root).collect();
            extend_tree(&mut self.tree, &author, 1, start / TILE_WIDTH, &roots)?;
        }
        for head in self.changed_heads.values() {
            self.heads.insert(head.author.as_bytes(), &head.encode())?;
        }
        for (kind, n) in self.new_kinds.drain() {
            let old = self.kind_counts.get(kind.as_str())?.map_or(0, |v| v.value());
            self.kind_counts.insert(kind.as_str(), old + n)?;
        }
        self.meta.insert(INDEXED_TO, self.indexed_to)?;
        Ok(self.changed_heads)
    }
}

/// What a catch-up of the indexes did.
#[derive(Debug, Default)]
pub(crate) struct CatchUp {
    /// Events indexed.
    pub(crate) indexed: u64,
    /// The damaged record it stopped at, if any: where and what.
    pub(crate) damaged: Option<(u64, String)>,
}

/// Indexes whatever `events` holds beyond the checkpoint, in its own durable transaction.
pub(crate) fn catch_up_indexes(db: &Database) -> Result<CatchUp, StorageError> {
    // Most calls find nothing to do: a read transaction says so without waiting for the writer
    // (a node's readers would otherwise queue behind every commit).
    {
        let read = db.begin_read()?;
        let indexed = match read.open_table(META) {
            Ok(meta) => meta.get(INDEXED_TO)?.map_or(0, |v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        };
        if indexed >= Snapshot::new(db)?.len()? {
            return Ok(CatchUp::default());
        }
    }
    let txn = db.begin_write()?;
    if indexed_to(&txn)? >= LogTable::open(&txn)?.next_offset() {
        return Ok(CatchUp::default());
    }
    index_and_commit(db, txn)
}

/// Empties every derived table of the ledger and indexes `events` again from offset 0
/// (`mindlog repair`), as a catch-up does; stops short of a damaged record, as a catch-up does.
pub(crate) fn rebuild_indexes(db: &Database) -> Result<CatchUp, StorageError> {
    let txn = db.begin_write()?;
    clear_indexes(&txn)?;
    index_and_commit(db, txn)
}

/// Empties every derived table of the ledger, and sets the indexes' checkpoint to 0.
fn clear_indexes(txn: &WriteTransaction) -> Result<(), StorageError> {
    txn.delete_table(BY_FEED)?;
    txn.delete_table(BY_KIND)?;
    txn.delete_table(BY_TIME)?;
    txn.delete_table(HEADS)?;
    txn.delete_table(KIND_COUNTS)?;
    txn.delete_table(FEED_TREE)?;
    txn.delete_table(FEED_NUMBERS)?;
    txn.delete_table(KIND_NUMBERS)?;
    txn.open_table(META)?.insert(INDEXED_TO, 0)?;
    Ok(())
}

/// Events indexed per durable transaction when the indexes catch up with many events (after an
/// upgrade or `repair`, or a crash): a transaction holds every page it changes in memory until it
/// commits, so this bounds a catch-up's memory whatever the length of the log.
const CATCH_UP_CHUNK: u64 = 1 << 18;

/// Indexes `events` from `meta.indexed_to` on: in `txn` and then, while events are left, in new
/// transactions of [`CATCH_UP_CHUNK`] events each, every one committed durably (the indexes are
/// complete below `indexed_to` after each; an interrupted catch-up goes on at the next open).
fn index_and_commit(db: &Database, txn: redb::WriteTransaction) -> Result<CatchUp, StorageError> {
    index_in_chunks(db, txn, CATCH_UP_CHUNK)
}

/// [`index_and_commit`] with transactions of `chunk` events.
fn index_in_chunks(db: &Database, mut txn: redb::WriteTransaction, chunk: u64) -> Result<CatchUp, StorageError> {
    let mut total = CatchUp::default();
    loop {
        let log = LogTable::open(&txn)?;
        let mut indexes = Indexes::open(&txn)?;
        let outcome = indexes.catch_up_to(&log, chunk)?;
        let done = outcome.damaged.is_some() || outcome.indexed == 0 || indexes.indexed_to >= log.next_offset();
        indexes.finish(&log)?;
        drop(log);
        txn.commit()?;
        total.indexed += outcome.indexed;
        total.damaged = outcome.damaged;
        if done {
            return Ok(total);
        }
        txn = db.begin_write()?;
    }
}

/// Every feed's head, read from the (caught-up) index.
pub(crate) fn load_heads(db: &Database) -> Result<HashMap<PublicKey, Head>, StorageError> {
    Ok(Snapshot::new(db)?.heads()?.into_iter().map(|h| (h.author, h)).collect())
}

/// One table's space in the store file, as redb counts it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TableSpace {
    /// The table's name (`events`, `payloads`, `event_by_kind`, `view.personas`, …).
    pub name: String,
    /// Its entries.
    pub entries: u64,
    /// Bytes of its keys and values.
    pub stored_bytes: u64,
    /// Bytes of keys in branch pages and other metadata.
    pub metadata_bytes: u64,
    /// Bytes of its pages that hold nothing: what partly filled pages waste.
    pub fragmented_bytes: u64,
    /// Its leaf pages.
    pub leaf_pages: u64,
    /// Its branch pages.
    pub branch_pages: u64,
}

impl TableSpace {
    /// The bytes of its pages: stored, metadata and fragmentation.
    pub fn total_bytes(&self) -> u64 {
        self.stored_bytes + self.metadata_bytes + self.fragmented_bytes
    }
}

/// A consistent read-only view of the store, as of when it was taken.
pub struct Snapshot {
    txn: ReadTransaction,
    events: ReadOnlyTable<u64, &'static [u8]>,
    payloads: ReadOnlyTable<u64, &'static [u8]>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("events", &self.len().ok()).finish_non_exhaustive()
    }
}

impl Snapshot {
    pub(crate) fn new(db: &Database) -> Result<Snapshot, StorageError> {
        let txn = db.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let payloads = txn.open_table(PAYLOADS)?;
        Ok(Snapshot { txn, events, payloads })
    }

    /// The number of events held (and the offset the next one will get).
    pub fn len(&self) -> Result<u64, StorageError> {
        Ok(self.events.last()?.map_or(0, |(k, _)| k.value() + 1))
    }

    /// Whether the store holds no events.
    pub fn is_empty(&self) -> Result<bool, StorageError> {
        Ok(self.events.is_empty()?)
    }

    /// The event at `offset`.
    pub fn event(&self, offset: u64) -> Result<Option<StoredEvent>, StorageError> {
        self.with_event(offset, |e| e.to_stored())?.transpose()
    }

    /// Hands the event at `offset` to `read` in place, without copying it out of the store.
    pub fn with_event<R>(&self, offset: u64, read: impl FnOnce(EventRef<'_>) -> R) -> Result<Option<R>, StorageError> {
        let Some(record) = self.events.get(offset)? else { return Ok(None) };
        let row = self.payloads.get(offset)?;
        Ok(Some(read(EventRef::from_record(offset, record.value(), row.as_ref().map(|r| r.value()))?)))
    }

    /// Events in offset order over `offsets`, streamed from the file.
    pub fn events(&self, offsets: impl RangeBounds<u64> + Clone) -> Result<EventIter, StorageError> {
        Ok(EventIter { records: self.records(offsets)?, skip_payloads: false })
    }

    /// Events in offset order over `offsets` without reading their payloads beside the envelope:
    /// for scans that need no payload (counts, kinds, authors). Every format-2 event reads as
    /// [`PayloadState::Withheld`] (withheld from this read); format-1 payloads, inside the
    /// envelope, are there as always.
    pub fn events_without_payloads(&self, offsets: impl RangeBounds<u64> + Clone) -> Result<EventIter, StorageError> {
        let records = Records {
            events: self.events.range(offsets)?,
            payloads: self.payloads.range(0..0)?,
            front: None,
            back: None,
        };
        Ok(EventIter { records, skip_payloads: true })
    }

    /// The raw `events` values and `payloads` rows over `offsets`, in offset order: for passes
    /// that split records themselves.
    pub(crate) fn records(&self, offsets: impl RangeBounds<u64> + Clone) -> Result<Records, StorageError> {
        Ok(Records {
            events: self.events.range(offsets.clone())?,
            payloads: self.payloads.range(offsets)?,
            front: None,
            back: None,
        })
    }

    /// The offsets and hashes of the events whose hash starts with `prefix` (lowercase hex, any
    /// length), in offset order. There is no index by hash: this reads every record's first 32
    /// bytes (about a second per million events).
    pub fn find_hash_prefix(&self, prefix: &str) -> Result<Vec<(u64, Hash)>, StorageError> {
        let mut out = Vec::new();
        for entry in self.events.range::<u64>(..)? {
            let (k, v) = entry?;
            let Some(hash) = v.value().get(..32) else { continue };
            let hash = Hash(hash.try_into().unwrap_or_default());
            if hash.to_string().starts_with(prefix) {
                out.push((k.value(), hash));
            }
        }
        Ok(out)
    }

    /// How far the derived indexes reach: the events at offsets below it are indexed.
    pub(crate) fn indexed_to(&self) -> Result<u64, StorageError> {
        match self.txn.open_table(META) {
            Ok(meta) => Ok(meta.get(INDEXED_TO)?.map_or(0, |v| v.value())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// `(seq, offset)` of `author`'s events with seq in `seqs`, in seq order.
    pub fn feed(
        &self,
        author: &PublicKey,
        seqs: RangeInclusive<u64>,
    ) -> Result<impl DoubleEndedIterator<Item = Result<(u64, u64), StorageError>> + use<>, StorageError> {
        let table = self.txn.open_table(BY_FEED)?;
        let range = match self.feed_number(author)? {
            Some(number) => {
                let (lower, upper) = (number_key(number, *seqs.start()), number_key(number, *seqs.end()));
                Some(table.range::<&[u8; 12]>(&lower..=&upper)?)
            }
            None => None,
        };
        Ok(range.into_iter().flatten().map(|r| {
            let (k, v) = r.map_err(StorageError::from)?;
            Ok((split_key(k.value()).1, v.value()))
        }))
    }

    /// `author`'s feed number in `event_by_feed`, if its feed is indexed.
    fn feed_number(&self, author: &PublicKey) -> Result<Option<u32>, StorageError> {
        self.number(FEED_NUMBERS, &author.as_bytes())
    }

    /// The number `numbers` (`feed_numbers`, `kind_numbers`) gives `key`, if any.
    fn number<'k, K: redb::Key + 'static>(
        &self,
        numbers: TableDefinition<'_, K, u32>,
        key: &K::SelfType<'k>,
    ) -> Result<Option<u32>, StorageError> {
        match self.txn.open_table(numbers) {
            Ok(table) => Ok(table.get(key)?.map(|v| v.value())),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Offsets of the events of `kind` with offsets in `offsets`, ascending.
    pub fn kind_offsets(
        &self,
        kind: &str,
        offsets: RangeInclusive<u64>,
    ) -> Result<impl DoubleEndedIterator<Item = Result<u64, StorageError>> + use<>, StorageError> {
        let (lo, hi) = (*offsets.start(), *offsets.end());
        let table = self.txn.open_table(BY_KIND)?;
        let range = match self.number(KIND_NUMBERS, &kind)? {
            Some(number) => Some(table.range::<&[u8; 12]>(&number_key(number, lo)..=&number_key(number, hi))?),
            None => None,
        };
        Ok(range.into_iter().flatten().map(|r| {
            let (k, _) = r.map_err(StorageError::from)?;
            Ok(split_key(k.value()).1)
        }))
    }

    /// `(ts, offset)` of the events with timestamps in `micros`, in time order.
    pub fn time_offsets(
        &self,
        micros: RangeInclusive<u64>,
    ) -> Result<impl DoubleEndedIterator<Item = Result<(u64, u64), StorageError>> + use<>, StorageError> {
        let (lo, hi) = (*micros.start(), *micros.end());
        let table = self.txn.open_table(BY_TIME)?;
        let range = table.range::<&[u8; 16]>(&time_key(lo, 0)..=&time_key(hi, u64::MAX))?;
        Ok(range.map(|r| {
            let (k, _) = r.map_err(StorageError::from)?;
            let key = k.value();
            Ok((be_u64(&key[..8]), be_u64(&key[8..])))
        }))
    }

    /// The head of every feed, ordered by author.
    pub fn heads(&self) -> Result<Vec<Head>, StorageError> {
        let table = self.txn.open_table(HEADS)?;
        table
            .range::<&[u8; 32]>(..)?
            .map(|r| {
                let (k, v) = r?;
                Ok(Head::decode(PublicKey(*k.value()), v.value()))
            })
            .collect()
    }

    /// The head of `author`'s feed.
    pub fn head(&self, author: &PublicKey) -> Result<Option<Head>, StorageError> {
        let table = self.txn.open_table(HEADS)?;
        Ok(table.get(author.as_bytes())?.map(|v| Head::decode(*author, v.value())))
    }

    /// `author`'s Merkle tree, as this snapshot's tiles hold it: read with `tlog::tree_root`,
    /// `tlog::prove_inclusion` and `tlog::prove_consistency`, for sizes up to the feed's head.
    pub fn feed_tree(&self, author: &PublicKey) -> Result<FeedTree, StorageError> {
        Ok(FeedTree {
            tiles: self.txn.open_table(FEED_TREE)?,
            by_feed: self.txn.open_table(BY_FEED)?,
            events: self.txn.open_table(EVENTS)?,
            author: *author,
            number: self.feed_number(author)?,
            known: HashMap::new(),
        })
    }

    /// Where the file's space goes: every table of the store, as redb counts its pages, ordered
    /// by name (`mindlog stats --space`).
    pub fn space(&self) -> Result<Vec<TableSpace>, StorageError> {
        let mut out = Vec::new();
        for handle in self.txn.list_tables()? {
            let name = redb::TableHandle::name(&handle).to_owned();
            let table = self.txn.open_untyped_table(handle)?;
            let stats = table.stats()?;
            out.push(TableSpace {
                name,
                entries: table.len()?,
                stored_bytes: stats.stored_bytes(),
                metadata_bytes: stats.metadata_bytes(),
                fragmented_bytes: stats.fragmented_bytes(),
                leaf_pages: stats.leaf_pages(),
                branch_pages: stats.branch_pages(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The number of events of each kind, ordered by kind.
    pub fn kind_counts(&self) -> Result<Vec<(String, u64)>, StorageError> {
        let table = self.txn.open_table(KIND_COUNTS)?;
        table
            .range::<&str>(..)?
            .map(|r| {
                let (k, v) = r?;
                Ok((k.value().to_owned(), v.value()))
            })
            .collect()
    }

    /// Every consumer's checkpoint (the next offset it will read), ordered by name.
    pub fn checkpoints(&self) -> Result<Vec<(String, u64)>, StorageError> {
        let table = match self.txn.open_table(CHECKPOINTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        table
            .range::<&str>(..)?
            .map(|r| {
                let (k, v) = r?;
                Ok((k.value().to_owned(), v.value()))
            })
            .collect()
    }

    /// Every fork proof held ([`Ledger::record_fork`](crate::Ledger::record_fork)), in key order:
    /// by author, then seq, then hashes. Each is decoded and checked again; one that fails is
    /// [`StorageError::BadForkProof`].
    pub fn forks(&self) -> Result<Vec<ForkProof>, StorageError> {
        self.fork_rows(None, |key, value| decode_fork_row(key, value).map_err(|problem| bad_fork(key, problem)))?
            .into_iter()
            .collect()
    }

    /// The fork proofs held against `author`, as [`Snapshot::forks`]: by seq, then hashes.
    pub fn forks_by(&self, author: &PublicKey) -> Result<Vec<ForkProof>, StorageError> {
        self.fork_rows(Some(author), |key, value| {
            decode_fork_row(key, value).map_err(|problem| bad_fork(key, problem))
        })?
        .into_iter()
        .collect()
    }

    /// Every `forks` row (of `author`, if given) as `read` makes it, in key order; none in a
    /// store without the table.
    pub(crate) fn fork_rows<R>(
        &self,
        author: Option<&PublicKey>,
        mut read: impl FnMut(&[u8], &[u8]) -> R,
    ) -> Result<Vec<R>, StorageError> {
        let table = match self.txn.open_table(FORKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let range = match author {
            // Every key of an author starts with its 32 bytes and is longer: it sorts after the
            // bare author and at or before the author followed by 0xff bytes to the key's length.
            Some(author) => {
                let upper = [author.as_bytes().as_slice(), &[0xff; crate::fork::FORK_KEY_LEN - 32]].concat();
                table.range::<&[u8]>(author.as_bytes().as_slice()..=upper.as_slice())?
            }
            None => table.range::<&[u8]>(..)?,
        };
        range
            .map(|r| {
                let (k, v) = r?;
                Ok(read(k.value(), v.value()))
            })
            .collect()
    }

    /// The tables of `namespace` as of this snapshot, for the crate that keeps them (the views).
    pub fn derived_tables(&self, namespace: Namespace) -> DerivedTables<'_> {
        DerivedTables::new(&self.txn, namespace)
    }

    /// The read transaction, for this crate's own checks of its tables.
    pub(crate) fn txn(&self) -> &ReadTransaction {
        &self.txn
    }
}

/// Decodes a `forks` row and checks that it is stored under its own key.
pub(crate) fn decode_fork_row(key: &[u8], value: &[u8]) -> Result<ForkProof, crate::fork::ForkError> {
    let proof = ForkProof::decode(value)?;
    if key != proof.key() {
        return Err(crate::fork::ForkError::WrongKey);
    }
    Ok(proof)
}

/// The error for a `forks` row that does not hold a proof.
pub(crate) fn bad_fork(key: &[u8], problem: crate::fork::ForkError) -> StorageError {
    StorageError::BadForkProof { key: hex::encode(key), problem: Box::new(problem) }
}

/// An `events` value and its `payloads` row, as read from the file.
pub(crate) type RawRecord =
    (u64, redb::AccessGuard<'static, &'static [u8]>, Option<redb::AccessGuard<'static, &'static [u8]>>);

/// The `events` table and the `payloads` table walked together, in offset order, from either end.
pub(crate) struct Records {
    events: redb::Range<'static, u64, &'static [u8]>,
    payloads: redb::Range<'static, u64, &'static [u8]>,
    /// A row read ahead from the front (its offset is beyond the last event handed out).
    front: Option<(u64, redb::AccessGuard<'static, &'static [u8]>)>,
    /// A row read ahead from the back.
    back: Option<(u64, redb::AccessGuard<'static, &'static [u8]>)>,
}

impl Records {
    /// The row of `offset`, reading rows forward (every row before it belongs to no event).
    fn row_forward(&mut self, offset: u64) -> Result<Option<redb::AccessGuard<'static, &'static [u8]>>, StorageError> {
        loop {
            if self.front.is_none() {
                self.front = match self.payloads.next() {
                    Some(r) => {
                        let (k, v) = r?;
                        Some((k.value(), v))
                    }
                    None => self.back.take(),
                };
            }
            match &self.front {
                Some((k, _)) if *k < offset => self.front = None,
                Some((k, _)) if *k == offset => return Ok(self.front.take().map(|(_, v)| v)),
                _ => return Ok(None),
            }
        }
    }

    /// The row of `offset`, reading rows backward.
    fn row_backward(&mut self, offset: u64) -> Result<Option<redb::AccessGuard<'static, &'static [u8]>>, StorageError> {
        loop {
            if self.back.is_none() {
                self.back = match self.payloads.next_back() {
                    Some(r) => {
                        let (k, v) = r?;
                        Some((k.value(), v))
                    }
                    None => self.front.take(),
                };
            }
            match &self.back {
                Some((k, _)) if *k > offset => self.back = None,
                Some((k, _)) if *k == offset => return Ok(self.back.take().map(|(_, v)| v)),
                _ => return Ok(None),
            }
        }
    }
}

impl Iterator for Records {
    type Item = Result<RawRecord, StorageError>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.events.next()?;
        Some(r.map_err(StorageError::from).and_then(|(k, v)| {
            let offset = k.value();
            Ok((offset, v, self.row_forward(offset)?))
        }))
    }
}

impl DoubleEndedIterator for Records {
    fn next_back(&mut self) -> Option<Self::Item> {
        let r = self.events.next_back()?;
        Some(r.map_err(StorageError::from).and_then(|(k, v)| {
            let offset = k.value();
            Ok((offset, v, self.row_backward(offset)?))
        }))
    }
}

fn to_stored(raw: Result<RawRecord, StorageError>) -> Result<StoredEvent, StorageError> {
    let (offset, record, row) = raw?;
    StoredEvent::from_record(offset, record.value(), row.as_ref().map(|r| r.value()))
}

/// Events in offset order, streamed from a snapshot (see [`Snapshot::events`]).
pub struct EventIter {
    records: Records,
    /// Built by [`Snapshot::events_without_payloads`]: no `payloads` rows are read.
    skip_payloads: bool,
}

impl EventIter {
    fn stored(&self, raw: Result<RawRecord, StorageError>) -> Result<StoredEvent, StorageError> {
        if !self.skip_payloads {
            return to_stored(raw);
        }
        let (offset, record, _) = raw?;
        let record = record.value();
        // The envelope's first byte is its format: from 2 on, the payload is beside it.
        let beside = record.get(RECORD_HEADER).is_some_and(|&version| version >= 2);
        StoredEvent::from_record(offset, record, beside.then_some([ROW_WITHHELD].as_slice()))
    }
}

impl std::fmt::Debug for EventIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventIter").finish_non_exhaustive()
    }
}

impl Iterator for EventIter {
    type Item = Result<StoredEvent, StorageError>;
    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.records.next()?;
        Some(self.stored(raw))
    }
}

impl DoubleEndedIterator for EventIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        let raw = self.records.next_back()?;
        Some(self.stored(raw))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_long_catch_up_commits_in_chunks_and_builds_the_same_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mind.redb");
        let ledger = crate::Ledger::create(&path).unwrap();
        // 300 events of two kinds over two feeds: chunks of 7 end inside groups of 256 leaves.
        for author in [1u8, 2] {
            let drafts = (0..150u64)
                .map(|i| crate::Draft {
                    kind: if i % 2 == 0 { "note.added/1".into() } else { "memo.kept/1".into() },
                    payload: vec![i as u8],
                    refs: vec![],
                    ts: 1_767_225_600_000_000 + i,
                    private: false,
                })
                .collect();
            ledger.append(&crate::Identity::from_secret(&[author; 32]), drafts, crate::Expect::Any).unwrap();
        }
        let more: Vec<_> = (150..300u64)
            .map(|i| crate::Draft {
                kind: "note.added/1".into(),
                payload: vec![i as u8],
                refs: vec![],
                ts: 1_767_225_600_000_000 + i,
                private: false,
            })
            .collect();
        ledger.append(&crate::Identity::from_secret(&[1; 32]), more, crate::Expect::Any).unwrap();
        drop(ledger);
        {
            let db = open_database(&path, false).unwrap();
            let txn = db.begin_write().unwrap();
            clear_indexes(&txn).unwrap();
            let outcome = index_in_chunks(&db, txn, 7).unwrap();
            assert_eq!((outcome.indexed, outcome.damaged), (450, None));
        }
        let report = crate::Ledger::open(&path).unwrap().verify(&|_| {}).unwrap();
        assert!(report.ok && report.derived.is_empty(), "{report:?}");
    }
}
