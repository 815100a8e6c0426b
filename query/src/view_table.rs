//! A view as a DataFusion table: rows come out of the views when the scan runs, in batches of
//! the columns the query uses.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use mindlog_commands::Micros;
use mindlog_projections::Views;

use crate::cells;
use crate::tables::Table;

/// A view table.
pub(crate) struct ViewTable {
    table: &'static dyn Table,
    views: Arc<Views>,
    as_of: Micros,
    schema: SchemaRef,
}

impl ViewTable {
    pub(crate) fn new(table: &'static dyn Table, views: Arc<Views>, as_of: Micros) -> ViewTable {
        ViewTable { table, views, as_of, schema: cells::schema(&table.specs()) }
    }
}

impl fmt::Debug for ViewTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ViewTable({})", self.table.name())
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
        // The partition builds only the columns asked for.
        let projection: Vec<usize> = projection.cloned().unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let schema = Arc::new(self.schema.project(&projection)?);
        let partition = ViewPartition {
            table: self.table,
            views: Arc::clone(&self.views),
            as_of: self.as_of,
            projection,
            schema: Arc::clone(&schema),
        };
        Ok(Arc::new(StreamingTableExec::try_new(schema, vec![Arc::new(partition)], None, vec![], false, limit)?))
    }
}

struct ViewPartition {
    table: &'static dyn Table,
    views: Arc<Views>,
    as_of: Micros,
    projection: Vec<usize>,
    /// The projected schema.
    schema: SchemaRef,
}

impl fmt::Debug for ViewPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ViewPartition({})", self.table.name())
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
        let (table, views, as_of) = (self.table, Arc::clone(&self.views), self.as_of);
        let (projection, schema) = (self.projection.clone(), Arc::clone(&self.schema));
        builder.spawn_blocking(move || {
            table
                .scan(&views, as_of, &projection, &schema, batch_size, &mut |batch| tx.blocking_send(Ok(batch)).is_ok())
        });
        builder.build()
    }
}
