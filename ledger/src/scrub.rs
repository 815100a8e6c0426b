//! `scrub`: rewriting the store file so that erased payloads leave no trace in it.
//!
//! redb is copy-on-write and does not clear what it frees: a deleted value's page keeps its
//! bytes until the page is reused, and a reused page keeps, past what its new contents cover,
//! the bytes it held before (redb zeroes a new page only when it has no copy of it in memory).
//! So after an erasure the payload may survive in a free page, or in the unused tail of a page
//! in use, and overwriting free pages is not enough (we tried: a test found the marker in a live
//! page's tail). Like SQLite's `VACUUM`, `scrub` therefore copies every live key and value of
//! every table into a new file (whose pages start as zeros and only ever hold what was copied),
//! replaces the store with it in one rename, and overwrites the old file with zeros before
//! letting it go. The new file is also compact: what the erased payloads took is given back.
//!
//! The cost is reading and writing the whole store once (docs/performance.md gives figures).
//! Rewriting needs the only open handle on the file, so `scrub` takes the [`Ledger`] and closes
//! it; the caller opens the store again if it still needs it.

use std::ffi::OsString;
use std::io::Write as _;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Instant;

use redb::{
    Database, Key, MultimapTableHandle as _, ReadTransaction, ReadableDatabase as _, ReadableTable as _,
    TableDefinition, TableError, TableHandle as _, TypeName, Value, WriteTransaction,
};
use serde::Serialize;

use crate::error::{OpenError, StorageError};
use crate::ledger::Ledger;
use crate::store;

