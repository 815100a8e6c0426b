//! SQL over a generated store: pushdown shown by EXPLAIN, answers checked against the ledger,
//! read-only refusals, error messages, JSON functions, the tables of messages, reflections and
//! emotions, output formats, Parquet export, and docs/query.md's examples and table list.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use expect_test::{Expect, expect};

use mindlog_commands::sim::{AuthorSim, GEN_EPOCH_MICROS, GEN_SPACING_MICROS, Rng};
use mindlog_ledger::{Draft, Hash, Identity, Ledger, VerifiedEvent};
use mindlog_projections::Projections;
use mindlog_query::{Format, QueryEngine, QueryError, QueryOptions};

/// A store of `n` plausible events of every domain from 4 authors (as `mindlog gen` writes them).
fn store(dir: &std::path::Path, n: u64) -> (Ledger, Vec<Identity>) {
    let ids: Vec<Identity> = (0..4u8).map(|a| Identity::from_secret(&[a + 1; 32])).collect();
    let everyone: Vec<_> = ids.iter().map(Identity::public_key).collect();
    let mut sims: Vec<AuthorSim> = ids.iter().map(|i| AuthorSim::new(i.public_key(), &everyone)).collect();
    let mut heads: Vec<(u64, Option<Hash>)> = vec![(0, None); ids.len()];
    let mut chooser = Rng::derive(5, "author", 0);
    let mut public = Vec::new();
    let mut events: Vec<VerifiedEvent> = Vec::new();
    for index in 0..n {
        if index % 128 == 0 {
            for sim in &mut sims {
                for (author, hash, event) in &public {
                    sim.learn(author, *hash, event);
                }
            }
            public.clear();
        }
        let a = chooser.below(4) as usize;
        let mut rng = Rng::derive(5, "event", index);
        let ts = GEN_EPOCH_MICROS + index * GEN_SPACING_MICROS;
        let event = sims[a].next_event(&mut rng, index, ts).unwrap();
        let draft =
            Draft { kind: event.kind().into(), payload: event.encode(), refs: event.refs(), ts, private: false };
        let signed =
            draft.seal(ids[a].public_key(), heads[a].0 + 1, heads[a].1, [index as u8; 32]).unwrap().sign(&ids[a]);
        heads[a] = (heads[a].0 + 1, Some(signed.hash()));
        sims[a].observe(signed.hash(), &event);
        if AuthorSim::is_public(&event) {
            public.push((ids[a].public_key(), signed.hash(), event));
        }
        events.push(signed);
    }
    let ledger = Ledger::create(&dir.join("mind.redb")).unwrap();
    ledger.ingest(&events).unwrap();
    (ledger, ids)
}

fn engine(ledger: &Ledger) -> QueryEngine {
    engine_reading(ledger, true)
}

/// An engine whose scans of `events` may read columnar segments (if the store has them), or not.
fn engine_reading(ledger: &Ledger, segments: bool) -> QueryEngine {
    let projections = Projections::new(ledger);
    projections.catch_up(&|_, _| {}).unwrap();
    let options = QueryOptions {
        as_of: GEN_EPOCH_MICROS + 30 * mindlog_commands::DAY_MICROS,
        segments,
        ..QueryOptions::default()
    };
    QueryEngine::new(projections.views().unwrap(), options).unwrap()
}

fn run(engine: &QueryEngine, sql: &str, format: Format) -> Result<String, QueryError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let stream = engine.stream(sql).await?;
        let mut out = Vec::new();
        mindlog_query::write(stream, format, &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    })
}

fn rows(engine: &QueryEngine, sql: &str) -> Vec<serde_json::Value> {
    let text = run(engine, sql, Format::Jsonl).unwrap_or_else(|e| panic!("{sql}: {e}"));
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn explain(engine: &QueryEngine, sql: &str) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(engine.explain(sql)).unwrap()
}

