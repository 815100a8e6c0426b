//! Columns and their Arrow form: the one place that turns rows into record batches, so every
//! table gets the same types (keys and hashes as lowercase hex text, times as UTC microsecond
//! timestamps, money as integers in minor units, no `-0.0`).
//!
//! A view table's column is declared once, on one line, with [`column!`]: name, type (with `?`
//! when it may be null), meaning, and how to get the value from the table's row. The type picks
//! the function that turns the value into a [`Cell`], so a value of the wrong type, or a missing
//! value for a column that may not be null, does not compile.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::{DataFusionError, Result};
use mindlog_commands::Units;
use mindlog_ledger::{Hash, PublicKey};

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Col {
    /// Text (keys and hashes are lowercase hex).
    Str,
    /// Unsigned integer.
    U64,
    /// Floating point.
    F64,
    /// True or false.
    Bool,
    /// UTC timestamp, microseconds.
    Ts,
    /// A calendar day.
    Date,
}

impl Col {
    pub(crate) fn data_type(self) -> DataType {
        match self {
            Col::Str => DataType::Utf8,
            Col::U64 => DataType::UInt64,
            Col::F64 => DataType::Float64,
            Col::Bool => DataType::Boolean,
            Col::Ts => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Col::Date => DataType::Date32,
        }
    }
}

/// What a column is: name, type, whether it may be null, and what it holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnSpec {
    pub(crate) name: &'static str,
    pub(crate) col: Col,
    pub(crate) nullable: bool,
    /// What it holds, for `query --tables` and docs/query.md.
    pub(crate) doc: &'static str,
}

impl ColumnSpec {
    /// A column that is never null.
    pub(crate) const fn not_null(name: &'static str, col: Col, doc: &'static str) -> ColumnSpec {
        ColumnSpec { name, col, nullable: false, doc }
    }

    /// A column that may be null.
    pub(crate) const fn nullable(name: &'static str, col: Col, doc: &'static str) -> ColumnSpec {
        ColumnSpec { name, col, nullable: true, doc }
    }

    fn field(&self) -> Field {
        Field::new(self.name, self.col.data_type(), self.nullable)
    }
}

/// A column of a table whose rows are `R`: what it is, and its value in a row.
pub(crate) struct Column<R> {
    pub(crate) spec: ColumnSpec,
    pub(crate) value: for<'r> fn(&'r R) -> Cell<'r>,
}

/// Declares a [`Column`] on one line: `column!("name", Type, "meaning", |row| value)`, with
/// `Type?` for a column that may be null (its value is then an `Option`). `Type` is one of the
/// kinds in [`kind`].
macro_rules! column {
    ($name:literal, $kind:ident?, $doc:literal, |$row:pat_param| $value:expr) => {
        $crate::cells::Column {
            spec: $crate::cells::ColumnSpec::nullable($name, $crate::cells::kind::$kind::COL, $doc),
            value: |$row| $crate::cells::kind::$kind::option($value),
        }
    };
    ($name:literal, $kind:ident, $doc:literal, |$row:pat_param| $value:expr) => {
        $crate::cells::Column {
            spec: $crate::cells::ColumnSpec::not_null($name, $crate::cells::kind::$kind::COL, $doc),
            value: |$row| $crate::cells::kind::$kind::cell($value),
        }
    };
}
pub(crate) use column;

/// One value of a row, borrowed from the row where it can be.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell<'r> {
    Null,
    Str(Cow<'r, str>),
    /// A key or hash, written as lowercase hex.
    Key([u8; 32]),
    U64(u64),
    F64(f64),
    Bool(bool),
    /// Microseconds since the Unix epoch.
    Ts(u64),
    /// Days since the Unix epoch.
    Date(i32),
}

/// Text for a `Str` column: a string, or a key or hash (written as hex).
pub(crate) enum Text<'r> {
    Str(Cow<'r, str>),
    Key([u8; 32]),
}

impl<'r> From<&'r str> for Text<'r> {
    fn from(v: &'r str) -> Text<'r> {
        Text::Str(Cow::Borrowed(v))
    }
}
impl<'r> From<&'r String> for Text<'r> {
    fn from(v: &'r String) -> Text<'r> {
        Text::Str(Cow::Borrowed(v))
    }
}
impl From<String> for Text<'_> {
    fn from(v: String) -> Self {
        Text::Str(Cow::Owned(v))
    }
}
impl From<Hash> for Text<'_> {
    fn from(v: Hash) -> Self {
        Text::Key(v.0)
    }
}
impl From<&Hash> for Text<'_> {
    fn from(v: &Hash) -> Self {
        Text::Key(v.0)
    }
}
impl From<PublicKey> for Text<'_> {
    fn from(v: PublicKey) -> Self {
        Text::Key(v.0)
    }
}
impl From<&PublicKey> for Text<'_> {
    fn from(v: &PublicKey) -> Self {
        Text::Key(v.0)
    }
}

impl<'r> From<Text<'r>> for Cell<'r> {
    fn from(t: Text<'r>) -> Cell<'r> {
        match t {
            Text::Str(s) => Cell::Str(s),
            Text::Key(k) => Cell::Key(k),
        }
    }
}

/// A number for a `F64` column: a float, or exact millionths ([`Units`]).
pub(crate) trait Float {
    fn to_f64(self) -> f64;
}
impl Float for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}
impl Float for Units {
    fn to_f64(self) -> f64 {
        self.as_f64()
    }
}

