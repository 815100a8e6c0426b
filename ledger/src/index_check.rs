//! The part of `verify` that re-derives the ledger's derived tables (`event_by_feed`,
//! `feed_numbers`, `event_by_kind`, `kind_numbers`, `event_by_time`, `feed_heads`, `kind_counts`, `feed_tree`,
//! `meta.indexed_to`, `checkpoints`) from `events` and compares them entry by entry.
//!
//! Memory stays bounded by the number of feeds and kinds: every event's expected index entries
//! are looked up as the log is walked (on verify's workers, beside the signature checks: missing
//! or wrong entries); each index table is then walked once to count its entries, and only a
//! table holding more entries than the log explains is walked again, entry by entry against
//! `events`, to name the extra ones. Each feed's tree is rebuilt as the log streams past, one compact range
//! per feed (at most 64 hashes): every node at a height the tiles keep (8, 16, …) is looked up,
//! and `feed_tree` is walked once to check that each tile has exactly the width the feed implies.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable as _};
use serde::Serialize;

use crate::envelope::EnvelopeRef;
use crate::error::StorageError;
use crate::store::{
    BY_FEED, BY_KIND, BY_TIME, EVENTS, EventRef, FEED_NUMBERS, FEED_TREE, HEADS, Head, INDEXED_TO, KIND_COUNTS,
    KIND_NUMBERS, META, number_key, split_key, tile_key, tile_place, tile_width, time_key,
};
use crate::tlog::{TreeHash, leaf_hash, node_hash};
use crate::types::{Hash, PublicKey};

/// The derived tables in the order `verify` reports them.
const TABLES: [&str; 10] = [
    "event_by_feed",
    "feed_numbers",
    "event_by_kind",
    "kind_numbers",
    "event_by_time",
    "feed_heads",
    "kind_counts",
    "feed_tree",
    "meta",
    "checkpoints",
];

/// A derived table that differs from what `events` implies: which, where first, and how much.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DerivedFinding {
    /// The table's name (`event_by_kind`, …; `meta` for `indexed_to`).
    pub table: String,
    /// Entries that are wrong: missing, extra, or with a wrong value.
    pub wrong_entries: u64,
    /// The first wrong entry's key, readable (`kind@offset`, `author/seq`, `ts@offset`, …).
    pub first_key: String,
    /// What `events` implies for that key (`absent` for an entry that should not exist).
    pub expected: String,
    /// What the table holds there (`absent` for a missing entry).
    pub found: String,
}

/// The findings so far, one per table.
#[derive(Default)]
struct Findings(HashMap<&'static str, DerivedFinding>);

impl Findings {
    fn add(&mut self, table: &'static str, key: String, expected: String, found: String) {
        let finding = self.0.entry(table).or_insert_with(|| DerivedFinding {
            table: table.to_owned(),
            wrong_entries: 0,
            first_key: key,
            expected,
            found,
        });
        finding.wrong_entries += 1;
    }

    /// A table that could not be read to the end: one finding, the read error as what was found.
    fn unreadable(&mut self, table: &'static str, error: &dyn std::fmt::Display) {
        self.add(table, "(table)".into(), "a readable table".into(), format!("unreadable: {error}"));
    }

    fn into_sorted(self) -> Vec<DerivedFinding> {
        let mut out: Vec<DerivedFinding> = self.0.into_values().collect();
        out.sort_by_key(|f| TABLES.iter().position(|t| *t == f.table));
        out
    }
}

const ABSENT: &str = "absent";

/// One decodable event of the log, as the indexes see it.
pub(crate) struct Indexed<'a> {
    pub(crate) offset: u64,
    pub(crate) author: PublicKey,
    pub(crate) seq: u64,
    pub(crate) ts: u64,
    pub(crate) kind: &'a str,
    pub(crate) hash: Hash,
}

/// The index tables and the numbers that key them, as of verify's snapshot, shared with its workers.
pub(crate) struct IndexTables {
    by_feed: ReadOnlyTable<&'static [u8; 12], u64>,
    /// `feed_numbers` and `kind_numbers`, read whole (one entry per feed or kind: bounded as the
    /// walk is).
    feeds: Numbers<PublicKey>,
    kinds: Numbers<String>,
    by_kind: ReadOnlyTable<&'static [u8; 12], ()>,
    by_time: ReadOnlyTable<&'static [u8; 16], ()>,
    tree: ReadOnlyTable<&'static [u8; 41], &'static [u8]>,
    /// `meta.indexed_to`: the indexes cover the events below it.
    indexed_to: u64,
}