/// What a scrub did.
#[derive(Clone, Debug, Serialize)]
pub struct ScrubReport {
    /// Tables copied into the new file.
    pub tables: u64,
    /// Keys and values copied.
    pub rows: u64,
    /// Bytes of the old file overwritten with zeros once it was replaced.
    pub overwritten_bytes: u64,
    /// The file's size before, in bytes.
    pub size_before: u64,
    /// The file's size after, in bytes.
    pub size_after: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl Ledger {
    /// Closes this handle and rewrites the store file with only what is live in it, then
    /// overwrites the old file with zeros (see the module docs). It must be the last handle on
    /// the store in this process; open the store again afterwards. An interruption leaves the
    /// store as it was (the new file is only put in place once complete and durable).
    pub fn scrub(self) -> Result<ScrubReport, OpenError> {
        let started = Instant::now();
        let path = self.path().to_owned();
        let fail = |source: StorageError| OpenError::Storage { path: path.clone(), source };
        let io = |e: std::io::Error| fail(StorageError::Other(format!("scrub: {e}")));
        if self.is_in_memory() {
            return Err(fail(StorageError::Other("an in-memory store has no file to scrub".into())));
        }
        if !self.close_if_last() {
            return Err(fail(StorageError::Other(
                "other handles on this store are open in this process: scrub needs the last one".into(),
            )));
        }
        let tmp = scrub_path(&path);
        // A scrub interrupted before its rename leaves a partial copy: never a store.
        if tmp.exists() {
            std::fs::remove_file(&tmp).map_err(io)?;
        }
        let size_before = file_size(&path);
        let old = store::open_database(&path, false)?;
        let copied = copy_into(&old, &tmp).map_err(fail);
        let (tables, rows) = match copied {
            Ok(counts) => counts,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let permissions = std::fs::metadata(&path).map_err(io)?.permissions();
        std::fs::set_permissions(&tmp, permissions).map_err(io)?;
        // Keep the old file open: once replaced, its bytes are overwritten through this handle.
        let mut old_file = std::fs::OpenOptions::new().write(true).open(&path).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        drop(old);
        let overwritten_bytes = overwrite_with_zeros(&mut old_file).map_err(io)?;
        Ok(ScrubReport {
            tables,
            rows,
            overwritten_bytes,
            size_before,
            size_after: file_size(&path),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Where a scrub writes the new file: beside the store, `NAME.scrub`.
fn scrub_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".scrub");
    PathBuf::from(name)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Overwrites a whole file with zeros and syncs it; returns its length.
fn overwrite_with_zeros(file: &mut std::fs::File) -> std::io::Result<u64> {
    use std::io::Seek as _;
    let len = file.metadata()?.len();
    file.seek(std::io::SeekFrom::Start(0))?;
    let zeros = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(len)
}

/// Copies every table of `from` into a new database at `to`, in one durable commit: the number of
/// tables and of rows copied.
fn copy_into(from: &Database, to: &Path) -> Result<(u64, u64), StorageError> {
    let read = from.begin_read()?;
    if let Some(table) = read.list_multimap_tables()?.next() {
        return Err(StorageError::Other(format!("scrub does not copy multimap tables such as {}", table.name())));
    }
    let mut new = store::builder().create(to)?;
    let write = new.begin_write()?;
    let (mut tables, mut rows) = (0, 0);
    for table in read.list_tables()? {
        rows += copy_table(&read, &write, table.name())?;
        tables += 1;
    }
    write.commit()?;
    // A new file starts with room to grow; give back what the copy did not use. Everything in
    // the new file is live data, so moving its pages leaves nothing behind that was erased.
    new.compact().map_err(redb::Error::from)?;
    Ok((tables, rows))
}

/// Copies one table, whatever its key and value types, as raw bytes in its own order.
fn copy_table(read: &ReadTransaction, write: &WriteTransaction, name: &str) -> Result<u64, StorageError> {
    // Every key and value type a table of the store uses: the ledger's tables and the derived
    // ones (views are `&[u8] → &[u8]` and `&str → &[u8]`). A table of another type is refused
    // with its types named, never skipped.
    macro_rules! each_pair {
        ([$($k:ty),*], $values:tt) => {
            [$(each_pair!(@row $k, $values)),*]
        };
        (@row $k:ty, [$($v:ty),*]) => {
            [$(copy_as::<$k, $v> as CopyFn),*]
        };
    }
    type CopyFn = fn(&ReadTransaction, &WriteTransaction, &str) -> Result<Option<u64>, StorageError>;
    let copiers = each_pair!(
        [u64, &'static [u8], &'static str, &'static [u8; 12], &'static [u8; 16], &'static [u8; 32], &'static [u8; 41]],
        [u64, u32, &'static [u8], &'static str, (), &'static [u8; 48]]
    );
    for copy in copiers.iter().flatten() {
        if let Some(rows) = copy(read, write, name)? {
            return Ok(rows);
        }
    }
    Err(StorageError::Other(format!("scrub cannot copy table {name}: its key or value type is not one it knows")))
}

/// Copies table `name` if its types are `K` and `V`; `None` if they are not.
fn copy_as<K: Key + 'static, V: Value + 'static>(
    read: &ReadTransaction,
    write: &WriteTransaction,
    name: &str,
) -> Result<Option<u64>, StorageError> {
    let definition = TableDefinition::<Raw<K>, Raw<V>>::new(name);
    let from = match read.open_table(definition) {
        Ok(table) => table,
        Err(TableError::TableTypeMismatch { .. } | TableError::TypeDefinitionChanged { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut to = write.open_table(definition)?;
    let mut rows = 0;
    for entry in from.iter()? {
        let (key, value) = entry?;
        to.insert(key.value(), value.value())?;
        rows += 1;
    }
    Ok(Some(rows))
}

/// The bytes of a `T`, named, sized and ordered as `T`: copies a table without decoding it.
#[derive(Debug)]
struct Raw<T>(PhantomData<T>);

impl<T: Value + 'static> Value for Raw<T> {
    type SelfType<'a>
        = &'a [u8]
    where
        Self: 'a;
    type AsBytes<'a>
        = &'a [u8]
    where
        Self: 'a;

    const NICHE: Option<&'static [u8]> = T::NICHE;

    fn fixed_width() -> Option<usize> {
        T::fixed_width()
    }

    fn from_bytes<'a>(data: &'a [u8]) -> &'a [u8]
    where
        Self: 'a,
    {
        data
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a &'b [u8]) -> &'a [u8]
    where
        Self: 'b,
    {
        value
    }

    fn type_name() -> TypeName {
        T::type_name()
    }
}

impl<T: Key + 'static> Key for Raw<T> {
    fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
        T::compare(a, b)
    }
}