#[test]
fn filters_reach_the_indexes_and_answers_match_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, ids) = store(dir.path(), 3000);
    let engine = engine(&ledger);
    let alice = ids[0].public_key().to_string();

    // One author: the feed index, and no event is read for a count.
    let sql = format!("SELECT count(*) AS n FROM events WHERE author = '{alice}'");
    let plan = explain(&engine, &sql);
    assert!(plan.contains("LogScanExec: access=feed_index(author in ["), "{plan}");
    assert!(plan.contains("index_only"), "{plan}");
    let head = ledger.head(&ids[0].public_key()).unwrap().seq;
    assert_eq!(rows(&engine, &sql)[0]["n"], head);
    // Reading that author's events reads only theirs.
    let by_kind =
        rows(&engine, &format!("SELECT kind, count(*) AS n FROM events WHERE author = '{alice}' GROUP BY kind"));
    assert_eq!(by_kind.iter().map(|r| r["n"].as_u64().unwrap()).sum::<u64>(), head);
    let plan = explain(&engine, &format!("SELECT kind FROM events WHERE author = '{alice}'"));
    assert!(plan.contains("access=feed_index") && !plan.contains("index_only"), "{plan}");

    // A kind, a time window, an offset range.
    let plan = explain(&engine, "SELECT * FROM events WHERE kind = 'persona.created/1'");
    assert!(plan.contains("access=kind_index(kind in [persona.created/1])"), "{plan}");
    let plan = explain(
        &engine,
        "SELECT offset FROM events WHERE ts >= '2026-01-01T01:00:00Z' AND ts < '2026-01-01T02:00:00Z'",
    );
    assert!(plan.contains("access=time_index(ts in [1767229200000000, 1767232799999999])"), "{plan}");
    let hour = rows(
        &engine,
        "SELECT count(*) AS n FROM events WHERE ts >= '2026-01-01T01:00:00Z' AND ts < '2026-01-01T02:00:00Z'",
    );
    assert_eq!(hour[0]["n"], 720, "one event every 5 s: 720 in an hour");
    let plan = explain(&engine, "SELECT hash FROM events WHERE offset BETWEEN 10 AND 19");
    assert!(plan.contains("access=log_range(offset in [10, 19])"), "{plan}");
    assert_eq!(rows(&engine, "SELECT hash FROM events WHERE offset BETWEEN 10 AND 19").len(), 10);
    let plan = explain(&engine, "SELECT offset FROM events");
    assert!(plan.contains("access=full_scan"), "{plan}");

    // count(*) of the whole log is what the store already knows: no scan (a rewrite into the
    // store's counts). With a filter, the scan counts; both agree with counting every row read.
    for (known, filter) in [
        (true, ""),
        (false, " WHERE kind = 'persona.created/1'"),
        (false, " WHERE kind IN ('persona.created/1', 'memory.added/1', 'no.such/1')"),
        (false, " WHERE kind = 'persona.created/1' AND seq > 3"),
        (false, &format!(" WHERE author = '{alice}'")),
    ] {
        let sql = format!("SELECT count(*) AS n FROM events{filter}");
        let plan = explain(&engine, &sql);
        assert_eq!(!plan.contains("LogScanExec"), known, "{sql}: {plan}");
        let read = rows(&engine, &format!("SELECT count(offset) AS n FROM events{filter}"));
        assert_eq!(rows(&engine, &sql)[0]["n"], read[0]["n"], "{sql}");
    }

    // GROUP BY kind over everything is answered from the store's counts per kind, reading no
    // event, and matches counting the rows read (count(offset) is not rewritten), and the ledger.
    let by_kind = |sql: &str| -> BTreeMap<String, u64> {
        rows(&engine, sql)
            .into_iter()
            .map(|r| (r["kind"].as_str().unwrap().to_owned(), r["n"].as_u64().unwrap()))
            .collect()
    };
    let sql = "SELECT kind, count(*) AS n FROM events GROUP BY kind";
    let plan = explain(&engine, sql);
    assert!(plan.contains("DataSourceExec") && !plan.contains("LogScanExec"), "{plan}");
    let counted = by_kind(sql);
    assert_eq!(counted, by_kind("SELECT kind, count(offset) AS n FROM events GROUP BY kind"));
    let expected: BTreeMap<String, u64> = ledger.snapshot().unwrap().kind_counts().unwrap().into_iter().collect();
    assert_eq!(counted, expected);
    assert!(explain(&engine, "SELECT kind, count(offset) AS n FROM events GROUP BY kind").contains("LogScanExec"));
    let filtered = "SELECT kind, count(*) AS n FROM events WHERE seq > 1 GROUP BY kind";
    assert!(explain(&engine, filtered).contains("LogScanExec"), "a filter: the rows are read");
    assert_eq!(by_kind(filtered).values().sum::<u64>(), expected.values().sum::<u64>() - 4, "the first of four feeds");

    // Payloads are JSON; keys and hashes lowercase hex.
    let first = &rows(&engine, "SELECT author, hash, payload FROM events WHERE offset = 0")[0];
    let payload: serde_json::Value = serde_json::from_str(first["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["kind"], "persona.created/1");
    assert_eq!(first["hash"].as_str().unwrap().len(), 64);
}

#[test]
fn every_view_is_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 3000);
    let engine = engine(&ledger);
    for table in mindlog_query::tables() {
        let n = rows(&engine, &format!("SELECT count(*) AS n FROM \"{}\"", table.name))[0]["n"].as_u64().unwrap();
        assert!(n > 0, "table {} is empty on a generated store", table.name);
    }
    // The listings table says what the views say.
    let projections = Projections::new(&ledger);
    let top = rows(&engine, "SELECT id FROM listings WHERE mean_rating >= 4");
    let well_rated: Vec<String> = projections
        .views()
        .unwrap()
        .listings()
        .unwrap()
        .iter()
        .filter(|(_, _, s)| s.mean_rating().is_some_and(|m| m >= 4.0))
        .map(|(id, _, _)| id.to_string())
        .collect();
    assert!(!well_rated.is_empty(), "the generated store has well-rated listings");
    assert_eq!(top.iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), well_rated);
    // Time-dependent views follow --as-of.
    let later = QueryEngine::new(
        projections.views().unwrap(),
        QueryOptions { as_of: GEN_EPOCH_MICROS + 400 * mindlog_commands::DAY_MICROS, ..QueryOptions::default() },
    )
    .unwrap();
    let sum = |e: &QueryEngine| rows(e, "SELECT sum(strength) AS s FROM memories")[0]["s"].as_f64().unwrap();
    assert!(sum(&later) < sum(&engine) / 100.0, "memory strength decays with --as-of");
}

