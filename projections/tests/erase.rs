//! Views forget: after an erasure the views hold nothing derived from the erased payloads, and
//! the incremental path (catch up past the erasure) gives the same tables as a rebuild.

#![allow(clippy::unwrap_used)]

mod common;

use common::run;
use mindlog_ledger::{Identity, Ledger};
use mindlog_projections::{MemoryFilter, Projections};

const T0: u64 = 1_767_225_600_000_000;

#[test]
fn an_erased_memory_leaves_the_views_and_the_digests_match_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("mind.redb")).unwrap();
    let projections = Projections::new(&ledger);
    let alice = Identity::from_secret(&[1; 32]);
    let echo = run(&ledger, &projections, &alice, T0, serde_json::json!({"command": "persona.create", "name": "Echo"}));
    let memory = |text: &str, i: u64| serde_json::json!({"command": "memory.add", "persona": "Echo", "text": text, "importance": 0.5 + i as f64 / 10.0});
    run(&ledger, &projections, &alice, T0 + 1, memory("kept one", 0));
    let secret = run(&ledger, &projections, &alice, T0 + 2, memory("the secret never to be found", 1));
    run(&ledger, &projections, &alice, T0 + 3, memory("kept two", 2));
    let views = projections.views().unwrap();
    let texts = |views: &mindlog_projections::Views| -> Vec<String> {
        let all = MemoryFilter { forgotten: true, search: None };
        views.memory_list(&echo.hash, T0 + 10, all).unwrap().into_iter().map(|m| m.text).collect()
    };
    assert!(texts(&views).iter().any(|t| t.contains("secret")));
    drop(views);

    ledger.erase(&alice, &[secret.offset], "asked to forget", T0 + 4).unwrap();
    let report = projections.catch_up(&|_, _| {}).unwrap();
    assert!(report.refolded_for_erasure);
    assert_eq!(texts(&projections.views().unwrap()), ["kept one", "kept two"]);
    let incremental: Vec<_> = projections.status().unwrap().into_iter().map(|s| (s.view, s.digest, s.rows)).collect();
    projections.rebuild(None, &|_, _| {}).unwrap();
    let rebuilt: Vec<_> = projections.status().unwrap().into_iter().map(|s| (s.view, s.digest, s.rows)).collect();
    assert_eq!(incremental, rebuilt);
    // A later catch-up with nothing new does not fold again.
    assert!(!projections.catch_up(&|_, _| {}).unwrap().refolded_for_erasure);
}
