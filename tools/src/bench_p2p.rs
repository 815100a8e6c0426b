//! `mindlog bench p2p`: replication between node processes on 127.0.0.1 (`mindlog node --p2p`),
//! as an operator runs them: the gossip latency from an append on one node to the same event
//! stored on two others, the catch-up of a late joiner, the convergence of five nodes that each
//! wrote on their own while apart, and a node's memory when idle with four peers.

use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::Outcome;
use crate::bench_node::{Node, agent, client, mindlog, now_micros, percentile};
use crate::cli::BenchArgs;
use crate::output::{Format, Report, emit};
use crate::ui::thousands;

/// Nodes of the convergence measure, and events each writes while apart.
const FEDERATION: usize = 5;
const APART_EVENTS: u64 = 10_000;

#[derive(Serialize)]
struct P2pBench {
    cores: usize,
    gossip_events: usize,
    gossip_p50_ms: f64,
    gossip_p99_ms: f64,
    catch_up_events: u64,
    catch_up_seconds: f64,
    catch_up_events_per_second: f64,
    converge_nodes: usize,
    converge_events_each: u64,
    converge_seconds: f64,
    idle_peers: usize,
    idle_rss_mb: f64,
    after_writing_rss_mb: f64,
}

impl Report for P2pBench {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "mindlog bench p2p: node processes on 127.0.0.1, {} cores", self.cores)?;
        writeln!(
            out,
            "  append on one node -> stored on 2 others ({} events): p50 {:.1} ms, p99 {:.1} ms",
            thousands(self.gossip_events as u64),
            self.gossip_p50_ms,
            self.gossip_p99_ms
        )?;
        writeln!(
            out,
            "  late joiner catches up {} events in {:.1} s ({} events/s)",
            thousands(self.catch_up_events),
            self.catch_up_seconds,
            thousands(self.catch_up_events_per_second as u64)
        )?;
        writeln!(
            out,
            "  {} nodes that each wrote {} events apart converge in {:.1} s (from the first node's start)",
            self.converge_nodes,
            thousands(self.converge_events_each),
            self.converge_seconds
        )?;
        writeln!(
            out,
            "  idle node RSS with {} peers: {:.1} MB after a restart; {:.1} MB right after storing their events",
            self.idle_peers, self.idle_rss_mb, self.after_writing_rss_mb
        )
    }
}

/// A replicating node on `home`, dialling `peers`.
fn p2p_node(home: &Path, peers: &[&Node]) -> Result<Node> {
    let mut args = vec!["--p2p".to_owned(), "/ip4/127.0.0.1/tcp/0".to_owned()];
    for p in peers {
        args.push("--peer".into());
        args.push(p.p2p.clone().context("a peer without a p2p address")?);
    }
    Node::start_with(home, &args, &[("MINDLOG_SYNC_INTERVAL", "1")])
}

/// `GET path` on a node, as JSON.
fn get(node: &Node, path: &str) -> Result<serde_json::Value> {
    let mut response = agent()
        .get(&format!("http://{}{path}", node.address))
        .header("Authorization", format!("Bearer {}", node.token))
        .call()?;
    Ok(serde_json::from_str(&response.body_mut().read_to_string()?)?)
}

/// Events in a node's store (`GET /v1/stats`).
fn events(node: &Node) -> Result<u64> {
    get(node, "/v1/stats")?["events"].as_u64().context("stats without events")
}

/// Events in the store of `home`, which no node serves (`mindlog stats`).
fn offline_events(home: &Path) -> Result<u64> {
    let out = std::process::Command::new(std::env::current_exe()?)
        .arg("--home")
        .arg(home)
        .args(["stats", "--json"])
        .output()?;
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    stats["events"].as_u64().context("stats without events")
}

/// Peers a node is connected to (`GET /v1/peers`).
fn connected_peers(node: &Node) -> Result<u64> {
    get(node, "/v1/peers")?["stats"]["peers_connected"].as_u64().context("peers without stats")
}

/// Waits until every node holds `n` events: the seconds since `since`.
fn until_all_hold(nodes: &[&Node], n: u64, since: Instant) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut done = true;
        for node in nodes {
            if events(node)? < n {
                done = false;
                break;
            }
        }
        if done {
            return Ok(since.elapsed().as_secs_f64());
        }
        anyhow::ensure!(Instant::now() < deadline, "the nodes did not hold {n} events within 10 minutes");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Follows `node`'s live events after `after` until `count` arrived: each one's delay from its
