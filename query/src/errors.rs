//! DataFusion's errors made into one readable line: a refusal, a syntax error, an unknown table
//! or column with the closest name, or the planner's own sentence without its prefixes, its
//! repeats, catalog names or debug dumps.

use datafusion::common::SchemaError;
use datafusion::common::utils::datafusion_strsim::levenshtein;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use mindlog_ledger::StorageError;

use crate::QueryError;
use crate::limits::Stop;

/// The store's error `e` carries, if a table's scan failed reading the store; `e` itself if not.
pub(crate) fn into_storage(e: DataFusionError) -> Result<StorageError, DataFusionError> {
    match e {
        DataFusionError::External(inner) => {
            inner.downcast::<StorageError>().map(|s| *s).map_err(DataFusionError::External)
        }
        DataFusionError::Context(context, inner) => {
            into_storage(*inner).map_err(|inner| DataFusionError::Context(context, Box::new(inner)))
        }
        other => Err(other),
    }
}

/// The limit or panic that stopped a query, if one did: a [`Stop`] of ours, or a task of
/// DataFusion's that panicked (which it reports as a "Join Error").
fn stopped(errors: &[&DataFusionError]) -> Option<QueryError> {
    errors.iter().find_map(|e| {
        let DataFusionError::External(inner) = e else { return None };
        if let Some(stop) = inner.downcast_ref::<Stop>() {
            return Some(match stop {
                Stop::TimedOut(limit) => QueryError::TimedOut { limit: *limit },
                Stop::OutOfMemory(limit) => QueryError::OutOfMemory { limit: *limit },
                Stop::Panicked(message) => QueryError::Panicked(message.clone()),
            });
        }
        let join = inner.downcast_ref::<std::sync::Arc<tokio::task::JoinError>>()?;
        join.is_panic().then(|| QueryError::Panicked(sentence(&join.to_string())))
    })
}

/// Whether `e` says the memory pool refused a reservation (or a bounded function its result).
pub(crate) fn exhausted(e: &DataFusionError) -> bool {
    chain(e).iter().any(|e| matches!(e, DataFusionError::ResourcesExhausted(_)))
}

/// The error of the right kind for `e`.
pub(crate) fn classify(e: &DataFusionError) -> QueryError {
    let errors = chain(e);
    if let Some(stop) = stopped(&errors) {
        return stop;
    }
    let text = errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n");
    for marker in ["DDL not supported: ", "DML not supported: ", "Statement not supported: "] {
        if let Some(what) = text.split(marker).nth(1) {
            return QueryError::Refused(statement_words(first_line(what).trim()));
        }
    }
    if let Some(what) = text.split("Unsupported SQL statement: ").nth(1) {
        return QueryError::Refused(first_line(what).trim().to_owned());
    }
    for e in &errors {
        match e {
            DataFusionError::SQL(parser, _) => return QueryError::Syntax(syntax(parser)),
            DataFusionError::SchemaError(schema, _) => {
                if let SchemaError::FieldNotFound { field, valid_fields } = schema.as_ref() {
                    return unknown_column(field, valid_fields);
                }
            }
            _ => {}
        }
    }
    if let Some(name) = errors.iter().find_map(|e| unknown_table(e)) {
        let closest = closest(&name, crate::tables().iter().map(|t| t.name));
        return QueryError::UnknownTable { name, closest };
    }
    if let Some(error) = no_matching_function(&text) {
        return error;
    }
    if let Some(error) = errors.iter().find_map(|e| match e {
        DataFusionError::Diagnostic(d, _) => unknown_function(d),
        _ => None,
    }) {
        return error;
    }
    let advice = errors.iter().find_map(|e| match e {
        DataFusionError::Diagnostic(d, _) => advice(d),
        _ => None,
    });
    if let Some(line) = advice {
        return QueryError::Invalid(line);
    }
    let root = e.find_root();
    let mut line = sentence(&root.to_string());
    if line.starts_with("table function '") {
        line += "; a query reads only the store's tables: list them with mindlog query --tables";
    }
    match root {
        DataFusionError::Plan(..)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(..)
        | DataFusionError::Configuration(..) => QueryError::Invalid(line),
        _ => QueryError::Failed(line),
    }
}

