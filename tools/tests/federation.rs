//! `mindlog node --p2p` end to end: node processes on 127.0.0.1 replicate each other's feeds
//! and end with the same heads and the same view digests; a node that replicates only the
//! followed feeds holds only those; `peers`, `forks`, `/v1/peers` and the metrics show it.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{json, ok, ok_trimmed};

/// A replicating node on a home; killed when dropped.
struct Node {
    child: Child,
    home: PathBuf,
    p2p: String,
    http: String,
}

impl Node {
    fn start(home: &Path, peers: &[&Node]) -> Node {
        let mut args = vec!["--p2p", "/ip4/127.0.0.1/tcp/0"];
        for p in peers {
            args.extend(["--peer", p.p2p.as_str()]);
        }
        let env = [("MINDLOG_SYNC_INTERVAL", "0.3")];
        let (child, found) = common::start_node(home, &args, &env, &["listening on http://", "p2p listening on "]);
        let [http, p2p] = <[String; 2]>::try_from(found).unwrap();
        Node { child, home: home.to_owned(), p2p, http }
    }

    fn heads(&self) -> Vec<(String, u64, String)> {
        let stats = json(&ok(&self.home, &["stats", "--json"]));
        let mut heads: Vec<_> = stats["heads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["author"].as_str().unwrap().to_owned(),
                    h["seq"].as_u64().unwrap(),
                    h["hash"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        heads.sort();
        heads
    }

    fn digests(&self) -> BTreeMap<String, String> {
        let status = json(&ok(&self.home, &["projections", "status", "--json"]));
        status
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["view"].as_str().unwrap().to_owned(), v["digest"].as_str().unwrap().to_owned()))
            .collect()
    }