/// timestamp (when it was decided on the node that wrote it) to its arrival here.
fn delays(node: &Node, after: u64, count: usize) -> Result<std::thread::JoinHandle<Result<Vec<f64>>>> {
    let response = agent()
        .get(&format!("http://{}/v1/subscribe?after={after}", node.address))
        .header("Authorization", format!("Bearer {}", node.token))
        .call()?;
    Ok(std::thread::spawn(move || {
        let mut lines = BufReader::new(response.into_body().into_reader()).lines();
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let line = lines.next().context("the stream ended")??;
            if let Some(ts) = line.split("\"ts\":").nth(1).and_then(|t| t.split(',').next()?.parse::<u64>().ok()) {
                out.push(now_micros().saturating_sub(ts) as f64 / 1e3);
            }
        }
        Ok(out)
    }))
}

pub(crate) fn run(args: &BenchArgs, format: Format) -> Result<Outcome> {
    let scratch = crate::bench::scratch(args)?;
    let dir = |name: &str| scratch.path().join(name);

    // 1. Gossip latency: one client appends on a; b and c follow their own live tails.
    for name in ["a", "b", "c"] {
        mindlog(&dir(name), &["init"])?;
    }
    let a = p2p_node(&dir("a"), &[])?;
    let b = p2p_node(&dir("b"), &[&a])?;
    let c = p2p_node(&dir("c"), &[&a, &b])?;
    // Let the connections and the gossip mesh form (heartbeats every 0.5 s).
    mindlog(&dir("a"), &["persona", "create", "warm-up"])?;
    until_all_hold(&[&a, &b, &c], 1, Instant::now())?;
    std::thread::sleep(Duration::from_secs(2));
    let count = (args.appends as usize / 4).max(50);
    let (on_b, on_c) = (delays(&b, 1, count)?, delays(&c, 1, count)?);
    client(&a.address, &a.token, None, "gossip", count)?;
    let mut gossip = on_b.join().map_err(|_| anyhow::anyhow!("a reader panicked"))??;
    gossip.extend(on_c.join().map_err(|_| anyhow::anyhow!("a reader panicked"))??);
    drop((a, b, c));

    // 2. A late joiner: a node on a generated store, and an empty node that joins it.
    let big = dir("big");
    mindlog(&big, &["init"])?;
    mindlog(&big, &["gen", "--events", &args.events.to_string(), "--authors", &args.authors.to_string()])?;
    mindlog(&big, &["persona", "list"])?; // the views caught up before the node starts
    let holder = p2p_node(&big, &[])?;
    let held = events(&holder)?;
    mindlog(&dir("late"), &["init"])?;
    let started = Instant::now();
    let late = p2p_node(&dir("late"), &[&holder])?;
    let catch_up_seconds = until_all_hold(&[&late], held, started)?;
    drop((holder, late));

    // 3. Five nodes that each wrote their own feed while apart, started together.
    let mut homes = Vec::new();
    for i in 0..FEDERATION {
        let home = dir(&format!("n{i}"));
        mindlog(&home, &["init"])?;
        let seed = (100 + i).to_string();
        mindlog(&home, &["gen", "--events", &APART_EVENTS.to_string(), "--authors", "1", "--seed", &seed])?;
        homes.push(home);
    }
    let mut total = 0;
    for home in &homes {
        total += offline_events(home)?;
    }
    let started = Instant::now();
    let mut nodes: Vec<Node> = Vec::new();
    for home in &homes {
        let peers: Vec<&Node> = nodes.iter().collect();
        let node = p2p_node(home, &peers)?;
        nodes.push(node);
    }
    let all: Vec<&Node> = nodes.iter().collect();
    let converge_seconds = until_all_hold(&all, total, started)?;
    // 4. A node idle with four peers: its memory just after it took in the others' events
    // (redb's page cache holds what it wrote), and after a restart, connected to the four again.
    std::thread::sleep(Duration::from_secs(3));
    let after_writing_rss_mb = nodes[0].rss_mb();
    let first = nodes.remove(0);
    drop(first);
    let peers: Vec<&Node> = nodes.iter().collect();
    let restarted = p2p_node(&homes[0], &peers)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while connected_peers(&restarted)? < FEDERATION as u64 - 1 {
        anyhow::ensure!(Instant::now() < deadline, "the restarted node did not reconnect to its peers");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let idle_rss_mb = restarted.rss_mb();
    drop((restarted, nodes));

    let report = P2pBench {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        gossip_events: gossip.len(),
        gossip_p50_ms: percentile(&mut gossip, 0.5),
        gossip_p99_ms: percentile(&mut gossip, 0.99),
        catch_up_events: held,
        catch_up_seconds,
        catch_up_events_per_second: held as f64 / catch_up_seconds,
        converge_nodes: FEDERATION,
        converge_events_each: total / FEDERATION as u64,
        converge_seconds,
        idle_peers: FEDERATION - 1,
        idle_rss_mb,
        after_writing_rss_mb,
    };
    emit(&report, format)?;
    Ok(Outcome::Success)
}
