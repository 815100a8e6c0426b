//! `export --parquet DIR`: every table as one Parquet file, with the schemas the SQL tables have.

use std::fs::File;
use std::path::Path;

use datafusion::error::DataFusionError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use futures::StreamExt;

use crate::{QueryEngine, QueryError, tables};

/// A table written by [`QueryEngine::export_parquet`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportedTable {
    /// The table's name.
    pub table: String,
    /// How many rows were written.
    pub rows: u64,
    /// The file written, `DIR/NAME.parquet`.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

pub(crate) async fn export(
    engine: &QueryEngine,
    dir: &Path,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> Result<Vec<ExportedTable>, QueryError> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for table in tables() {
        let path = dir.join(format!("{}.parquet", table.name));
        let partial = dir.join(format!("{}.parquet.partial", table.name));
        let written = write_table(engine, table.name, &partial, progress).await;
        let rows = match written {
            Ok(rows) => rows,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        std::fs::rename(&partial, &path)?;
        let bytes = std::fs::metadata(&path)?.len();
        out.push(ExportedTable { table: table.name.to_owned(), rows, path: path.display().to_string(), bytes });
    }
    Ok(out)
}

/// How mindlog writes Parquet (the export and the columnar segments): ZSTD level 1, row groups
/// of at most `rows` rows.
pub(crate) fn writer_properties(rows: usize) -> Result<WriterProperties, DataFusionError> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(rows))
        .build())
}

/// Writes one table to `path` and syncs it; returns its rows.
async fn write_table(
    engine: &QueryEngine,
    table: &str,
    path: &Path,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> Result<u64, QueryError> {
    let mut stream = engine.stream(&format!("SELECT * FROM \"{table}\"")).await?;
    let props = writer_properties(256 * 1024)?;
    let mut writer =
        ArrowWriter::try_new(File::create(path)?, stream.schema(), Some(props)).map_err(DataFusionError::from)?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(DataFusionError::from)?;
        progress(table, rows);
    }
    writer.into_inner().map_err(DataFusionError::from)?.sync_all()?;
    Ok(rows)
}
