//! SQL over a generated store: pushdown shown by EXPLAIN, answers checked against the ledger,
//! read-only refusals, output formats, Parquet export, and docs/query.md's examples.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

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
    let projections = Projections::new(ledger);
    projections.catch_up(&|_, _| {}).unwrap();
    let options =
        QueryOptions { as_of: GEN_EPOCH_MICROS + 30 * mindlog_commands::DAY_MICROS, ..QueryOptions::default() };
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
    let plan = explain(&engine, "SELECT count(*) FROM events");
    assert!(plan.contains("access=full_scan"), "{plan}");

    // GROUP BY kind over everything matches the ledger's counts.
    let counted: BTreeMap<String, u64> = rows(&engine, "SELECT kind, count(*) AS n FROM events GROUP BY kind")
        .into_iter()
        .map(|r| (r["kind"].as_str().unwrap().to_owned(), r["n"].as_u64().unwrap()))
        .collect();
    let expected: BTreeMap<String, u64> = ledger.snapshot().unwrap().kind_counts().unwrap().into_iter().collect();
    assert_eq!(counted, expected);

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
    for sql in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM generate_series(1, 3)",
        "SELEC 1",
    ] {
        match run(&engine, sql, Format::Csv) {
            Err(QueryError::Invalid(message)) => assert!(!message.contains('\n'), "{sql}: {message}"),
            other => panic!("{sql}: expected an invalid-query error, got {other:?}"),
        }
    }
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
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/query.md")).unwrap();
    let examples: Vec<&str> =
        doc.split("```sql\n").skip(1).map(|b| b.split("```").next().unwrap_or_default().trim()).collect();
    assert!(examples.len() >= 12, "docs/query.md must give at least a dozen examples, has {}", examples.len());
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = store(dir.path(), 6000);
    let engine = engine(&ledger);
    for sql in examples {
        let result = rows(&engine, sql);
        assert!(!result.is_empty(), "no rows from:\n{sql}");
    }
}

/// docs/query.md describes every table and column the engine has, and nothing else.
#[test]
fn the_table_reference_matches_the_engine() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/query.md")).unwrap();
    let reference = doc.split("\n## Tables\n").nth(1).expect("docs/query.md has a Tables section");
    let mut documented: Vec<(String, Vec<String>)> = Vec::new();
    for line in reference.lines() {
        if let Some(name) = line.strip_prefix("### `").and_then(|l| l.strip_suffix('`')) {
            documented.push((name.to_owned(), Vec::new()));
        } else if let Some(column) = line.strip_prefix("| `").and_then(|l| l.split('`').next()) {
            documented.last_mut().expect("a column under a table").1.push(column.to_owned());
        }
    }
    let engine: Vec<(String, Vec<String>)> = mindlog_query::tables()
        .into_iter()
        .map(|t| (t.name.to_owned(), t.columns.iter().map(|c| c.name.to_owned()).collect()))
        .collect();
    assert_eq!(documented, engine);
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
