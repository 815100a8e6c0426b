//! Writing results: an aligned table with a row count, CSV, one JSON array, or JSON Lines; in
//! every format a negative zero is written as 0.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float32Array, Float64Array};
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::json::WriterBuilder as JsonWriterBuilder;
use datafusion::arrow::json::writer::{JsonArray, LineDelimited};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use crate::QueryError;
use crate::cells::no_negative_zero;

/// `batch` with every `-0.0` of its float columns made `0.0` (a sum or a rounding can give one).
fn without_negative_zero(batch: RecordBatch) -> Result<RecordBatch, QueryError> {
    let is_float = |t: &DataType| matches!(t, DataType::Float64 | DataType::Float32);
    if !batch.schema().fields().iter().any(|f| is_float(f.data_type())) {
        return Ok(batch);
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| -> ArrayRef {
            if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
                Arc::new(a.unary::<_, datafusion::arrow::datatypes::Float64Type>(no_negative_zero))
            } else if let Some(a) = c.as_any().downcast_ref::<Float32Array>() {
                Arc::new(a.unary::<_, datafusion::arrow::datatypes::Float32Type>(|v| if v == 0.0 { 0.0 } else { v }))
            } else {
                Arc::clone(c)
            }
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns).map_err(arrow_error)
}

/// An error of Arrow's writers: an I/O error stays one ([`QueryError::Io`]), so that a closed
/// pipe is still seen as such.
fn arrow_error(e: ArrowError) -> QueryError {
    match e {
        ArrowError::IoError(_, io) => QueryError::Io(io),
        other => QueryError::from(DataFusionError::from(other)),
    }
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns and a row count.
    Table,
    /// Comma-separated, with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// The Arrow IPC stream format (binary; media type `application/vnd.apache.arrow.stream`):
    /// the schema, then the record batches as they come.
    Arrow,
}

/// Writes a result stream in `format`; returns the number of rows.
pub async fn write(
    mut stream: SendableRecordBatchStream,
    format: Format,
    out: &mut dyn Write,
) -> Result<u64, QueryError> {
    let mut rows = 0u64;
    match format {
        Format::Table => {
            let mut batches: Vec<RecordBatch> = Vec::new();
            while let Some(batch) = stream.next().await {
                let batch = without_negative_zero(batch?)?;
                rows += batch.num_rows() as u64;
                batches.push(batch);
            }
            if batches.is_empty() {
                batches.push(RecordBatch::new_empty(stream.schema()));
            }
            writeln!(out, "{}", pretty_format_batches(&batches).map_err(arrow_error)?)?;
            writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut writer = CsvWriterBuilder::new().with_header(true).build(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = without_negative_zero(batch?)?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(arrow_error)?;
            }
            if rows == 0 {
                // Still a header, so a reader knows the columns.
                writer.write(&RecordBatch::new_empty(stream.schema())).map_err(arrow_error)?;
            }
        }
        Format::Json => {
            let mut writer = JsonWriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = without_negative_zero(batch?)?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(arrow_error)?;
            }
            writer.finish().map_err(arrow_error)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            let mut writer = JsonWriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = without_negative_zero(batch?)?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(arrow_error)?;
            }
            writer.finish().map_err(arrow_error)?;
        }
        Format::Arrow => {
            let mut writer = StreamWriter::try_new(&mut *out, &stream.schema()).map_err(arrow_error)?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(arrow_error)?;
            }
            writer.finish().map_err(arrow_error)?;
        }
    }
    out.flush()?;
    Ok(rows)
}
