//! The views are a function of the set of events: rebuilding from offset 0 gives the same
//! tables as folding incrementally, and stores holding the same events in different arrival
//! orders hold identical views (same digests).

#![allow(clippy::unwrap_used)]

mod common;

use common::{seal, workload};
use mindlog_commands::sim::{GEN_EPOCH_MICROS, Rng};
use mindlog_commands::{Event, Traits, TraitsChanged, Units};
use mindlog_ledger::{Hash, Identity, Ledger, VerifiedEvent};
use mindlog_projections::Projections;
use proptest::prelude::*;

fn digests(projections: &Projections) -> Vec<(String, Hash, u64)> {
    projections.status().unwrap().into_iter().map(|s| (s.view, s.digest, s.rows)).collect()
}

/// What users read: every listing page, both leaderboards, and every reputation as of an instant.
fn pages(projections: &Projections) -> String {
    let views = projections.views().unwrap();
    let mut out = String::new();
    for (id, _, _) in views.listings().unwrap() {
        out += &serde_json::to_string(&views.listing_page(&id).unwrap()).unwrap();
    }
    out += &serde_json::to_string(&views.leaderboard_listings().unwrap()).unwrap();
    out += &serde_json::to_string(&views.leaderboard_creators().unwrap()).unwrap();
    let as_of = GEN_EPOCH_MICROS + 90 * mindlog_commands::DAY_MICROS;
    for subject in views.reputation_subjects().unwrap() {
        out += &serde_json::to_string(&views.reputation(&subject, as_of).unwrap()).unwrap();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn rebuild_equals_incremental_and_order_does_not_matter(
        seed in any::<u64>(),
        cuts in proptest::collection::vec(1usize..400, 1..6),
        merge_seed in any::<u64>(),
    ) {
        let events = workload(seed, 4, 2500);
        let dir = tempfile::tempdir().unwrap();

        // A: events arrive in segments, the views catch up after each.
        let a = Ledger::create(&dir.path().join("a.redb")).unwrap();
        let pa = Projections::new(&a);
        let mut at = 0;
        for cut in cuts.iter().cycle() {
            if at >= events.len() {
                break;
            }
            let end = (at + cut).min(events.len());
            a.ingest(&events[at..end]).unwrap();
            pa.catch_up(&|_, _| {}).unwrap();
            at = end;
        }
        let incremental = digests(&pa);
        for (view, _, rows) in &incremental {
            prop_assert!(*rows > 0, "the workload must fill view {}", view);
        }
        let read = pages(&pa);
        pa.rebuild(None, &|_, _| {}).unwrap();
        prop_assert_eq!(digests(&pa), incremental.clone(), "rebuild from 0 equals incremental");

        // B: the same events, feeds interleaved in another order (each feed still in seq order).
        let mut feeds: Vec<std::collections::VecDeque<VerifiedEvent>> = Vec::new();
        let mut authors = Vec::new();
        for e in &events {
            let slot = match authors.iter().position(|x| *x == e.author()) {
                Some(slot) => slot,
                None => {
                    authors.push(e.author());
                    feeds.push(Default::default());
                    feeds.len() - 1
                }
            };
            feeds[slot].push_back(e.clone());
        }
        let mut rng = Rng::derive(merge_seed, "merge", 0);
        let mut reordered = Vec::new();
        while feeds.iter().any(|f| !f.is_empty()) {
            let live: Vec<usize> = (0..feeds.len()).filter(|&i| !feeds[i].is_empty()).collect();
            let pick = live[rng.below(live.len() as u64) as usize];
            reordered.push(feeds[pick].pop_front().unwrap());
        }
        prop_assert_ne!(reordered.iter().map(|e| e.hash()).collect::<Vec<_>>(), events.iter().map(|e| e.hash()).collect::<Vec<_>>());
        let b = Ledger::create(&dir.path().join("b.redb")).unwrap();
        b.ingest(&reordered).unwrap();
        let pb = Projections::new(&b);
        pb.catch_up(&|_, _| {}).unwrap();
        prop_assert_eq!(digests(&pb), incremental);
        prop_assert_eq!(pages(&pb), read, "market show, leaderboard and rep show --as-of read the same");
    }
}

/// Events that break a view's rules are left out and counted, never applied.
#[test]
fn foreign_and_out_of_range_changes_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("m.redb")).unwrap();
    let projections = Projections::new(&ledger);
    let events = workload(3, 1, 50);
    ledger.ingest(&events).unwrap();
    projections.catch_up(&|_, _| {}).unwrap();
    let views = projections.views().unwrap();
    let (persona, row) = views.personas().unwrap().into_iter().next().unwrap();
    drop(views);

    // Another author tries to change it; its owner tries a delta of 0.2 (decide would refuse).
    let mut stranger_head = (0, None);
    let stranger = Identity::from_secret(&[99; 32]);
    let nudge = |delta: i64| {
        Event::TraitsChanged(TraitsChanged { persona, deltas: Traits { openness: Units(delta), ..Traits::default() } })
    };
    let foreign = seal(&stranger, &mut stranger_head, &nudge(10_000), GEN_EPOCH_MICROS);
    let owner = Identity::from_secret(&[1; 32]);
    let head = ledger.head(&owner.public_key()).unwrap();
    let too_big = seal(&owner, &mut (head.seq, Some(head.hash)), &nudge(200_000), GEN_EPOCH_MICROS);
    ledger.ingest(&[foreign, too_big]).unwrap();
    projections.catch_up(&|_, _| {}).unwrap();

    let after = projections.views().unwrap().persona_row(&persona).unwrap().unwrap();
    assert_eq!(after.traits, row.traits);
    let status = projections.status().unwrap();
    assert_eq!(status[0].ignored, 2, "{status:?}");
}

/// Kinds this build does not know are skipped and counted, never a crash.
#[test]
fn unknown_kinds_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(&dir.path().join("u.redb")).unwrap();
    let me = Identity::from_secret(&[5; 32]);
    let draft = mindlog_ledger::Draft {
        kind: "future.thing/9".into(),
        payload: vec![1, 2, 3],
        refs: vec![],
        ts: 1,
        private: false,
    };
    ledger.append_one(&me, draft).unwrap();
    let bad_payload = mindlog_ledger::Draft {
        kind: "persona.created/1".into(),
        payload: vec![0xff; 3],
        refs: vec![],
        ts: 2,
        private: false,
    };
    ledger.append_one(&me, bad_payload).unwrap();
    let projections = Projections::new(&ledger);
    projections.catch_up(&|_, _| {}).unwrap();
    let status = projections.status().unwrap();
    assert_eq!((status[0].unknown, status[0].checkpoint), (2, 2), "{status:?}");
}