#[test]
fn queries_are_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 200);
    let engine = engine(&ledger);
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'",
        "DROP TABLE events",
        "INSERT INTO events SELECT * FROM events",
        "DELETE FROM events",
        "UPDATE personas SET name = 'x'",
        "COPY (SELECT 1) TO 'copied.csv'",
        "SET datafusion.execution.batch_size = 1",
        "EXPLAIN CREATE TABLE t2 AS SELECT 1",
    ] {
        match run(&engine, sql, Format::Csv) {
            Err(QueryError::Refused(what)) => assert!(!what.is_empty() && !what.contains('\n'), "{sql}: {what}"),
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }
}

thread_local! {
    /// A small store and its engine, for the error cases.
    static SMALL: (QueryEngine, Ledger, tempfile::TempDir) = {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = store(dir.path(), 300);
        (engine(&ledger), ledger, dir)
    };
}

/// Runs `sql` on a small store, expects it to fail, and checks the error's kind and message:
/// one line, no catalog prefix, no debug dump of a planner structure.
fn check_error(sql: &str, expected: Expect) {
    let error = SMALL.with(|(engine, ..)| run(engine, sql, Format::Csv)).expect_err(sql);
    let kind = match &error {
        QueryError::Refused(_) => "refused",
        QueryError::Syntax(_) => "syntax",
        QueryError::UnknownTable { .. } => "unknown table",
        QueryError::UnknownColumn { .. } => "unknown column",
        QueryError::UnknownFunction { .. } => "unknown function",
        QueryError::NoMatchingFunction { .. } => "no matching function",
        QueryError::Invalid(_) => "invalid",
        QueryError::Failed(_) => "failed",
        other => panic!("{sql}: unexpected {other:?}"),
    };
    let message = error.to_string();
    assert!(!message.contains('\n'), "{sql}: more than one line: {message}");
    assert!(!message.contains("datafusion.public"), "{sql}: a catalog prefix: {message}");
    assert!(!message.contains(" { "), "{sql}: a debug dump: {message}");
    assert!(!message.ends_with('.'), "{sql}: a trailing full stop: {message}");
    expected.assert_eq(&format!("{kind}: {message}"));
}

