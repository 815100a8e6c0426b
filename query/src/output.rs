//! Writing results: an aligned table with a row count, CSV, one JSON array, or JSON Lines.

use std::io::Write;

use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::json::WriterBuilder as JsonWriterBuilder;
use datafusion::arrow::json::writer::{JsonArray, LineDelimited};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use crate::QueryError;

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
                let batch = batch?;
                rows += batch.num_rows() as u64;
                batches.push(batch);
            }
            if batches.is_empty() {
                batches.push(RecordBatch::new_empty(stream.schema()));
            }
            writeln!(out, "{}", pretty_format_batches(&batches).map_err(datafusion::error::DataFusionError::from)?)?;
            writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut writer = CsvWriterBuilder::new().with_header(true).build(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(datafusion::error::DataFusionError::from)?;
            }
            if rows == 0 {
                // Still a header, so a reader knows the columns.
                writer
                    .write(&RecordBatch::new_empty(stream.schema()))
                    .map_err(datafusion::error::DataFusionError::from)?;
            }
        }
        Format::Json => {
            let mut writer = JsonWriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(datafusion::error::DataFusionError::from)?;
            }
            writer.finish().map_err(datafusion::error::DataFusionError::from)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            let mut writer = JsonWriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(&mut *out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(datafusion::error::DataFusionError::from)?;
            }
            writer.finish().map_err(datafusion::error::DataFusionError::from)?;
        }
    }
    out.flush()?;
    Ok(rows)
}
