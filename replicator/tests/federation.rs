//! Several nodes in one process, each with its own store, talking real libp2p on 127.0.0.1:
//! they converge, heal after a partition, catch a late joiner up, replicate sparsely, refuse
//! forgeries, prove forks, and carry erasures but never private payloads.

use std::sync::Arc;
use std::time::Duration;

use mindlog_ledger::{Draft, Expect, Head, Identity, Ledger};
use mindlog_replicator::{Config, Follow, Handle, LedgerStore, Limits, NodeKey};

/// How long any one condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

struct Node {
    ledger: Ledger,
    handle: Handle,
    _dir: tempfile::TempDir,
}

impl Node {
    fn path(&self) -> std::path::PathBuf {
        self.ledger.path().to_owned()
    }

    fn addr(&self) -> libp2p::Multiaddr {
        self.handle.listen_addrs().into_iter().next().expect("listening")
    }

    fn heads(&self) -> Vec<Head> {
        let mut heads = self.ledger.snapshot().expect("snapshot").heads().expect("heads");
        for h in &mut heads {
            h.offset = 0; // arrival order differs between nodes
        }
        heads
    }

    fn forks(&self) -> Vec<Vec<u8>> {
        self.ledger.snapshot().expect("snapshot").forks().expect("forks").iter().map(|p| p.encode()).collect()
    }
}

fn limits() -> Limits {
    Limits {
        sync_interval: Duration::from_millis(300),
        redial_interval: Duration::from_millis(300),
        block_for: Duration::from_secs(600),
        ..Limits::default()
    }
}

async fn node(follow: Follow, peers: Vec<libp2p::Multiaddr>, limits: Limits) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::create(&dir.path().join("mind.redb")).expect("create");
    let store = Arc::new(LedgerStore::new(ledger.clone()));
    let config = Config {
        key: NodeKey::generate(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        peers,
        mdns: false,
        follow,
        limits,
    };
    let handle = mindlog_replicator::start(store, config).expect("start");
    handle.wait_listening(Duration::from_secs(10)).await;
    Node { ledger, handle, _dir: dir }
}

fn draft(i: u64, kind: &str) -> Draft {
    Draft {
        kind: kind.into(),
        payload: format!("event {i} with some words in it").into_bytes(),
        refs: vec![],
        ts: 1_767_225_600_000_000 + i,
        private: false,
    }
}

/// Appends `n` events as `who`, in batches of `batch`.
fn write(ledger: &Ledger, who: &Identity, n: u64, batch: u64) {
    let mut i = 0;
    while i < n {
        let k = batch.min(n - i);
        let drafts = (i..i + k).map(|j| draft(j, "note.added/1")).collect();
        ledger.append(who, drafts, Expect::Any).expect("append");
        i += k;
    }
}