#[test]
fn an_unknown_table_names_the_closest() {
    check_error(
        "SELECT * FROM personaz",
        expect![
            "unknown table: table 'personaz' not found (did you mean 'personas'?); list the tables with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT count(*) FROM msgs",
        expect![
            "unknown table: table 'msgs' not found (did you mean 'messages'?); list the tables with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT p.name FROM personas p JOIN listing l ON l.owner = p.owner",
        expect![
            "unknown table: table 'listing' not found (did you mean 'listings'?); list the tables with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT * FROM nothing_like_it",
        expect!["unknown table: table 'nothing_like_it' not found; list the tables with mindlog query --tables"],
    );
    check_error(
        "SELECT * FROM '/etc/passwd'",
        expect!["unknown table: table '/etc/passwd' not found; list the tables with mindlog query --tables"],
    );
}

#[test]
fn an_unknown_column_names_the_closest() {
    check_error(
        "SELECT nme FROM listings",
        expect![
            "unknown column: column 'nme' not found in listings (did you mean 'name'?); list the columns with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT name FROM personas WHERE stauts = 'active'",
        expect![
            "unknown column: column 'stauts' not found in personas (did you mean 'status'?); list the columns with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT l.nme FROM listings l",
        expect![
            "unknown column: column 'nme' not found in l (did you mean 'name'?); list the columns with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT xyzzy FROM messages m JOIN personas p ON p.id = m.persona",
        expect!["unknown column: column 'xyzzy' not found; list the columns with mindlog query --tables"],
    );
    check_error(
        "SELECT txt FROM messages m JOIN personas p ON p.id = m.persona",
        expect![
            "unknown column: column 'txt' not found (did you mean 'm.text'?); list the columns with mindlog query --tables"
        ],
    );
}

#[test]
fn a_syntax_error_is_said_once() {
    check_error("SELEC 1", expect!["syntax: syntax error: expected an SQL statement, found SELEC at line 1, column 1"]);
    check_error("SELECT name FROM personas WHERE", expect!["syntax: syntax error: expected an expression, found EOF"]);
    check_error(
        "SELECT 'unclosed FROM personas",
        expect!["syntax: syntax error: unterminated string literal at line 1, column 8"],
    );
}

#[test]
fn a_type_error_is_one_line() {
    check_error(
        "SELECT sum(name) FROM personas",
        expect![
            "no matching function: no function matches sum(Utf8); the signatures are sum(Decimal), sum(UInt64), sum(Int64), sum(Float64), sum(Duration), sum(Interval): cast the arguments to fit one"
        ],
    );
    check_error(
        "SELECT name + 1 FROM personas",
        expect!["invalid: cannot coerce arithmetic expression Utf8 + Int64 to valid types"],
    );
    check_error(
        "SELECT * FROM personas WHERE created > 'yesterday'",
        expect![
            "failed: the query failed: error parsing timestamp from 'yesterday': timestamp must contain at least 10 characters"
        ],
    );
    check_error(
        // One row, so the message does not depend on which row a worker reaches first.
        "SELECT CAST(name AS INT) FROM (SELECT min(name) AS name FROM personas)",
        expect!["failed: the query failed: cannot cast string 'persona-0' to value of Int32 type"],
    );
    check_error(
        "SELECT no_such_function(name) FROM personas",
        expect!["unknown function: function 'no_such_function' not found (did you mean 'position'?)"],
    );
    check_error(
        "SELECT * FROM read_csv('/etc/passwd')",
        expect![
            "invalid: table function 'read_csv' not found; a query reads only the store's tables: list them with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT * FROM generate_series(1, 3)",
        expect![
            "invalid: table function 'generate_series' not found; a query reads only the store's tables: list them with mindlog query --tables"
        ],
    );
    check_error(
        "SELECT upperr(name) FROM personas",
        expect!["unknown function: function 'upperr' not found (did you mean 'upper'?)"],
    );
    check_error(
        "SELECT name FROM personas p JOIN listings l ON l.owner = p.owner",
        expect!["invalid: column 'name' is ambiguous (did you mean p.name or l.name?)"],
    );
    check_error("SELECT 1 / 0", expect!["failed: the query failed: divide by zero error"]);
    check_error("SELECT count(*) / 0 FROM personas", expect!["failed: the query failed: divide by zero error"]);
    check_error(
        "SELECT json_get_str() FROM events",
        expect![
            "no matching function: no function matches json_get_str(); the signatures are json_get_str(Any, .., Any): cast the arguments to fit one"
        ],
    );
    check_error("SELECT * FROM personas ORDER BY", expect!["syntax: syntax error: expected an expression, found EOF"]);
    check_error(
        "SELECT name FROM personas GROUP BY status",
        expect![
            "invalid: 'personas.name' must appear in GROUP BY clause because it's not an aggregate expression; either add 'personas.name' to GROUP BY clause, or use an aggregate function like ANY_VALUE(personas.name)"
        ],
    );
    check_error(
        "SELECT array_agg(name)[1] FROM personas GROUP BY status",
        expect!["invalid: getFieldAccess not supported by ExprPlanner"],
    );
    check_error(
        "SELECT name FROM personas UNION SELECT id, name FROM personas",
        expect!["invalid: UNION queries have different number of columns"],
    );
}

#[test]
fn ddl_and_dml_are_refused_in_one_line() {
    check_error("CREATE TABLE t AS SELECT 1", expect!["refused: queries are read-only: CREATE TABLE is refused"]);
    check_error("DROP TABLE events", expect!["refused: queries are read-only: DROP TABLE is refused"]);
    check_error(
        "INSERT INTO events SELECT * FROM events",
        expect!["refused: queries are read-only: INSERT INTO is refused"],
    );
    check_error("DELETE FROM events", expect!["refused: queries are read-only: DELETE is refused"]);
    check_error("UPDATE personas SET name = 'x'", expect!["refused: queries are read-only: UPDATE is refused"]);
    check_error("COPY (SELECT 1) TO 'copied.csv'", expect!["refused: queries are read-only: COPY is refused"]);
    check_error("SET datafusion.execution.batch_size = 1", expect!["refused: queries are read-only: SET is refused"]);
}

#[test]
fn output_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 300);
    let engine = engine(&ledger);
    let sql = "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind LIMIT 2";
    let table = run(&engine, sql, Format::Table).unwrap();
    assert!(table.contains("| kind") && table.trim_end().ends_with("2 rows"), "{table}");
    let csv = run(&engine, sql, Format::Csv).unwrap();
    assert_eq!(csv.lines().next(), Some("kind,n"));
    assert_eq!(csv.lines().count(), 3);
    let json: serde_json::Value = serde_json::from_str(&run(&engine, sql, Format::Json).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(run(&engine, sql, Format::Jsonl).unwrap().lines().count(), 2);
    let empty = run(&engine, "SELECT kind FROM events WHERE kind = 'none/1'", Format::Csv).unwrap();
    assert_eq!(empty.trim(), "kind", "a header even without rows");
}

#[test]
fn parquet_export_writes_every_table_with_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 2000);
    let engine = engine(&ledger);
    let out = dir.path().join("parquet");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exported = rt.block_on(engine.export_parquet(&out, &|_, _| {})).unwrap();
    assert_eq!(exported.len(), mindlog_query::tables().len());
    let events = exported.iter().find(|t| t.table == "events").unwrap();
    assert_eq!(events.rows, 2000);
    // Read them back with a plain DataFusion session (as DuckDB or pandas would read the files).
    rt.block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        for t in &exported {
            let frame = ctx.read_parquet(t.path.as_str(), Default::default()).await.unwrap();
            assert_eq!(frame.clone().count().await.unwrap() as u64, t.rows, "{}", t.table);
            let info = mindlog_query::tables().into_iter().find(|i| i.name == t.table).unwrap();
            let names: Vec<&str> = frame.schema().fields().iter().map(|f| f.name().as_str()).collect();
            assert_eq!(names, info.columns.iter().map(|c| c.name).collect::<Vec<_>>(), "{}", t.table);
        }
    });
}

/// Every example in docs/query.md runs on generated data and returns rows.
#[test]
fn the_documented_examples_run() {
    let examples: Vec<&str> = mindlog_query::examples().into_iter().map(|e| e.sql).collect();
    assert!(examples.len() >= 12, "docs/query.md must give at least a dozen examples, has {}", examples.len());
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 6000);
    let engine = engine(&ledger);
    for sql in examples {
        let result = rows(&engine, sql);
        assert!(!result.is_empty(), "no rows from:\n{sql}");
    }
}

/// Every example of docs/query.md, and scans of `events` filtered each way a scan can be, give
/// the same answers from the columnar segments as from the rows; `check_segments` finds a segment
/// that does not match its events, and `reseal` mends it.
#[test]
fn segments_answer_as_the_rows_do() {
    use mindlog_query::SEGMENT_EVENTS;
    let dir = tempfile::tempdir().unwrap();
    let n = 2 * SEGMENT_EVENTS + 5000;
    let (ledger, ids) = store(dir.path(), n);
    let sealed = mindlog_query::seal(&ledger, &|_, _| {}).unwrap();
    assert_eq!((sealed.written, sealed.segments, sealed.events), (2, 2, 2 * SEGMENT_EVENTS));
    assert_eq!(mindlog_query::seal(&ledger, &|_, _| {}).unwrap().written, 0, "sealing again writes nothing");
    let segments = engine(&ledger);
    let log = engine_reading(&ledger, false);

    let [alice, bob] = [0, 1].map(|i| ids[i].public_key().to_string());
    let common: Vec<String> = rows(&log, "SELECT kind FROM events GROUP BY kind ORDER BY count(*) DESC, kind LIMIT 2")
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    let (k1, k2) = (&common[0], &common[1]);
    // A time range across the boundary of the two segments.
    let at = |offset: u64| mindlog_ledger::format_time(GEN_EPOCH_MICROS + offset * GEN_SPACING_MICROS);
    let (t1, t2) = (at(SEGMENT_EVENTS - 3000), at(SEGMENT_EVENTS + 9000));
    let all = "offset, author, seq, ts, kind, hash, size";
    // The examples without their LIMIT: rows that tie in their ORDER BY may come in either order.
    let mut queries: Vec<String> = mindlog_query::examples()
        .into_iter()
        .map(|e| e.sql.rsplit_once(" LIMIT ").map_or(e.sql, |(head, _)| head).to_owned())
        .collect();
    // Scans that must read the segments (checked with EXPLAIN below) as well as answer right.
    let by_segments = [
        format!("SELECT seq, kind, size FROM events WHERE author = '{alice}' ORDER BY seq"),
        format!("SELECT kind, sum(size) FROM events WHERE kind IN ('{k1}', '{k2}') GROUP BY kind ORDER BY kind"),
        format!("SELECT count(*), sum(size) FROM events WHERE ts >= '{t1}' AND ts < '{t2}'"),
        format!("SELECT count(*) FROM events WHERE author = '{alice}'"),
    ];
    queries.extend(by_segments.iter().cloned());
    queries.extend([
        "SELECT count(*) FROM events WHERE size > 0".to_owned(),
        format!("SELECT {all} FROM events ORDER BY offset"),
        format!("SELECT {all} FROM events WHERE offset >= 16000 AND offset < 33000 ORDER BY offset"),
        format!("SELECT {all} FROM events WHERE offset > {} ORDER BY offset DESC LIMIT 7", SEGMENT_EVENTS - 3),
        format!("SELECT kind, count(*) FROM events WHERE ts >= '{t1}' GROUP BY kind ORDER BY kind"),
        format!(
            "SELECT author, kind, count(*) FROM events WHERE author IN ('{alice}', '{bob}') GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        format!("SELECT offset, seq FROM events WHERE kind = '{k1}' AND author = '{alice}' ORDER BY offset"),
        format!("SELECT count(*) FROM events WHERE author = '{alice}' AND ts < '{t2}' AND offset > 100"),
        format!("SELECT count(*) FROM events WHERE author = '{}'", alice.to_uppercase()),
        "SELECT max(ts), min(ts), count(DISTINCT author) FROM events".to_owned(),
        // Counts the segments' stats answer without reading a column.
        format!("SELECT count(*) FROM events WHERE author IN ('{alice}', '{bob}') AND offset >= 20000"),
        format!("SELECT count(*) FROM events WHERE kind IN ('{k1}', '{k2}')"),
        format!("SELECT count(*) FROM events WHERE kind = '{k1}' AND offset < 20000"),
    ]);
    let sorted = |engine: &QueryEngine, sql: &str| {
        let mut rows: Vec<String> = rows(engine, sql).iter().map(|r| r.to_string()).collect();
        rows.sort();
        rows
    };
    for sql in &queries {
        assert_eq!(sorted(&segments, sql), sorted(&log, sql), "{sql}");
    }
    let full = "SELECT kind, sum(size) FROM events GROUP BY kind";
    assert!(
        explain(&segments, full).contains("segments=2/2, tail_from=32768, access=full_scan"),
        "{}",
        explain(&segments, full)
    );
    assert!(!explain(&log, full).contains("segments="));
    for sql in &by_segments {
        assert!(explain(&segments, sql).contains("segments="), "{sql} reads the segments");
    }
    let narrow = "SELECT kind FROM events WHERE offset = 5";
    assert!(!explain(&segments, narrow).contains("segments="), "a narrow range reads the rows");

    let snapshot = ledger.snapshot().unwrap();
    let checked = mindlog_query::check_segments(&snapshot, &|_, _| {}).unwrap();
    assert_eq!((checked.compared, checked.findings), (2, Vec::<String>::new()));
    drop((segments, log, snapshot));
    // The second segment's bytes replaced by the first's.
    const SEGMENTS: mindlog_ledger::redb::TableDefinition<u64, &[u8]> =
        mindlog_ledger::redb::TableDefinition::new("columnar.segments");
    let txn = ledger.begin_derived_write(mindlog_ledger::Namespace::new("columnar")).unwrap();
    {
        let mut table = txn.open_table(SEGMENTS).unwrap();
        let first = mindlog_ledger::redb::ReadableTable::get(&table, 0).unwrap().unwrap().value().to_vec();
        table.insert(SEGMENT_EVENTS, first.as_slice()).unwrap();
    }
    txn.commit().unwrap();
    let findings = mindlog_query::check_segments(&ledger.snapshot().unwrap(), &|_, _| {}).unwrap().findings;
    assert_eq!(
        findings,
        vec![format!("segment offsets {SEGMENT_EVENTS}..{}: its columns differ from the events", 2 * SEGMENT_EVENTS)]
    );
    // A checkpoint past the segments is reported too; a scan reads only what follows from 0.
    let txn = ledger.begin_derived_write(mindlog_ledger::Namespace::new("columnar")).unwrap();
    txn.open_table(SEGMENTS).unwrap().remove(SEGMENT_EVENTS).unwrap();
    txn.set_checkpoint("columnar.sealed", 2 * SEGMENT_EVENTS).unwrap();
    txn.commit().unwrap();
    let stats: mindlog_ledger::redb::TableDefinition<u64, &[u8]> =
        mindlog_ledger::redb::TableDefinition::new("columnar.stats");
    let txn = ledger.begin_derived_write(mindlog_ledger::Namespace::new("columnar")).unwrap();
    txn.open_table(stats).unwrap().remove(SEGMENT_EVENTS).unwrap();
    txn.commit().unwrap();
    let findings = mindlog_query::check_segments(&ledger.snapshot().unwrap(), &|_, _| {}).unwrap().findings;
    assert_eq!(
        findings,
        vec![format!(
            "the checkpoint columnar.sealed is {}, but the segments end at offset {SEGMENT_EVENTS}",
            2 * SEGMENT_EVENTS
        )]
    );
    let one = engine(&ledger);
    assert!(explain(&one, full).contains("segments=1/1, tail_from=16384"), "{}", explain(&one, full));
    assert_eq!(sorted(&one, full), sorted(&engine_reading(&ledger, false), full));
    drop(one);
    let resealed = mindlog_query::reseal(&ledger, &|_, _| {}).unwrap();
    assert_eq!(resealed.written, 2);
    assert!(mindlog_query::check_segments(&ledger.snapshot().unwrap(), &|_, _| {}).unwrap().findings.is_empty());
}

/// docs/query.md describes every table and column the engine has, and nothing else: each table's
/// name and what a row is, each column's name, type, nullability and meaning.
#[test]
fn the_table_reference_matches_the_engine() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/query.md")).unwrap();
    let reference = doc.split("\n## Tables\n").nth(1).expect("docs/query.md has a Tables section");
    // (name, the paragraph under the heading, the column lines)
    let mut documented: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in reference.lines() {
        if let Some(name) = line.strip_prefix("### `").and_then(|l| l.strip_suffix('`')) {
            documented.push((name.to_owned(), String::new(), Vec::new()));
        } else if let Some((_, paragraph, columns)) = documented.last_mut() {
            if line.starts_with("| `") {
                columns.push(line.to_owned());
            } else if paragraph.is_empty() && !line.is_empty() && !line.starts_with('|') {
                *paragraph = line.to_owned();
            }
        }
    }
    let engine = mindlog_query::tables();
    assert_eq!(
        documented.iter().map(|(name, ..)| name.as_str()).collect::<Vec<_>>(),
        engine.iter().map(|t| t.name).collect::<Vec<_>>(),
        "the tables, in order"
    );
    for ((name, paragraph, columns), table) in documented.iter().zip(&engine) {
        let mut sentence = table.doc.to_owned();
        sentence[..1].make_ascii_uppercase();
        assert!(paragraph.starts_with(&sentence), "{name}: the doc says {paragraph:?}, the engine {sentence:?}");
        let expected: Vec<String> = table
            .columns
            .iter()
            .map(|c| {
                let null = if c.nullable { " (nullable)" } else { "" };
                format!("| `{}` | {}{null} | {} |", c.name, c.r#type, c.doc)
            })
            .collect();
        assert_eq!(columns, &expected, "{name}: its columns (name, type, nullability, meaning)");
    }
}

/// Every message, reflection and emotion the persona view applied is a row of its table, with
/// the fields of its event (read back from the payload with the JSON functions), and the
/// counters of `personas` agree.
#[test]
fn messages_reflections_and_emotions_are_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 3000);
    let engine = engine(&ledger);
    let same = |from_view: &str, from_log: &str| {
        let (a, b) = (rows(&engine, from_view), rows(&engine, from_log));
        assert!(!a.is_empty(), "{from_view}: no rows");
        assert_eq!(a, b, "{from_view}\nagainst\n{from_log}");
    };
    same(
        "SELECT hash, role, text, at FROM messages ORDER BY hash",
        "SELECT hash, payload->>'role' AS role, json_get_str(payload, 'text') AS text, ts AS at \
         FROM events WHERE kind = 'persona.message/1' ORDER BY hash",
    );
    same(
        "SELECT hash, text, at FROM reflections ORDER BY hash",
        "SELECT hash, payload->>'text' AS text, ts AS at FROM events WHERE kind = 'persona.reflected/1' ORDER BY hash",
    );
    same(
        "SELECT hash, persona, round(valence, 6) AS valence, round(arousal, 6) AS arousal, label FROM emotions ORDER BY hash",
        "SELECT hash, payload->>'persona' AS persona, round(json_get_float(payload, 'valence'), 6) AS valence, \
         round(json_get_float(payload, 'arousal'), 6) AS arousal, json_get_str(payload, 'label') AS label \
         FROM events WHERE kind = 'persona.emotion-recorded/1' ORDER BY hash",
    );
    same(
        "SELECT persona, count(*) AS n FROM messages GROUP BY persona ORDER BY persona",
        "SELECT id AS persona, messages_user + messages_assistant + messages_system AS n FROM personas \
         WHERE messages_user + messages_assistant + messages_system > 0 ORDER BY id",
    );
    // In log order (`gen`'s timestamps grow with the offset).
    let times: Vec<String> =
        rows(&engine, "SELECT at FROM reflections").iter().map(|r| r["at"].as_str().unwrap().to_owned()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "log order");
}

