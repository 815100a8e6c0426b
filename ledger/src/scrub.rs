//! `scrub`: overwriting the file's free pages, so that erased payloads leave no trace in it.
//!
//! redb is copy-on-write: a deleted value's old page is freed, not cleared, and keeps its bytes
//! until the page is reused. After an erasure (and after the views have dropped what they derived
//! from the erased payloads), `scrub` makes redb release every freed page, then fills all free
//! space with zeros in a table of its own, and deletes that table. Every page that was free now
//! holds zeros; every page in use was written fresh (redb zeroes a page before writing it).
//! The cost is writing as many bytes as the file has free, plus a few commits.

use std::time::Instant;

use redb::{ReadableTable as _, TableDefinition};
use serde::Serialize;

use crate::error::StorageError;
use crate::ledger::Ledger;
use crate::store::META;

/// The filler table; a ledger table name (no `.`), alive only during a scrub.
const FILLER: TableDefinition<u64, &[u8]> = TableDefinition::new("scrub_filler");

/// Bytes per filler value: several to a page, so the filler takes single free pages first.
const FILLER_VALUE: usize = 1000;

/// What a scrub did.
#[derive(Clone, Debug, Serialize)]
pub struct ScrubReport {
    /// Bytes of free space overwritten.
    pub overwritten_bytes: u64,
    /// The file's size before, in bytes.
    pub size_before: u64,
    /// The file's size after, in bytes.
    pub size_after: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl Ledger {
    /// Overwrites every free page of the store file with zeros (see the module docs).
    /// Writers wait meanwhile.
    pub fn scrub(&self) -> Result<ScrubReport, StorageError> {
        let started = Instant::now();
        let _leader = self.lock_writers();
        let db = self.database();
        let file_size = || std::fs::metadata(self.path()).map_or(0, |m| m.len());
        let size_before = file_size();
        // Pages freed by a transaction become reusable once a later one commits: two commits
        // release everything freed so far. Each writes a counter, so neither is empty.
        for _ in 0..2 {
            bump(db)?;
        }
        let free = {
            let txn = db.begin_write()?;
            let stats = txn.stats()?;
            let used = stats.allocated_pages() * stats.page_size() as u64;
            txn.abort()?;
            size_before.saturating_sub(used)
        };
        // Fill the free space (and a little more, for the tree's own pages), then delete the filler.
        let target = free + free / 8 + 64 * 1024;
        let zeros = vec![0u8; FILLER_VALUE];
        let txn = db.begin_write()?;
        {
            let mut filler = txn.open_table(FILLER)?;
            let mut written = 0u64;
            let mut key = 0u64;
            while written < target {
                filler.insert(key, zeros.as_slice())?;
                key += 1;
                written += FILLER_VALUE as u64;
            }
        }
        txn.commit()?;
        let txn = db.begin_write()?;
        txn.delete_table(FILLER)?;
        txn.commit()?;
        for _ in 0..2 {
            bump(db)?;
        }
        Ok(ScrubReport {
            overwritten_bytes: free,
            size_before,
            size_after: file_size(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// A small durable commit.
fn bump(db: &redb::Database) -> Result<(), StorageError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let n = meta.get("scrubs")?.map_or(0, |v| v.value());
        meta.insert("scrubs", n + 1)?;
    }
    txn.commit()?;
    Ok(())
}