/// What the indexes hold for one event (read errors as text).
pub(crate) struct Lookup {
    /// The `event_by_feed` value under the event's author and seq.
    feed: Result<Option<u64>, String>,
    /// Whether `event_by_kind` holds the event's key.
    kind: Result<bool, String>,
    /// Whether `event_by_time` holds the event's key.
    time: Result<bool, String>,
}

impl IndexTables {
    pub(crate) fn open(txn: &ReadTransaction) -> Result<IndexTables, StorageError> {
        Ok(IndexTables {
            by_feed: txn.open_table(BY_FEED)?,
            feeds: Numbers::read(txn, FEED_NUMBERS, |k| PublicKey(*k))?,
            kinds: Numbers::read(txn, KIND_NUMBERS, str::to_owned)?,
            by_kind: txn.open_table(BY_KIND)?,
            by_time: txn.open_table(BY_TIME)?,
            tree: txn.open_table(FEED_TREE)?,
            indexed_to: txn.open_table(META)?.get(INDEXED_TO)?.map_or(0, |v| v.value()),
        })
    }

    /// The index entries of `event`, or `None` when the indexes do not cover it.
    pub(crate) fn lookup(&self, event: &Indexed<'_>) -> Option<Lookup> {
        (event.offset < self.indexed_to).then(|| Lookup {
            feed: match self.feeds.of.get(&event.author) {
                Some(number) => self
                    .by_feed
                    .get(&number_key(*number, event.seq))
                    .map(|v| v.map(|v| v.value()))
                    .map_err(|e| e.to_string()),
                None => Ok(None),
            },
            kind: match self.kinds.of.get(event.kind) {
                Some(number) => {
                    self.by_kind.get(&number_key(*number, event.offset)).map(|v| v.is_some()).map_err(|e| e.to_string())
                }
                None => Ok(false),
            },
            time: self.by_time.get(&time_key(event.ts, event.offset)).map(|v| v.is_some()).map_err(|e| e.to_string()),
        })
    }

    /// The hash `feed_tree` holds for the node at `height` (a positive multiple of 8), number `index`.
    fn tree_node(&self, author: &PublicKey, height: u32, index: u64) -> Result<Option<TreeHash>, String> {
        let Some((level, tile, place)) = tile_place(height, index) else { return Ok(None) };
        let row = self.tree.get(&tile_key(author, level, tile)).map_err(|e| e.to_string())?;
        Ok(row.and_then(|r| r.value().get(place * 32..place * 32 + 32).and_then(|h| h.try_into().ok())))
    }
}

/// A numbering table (`feed_numbers`, `kind_numbers`) read whole, both ways.
pub(crate) struct Numbers<T> {
    of: HashMap<T, u32>,
    by: HashMap<u32, Vec<T>>,
}

impl<T: Clone + Eq + std::hash::Hash + std::fmt::Display> Numbers<T> {
    fn read<K: redb::Key + 'static>(
        txn: &ReadTransaction,
        table: redb::TableDefinition<'_, K, u32>,
        owned: impl for<'a> Fn(K::SelfType<'a>) -> T,
    ) -> Result<Numbers<T>, StorageError> {
        let mut numbers = Numbers { of: HashMap::new(), by: HashMap::new() };
        for entry in txn.open_table(table)?.iter()? {
            let (k, v) = entry?;
            let key = owned(k.value());
            numbers.of.insert(key.clone(), v.value());
            numbers.by.entry(v.value()).or_default().push(key);
        }
        Ok(numbers)
    }

    /// Findings for a key the walk met (`expected`) without a number, a number for a key it did
    /// not meet (`met` false), a number two keys share, and a number not below the table's
    /// length (numbers are given 0, 1, 2, …, so the next one given is the length).
    fn compare<'a>(
        &self,
        findings: &mut Findings,
        table: &'static str,
        expected: impl Iterator<Item = &'a T>,
        met: impl Fn(&T) -> bool,
    ) where
        T: 'a,
    {
        for key in expected {
            if !self.of.contains_key(key) {
                findings.add(table, key.to_string(), "a number".into(), ABSENT.into());
            }
        }
        for (key, number) in &self.of {
            if !met(key) {
                findings.add(table, key.to_string(), ABSENT.into(), number.to_string());
            } else if *number as usize >= self.of.len() {
                findings.add(table, key.to_string(), format!("a number below {}", self.of.len()), number.to_string());
            } else if self.by.get(number).is_some_and(|keys| keys.len() > 1) {
                findings.add(table, key.to_string(), "a number of its own".into(), number.to_string());
            }
        }
    }
}

