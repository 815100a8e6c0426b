//! `SELECT count(*) FROM events` and `SELECT kind, count(*) FROM events GROUP BY kind` answered
//! from the counts the store keeps per kind (`kind_counts`, written with every event), reading no
//! event: a logical rewrite of those two aggregates, over the whole log, into the rows the store
//! already holds. (Not through the scan's statistics: an exact row count there also changes how
//! DataFusion plans joins of the log with itself, and such a plan ran past its timeout.)

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, Values};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// The rule, holding the counts of the snapshot the session reads.
#[derive(Debug)]
pub(crate) struct KindCounts {
    counts: Vec<(String, u64)>,
}

impl KindCounts {
    pub(crate) fn new(counts: Vec<(String, u64)>) -> KindCounts {
        KindCounts { counts }
    }

    /// The rows `aggregate` gives, if it is `count(*)` (or `count(1)`) over the whole `events`
    /// table (no filter, no limit), alone or grouped by `kind` alone: (kind, count) per kind, or
    /// one (None, count).
    fn answers(&self, aggregate: &Aggregate) -> Option<Vec<(Option<&str>, u64)>> {
        let LogicalPlan::TableScan(scan) = aggregate.input.as_ref() else { return None };
        let whole_log = scan.table_name.table() == "events" && scan.filters.is_empty() && scan.fetch.is_none();
        if !whole_log || !matches!(aggregate.aggr_expr.as_slice(), [e] if count_rows(e)) {
            return None;
        }
        match aggregate.group_expr.as_slice() {
            [] => Some(vec![(None, self.counts.iter().map(|(_, n)| n).sum())]),
            [Expr::Column(c)] if c.name == "kind" && !self.counts.is_empty() => {
                Some(self.counts.iter().map(|(k, n)| (Some(k.as_str()), *n)).collect())
            }
            _ => None,
        }
    }
}

/// `count(*)` / `count(1)`: counts rows, whatever their values.
fn count_rows(e: &Expr) -> bool {
    match e {
        Expr::Alias(alias) => count_rows(&alias.expr),
        Expr::AggregateFunction(f) => {
            let p = &f.params;
            f.func.name() == "count"
                && !p.distinct
                && p.filter.is_none()
                && p.order_by.is_empty()
                && matches!(p.args.as_slice(), [Expr::Literal(v, _)] if !v.is_null())
        }
        _ => false,
    }
}

impl OptimizerRule for KindCounts {
    fn name(&self) -> &str {
        "mindlog_kind_counts"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = &plan else { return Ok(Transformed::no(plan)) };
        let Some(rows) = self.answers(aggregate) else { return Ok(Transformed::no(plan)) };
        let schema = aggregate.schema.clone();
        let types: Vec<DataType> = schema.fields().iter().map(|f| f.data_type().clone()).collect();
        let mut values = Vec::with_capacity(rows.len());
        for (kind, n) in rows {
            let mut row = Vec::with_capacity(2);
            if let Some(kind) = kind {
                let kind = match types[0] {
                    DataType::Utf8View => ScalarValue::Utf8View(Some(kind.to_owned())),
                    DataType::LargeUtf8 => ScalarValue::LargeUtf8(Some(kind.to_owned())),
                    DataType::Utf8 => ScalarValue::Utf8(Some(kind.to_owned())),
                    _ => return Ok(Transformed::no(plan)),
                };
                row.push(Expr::Literal(kind, None));
            }
            let Ok(n) = ScalarValue::Int64(Some(n as i64)).cast_to(&types[row.len()]) else {
                return Ok(Transformed::no(plan));
            };
            row.push(Expr::Literal(n, None));
            values.push(row);
        }
        Ok(Transformed::yes(LogicalPlan::Values(Values { schema, values })))
    }
}
