//! A view as a DataFusion table: rows come out of the views when the scan runs, in batches.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use mindlog_commands::Micros;
use mindlog_projections::Views;

use crate::cells;
use crate::tables::TableDef;

/// A view table.
pub(crate) struct ViewTable {
    def: &'static TableDef,
    views: Arc<Views>,
    as_of: Micros,
    schema: SchemaRef,
}

impl ViewTable {
    pub(crate) fn new(def: &'static TableDef, views: Arc<Views>, as_of: Micros) -> ViewTable {
        ViewTable { def, views, as_of, schema: cells::schema(def.columns) }
    }
}

impl fmt::Debug for ViewTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ViewTable({})", self.def.name)
    }
}

#[async_trait]
impl TableProvider for ViewTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let partition = ViewPartition {
            def: self.def,
            views: Arc::clone(&self.views),
            as_of: self.as_of,
            schema: Arc::clone(&self.schema),
        };
        Ok(Arc::new(StreamingTableExec::try_new(
            Arc::clone(&self.schema),
            vec![Arc::new(partition)],
            projection,
            vec![],
            false,
            limit,
        )?))
    }
}

struct ViewPartition {
    def: &'static TableDef,
    views: Arc<Views>,
    as_of: Micros,
    schema: SchemaRef,
}

impl fmt::Debug for ViewPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ViewPartition({})", self.def.name)
    }
}

impl PartitionStream for ViewPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batch_size = ctx.session_config().batch_size();
        let mut builder = RecordBatchReceiverStreamBuilder::new(Arc::clone(&self.schema), 2);
        let tx = builder.tx();
        let (def, views, as_of) = (self.def, Arc::clone(&self.views), self.as_of);
        builder.spawn_blocking(move || {
            let rows = (def.rows)(&views, as_of).map_err(|e| DataFusionError::External(Box::new(e)))?;
            for chunk in rows.chunks(batch_size.max(1)) {
                let batch = cells::batch(def.columns, chunk)?;
                if tx.blocking_send(Ok(batch)).is_err() {
                    break;
                }
            }
            Ok(())
        });
        builder.build()
    }
}