/// A feed's tree as the walk of the log rebuilds it: the roots of its complete subtrees, largest
/// first (one per 1 bit of `size`).
#[derive(Default)]
struct Frontier {
    size: u64,
    stack: Vec<TreeHash>,
    /// The feed skipped a seq (a gap `verify` reports): its tree is not checked further.
    broken: bool,
}

/// The comparison of the derived tables with the log, fed one event at a time in offset order.
pub(crate) struct IndexCheck {
    tables: Arc<IndexTables>,
    indexed_to: u64,
    /// Per table, the entries found as expected by the walk of the log.
    found_feed: u64,
    found_kind: u64,
    found_time: u64,
    /// The first record below `indexed_to` that cannot be decoded (the indexes may stop there).
    first_undecodable: Option<u64>,
    /// Events per kind, and each feed's last event, among the indexed events.
    kinds: BTreeMap<String, u64>,
    heads: HashMap<PublicKey, Head>,
    trees: HashMap<PublicKey, Frontier>,
    findings: Findings,
}

fn readable_feed_key(author: &PublicKey, seq: u64) -> String {
    format!("{author}/{seq}")
}

fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().unwrap_or_default())
}

impl IndexCheck {
    pub(crate) fn new(tables: Arc<IndexTables>) -> IndexCheck {
        IndexCheck {
            indexed_to: tables.indexed_to,
            tables,
            found_feed: 0,
            found_kind: 0,
            found_time: 0,
            first_undecodable: None,
            kinds: BTreeMap::new(),
            heads: HashMap::new(),
            trees: HashMap::new(),
            findings: Findings::default(),
        }
    }

    /// A record at `offset` that cannot be decoded: its index entries are unknown.
    pub(crate) fn undecodable(&mut self, offset: u64) {
        self.first_undecodable.get_or_insert(offset);
    }

    /// The tables, for verify's workers to look events up in ([`IndexTables::lookup`]).
    pub(crate) fn tables(&self) -> Arc<IndexTables> {
        Arc::clone(&self.tables)
    }

    /// Compares the index entries of `event` (`found`, looked up by a worker) with what it implies.
    pub(crate) fn event(&mut self, event: &Indexed<'_>, found: Option<Lookup>) {
        let Some(found) = found else { return };
        let Indexed { offset, author, seq, ts, kind, hash } = *event;
        match found.feed {
            Ok(Some(v)) if v == offset => self.found_feed += 1,
            Ok(found) => self.findings.add(
                "event_by_feed",
                readable_feed_key(&author, seq),
                format!("offset {offset}"),
                found.map_or(ABSENT.into(), |v| format!("offset {v}")),
            ),
            Err(e) => self.findings.unreadable("event_by_feed", &e),
        }
        match found.kind {
            Ok(true) => self.found_kind += 1,
            Ok(false) => {
                self.findings.add("event_by_kind", format!("{kind}@{offset}"), "present".into(), ABSENT.into())
            }
            Err(e) => self.findings.unreadable("event_by_kind", &e),
        }
        match found.time {
            Ok(true) => self.found_time += 1,
            Ok(false) => self.findings.add("event_by_time", format!("{ts}@{offset}"), "present".into(), ABSENT.into()),
            Err(e) => self.findings.unreadable("event_by_time", &e),
        }
        self.tree_leaf(&author, seq, &hash);
        *self.kinds.entry(kind.to_owned()).or_default() += 1;
        self.heads.insert(author, Head { author, seq, hash, offset });
    }