/// Waits until `condition` holds, or fails the test with `what` after the deadline.
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        if tokio::time::Instant::now() > deadline {
            panic!("not within {DEADLINE:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cuts `one` off from `others` (each blocks the other), or joins them again.
fn cut(one: &Node, others: &[&Node], apart: bool) {
    for other in others {
        one.handle.block(other.handle.peer_id(), apart);
        other.handle.block(one.handle.peer_id(), apart);
    }
}

fn converged(nodes: &[&Node]) -> bool {
    let first = nodes[0].heads();
    nodes.iter().all(|n| n.heads() == first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_writing_concurrently_converge() {
    let a = node(Follow::all(), vec![], limits()).await;
    let b = node(Follow::all(), vec![a.addr()], limits()).await;
    let c = node(Follow::all(), vec![a.addr(), b.addr()], limits()).await;
    let writers: Vec<Identity> = (0..3).map(|_| Identity::generate().expect("id")).collect();
    let ledgers = [a.ledger.clone(), b.ledger.clone(), c.ledger.clone()];
    std::thread::scope(|s| {
        for (ledger, who) in ledgers.iter().zip(&writers) {
            s.spawn(move || {
                for round in 0..20 {
                    write(ledger, who, 10, if round % 2 == 0 { 1 } else { 10 });
                }
            });
        }
    });
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !converged(&[&a, &b, &c]) {
        if tokio::time::Instant::now() > deadline {
            for n in [&a, &b, &c] {
                eprintln!("{:?} {:?}", n.heads().iter().map(|h| h.seq).collect::<Vec<_>>(), n.handle.peers().await);
            }
            panic!("not converged");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let heads = a.heads();
    assert_eq!(heads.len(), 3);
    assert!(heads.iter().all(|h| h.seq == 200), "{heads:?}");
    for n in [&a, &b, &c] {
        assert!(n.ledger.verify(&|_| {}).expect("verify").ok);
        assert_eq!(n.ledger.log_len().expect("len"), 600);
    }
    let stats = b.handle.stats();
    assert!(stats.events_received >= 400, "{stats:?}");
    assert!(stats.rejected.is_empty(), "nothing is rejected among honest nodes: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_heals_through_pull_sync() {
    let a = node(Follow::all(), vec![], limits()).await;
    let b = node(Follow::all(), vec![a.addr()], limits()).await;
    let c = node(Follow::all(), vec![a.addr(), b.addr()], limits()).await;
    let (x, y) = (Identity::generate().expect("id"), Identity::generate().expect("id"));
    write(&a.ledger, &x, 5, 5);
    until("the first events spread", || converged(&[&a, &b, &c])).await;
    // {a} | {b, c}
    cut(&a, &[&b, &c], true);
    until("a is cut off", || a.handle.stats().peers_connected == 0).await;
    write(&a.ledger, &x, 300, 7);
    write(&c.ledger, &y, 300, 11);
    until("b and c converge without a", || converged(&[&b, &c])).await;
    assert!(!converged(&[&a, &b]), "a partition lets nothing through");
    cut(&a, &[&b, &c], false);
    until("all three converge after the partition", || converged(&[&a, &b, &c])).await;
    assert!(a.heads().iter().all(|h| h.seq >= 300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_receives_every_event() {
    let a = node(Follow::all(), vec![], limits()).await;
    let writers: Vec<Identity> = (0..4).map(|_| Identity::generate().expect("id")).collect();
    for who in &writers {
        write(&a.ledger, who, 25_000, 5_000);
    }
    let late = node(Follow::all(), vec![a.addr()], limits()).await;
    // The authors go on writing while it catches up.
    let (ledger, more) = (a.ledger.clone(), writers.clone());
    let writing = std::thread::spawn(move || {
        for round in 0..100 {
            write(&ledger, &more[round % 4], 10, if round % 2 == 0 { 1 } else { 10 });
        }
    });
    until("the late joiner holds the first 100,000 events", || late.ledger.log_len().expect("len") >= 100_000).await;
    writing.join().expect("writer");
    until("and every event written since", || converged(&[&a, &late])).await;
    assert_eq!(late.ledger.log_len().expect("len"), 101_000);
    assert!(late.ledger.verify(&|_| {}).expect("verify").ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_follower_holds_only_the_feeds_it_follows() {
    let a = node(Follow::all(), vec![], limits()).await;
    let (x, y) = (Identity::generate().expect("id"), Identity::generate().expect("id"));
    write(&a.ledger, &x, 50, 10);
    write(&a.ledger, &y, 50, 10);
    let only_x = Follow { all: false, authors: [x.public_key()].into_iter().collect() };
    let b = node(only_x, vec![a.addr()], limits()).await;
    until("b holds x's feed", || b.ledger.head(&x.public_key()).is_some_and(|h| h.seq == 50)).await;
    // New events of both: gossip brings x's, and y's are neither gossiped to b's store nor pulled.
    write(&a.ledger, &x, 10, 1);
    write(&a.ledger, &y, 10, 1);
    until("b holds x's new events", || b.ledger.head(&x.public_key()).is_some_and(|h| h.seq == 60)).await;
    // Two more rounds of pull sync: nothing of y may come.
    let rounds = b.handle.stats().syncs;
    until("two more sync rounds", || b.handle.stats().syncs >= rounds + 2).await;
    assert!(b.ledger.head(&y.public_key()).is_none(), "b never stores a feed it does not follow");
    assert_eq!(b.ledger.log_len().expect("len"), 60);
}

/// A signed event of `who` at `seq` after `prev`, as another node would gossip it.
fn event(who: &Identity, seq: u64, prev: Option<mindlog_ledger::Hash>, i: u64) -> mindlog_ledger::SignedEvent {
    let sealed = draft(i, "note.added/1").seal(who.public_key(), seq, prev, [9; 32]).expect("seal");
    let event = sealed.sign(who);
    mindlog_ledger::SignedEvent {
        bytes: event.bytes().to_vec(),
        signature: event.signature(),
        payload: event.payload_state().clone(),
    }
}

/// Waits until `other` is in `node`'s gossip mesh (gossip before that is not forwarded to it).
async fn in_mesh(node: &Node, other: &Node) {
    let id = other.handle.peer_id().to_string();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !node.handle.peers().await.iter().any(|p| p.peer_id == id && p.in_mesh) {
        assert!(tokio::time::Instant::now() < deadline, "never in the mesh");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn score_of(peers: &[mindlog_replicator::PeerInfo], id: &libp2p::PeerId) -> f64 {
    peers.iter().find(|p| p.peer_id == id.to_string()).map_or(0.0, |p| p.score)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgeries_are_rejected_and_a_flood_gets_the_peer_blocked() {
    let honest = node(Follow::all(), vec![], limits()).await;
    let bad = node(Follow::all(), vec![honest.addr()], limits()).await;
    let bad_id = bad.handle.peer_id();
    until("connected", || honest.handle.stats().peers_connected == 1).await;
    let who = Identity::generate().expect("id");
    write(&bad.ledger, &who, 3, 3);
    until("the honest node has the first events", || honest.ledger.head(&who.public_key()).is_some()).await;
    in_mesh(&honest, &bad).await;
    let head = bad.ledger.head(&who.public_key()).expect("head");

    // A bad signature.
    let mut forged = event(&who, 4, Some(head.hash), 100);
    forged.signature.0[0] ^= 1;
    bad.handle.publish_raw(mindlog_replicator::testing::gossip_event(&forged));
    until("the forgery is counted", || honest.handle.stats().rejected.get("bad_signature") == Some(&1)).await;
    let after_forgery = score_of(&honest.handle.peers().await, &bad_id);
    assert!(after_forgery < 0.0, "{after_forgery}");

    // A validly signed event whose prev is not the feed's head.
    let broken = event(&who, 4, Some(mindlog_ledger::Hash([7; 32])), 101);
    bad.handle.publish_raw(mindlog_replicator::testing::gossip_event(&broken));
    until("the broken chain is counted", || honest.handle.stats().rejected.get("broken_chain") == Some(&1)).await;
    assert!(score_of(&honest.handle.peers().await, &bad_id) < after_forgery);
    assert_eq!(honest.ledger.head(&who.public_key()).expect("head").seq, 3, "nothing unverified is stored");

    // Garbage, again and again: each costs the peer score, until it is disconnected and blocked.
    for i in 0u32..200 {
        bad.handle.publish_raw([b"not a message ".as_slice(), &i.to_be_bytes()].concat());
    }
    until("the flooder is blocked", || honest.handle.stats().peers_blocked == 1).await;
    until("and disconnected", || honest.handle.stats().peers_connected == 0).await;
    let peers = honest.handle.peers().await;
    let info = peers.iter().find(|p| p.peer_id == bad_id.to_string()).expect("known");
    assert!(info.blocked_until.is_some() && !info.connected, "{info:?}");
    assert!(honest.handle.stats().rejected.get("malformed").copied().unwrap_or(0) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_flood_of_valid_messages_gets_the_peer_blocked() {
    // Messages that are each fine (events of a feed nobody follows) but far too many at once.
    let strict = Limits { gossip_rate: 20.0, gossip_burst: 20.0, ..limits() };
    let nobody = Follow { all: false, authors: Default::default() };
    let honest = node(nobody, vec![], strict).await;
    let bad = node(Follow::all(), vec![honest.addr()], limits()).await;
    until("connected", || honest.handle.stats().peers_connected == 1).await;
    in_mesh(&honest, &bad).await;
    let who = Identity::generate().expect("id");
    let mut prev = None;
    for seq in 1..=400 {
        let e = event(&who, seq, prev, seq);
        prev = Some(mindlog_ledger::hash_envelope_bytes(&e.bytes));
        bad.handle.publish_raw(mindlog_replicator::testing::gossip_event(&e));
    }
    until("the flooder is blocked", || honest.handle.stats().peers_blocked == 1).await;
    assert!(honest.handle.stats().rejected.get("flood").copied().unwrap_or(0) >= 100);
    assert_eq!(honest.ledger.log_len().expect("len"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_on_two_sides_of_a_partition_ends_as_one_proof_everywhere() {
    let a = node(Follow::all(), vec![], limits()).await;
    let b = node(Follow::all(), vec![a.addr()], limits()).await;
    let c = node(Follow::all(), vec![a.addr(), b.addr()], limits()).await;
    let x = Identity::generate().expect("id");
    write(&a.ledger, &x, 10, 10);
    until("x's feed spreads", || converged(&[&a, &b, &c])).await;
    // {a} | {b, c}; x's key signs a different seq 11 on each side.
    cut(&a, &[&b, &c], true);
    until("a is cut off", || a.handle.stats().peers_connected == 0).await;
    write(&a.ledger, &x, 3, 1);
    write(&b.ledger, &x, 2, 2);
    until("c follows b's branch", || c.ledger.head(&x.public_key()).is_some_and(|h| h.seq == 12)).await;
    cut(&a, &[&b, &c], false);
    until("every node holds the fork proof", || [&a, &b, &c].iter().all(|n| !n.forks().is_empty())).await;
    until("the same proofs", || {
        let first = a.forks();
        [&b, &c].iter().all(|n| n.forks() == first)
    })
    .await;
    for n in [&a, &b, &c] {
        let stats = n.handle.stats();
        assert_eq!(stats.peers_blocked, 0, "relaying a fork is no fault: {stats:?}");
        assert!(!stats.rejected.contains_key("broken_chain"), "{stats:?}");
    }
    let proofs = a.ledger.snapshot().expect("snapshot").forks().expect("forks");
    assert_eq!(proofs.len(), 1, "{proofs:?}");
    assert_eq!((proofs[0].author(), proofs[0].seq()), (x.public_key(), 11));
    // Each side keeps its own branch: no feed is extended with the other one.
    assert_eq!(a.ledger.head(&x.public_key()).expect("head").seq, 13);
    assert_eq!(b.ledger.head(&x.public_key()).expect("head").seq, 12);
    for n in [&a, &b, &c] {
        assert!(n.ledger.verify(&|_| {}).expect("verify").ok);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasures_travel_and_private_payloads_never_do() {
    let a = node(Follow::all(), vec![], limits()).await;
    let b = node(Follow::all(), vec![a.addr()], limits()).await;
    let who = Identity::generate().expect("id");
    let secret = "PRIVATE-MARKER-7c1e";
    let erasable = "ERASABLE-MARKER-93ab";
    let drafts = vec![
        Draft {
            private: true,
            payload: format!("{secret} a private thought").into_bytes(),
            ..draft(0, "memory.added/1")
        },
        Draft { payload: format!("{erasable} a memory to forget").into_bytes(), ..draft(1, "memory.added/1") },
        draft(2, "note.added/1"),
    ];
    let appended = a.ledger.append(&who, drafts, Expect::Any).expect("append");
    until("b holds the three events", || b.ledger.head(&who.public_key()).is_some_and(|h| h.seq == 3)).await;
    let payloads = |n: &Node| {
        let snapshot = n.ledger.snapshot().expect("snapshot");
        snapshot.events(0..3).expect("events").map(|e| e.expect("event").payload.name()).collect::<Vec<_>>()
    };
    assert_eq!(payloads(&b), ["withheld", "present", "present"]);
    a.ledger.erase(&who, &[appended[1].offset], "forget it", 1_767_225_700_000_000).expect("erase");
    until("the erasure reaches b", || b.ledger.head(&who.public_key()).is_some_and(|h| h.seq == 4)).await;
    assert_eq!(payloads(&b), ["withheld", "erased", "present"]);
    // Scrub b so the erased bytes leave its file, then look for both markers in b's raw bytes.
    let path = b.path();
    let Node { ledger, handle, _dir } = b;
    drop(handle);
    until("the replicator lets go of the store", || ledger.handles() == 1).await;
    ledger.scrub().expect("scrub");
    let raw = std::fs::read(&path).expect("read");
    let found = |marker: &str| raw.windows(marker.len()).any(|w| w == marker.as_bytes());
    assert!(!found(secret), "a private payload reached another node");
    assert!(!found(erasable), "an erased payload stayed on another node");
    assert!(found("event 2 with some words"), "the check can see a payload that is there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_behind_pages_cut_short_by_their_size_is_still_found() {
    // Events of 200 kB: an answer of 4 MiB holds about 20 of them, fewer than a search step asks.
    let big = |i: u64| Draft { payload: vec![b'x'; 200_000], ..draft(i, "note.added/1") };
    let a = node(Follow::all(), vec![], limits()).await;
    let b = node(Follow::all(), vec![a.addr()], limits()).await;
    let x = Identity::generate().expect("id");
    for i in 0..70 {
        a.ledger.append(&x, vec![big(i)], Expect::Any).expect("append");
    }
    until("x's feed reaches b", || b.ledger.head(&x.public_key()).is_some_and(|h| h.seq == 70)).await;
    cut(&a, &[&b], true);
    until("apart", || a.handle.stats().peers_connected == 0 && b.handle.stats().peers_connected == 0).await;
    a.ledger.append(&x, vec![big(100)], Expect::Any).expect("append");
    b.ledger.append(&x, vec![big(200)], Expect::Any).expect("append");
    cut(&a, &[&b], false);
    until("both hold the proof", || !a.forks().is_empty() && a.forks() == b.forks()).await;
    let proofs = a.ledger.snapshot().expect("snapshot").forks().expect("forks");
    assert_eq!(proofs[0].seq(), 71);
    for n in [&a, &b] {
        assert!(!n.handle.stats().rejected.contains_key("broken_chain"), "{:?}", n.handle.stats());
    }
}