/// `e` and the DataFusion errors it wraps, outermost first (the members of a collection too).
fn chain(e: &DataFusionError) -> Vec<&DataFusionError> {
    let mut out = Vec::new();
    let mut todo = vec![e];
    while let Some(e) = todo.pop() {
        out.push(e);
        if let DataFusionError::Collection(members) = e {
            todo.extend(members.iter().rev());
            continue;
        }
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if let Some(inner) = s.downcast_ref::<DataFusionError>() {
                todo.push(inner);
                break;
            }
            source = s.source();
        }
    }
    out
}

/// DataFusion names refused statements by their plan node (`CreateExternalTable`); say them as SQL.
fn statement_words(name: &str) -> String {
    match name {
        "SetVariable" => return "SET".to_owned(),
        "CreateMemoryTable" => return "CREATE TABLE".to_owned(),
        _ => {}
    }
    if name.contains(' ') || !name.chars().any(char::is_lowercase) {
        return name.to_ascii_uppercase();
    }
    let mut words = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.push(c.to_ascii_uppercase());
    }
    words
}

/// The parser's message, said once: `expected an SQL statement, found SELEC at line 1, column 1`.
fn syntax(e: &ParserError) -> String {
    let message = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.as_str(),
        ParserError::RecursionLimitExceeded => "the query is nested too deeply",
    };
    let message = message
        .replace("Expected: ", "expected ")
        .replace(", found: ", ", found ")
        .replace(" at Line: ", " at line ")
        .replace(", Column: ", ", column ");
    sentence(&message)
}

/// The table a "table not found" error is about, as the query wrote it.
fn unknown_table(e: &DataFusionError) -> Option<String> {
    let message = match e {
        DataFusionError::Diagnostic(d, _) => d.message.clone(),
        DataFusionError::Plan(m) => m.clone(),
        _ => return None,
    };
    let quoted = message.strip_prefix("table '")?.strip_suffix("' not found")?;
    Some(quoted.strip_prefix("datafusion.public.").unwrap_or(quoted).to_owned())
}

/// An unknown column, with the closest of the columns the query could have meant.
fn unknown_column(field: &datafusion::common::Column, valid: &[datafusion::common::Column]) -> QueryError {
    let tables: std::collections::BTreeSet<&str> =
        valid.iter().filter_map(|c| c.relation.as_ref().map(|r| r.table())).collect();
    let wanted = field.relation.as_ref().map(|r| r.table());
    let candidates =
        valid.iter().filter(|c| wanted.is_none_or(|w| c.relation.as_ref().is_some_and(|r| r.table() == w)));
    let names: Vec<String> = candidates
        .map(|c| match (&c.relation, wanted, tables.len()) {
            (Some(r), None, 2..) => format!("{}.{}", r.table(), c.name),
            _ => c.name.clone(),
        })
        .collect();
    let table = wanted.or_else(|| if tables.len() == 1 { tables.first().copied() } else { None });
    QueryError::UnknownColumn {
        closest: closest(&field.name, names.iter().map(String::as_str)),
        name: field.name.clone(),
        table: table.map(str::to_owned),
    }
}

/// The candidate closest to `name` by edit distance (ignoring case), if it is close: fewer edits
/// than half the longer name.
fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let name = name.to_lowercase();
    candidates
        .into_iter()
        .filter_map(|c| {
            let distance = levenshtein(&name, &c.to_lowercase());
            let longer = name.chars().count().max(c.chars().count());
            (distance * 2 <= longer && distance < longer).then_some((distance, c))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c.to_owned())
}

/// A call whose arguments fit none of the function's signatures: the call as DataFusion saw it
/// and the signatures there are.
fn no_matching_function(text: &str) -> Option<QueryError> {
    const MARKER: &str = "No function matches the given name and argument types '";
    let call = text.split(MARKER).nth(1)?.split('\'').next()?;
    let signatures = text
        .split("Candidate functions:")
        .nth(1)
        .map(|rest| rest.lines().filter_map(|l| l.strip_prefix('\t')).map(|l| l.trim().to_owned()).collect())
        .unwrap_or_default();
    Some(QueryError::NoMatchingFunction { call: call.to_owned(), signatures })
}