    /// The root of `author`'s tree as rebuilt so far, if it holds exactly the events before
    /// `seq` (it holds only indexed events, and none past a gap).
    pub(crate) fn root_before(&self, author: &PublicKey, seq: u64) -> Option<TreeHash> {
        let frontier = self.trees.get(author).filter(|f| !f.broken && f.size + 1 == seq);
        let Some(frontier) = frontier else { return (seq == 1).then(crate::tlog::empty_root) };
        let mut nodes = frontier.stack.iter().rev();
        let last = *nodes.next()?;
        Some(nodes.fold(last, |right, left| node_hash(left, &right)))
    }

    /// Adds the event at `seq` of `author`'s feed to the feed's tree, comparing every node the
    /// tiles keep that it completes with `feed_tree` (the leaves are the events' own).
    fn tree_leaf(&mut self, author: &PublicKey, seq: u64, hash: &Hash) {
        let frontier = self.trees.entry(*author).or_default();
        if frontier.broken || frontier.size + 1 != seq {
            frontier.broken = true;
            return;
        }
        let leaf = leaf_hash(&hash.0);
        let mut completed = Vec::new();
        frontier.stack.push(leaf);
        frontier.size += 1;
        let mut height = 0;
        while (frontier.size >> height) & 1 == 0 {
            let (Some(right), Some(left)) = (frontier.stack.pop(), frontier.stack.pop()) else { break };
            let node = node_hash(&left, &right);
            frontier.stack.push(node);
            height += 1;
            if height % 8 == 0 {
                let index = (frontier.size >> height) - 1;
                completed.push((height, index, node, self.tables.tree_node(author, height, index)));
            }
        }
        for (height, index, expected, found) in completed {
            let key = format!("{author}@{height}/{index}");
            match found {
                Ok(Some(found)) if found == expected => {}
                Ok(found) => {
                    self.findings.add("feed_tree", key, hex::encode(expected), found.map_or(ABSENT.into(), hex::encode))
                }
                Err(e) => self.findings.unreadable("feed_tree", &e),
            }
        }
    }

    /// Compares what is left: extra index entries, `feed_heads`, `kind_counts`, `indexed_to`
    /// and the checkpoints, given the log's length `events`.
    pub(crate) fn finish(
        mut self,
        txn: &ReadTransaction,
        events: u64,
        checkpoints: Vec<(String, u64)>,
    ) -> Result<Vec<DerivedFinding>, StorageError> {
        let expected_to = self.first_undecodable.unwrap_or(events).min(events);
        if self.indexed_to > events || self.indexed_to < expected_to {
            self.findings.add(
                "meta",
                INDEXED_TO.into(),
                format!("{expected_to} (the log holds {events} events)"),
                self.indexed_to.to_string(),
            );
        }
        let log = txn.open_table(EVENTS)?;
        self.compare_numbers();
        self.extra_feed_entries();
        self.extra_kind_entries(&log);
        self.extra_time_entries(&log);
        if let Err(e) = self.compare_heads(txn) {
            self.findings.unreadable("feed_heads", &e);
        }
        if let Err(e) = self.compare_kind_counts(txn) {
            self.findings.unreadable("kind_counts", &e);
        }
        if let Err(e) = self.compare_tile_widths() {
            self.findings.unreadable("feed_tree", &e);
        }
        for (name, next) in checkpoints {
            if next > events {
                self.findings.add("checkpoints", name, format!("at most {events}"), next.to_string());
            }
        }
        Ok(self.findings.into_sorted())
    }

    /// `feed_numbers` and `kind_numbers` have one entry per feed and kind the walk met, and no
    /// number twice.
    fn compare_numbers(&mut self) {
        let tables = Arc::clone(&self.tables);
        tables.feeds.compare(&mut self.findings, "feed_numbers", self.heads.keys(), |a| self.heads.contains_key(a));
        tables.kinds.compare(&mut self.findings, "kind_numbers", self.kinds.keys(), |k| self.kinds.contains_key(k));
    }

