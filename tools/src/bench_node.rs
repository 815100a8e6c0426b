//! `mindlog bench node`: the node over real HTTP on loopback. Concurrent command clients against
//! one client alone (group commit), the delivery latency of live subscribers while they run, a
//! catch-up over one subscription, and the node's memory when idle. The node and every command
//! that prepares a store run as child processes of this binary, as a user would run them.

use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::Outcome;
use crate::cli::BenchArgs;
use crate::output::{Format, Report, emit};
use crate::ui::thousands;

/// Command clients writing at once.
const CLIENTS: usize = 64;
/// Live subscribers while they write.
const SUBSCRIBERS: usize = 100;

#[derive(Serialize)]
struct NodeBench {
    cores: usize,
    single: Rate,
    concurrent: Rate,
    clients: usize,
    /// Concurrent rate over the single-writer rate.
    group_commit_gain: f64,
    /// CPU time (user + system) per command while the concurrent clients ran: the node's, and
    /// the clients' (this process), which share the machine's cores.
    node_cpu_us_per_command: f64,
    clients_cpu_us_per_command: f64,
    /// The concurrent clients again, while the subscribers receive every event.
    with_subscribers: Rate,
    subscribers: usize,
    delivered_p50_ms: f64,
    delivered_p99_ms: f64,
    catch_up_events: u64,
    catch_up_events_per_second: f64,
    idle_rss_mb: f64,
}

#[derive(Serialize)]
struct Rate {
    events: u64,
    events_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Rate {
    /// The rate of commands whose latencies (ms) are `latencies`.
    fn of(latencies: &mut [f64], events_per_second: f64) -> Rate {
        Rate {
            events: latencies.len() as u64,
            events_per_second,
            p50_ms: percentile(latencies, 0.5),
            p99_ms: percentile(latencies, 0.99),
        }
    }
}

impl Report for NodeBench {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "mindlog bench node: HTTP on 127.0.0.1, {} cores; latencies are p50/p99", self.cores)?;
        let rate = |out: &mut dyn Write, name: &str, r: &Rate| {
            writeln!(
                out,
                "  {name:<28} {:>8} events/s   {:>7.1} / {:>7.1} ms   ({} commands)",
                thousands(r.events_per_second as u64),
                r.p50_ms,
                r.p99_ms,
                thousands(r.events)
            )
        };
        rate(out, "1 client, one after another", &self.single)?;
        rate(out, &format!("{} clients at once", self.clients), &self.concurrent)?;
        writeln!(out, "  group commit gain            {:>8.1}x", self.group_commit_gain)?;
        writeln!(
            out,
            "  CPU per command, {} clients: node {:.0} us, clients {:.0} us (one machine, {} cores)",
            self.clients, self.node_cpu_us_per_command, self.clients_cpu_us_per_command, self.cores
        )?;
        rate(out, &format!("{} clients + {} subscribers", self.clients, self.subscribers), &self.with_subscribers)?;
        writeln!(
            out,
            "  {} subscribers, append -> delivered: {:.1} / {:.1} ms",
            self.subscribers, self.delivered_p50_ms, self.delivered_p99_ms
        )?;
        writeln!(
            out,
            "  catch-up of {} events over one subscription: {} events/s",
            thousands(self.catch_up_events),
            thousands(self.catch_up_events_per_second as u64)
        )?;
        writeln!(out, "  idle node RSS on that store: {:.1} MB", self.idle_rss_mb)
    }
}

/// A node started from this binary; stopped when dropped.
pub(crate) struct Node {
    child: Child,
    pub(crate) address: String,
    pub(crate) token: String,
    /// With `--p2p`: its first p2p address, with `/p2p/<peer id>`.
    pub(crate) p2p: Option<String>,
}

impl Node {
    fn start(home: &Path) -> Result<Node> {
        Node::start_with(home, &[], &[])
    }