/// The column types of [`column!`]: each says its SQL type and turns a value into a cell.
pub(crate) mod kind {
    use super::{Cell, Col, Float, Text};

    /// Text: `&str`, `&String`, `String`, or a key or hash.
    pub(crate) struct Str;
    impl Str {
        pub(crate) const COL: Col = Col::Str;
        pub(crate) fn cell<'r>(v: impl Into<Text<'r>>) -> Cell<'r> {
            v.into().into()
        }
        pub(crate) fn option<'r, T: Into<Text<'r>>>(v: Option<T>) -> Cell<'r> {
            v.map_or(Cell::Null, Str::cell)
        }
    }

    /// `u64`.
    pub(crate) struct U64;
    impl U64 {
        pub(crate) const COL: Col = Col::U64;
        pub(crate) fn cell(v: u64) -> Cell<'static> {
            Cell::U64(v)
        }
        pub(crate) fn option(v: Option<u64>) -> Cell<'static> {
            v.map_or(Cell::Null, Cell::U64)
        }
    }

    /// `f64` or Units.
    pub(crate) struct F64;
    impl F64 {
        pub(crate) const COL: Col = Col::F64;
        pub(crate) fn cell(v: impl Float) -> Cell<'static> {
            Cell::F64(v.to_f64())
        }
        pub(crate) fn option<T: Float>(v: Option<T>) -> Cell<'static> {
            v.map_or(Cell::Null, F64::cell)
        }
    }

    /// `bool`.
    pub(crate) struct Bool;
    impl Bool {
        pub(crate) const COL: Col = Col::Bool;
        pub(crate) fn cell(v: bool) -> Cell<'static> {
            Cell::Bool(v)
        }
        pub(crate) fn option(v: Option<bool>) -> Cell<'static> {
            v.map_or(Cell::Null, Cell::Bool)
        }
    }

    /// Microseconds since the Unix epoch.
    pub(crate) struct Ts;
    impl Ts {
        pub(crate) const COL: Col = Col::Ts;
        pub(crate) fn cell(v: u64) -> Cell<'static> {
            Cell::Ts(v)
        }
        pub(crate) fn option(v: Option<u64>) -> Cell<'static> {
            v.map_or(Cell::Null, Cell::Ts)
        }
    }

    /// Days since the Unix epoch.
    pub(crate) struct Date;
    impl Date {
        pub(crate) const COL: Col = Col::Date;
        pub(crate) fn cell(days: u64) -> Cell<'static> {
            Cell::Date(i32::try_from(days).unwrap_or(i32::MAX))
        }
    }
}

/// The Arrow schema of `specs`.
pub(crate) fn schema<'s>(specs: impl IntoIterator<Item = &'s ColumnSpec>) -> SchemaRef {
    Arc::new(Schema::new(specs.into_iter().map(ColumnSpec::field).collect::<Vec<_>>()))
}

/// `0.0` for `-0.0`, so that no output shows a negative zero.
pub(crate) fn no_negative_zero(v: f64) -> f64 {
    if v == 0.0 { 0.0 } else { v }
}

/// Lowercase hex of 32 bytes, without allocating.
fn hex<'o>(bytes: &[u8; 32], out: &'o mut [u8; 64]) -> &'o str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    std::str::from_utf8(out).unwrap_or_default()
}

/// A cell that is not of its column's type. [`column!`] makes this impossible; it stays an
/// error rather than a panic.
fn mismatch(spec: &ColumnSpec, cell: &Cell<'_>) -> DataFusionError {
    DataFusionError::Internal(format!("column {} got the cell {cell:?}", spec.name))
}

/// The array of `column` over `rows`.
fn array<R>(column: &Column<R>, rows: &[R]) -> Result<ArrayRef> {
    let spec = &column.spec;
    macro_rules! fill {
        ($builder:expr, $($variant:ident($v:ident) => $value:expr),+) => {{
            let mut b = $builder;
            for row in rows {
                match (column.value)(row) {
                    $(Cell::$variant($v) => b.append_value($value),)+
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(spec, &other)),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    let mut buf = [0u8; 64];
    Ok(match spec.col {
        Col::Str => fill!(StringBuilder::with_capacity(rows.len(), rows.len() * 16),
            Str(s) => s, Key(k) => hex(&k, &mut buf)),
        Col::U64 => fill!(UInt64Builder::with_capacity(rows.len()), U64(v) => v),
        Col::F64 => fill!(Float64Builder::with_capacity(rows.len()), F64(v) => no_negative_zero(v)),
        Col::Bool => fill!(BooleanBuilder::with_capacity(rows.len()), Bool(v) => v),
        Col::Date => fill!(Date32Builder::with_capacity(rows.len()), Date(v) => v),
        Col::Ts => fill!(TimestampMicrosecondBuilder::with_capacity(rows.len()).with_timezone("UTC"),
            Ts(v) => i64::try_from(v).unwrap_or(i64::MAX)),
    })
}

/// A record batch of the `projection` of `columns` over `rows`, with schema `schema` (the
/// projected one).
pub(crate) fn batch<R>(
    columns: &[Column<R>],
    projection: &[usize],
    rows: &[R],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let arrays = projection.iter().map(|&i| array(&columns[i], rows)).collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(Arc::clone(schema), arrays, &options)?)
}
