//! Tables other crates keep in the store's file (the views), reachable only inside their own
//! namespace, so nothing outside this crate can open the ledger's tables.
//!
//! A derived table is named `namespace.name`. The ledger's own tables have no `.` in their names
//! (a test holds that), so no namespace reaches them. A consumer's checkpoint in the ledger's
//! `checkpoints` table is named the same way and moves in the same transaction as its tables.

use std::fmt;

use redb::{
    Key, ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, TableHandle, Value, WriteTransaction,
};

use crate::error::StorageError;
use crate::store::CHECKPOINTS;

/// The namespace of a crate's tables: it may open the tables and checkpoints named
/// `namespace.…`, and nothing else. A namespace has no `.`, so two namespaces never share a name.
///
/// ```
/// use mindlog_ledger::Namespace;
///
/// const VIEWS: Namespace = Namespace::new("view");
/// assert!(VIEWS.holds("view.personas"));
/// assert!(!VIEWS.holds("events") && !VIEWS.holds("view_meta") && !VIEWS.holds("view."));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Namespace(&'static str);

impl Namespace {
    /// The namespace `name`: one or more lowercase ASCII letters, digits or `_`.
    ///
    /// # Panics
    /// If `name` is not of that form; in a `const`, that is a compile error.
    pub const fn new(name: &'static str) -> Namespace {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty(), "a namespace is not empty");
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
                "a namespace is lowercase ASCII letters, digits and _"
            );
            i += 1;
        }
        Namespace(name)
    }

    /// The namespace's name, without the `.`.
    pub fn name(&self) -> &'static str {
        self.0
    }

    /// Whether the table or checkpoint `name` belongs to this namespace: `namespace.` followed by
    /// at least one character.
    pub fn holds(&self, name: &str) -> bool {
        name.strip_prefix(self.0).and_then(|rest| rest.strip_prefix('.')).is_some_and(|rest| !rest.is_empty())
    }

    fn check(&self, name: &str) -> Result<(), StorageError> {
        if self.holds(name) {
            Ok(())
        } else {
            Err(StorageError::OutsideNamespace { name: name.to_owned(), namespace: self.0 })
        }
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({:?})", self.0)
    }
}

/// A write transaction over one namespace's tables and checkpoints (see
/// [`Ledger::begin_derived_write`](crate::Ledger::begin_derived_write)). Nothing is visible or
/// durable until [`DerivedWriteTxn::commit`]; dropping it discards everything.
pub struct DerivedWriteTxn {
    txn: WriteTransaction,
    namespace: Namespace,
}

impl fmt::Debug for DerivedWriteTxn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedWriteTxn").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

impl DerivedWriteTxn {
    pub(crate) fn new(txn: WriteTransaction, namespace: Namespace) -> DerivedWriteTxn {
        DerivedWriteTxn { txn, namespace }
    }

    /// Opens (creating if need be) the table of `definition`, which must be in this namespace.
    pub fn open_table<'t, K: Key + 'static, V: Value + 'static>(
        &'t self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<Table<'t, K, V>, StorageError> {
        self.namespace.check(definition.name())?;
        Ok(self.txn.open_table(definition)?)
    }

    /// Deletes the table of `definition`, which must be in this namespace. Returns whether it existed.
    pub fn delete_table<K: Key + 'static, V: Value + 'static>(
        &self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<bool, StorageError> {
        self.namespace.check(definition.name())?;
        Ok(self.txn.delete_table(definition)?)
    }

    /// The checkpoint `name` (in this namespace): the next offset its consumer will read, 0 if it
    /// has none.
    pub fn checkpoint(&self, name: &str) -> Result<u64, StorageError> {
        self.namespace.check(name)?;
        Ok(self.txn.open_table(CHECKPOINTS)?.get(name)?.map_or(0, |v| v.value()))
    }

    /// Records that the consumer `name` (in this namespace) has read every event before `next`.
    /// It becomes durable with the tables written in this transaction, never apart from them.
    pub fn set_checkpoint(&self, name: &str, next: u64) -> Result<(), StorageError> {
        self.namespace.check(name)?;
        self.txn.open_table(CHECKPOINTS)?.insert(name, next)?;
        Ok(())
    }

    /// Commits durably.
    pub fn commit(self) -> Result<(), StorageError> {
        Ok(self.txn.commit()?)
    }
}

/// One namespace's tables as of a [`Snapshot`](crate::Snapshot), read-only (see
/// [`Snapshot::derived_tables`](crate::Snapshot::derived_tables)).
#[derive(Clone, Copy)]
pub struct DerivedTables<'s> {
    txn: &'s ReadTransaction,
    namespace: Namespace,
}

impl fmt::Debug for DerivedTables<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedTables").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

impl<'s> DerivedTables<'s> {
    pub(crate) fn new(txn: &'s ReadTransaction, namespace: Namespace) -> DerivedTables<'s> {
        DerivedTables { txn, namespace }
    }

    /// The table of `definition`, which must be in this namespace; `None` if it was never created.
    pub fn open_table<K: Key + 'static, V: Value + 'static>(
        &self,
        definition: TableDefinition<'_, K, V>,
    ) -> Result<Option<ReadOnlyTable<K, V>>, StorageError> {
        self.namespace.check(definition.name())?;
        match self.txn.open_table(definition) {
            Ok(table) => Ok(Some(table)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{
        BY_FEED, BY_KIND, BY_TIME, EVENTS, FEED_NUMBERS, FEED_TREE, FORKS, HEADS, KIND_COUNTS, KIND_NUMBERS, META,
    };

    #[test]
    fn no_namespace_reaches_a_ledger_table() {
        let ledger_tables = [
            EVENTS.name(),
            BY_FEED.name(),
            FEED_NUMBERS.name(),
            FEED_TREE.name(),
            BY_KIND.name(),
            KIND_NUMBERS.name(),
            BY_TIME.name(),
            HEADS.name(),
            KIND_COUNTS.name(),
            META.name(),
            CHECKPOINTS.name(),
            FORKS.name(),
        ];
        for name in ledger_tables {
            assert!(!name.contains('.'), "ledger table {name:?} must not look like a derived table");
        }
    }

    #[test]
    fn a_namespace_holds_only_its_dotted_names() {
        let views = Namespace::new("view");
        let held = ["view.a", "view.persona_names", "view.a.b"];
        let not_held = ["view.", "view", "view_meta", "viewer.a", "xview.a", ".a", "events", ""];
        for name in held {
            assert!(views.holds(name), "{name}");
        }
        for name in not_held {
            assert!(!views.holds(name), "{name}");
        }
    }

    #[test]
    #[should_panic(expected = "lowercase ASCII")]
    fn a_namespace_with_a_dot_is_refused() {
        let _ = Namespace::new("view.x");
    }
}