    /// A node on `home` with more `args` and environment variables.
    pub(crate) fn start_with(home: &Path, args: &[String], env: &[(&str, &str)]) -> Result<Node> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["node", "--home"])
            .arg(home)
            .args(args)
            .env("MINDLOG_LOG", std::env::var("MINDLOG_LOG").unwrap_or_else(|_| "warn".into()))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the node")?;
        let mut lines = BufReader::new(child.stdout.take().context("the node's stdout")?).lines();
        let first = lines.next().context("the node ended before it listened")??;
        let address = first.strip_prefix("listening on http://").context("the node's first line")?.to_owned();
        let mut p2p = None;
        if args.iter().any(|a| a == "--p2p") {
            for line in lines.by_ref() {
                if let Some(a) = line?.strip_prefix("p2p listening on ") {
                    p2p = Some(a.to_owned());
                    break;
                }
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let token = std::fs::read_to_string(home.join(crate::node::TOKEN_FILE))?.trim().to_owned();
        Ok(Node { child, address, token, p2p })
    }

    /// The node's CPU time so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    pub(crate) fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
        kb.map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("sh").args(["-c", &format!("kill -TERM {}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

/// Runs this binary on `home` with `args`; fails with its stderr.
pub(crate) fn mindlog(home: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(std::env::current_exe()?).arg("--home").arg(home).args(args).output()?;
    anyhow::ensure!(out.status.success(), "mindlog {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    Ok(())
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build())
}

/// `count` commands from one client as identity `as_`, one after another: the latency of each.
pub(crate) fn client(address: &str, token: &str, as_: Option<&str>, tag: &str, count: usize) -> Result<Vec<f64>> {
    let agent = agent();
    let url = match as_ {
        Some(name) => format!("http://{address}/v1/commands?as={name}"),
        None => format!("http://{address}/v1/commands"),
    };
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let body = format!(r#"{{"command":"persona.create","name":"{tag}-{i}"}}"#);
        let started = Instant::now();
        let response = agent
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body)?;
        anyhow::ensure!(response.status() == 200, "a command failed: {}", response.status());
        // Read to the end, so the connection is kept for the next command.
        response.into_body().read_to_vec()?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(latencies)
}

/// `per_client` commands from each of [`CLIENTS`] clients at once: every latency, and the wall
/// time in seconds.
fn clients(node: &Node, per_client: usize, round: &str) -> Result<(Vec<f64>, f64)> {
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (address, token, tag) = (node.address.clone(), node.token.clone(), format!("{round}{c:02}"));
            std::thread::spawn(move || client(&address, &token, Some(&format!("c{c:02}")), &tag, per_client))
        })
        .collect();
    let mut latencies = Vec::new();
    for t in threads {
        latencies.extend(t.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))??);
    }
    Ok((latencies, started.elapsed().as_secs_f64()))
}

/// User + system CPU seconds of the process whose `/proc/PID/stat` is `stat` (Linux; NaN elsewhere).
fn cpu_seconds(stat: &str) -> f64 {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // Fields after the command name (which may hold spaces) end with ')': utime and stime are
    // the 14th and 15th fields, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = text.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

pub(crate) fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() as f64 - 1.0) * p).round() as usize]
}

pub(crate) fn now_micros() -> u64 {
    crate::ui::now_micros()
}