/// Only what the fold applies is a row: not a message to another author's persona, not one to a
/// retired persona, not an emotion out of range; and the rows agree with the counters the fold
/// keeps, whatever the fold's rules become.
#[test]
fn only_what_the_fold_applies_is_a_row() {
    use mindlog_commands::{
        EmotionRecorded, Event, MessageRecorded, PersonaCreated, PersonaRetired, Reflected, Role, Units,
    };
    use mindlog_ledger::{Draft, Expect};
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let (alice, bob) = (Identity::from_secret(&[1; 32]), Identity::from_secret(&[2; 32]));
    let append = |who: &Identity, event: Event| {
        let draft = Draft {
            kind: event.kind().into(),
            payload: event.encode(),
            refs: event.refs(),
            ts: GEN_EPOCH_MICROS,
            private: false,
        };
        ledger.append(who, vec![draft], Expect::Any).unwrap()[0].hash
    };
    let created = |name: &str| Event::PersonaCreated(PersonaCreated { name: name.into(), description: String::new() });
    let (echo, other) = (append(&alice, created("Echo")), append(&alice, created("Other")));
    let say =
        |persona, text: &str| Event::MessageRecorded(MessageRecorded { persona, role: Role::User, text: text.into() });
    let reflect = |persona, text: &str| Event::Reflected(Reflected { persona, text: text.into() });
    let feel = |persona, valence: i64, label: &str| {
        let (valence, arousal, label) = (Units(valence), Units(500_000), Some(label.to_owned()));
        Event::EmotionRecorded(EmotionRecorded { persona, valence, arousal, label })
    };
    append(&alice, say(echo, "from the owner"));
    append(&bob, say(echo, "from someone else"));
    append(&alice, say(echo, ""));
    append(&alice, reflect(echo, "a reflection"));
    append(&bob, reflect(echo, "someone else's reflection"));
    append(&alice, feel(echo, 200_000, "calm"));
    append(&alice, feel(echo, 2_000_000, "out of range"));
    append(&alice, say(other, "to the other persona"));
    append(&alice, Event::PersonaRetired(PersonaRetired { persona: echo, successor: None, reason: None }));
    append(&alice, say(echo, "after retirement"));
    append(&alice, reflect(echo, "after retirement"));
    append(&alice, feel(echo, 0, "after retirement"));
    append(&alice, say(other, "the other is not retired"));
    let engine = engine(&ledger);
    let texts = |sql: &str| -> Vec<String> {
        rows(&engine, sql).iter().map(|r| r.as_object().unwrap().values().next().unwrap().to_string()).collect()
    };
    let messages = texts("SELECT text FROM messages");
    assert!(messages.contains(&"\"from the owner\"".to_owned()), "{messages:?}");
    for absent in ["from someone else", "after retirement"] {
        assert!(!messages.contains(&format!("\"{absent}\"")), "{absent}: {messages:?}");
    }
    assert_eq!(texts("SELECT text FROM reflections"), ["\"a reflection\""]);
    assert_eq!(texts("SELECT label FROM emotions"), ["\"calm\""]);
    // The tables and the fold's counters agree, persona by persona.
    let counted = rows(
        &engine,
        "SELECT id, messages_user + messages_assistant + messages_system AS messages, reflections, emotions \
         FROM personas ORDER BY id",
    );
    let read = rows(
        &engine,
        "SELECT p.id, (SELECT count(*) FROM messages m WHERE m.persona = p.id) AS messages, \
         (SELECT count(*) FROM reflections r WHERE r.persona = p.id) AS reflections, \
         (SELECT count(*) FROM emotions e WHERE e.persona = p.id) AS emotions FROM personas p ORDER BY id",
    );
    assert_eq!(counted, read);
}

