//! View tables: byte keys, postcard rows, a write-back cache for the rows a fold touches often,
//! and the digest that says two views are identical.

use std::collections::HashMap;

use mindlog_ledger::redb::{ReadableTable, Table, TableDefinition};
use mindlog_ledger::{DerivedTables, DerivedWriteTxn, Hash, Namespace, StorageError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The views' namespace: every view table, `view.meta` and every view's checkpoint is named `view.…`.
pub(crate) const VIEWS: Namespace = Namespace::new("view");

/// A view table: byte keys to postcard rows.
pub(crate) type RawTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

/// The definition of view table `name`.
pub(crate) fn def(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

pub(crate) fn encode<V: Serialize>(value: &V) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encoding into a Vec cannot fail for these field types")
}

pub(crate) fn decode<V: DeserializeOwned>(table: &str, bytes: &[u8]) -> Result<V, StorageError> {
    postcard::from_bytes(bytes).map_err(|e| StorageError::Other(format!("view table {table}: undecodable row: {e}")))
}

/// Concatenates key parts.
pub(crate) fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A table whose rows a fold reads and rewrites often: rows are decoded once per batch and
/// written back once, at `flush`.
pub(crate) struct Cached<'t, V> {
    name: &'static str,
    table: RawTable<'t>,
    rows: HashMap<Vec<u8>, (Option<V>, bool)>,
}

impl<'t, V: Serialize + DeserializeOwned> Cached<'t, V> {
    pub(crate) fn open(txn: &'t DerivedWriteTxn, name: &'static str) -> Result<Self, StorageError> {
        Ok(Cached { name, table: txn.open_table(def(name))?, rows: HashMap::new() })
    }

    fn load(&mut self, key: &[u8]) -> Result<(), StorageError> {
        if !self.rows.contains_key(key) {
            let value = match self.table.get(key)? {
                Some(bytes) => Some(decode(self.name, bytes.value())?),
                None => None,
            };
            self.rows.insert(key.to_vec(), (value, false));
        }
        Ok(())
    }

    pub(crate) fn get(&mut self, key: &[u8]) -> Result<Option<&V>, StorageError> {
        self.load(key)?;
        Ok(self.rows.get(key).and_then(|(v, _)| v.as_ref()))
    }

    /// The row, marked to be written back if there is one.
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Result<Option<&mut V>, StorageError> {
        self.load(key)?;
        Ok(self.rows.get_mut(key).and_then(|(v, dirty)| {
            let v = v.as_mut()?;
            *dirty = true;
            Some(v)
        }))
    }

    /// The row, or a default one if there is none; marked to be written back.
    pub(crate) fn get_or_default(&mut self, key: &[u8]) -> Result<&mut V, StorageError>
    where
        V: Default,
    {
        self.load(key)?;
        let (value, dirty) = self.rows.entry(key.to_vec()).or_default();
        *dirty = true;
        Ok(value.get_or_insert_with(V::default))
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: V) {
        self.rows.insert(key, (Some(value), true));
    }

    pub(crate) fn flush(mut self) -> Result<(), StorageError> {
        // Rows are never deleted through the cache: only changed rows are written back.
        for (key, (value, dirty)) in self.rows.drain() {
            if let (Some(v), true) = (value, dirty) {
                self.table.insert(key.as_slice(), encode(&v).as_slice())?;
            }
        }
        Ok(())
    }
}

/// Reads a row from a view table in a read transaction.
pub(crate) fn read<V: DeserializeOwned>(
    txn: DerivedTables<'_>,
    table: &str,
    key: &[u8],
) -> Result<Option<V>, StorageError> {
    let Some(t) = txn.open_table(def(table))? else { return Ok(None) };
    match t.get(key)? {
        Some(bytes) => Ok(Some(decode(table, bytes.value())?)),
        None => Ok(None),
    }
}

/// Every `(key, row)` of a view table whose key starts with `prefix`, in key order.
pub(crate) fn scan<V: DeserializeOwned>(
    txn: DerivedTables<'_>,
    table: &str,
    prefix: &[u8],
) -> Result<Vec<(Vec<u8>, V)>, StorageError> {
    scan_keys(txn, table, prefix, usize::MAX)?.into_iter().map(|(k, v)| Ok((k, decode(table, &v)?))).collect()
}

/// A raw `(key, value)` pair of a view table.
pub(crate) type RawRow = (Vec<u8>, Vec<u8>);

/// Up to `limit` raw `(key, value)` pairs of a view table whose key starts with `prefix`.
pub(crate) fn scan_keys(
    txn: DerivedTables<'_>,
    table: &str,
    prefix: &[u8],
    limit: usize,
) -> Result<Vec<RawRow>, StorageError> {
    let Some(t) = txn.open_table(def(table))? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in t.range::<&[u8]>(prefix..)? {
        let (k, v) = entry?;
        if !k.value().starts_with(prefix) || out.len() >= limit {
            break;
        }
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

/// The number of rows and a blake3 digest of `tables`: for each table in the order given, its
/// name, then every `(key, value)` in key order, each prefixed with its length (u32 LE).
pub(crate) fn digest(txn: DerivedTables<'_>, tables: &[&str]) -> Result<(Hash, u64), StorageError> {
    let mut hasher = blake3::Hasher::new();
    let mut rows = 0u64;
    for name in tables {
        hasher.update(&(name.len() as u32).to_le_bytes());
        hasher.update(name.as_bytes());
        let Some(t) = txn.open_table(def(name))? else { continue };
        for entry in t.range::<&[u8]>(..)? {
            let (k, v) = entry?;
            for part in [k.value(), v.value()] {
                hasher.update(&(part.len() as u32).to_le_bytes());
                hasher.update(part);
            }
            rows += 1;
        }
    }
    Ok((Hash(*hasher.finalize().as_bytes()), rows))
}