pub(crate) fn run(args: &BenchArgs, format: Format) -> Result<Outcome> {
    let scratch = crate::bench::scratch(args)?;
    // 1. Appends: one client, then 64 at once (each its own identity), with 100 subscribers.
    let home = scratch.path().join("appends");
    mindlog(&home, &["init"])?;
    for c in 0..CLIENTS {
        mindlog(&home, &["identity", "new", &format!("c{c:02}")])?;
    }
    let node = Node::start(&home)?;
    let per_client = (args.appends as usize / CLIENTS).max(10);
    let started = Instant::now();
    let mut single = client(&node.address, &node.token, None, "single", per_client * 4)?;
    let single_rate = single.len() as f64 / started.elapsed().as_secs_f64();

    // 64 clients alone: what group commit does.
    let cpu_before = (node.cpu_seconds(), cpu_seconds("/proc/self/stat"));
    let (mut concurrent, seconds) = clients(&node, per_client, "a")?;
    let concurrent_rate = concurrent.len() as f64 / seconds;
    let per_command = |before: f64, after: f64| (after - before) * 1e6 / concurrent.len() as f64;
    let node_cpu_us_per_command = per_command(cpu_before.0, node.cpu_seconds());
    let clients_cpu_us_per_command = per_command(cpu_before.1, cpu_seconds("/proc/self/stat"));
    let after = single.len() + concurrent.len();
    let ready = Arc::new(Barrier::new(SUBSCRIBERS + 1));
    let expected = CLIENTS * per_client;
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|_| {
            let (address, token, ready) = (node.address.clone(), node.token.clone(), Arc::clone(&ready));
            std::thread::spawn(move || -> Result<Vec<f64>> {
                let response = agent()
                    .get(&format!("http://{address}/v1/subscribe?after={after}"))
                    .header("Authorization", format!("Bearer {token}"))
                    .call()?;
                let mut lines = BufReader::new(response.into_body().into_reader()).lines();
                let mut delays = Vec::with_capacity(expected);
                let mut waiting = true;
                while delays.len() < expected {
                    let line = lines.next().context("the stream ended")??;
                    if waiting && line.contains("\"caught_up\"") {
                        ready.wait();
                        waiting = false;
                        continue;
                    }
                    // The event's ts: when the command was decided, just before its append.
                    if let Some(ts) =
                        line.split("\"ts\":").nth(1).and_then(|t| t.split(',').next()?.parse::<u64>().ok())
                    {
                        delays.push(now_micros().saturating_sub(ts) as f64 / 1e3);
                    }
                }
                Ok(delays)
            })
        })
        .collect();
    ready.wait();
    // The same again while 100 subscribers receive every event.
    let (mut fanned, seconds) = clients(&node, per_client, "b")?;
    let fanned_rate = fanned.len() as f64 / seconds;
    let mut delivered = Vec::new();
    for s in subscribers {
        delivered.extend(s.join().map_err(|_| anyhow::anyhow!("a subscriber thread panicked"))??);
    }
    drop(node);

    // 2. A catch-up over one subscription, and the idle node's memory, on a generated store.
    let big = scratch.path().join("catch-up");
    mindlog(&big, &["init"])?;
    mindlog(&big, &["gen", "--events", &args.events.to_string(), "--authors", &args.authors.to_string()])?;
    mindlog(&big, &["persona", "list"])?; // the views caught up before the node starts
    let node = Node::start(&big)?;
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss_mb = node.rss_mb();
    let started = Instant::now();
    let response = agent()
        .get(&format!("http://{}/v1/subscribe?after=0", node.address))
        .header("Authorization", format!("Bearer {}", node.token))
        .call()?;
    let mut caught_up = 0u64;
    for line in BufReader::with_capacity(1 << 20, response.into_body().into_reader()).lines() {
        let line = line?;
        if line.starts_with("{\"caught_up\"") {
            break;
        }
        caught_up += 1;
    }
    let catch_up_rate = caught_up as f64 / started.elapsed().as_secs_f64();
    drop(node);

    let report = NodeBench {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        single: Rate::of(&mut single, single_rate),
        concurrent: Rate::of(&mut concurrent, concurrent_rate),
        clients: CLIENTS,
        group_commit_gain: concurrent_rate / single_rate,
        node_cpu_us_per_command,
        clients_cpu_us_per_command,
        with_subscribers: Rate::of(&mut fanned, fanned_rate),
        subscribers: SUBSCRIBERS,
        delivered_p50_ms: percentile(&mut delivered, 0.5),
        delivered_p99_ms: percentile(&mut delivered, 0.99),
        catch_up_events: caught_up,
        catch_up_events_per_second: catch_up_rate,
        idle_rss_mb,
    };
    emit(&report, format)?;
    Ok(Outcome::Success)
}