/// No output shows a negative zero, whatever computed it.
#[test]
fn no_negative_zero_in_any_format() {
    SMALL.with(|(engine, ..)| {
        let sql = "SELECT round(-0.0001, 2) AS r, CAST(-0.0 AS DOUBLE) AS z, -0.0 * 1.5 AS m";
        for format in [Format::Table, Format::Csv, Format::Json, Format::Jsonl] {
            let out = run(engine, sql, format).unwrap();
            assert!(!out.contains("-0"), "{format:?}: {out}");
        }
    });
}

/// Every filter the scan takes gives the same rows as DataFusion applying it itself (an
/// expression the scan cannot take, `col || ''`, forces that).
#[test]
fn pushed_down_filters_give_the_same_rows_as_datafusion_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, ids) = store(dir.path(), 3000);
    let engine = engine(&ledger);
    let (a, b) = (ids[0].public_key().to_string(), ids[1].public_key().to_string());
    let upper = a.to_uppercase();
    let cases = [
        format!("author = '{a}' AND kind = 'persona.message/1'"),
        format!("author IN ('{a}', '{b}') AND offset > 100 AND ts < '2026-01-01T03:00:00Z'"),
        format!("(author = '{a}' OR author = '{b}') AND kind IN ('memory.added/1', 'commitment.opened/1')"),
        format!("author = '{upper}'"),
        format!("author = '{a}' AND author = '{b}'"),
        "kind = 'persona.message/1' AND offset BETWEEN 100 AND 900".to_owned(),
        "kind IN ('memory.added/1', 'persona.reflected/1') AND ts >= '2026-01-01T02:00:00Z'".to_owned(),
        "ts BETWEEN '2026-01-01T01:00:00Z' AND '2026-01-01T01:30:00Z' AND offset < 1000".to_owned(),
        "offset < 50 AND offset >= 7".to_owned(),
        "offset = 12".to_owned(),
        "kind = 'absent.event/1'".to_owned(),
    ];
    let offsets = |sql: &str| -> Vec<u64> {
        rows(&engine, sql).into_iter().map(|r| r["offset"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    for case in cases {
        let unpushed = case
            .replace("author", "(author || '')")
            .replace("kind", "(kind || '')")
            .replace("offset", "(offset + 0)")
            .replace("ts ", "(ts + INTERVAL '0 seconds') ");
        let got = offsets(&format!("SELECT offset FROM events WHERE {case} ORDER BY offset"));
        let want = offsets(&format!("SELECT offset FROM events WHERE {unpushed} ORDER BY offset"));
        assert_eq!(got, want, "{case}");
        let plan = explain(&engine, &format!("SELECT offset FROM events WHERE {unpushed}"));
        assert!(
            !plan.contains("_index(") && !plan.contains("log_range"),
            "the comparison query must not be pushed down: {plan}"
        );
    }
    // With a limit, still the first matching rows.
    let got = offsets(&format!("SELECT offset FROM events WHERE author = '{a}' AND offset > 500 LIMIT 3"));
    let want = offsets(&format!(
        "SELECT offset FROM events WHERE (author || '') = '{a}' AND offset > 500 ORDER BY offset LIMIT 3"
    ));
    assert_eq!(got, want);
}

/// A query past a limit stops with its own error, and the same engine answers the next query:
/// the time limit cancels a recursive CTE that never ends, the memory pool stops a string
/// aggregate over a cross join, and `repeat` refuses to build more than the memory limit.
#[test]
fn a_query_past_a_limit_stops_and_the_engine_stays_healthy() {
    use mindlog_query::Limits;
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 300);
    let projections = Projections::new(&ledger);
    projections.catch_up(&|_, _| {}).unwrap();
    let limits = Limits { memory: 8 << 20, time: Some(std::time::Duration::from_millis(500)), ..Limits::default() };
    let options = QueryOptions { limits, ..QueryOptions::default() };
    let engine = QueryEngine::new(projections.views().unwrap(), options).unwrap();
    let count = "SELECT count(*) AS n FROM events";
    assert_eq!(rows(&engine, count)[0]["n"], 300);
    let endless = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t";
    let error = run(&engine, endless, Format::Csv).unwrap_err();
    assert!(matches!(error, QueryError::TimedOut { .. }), "{error:?}");
    assert_eq!(rows(&engine, count)[0]["n"], 300);
    let cross = "SELECT length(string_agg(a.payload, ',')) FROM events a, events b";
    let error = run(&engine, cross, Format::Csv).unwrap_err();
    assert!(matches!(error, QueryError::OutOfMemory { limit } if limit == 8 << 20), "{error:?}");
    let error = run(&engine, "SELECT sum(length(repeat(payload, 100000))) FROM events", Format::Csv).unwrap_err();
    assert!(matches!(error, QueryError::OutOfMemory { .. }), "{error:?}");
    assert!(!error.is_bad_query(), "a limit exits 2");
    assert_eq!(rows(&engine, "SELECT length(repeat('ab', 1000)) AS n")[0]["n"], 2000);
    assert_eq!(rows(&engine, count)[0]["n"], 300);
}