/// A function DataFusion does not know, with the one it found closest.
fn unknown_function(d: &datafusion::common::Diagnostic) -> Option<QueryError> {
    let name = d.message.strip_prefix("Invalid function '")?.strip_suffix('\'')?;
    let closest = d.notes.iter().find_map(|n| n.message.strip_prefix("Possible function "));
    Some(QueryError::UnknownFunction {
        name: name.to_owned(),
        closest: closest.map(|c| c.trim_matches('\'').to_owned()),
    })
}

/// DataFusion's diagnostic for a user, when it says more than its error: the closest names it
/// found ("possible …") and its help.
fn advice(d: &datafusion::common::Diagnostic) -> Option<String> {
    let possible: Vec<&str> = d
        .notes
        .iter()
        .filter_map(|n| {
            n.message.strip_prefix("Possible function ").or_else(|| n.message.strip_prefix("possible column "))
        })
        .collect();
    if possible.is_empty() && d.helps.is_empty() {
        return None;
    }
    let mut line = sentence(&d.message);
    if !possible.is_empty() {
        line += &format!(" (did you mean {}?)", possible.join(" or "));
    }
    for help in &d.helps {
        line += "; ";
        line += &sentence(&help.message);
    }
    Some(line)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// One line of DataFusion's text as a sentence of ours: without the error-kind prefixes it
/// stacks, catalog names, the request to file a bug, debug dumps of planner structures or a
/// trailing full stop; lowercase first letter unless the word is an acronym.
fn sentence(text: &str) -> String {
    const PREFIXES: &[&str] = &[
        "Error during planning: ",
        "Execution error: ",
        "Schema error: ",
        "This feature is not implemented: ",
        "Arrow error: ",
        "External error: ",
        "Internal error: ",
        "Invalid argument error: ",
        "Optimizer rule ",
        "sql parser error: ",
        "SQL error: ",
        "Parser error: ",
        "Cast error: ",
        "Compute error: ",
    ];
    let mut line = first_line(text).trim();
    while let Some(rest) = PREFIXES.iter().find_map(|p| line.strip_prefix(p)) {
        line = rest;
    }
    let mut line = line.replace("datafusion.public.", "");
    // A `Debug` dump of a planner structure (`Schema { fields: … }`, `Column { relation: … }`)
    // says nothing to a user: cut the sentence before it.
    if let Some(at) = debug_dump(&line) {
        line.truncate(at);
    }
    let line = line.trim_end().trim_end_matches([':', ',', '.', ';']).trim_end();
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    if let Some(first) = chars.next() {
        if chars.clone().next().is_some_and(char::is_uppercase) {
            out.push(first);
        } else {
            out.extend(first.to_lowercase());
        }
        out.push_str(chars.as_str());
    }
    out
}

/// Where a `Debug` dump starts in `line`: a capitalised word followed by ` {` (`Schema { fields`,
/// `RawFieldAccessExpr { field_access`), or one of the names DataFusion dumps as a tuple
/// (`Some(Bare`, `TableReference`, `LogicalPlan`).
fn debug_dump(line: &str) -> Option<usize> {
    const NAMED: &[&str] = &["Some(Bare", "Some(Column", "TableReference", "LogicalPlan"];
    let named = NAMED.iter().filter_map(|s| line.find(s));
    let structs = line.match_indices(" {").filter_map(|(brace, _)| {
        let start = line[..brace].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let word = &line[start..brace];
        word.starts_with(|c: char| c.is_ascii_uppercase()).then_some(start)
    });
    named.chain(structs).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QueryError;

    /// A scan that fails reading the store gives the store's error, not the query's fault,
    /// however DataFusion wrapped it; any other external error stays the query's.
    #[test]
    fn a_storage_error_is_not_the_query_s_fault() {
        let corrupt = || StorageError::Corrupt { offset: 7, problem: "truncated".to_owned() };
        let wrapped = DataFusionError::Context(
            "scanning personas".to_owned(),
            Box::new(DataFusionError::External(Box::new(corrupt()))),
        );
        let error = QueryError::from(wrapped);
        assert!(matches!(error, QueryError::Storage(StorageError::Corrupt { offset: 7, .. })), "{error:?}");
        assert!(!error.is_bad_query());
        let other = QueryError::from(DataFusionError::External(Box::new(std::fmt::Error)));
        assert!(matches!(other, QueryError::Failed(_)), "{other:?}");
        assert!(other.is_bad_query());
    }
}
