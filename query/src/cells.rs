//! Rows of cells and their Arrow form: the one place that turns view rows into record batches,
//! so every table gets the same types (keys and hashes as lowercase hex text, times as UTC
//! microsecond timestamps, money as integers in minor units).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::{DataFusionError, Result};

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
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

/// One cell of a row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    Null,
    Str(String),
    U64(u64),
    F64(f64),
    Bool(bool),
    /// Microseconds since the Unix epoch.
    Ts(u64),
    /// Days since the Unix epoch.
    Date(i32),
}

impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Str(v)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Str(v.to_owned())
    }
}
impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::U64(v)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::F64(v)
    }
}
impl From<bool> for Cell {
    fn from(v: bool) -> Cell {
        Cell::Bool(v)
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Cell {
        v.map_or(Cell::Null, Into::into)
    }
}

/// A column: name, type, whether it may be null, and what it holds.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Name.
    pub name: &'static str,
    /// Type.
    pub col: Col,
    /// May be null.
    pub nullable: bool,
    /// What it holds, for `query --tables` and docs/query.md.
    pub doc: &'static str,
}

/// A column that is never null.
pub(crate) const fn c(name: &'static str, col: Col, doc: &'static str) -> Column {
    Column { name, col, nullable: false, doc }
}

/// A column that may be null.
pub(crate) const fn n(name: &'static str, col: Col, doc: &'static str) -> Column {
    Column { name, col, nullable: true, doc }
}

pub(crate) fn schema(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(columns.iter().map(|c| Field::new(c.name, c.col.data_type(), c.nullable)).collect::<Vec<_>>()))
}

/// A cell that is not of its column's type: a table's rows do not match its columns.
fn mismatch(index: usize, cell: &Cell) -> DataFusionError {
    DataFusionError::Internal(format!("column {index} got the cell {cell:?}"))
}

/// Builds one column from the cells at `index` of `rows`.
fn build(col: Col, rows: &[Vec<Cell>], index: usize) -> Result<ArrayRef> {
    macro_rules! fill {
        ($builder:expr, $variant:ident) => {{
            let mut b = $builder;
            for row in rows {
                match &row[index] {
                    Cell::$variant(v) => b.append_value(v.clone()),
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(index, other)),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match col {
        Col::Str => fill!(StringBuilder::new(), Str),
        Col::U64 => fill!(UInt64Builder::new(), U64),
        Col::F64 => fill!(Float64Builder::new(), F64),
        Col::Bool => fill!(BooleanBuilder::new(), Bool),
        Col::Date => fill!(Date32Builder::new(), Date),
        Col::Ts => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
            for row in rows {
                match &row[index] {
                    Cell::Ts(v) => b.append_value(*v as i64),
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(index, other)),
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// A record batch of `rows` (full rows, in `columns` order).
pub(crate) fn batch(columns: &[Column], rows: &[Vec<Cell>]) -> Result<RecordBatch> {
    if let Some(row) = rows.iter().find(|r| r.len() != columns.len()) {
        return Err(DataFusionError::Internal(format!("a row of {} cells for {} columns", row.len(), columns.len())));
    }
    let arrays = (0..columns.len()).map(|i| build(columns[i].col, rows, i)).collect::<Result<_>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(schema(columns), arrays, &options)?)
}