    fn get(&self, path: &str) -> String {
        let token = std::fs::read_to_string(self.home.join("node.token")).unwrap();
        let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().proxy(None).build());
        let mut response = agent
            .get(&format!("http://{}{path}", self.http))
            .header("Authorization", format!("Bearer {}", token.trim()))
            .call()
            .unwrap();
        response.body_mut().read_to_string().unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !condition() {
        assert!(Instant::now() < deadline, "not within 90 s: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["init"]);
    dir
}

#[test]
fn three_nodes_converge_on_the_same_feeds_and_views_and_a_sparse_node_holds_only_what_it_follows() {
    let homes: Vec<_> = (0..3).map(|_| home()).collect();
    let a = Node::start(homes[0].path(), &[]);
    let b = Node::start(homes[1].path(), &[&a]);
    let c = Node::start(homes[2].path(), &[&a, &b]);
    let keys: Vec<String> = homes.iter().map(|h| ok_trimmed(h.path(), &["identity", "list", "--json"])).collect();
    let key = |i: usize| json(&keys[i])[0]["public_key"].as_str().unwrap().to_owned();

    // Each node's author writes on its own node, all at once: personas, memories, follows,
    // a listing, reputation.
    std::thread::scope(|s| {
        for (i, h) in homes.iter().enumerate() {
            let (me, next) = (format!("P{i}"), key((i + 1) % 3));
            s.spawn(move || {
                let home = h.path();
                ok(home, &["persona", "create", &me, "--description", "a federated persona"]);
                for m in 0..8 {
                    ok(home, &["memory", "add", &me, &format!("memory {m} of {me}"), "--importance", "0.5"]);
                }
                ok(home, &["follow", &next]);
                ok(home, &["rep", "vouch", &next]);
            });
        }
    });
    until("three nodes hold the same heads", || {
        let first = a.heads();
        first.len() == 3 && b.heads() == first && c.heads() == first
    });
    until("and the same view digests", || {
        let first = a.digests();
        b.digests() == first && c.digests() == first
    });
    let personas = json(&ok(homes[2].path(), &["persona", "list", "--json"]));
    assert_eq!(personas.as_array().unwrap().len(), 3, "{personas}");

    // What an operator sees.
    let peers = json(&ok(homes[2].path(), &["peers", "--json"]));
    assert_eq!(peers["peers"].as_array().unwrap().iter().filter(|p| p["connected"] == true).count(), 2, "{peers}");
    assert!(peers["stats"]["events_received"].as_u64().unwrap() > 0, "{peers}");
    let over_http = json(&a.get("/v1/peers"));
    assert_eq!(over_http["peer_id"], json(&std::fs::read_to_string(a.home.join("node.json")).unwrap())["peer_id"]);
    let metrics = a.get("/metrics");
    assert!(metrics.contains("mindlog_p2p_peers 2"), "{metrics}");
    assert!(metrics.contains("mindlog_p2p_events_received_total"), "{metrics}");
    assert_eq!(ok(homes[0].path(), &["forks"]), "no fork proofs held\n");
    // The dashboard's Peers page shows both peers.
    let page = a.get("/ui/peers");
    assert!(page.contains("2 peers") && page.contains(">connected<"), "{page}");
    let c_id = &json(&std::fs::read_to_string(c.home.join("node.json")).unwrap())["peer_id"];
    assert!(page.contains(&c_id.as_str().unwrap()[..12]), "a's page names c: {page}");

    // A fourth node that replicates only its own feed and the authors it follows: a's.
    let d_home = home();
    ok(d_home.path(), &["replicate", "--followed"]);
    ok(d_home.path(), &["follow", &key(0)]);
    let d = Node::start(d_home.path(), &[&a]);
    let seq_of = |node: &Node, author: &str| node.heads().into_iter().find(|h| h.0 == author).map(|h| h.1);
    let a_seq = seq_of(&a, &key(0));
    until("d holds a's feed", || seq_of(&d, &key(0)) == a_seq);
    // A new event of b's: a has it soon, d never does.
    ok(homes[1].path(), &["memory", "add", "P1", "one more", "--importance", "0.5"]);
    let b_seq = seq_of(&b, &key(1));
    until("a has b's new event", || seq_of(&a, &key(1)) == b_seq);
    // Three more rounds of pull sync with a: nothing of b's may come.
    let syncs = || json(&ok(d_home.path(), &["peers", "--json"]))["stats"]["syncs"].as_u64().unwrap();
    let rounds = syncs();
    until("three more sync rounds", || syncs() >= rounds + 3);
    let held: Vec<String> = d.heads().into_iter().map(|(author, _, _)| author).collect();
    assert!(held.contains(&key(0)) && !held.contains(&key(1)) && !held.contains(&key(2)), "{held:?}");
    let shown = ok(d_home.path(), &["replicate"]);
    assert!(shown.starts_with("replicating only these feeds"), "{shown}");
    assert!(shown.contains(&key(0)), "{shown}");
    // Following c while the node runs: c's feed comes, without a restart.
    ok(d_home.path(), &["follow", &key(2)]);
    let c_seq = seq_of(&c, &key(2));
    until("d holds c's feed once it follows c", || seq_of(&d, &key(2)) == c_seq);
}

#[test]
fn peers_without_a_replicating_node_says_how_to_start_one() {
    let h = home();
    let out = common::mindlog(h.path(), &["peers"]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("mindlog node --p2p"), "{err}");
}

#[test]
fn peers_on_a_node_that_does_not_replicate_is_refused() {
    let h = home();
    let (mut child, found) = common::start_node(h.path(), &[], &[], &["listening on http://"]);
    let address = &found[0];
    let out = common::mindlog(h.path(), &["peers"]);
    assert_eq!(out.status.code(), Some(1), "a refusal, not an error");
    assert!(common::stderr(&out).contains("restart it with --p2p"), "{}", common::stderr(&out));
    let token = std::fs::read_to_string(h.path().join("node.token")).unwrap();
    let agent =
        ureq::Agent::new_with_config(ureq::Agent::config_builder().proxy(None).http_status_as_error(false).build());
    let response = agent
        .get(&format!("http://{address}/v1/peers"))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let _ = child.kill();
    let _ = child.wait();
}