    /// `event_by_feed` entries beyond those the log explains: a key (author, seq) is expected
    /// when the feed's indexed head is at seq or beyond.
    fn extra_feed_entries(&mut self) {
        let walk = |this: &mut IndexCheck, name: &'static str, check: bool| -> Result<u64, StorageError> {
            let mut n = 0u64;
            let tables = Arc::clone(&this.tables);
            for entry in tables.by_feed.range::<&[u8; 12]>(..)? {
                let (k, v) = entry?;
                n += 1;
                if !check {
                    continue;
                }
                let (number, seq) = split_key(k.value());
                let author = tables.feeds.by.get(&number).and_then(|a| a.first());
                let known = author.is_some_and(|a| this.heads.get(a).is_some_and(|h| (1..=h.seq).contains(&seq)));
                if !known {
                    let key = author.map_or(format!("feed #{number}/{seq}"), |a| readable_feed_key(a, seq));
                    this.findings.add(name, key, ABSENT.into(), format!("offset {}", v.value()));
                }
            }
            Ok(n)
        };
        self.walk_twice("event_by_feed", self.found_feed, walk);
    }

    /// `event_by_kind` entries that name an offset whose event is not of that kind.
    fn extra_kind_entries(&mut self, log: &ReadOnlyTable<u64, &'static [u8]>) {
        let walk = |this: &mut IndexCheck, name: &'static str, check: bool| -> Result<u64, StorageError> {
            let mut n = 0u64;
            let tables = Arc::clone(&this.tables);
            for entry in tables.by_kind.range::<&[u8; 12]>(..)? {
                let (k, _) = entry?;
                n += 1;
                if !check {
                    continue;
                }
                let (number, offset) = split_key(k.value());
                let kind = tables.kinds.by.get(&number).and_then(|k| k.first()).map_or("", String::as_str);
                let readable =
                    if kind.is_empty() { format!("kind #{number}@{offset}") } else { format!("{kind}@{offset}") };
                let actual = if offset < this.indexed_to {
                    match event_field(log, offset, |e| e.kind.to_owned())? {
                        Some(actual) => Some(actual),
                        None => continue, // an undecodable event, reported as such
                    }
                } else {
                    None
                };
                match actual {
                    Some(actual) if actual == kind => {}
                    Some(actual) => this.findings.add(
                        name,
                        readable,
                        format!("absent (the event at offset {offset} is {actual})"),
                        "present".into(),
                    ),
                    None => this.findings.add(name, readable, ABSENT.into(), "present".into()),
                }
            }
            Ok(n)
        };
        self.walk_twice("event_by_kind", self.found_kind, walk);
    }

    /// `event_by_time` entries that name an offset whose event has another timestamp.
    fn extra_time_entries(&mut self, log: &ReadOnlyTable<u64, &'static [u8]>) {
        let walk = |this: &mut IndexCheck, name: &'static str, check: bool| -> Result<u64, StorageError> {
            let mut n = 0u64;
            for entry in this.tables.by_time.range::<&[u8; 16]>(..)? {
                let (k, _) = entry?;
                n += 1;
                if !check {
                    continue;
                }
                let key = k.value();
                let (ts, offset) = (be_u64(&key[..8]), be_u64(&key[8..]));
                let actual = if offset < this.indexed_to {
                    match event_field(log, offset, |e| e.ts)? {
                        Some(actual) => Some(actual),
                        None => continue, // an undecodable event, reported as such
                    }
                } else {
                    None
                };
                match actual {
                    Some(actual) if actual == ts => {}
                    Some(actual) => this.findings.add(
                        name,
                        format!("{ts}@{offset}"),
                        format!("absent (the event at offset {offset} has ts {actual})"),
                        "present".into(),
                    ),
                    None => this.findings.add(name, format!("{ts}@{offset}"), ABSENT.into(), "present".into()),
                }
            }
            Ok(n)
        };
        self.walk_twice("event_by_time", self.found_time, walk);
    }

    /// Counts a table's entries; if there are more than the log explains (`found`), walks it
    /// again naming every extra entry. A read error becomes a finding.
    fn walk_twice(
        &mut self,
        table: &'static str,
        found: u64,
        walk: impl Fn(&mut IndexCheck, &'static str, bool) -> Result<u64, StorageError>,
    ) {
        match walk(self, table, false) {
            Ok(n) if n > found => {
                if let Err(e) = walk(self, table, true) {
                    self.findings.unreadable(table, &e);
                }
            }
            Ok(_) => {}
            Err(e) => self.findings.unreadable(table, &e),
        }
    }

    /// Every tile of `feed_tree` has the width its feed's length implies (a tile of no node the
    /// feed has is extra); the hashes in it were compared as the log streamed past.
    fn compare_tile_widths(&mut self) -> Result<(), StorageError> {
        let tables = Arc::clone(&self.tables);
        for entry in tables.tree.range::<&[u8; 41]>(..)? {
            let (k, v) = entry?;
            let key = k.value();
            let author = PublicKey(key[..32].try_into().unwrap_or_default());
            let (level, tile) = (key[32], be_u64(&key[33..]));
            let size = self.heads.get(&author).map_or(0, |h| h.seq);
            let nodes = size.checked_shr(8 * u32::from(level)).unwrap_or(0);
            // Level 0 is not kept (the leaves are read from the events).
            let want = if level == 0 { 0 } else { tile_width(nodes, tile) };
            let found = v.value().len();
            if found as u64 != want * 32 {
                let show = |n: u64| if n == 0 { ABSENT.to_owned() } else { format!("{n} hashes") };
                let found = if found % 32 == 0 { show(found as u64 / 32) } else { format!("{found} bytes") };
                self.findings.add("feed_tree", format!("{author}@tile {level}/{tile}"), show(want), found);
            }
        }
        Ok(())
    }

    fn compare_heads(&mut self, txn: &ReadTransaction) -> Result<(), StorageError> {
        let table = txn.open_table(HEADS)?;
        let mut seen = 0usize;
        let show = |h: &Head| format!("seq {} at offset {}, hash {}", h.seq, h.offset, h.hash);
        for entry in table.range::<&[u8; 32]>(..)? {
            let (k, v) = entry?;
            let author = PublicKey(*k.value());
            let found = Head::decode(author, v.value());
            match self.heads.get(&author) {
                Some(expected) => {
                    seen += 1;
                    if *expected != found {
                        self.findings.add("feed_heads", author.to_string(), show(expected), show(&found));
                    }
                }
                None => self.findings.add("feed_heads", author.to_string(), ABSENT.into(), show(&found)),
            }
        }
        if seen < self.heads.len() {
            let mut missing: Vec<&Head> =
                self.heads.values().filter(|h| table.get(h.author.as_bytes()).ok().flatten().is_none()).collect();
            missing.sort_by_key(|h| h.author);
            for h in missing {
                self.findings.add("feed_heads", h.author.to_string(), show(h), ABSENT.into());
            }
        }
        Ok(())
    }

    fn compare_kind_counts(&mut self, txn: &ReadTransaction) -> Result<(), StorageError> {
        let table = txn.open_table(KIND_COUNTS)?;
        let mut expected = self.kinds.iter().peekable();
        let mut found = table.range::<&str>(..)?.peekable();
        loop {
            let next_found = match found.peek() {
                Some(Ok((k, v))) => Some((k.value().to_owned(), v.value())),
                Some(Err(_)) => match found.next() {
                    Some(Err(e)) => return Err(e.into()),
                    _ => None,
                },
                None => None,
            };
            let (k, n) = match (expected.peek(), next_found) {
                (None, None) => return Ok(()),
                (Some((ek, en)), Some((fk, fv))) if ek.as_str() == fk => {
                    if **en != fv {
                        self.findings.add("kind_counts", fk.clone(), en.to_string(), fv.to_string());
                    }
                    expected.next();
                    found.next();
                    continue;
                }
                (Some((ek, en)), Some((fk, _))) if ek.as_str() < fk.as_str() => ((*ek).clone(), **en),
                (Some((ek, en)), None) => ((*ek).clone(), **en),
                (_, Some((fk, fv))) => {
                    self.findings.add("kind_counts", fk, ABSENT.into(), fv.to_string());
                    found.next();
                    continue;
                }
            };
            self.findings.add("kind_counts", k, n.to_string(), ABSENT.into());
            expected.next();
        }
    }
}

/// The fields of the event at `offset`, or `None` when there is none or it cannot be decoded.
fn event_field<T>(
    log: &ReadOnlyTable<u64, &'static [u8]>,
    offset: u64,
    read: impl FnOnce(&EnvelopeRef<'_>) -> T,
) -> Result<Option<T>, StorageError> {
    let Some(record) = log.get(offset)? else { return Ok(None) };
    let event = match EventRef::from_record(offset, record.value(), None) {
        Ok(e) => e,
        Err(_) => return Ok(None),
    };
    Ok(event.envelope().ok().map(|env| read(&env)))
}
