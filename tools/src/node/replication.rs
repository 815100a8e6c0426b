//! The node's replication (`mindlog node --p2p`): the replicator started on the node's store,
//! the feeds it replicates, and the commands `peers`, `replicate` and `forks`.
//! docs/replication.md says what travels and what does not.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use mindlog_ledger::{ForkProof, Ledger};
use mindlog_replicator::{Follow, Handle, NodeKey, PeerInfo, Stats};
use serde::{Deserialize, Serialize};

use super::hosted::Hosted;
use crate::Outcome;
use crate::cli::{NodeArgs, ReplicateArgs};
use crate::home::Home;
use crate::output::{Report, emit};

/// The node's libp2p key (its peer id): 32 secret bytes in hex, mode 0600. Not an author key: a
/// peer id says nothing about whose feeds a node holds, and a relay holds no author key at all.
pub(crate) const KEY_FILE: &str = "node.key";
/// Which feeds the node replicates (`mindlog replicate`); absent: every feed.
const MODE_FILE: &str = "replication.json";
/// How often, at most, the feeds followed are worked out again after commits.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// What `replication.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Mode {
    /// Every feed any peer offers (true), or only the followed ones.
    all: bool,
}

fn replicates_all(dir: &Path) -> Result<bool> {
    let path = dir.join(MODE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(serde_json::from_slice::<Mode>(&bytes)
            .with_context(|| format!("{} is not a replication mode: remove it", path.display()))?
            .all),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The feeds this home replicates: every feed in `all` mode; always its own identities' feeds
/// and the feeds of the authors they follow (`mindlog follow`).
fn follow_set(home: &Home, ledger: &Ledger) -> Result<Follow> {
    let mut follow = Follow { all: replicates_all(home.dir())?, authors: Default::default() };
    let mine: Vec<_> = home.identities().unwrap_or_default().into_iter().map(|(_, i)| i.public_key()).collect();
    let projections = mindlog_projections::Projections::new(ledger);
    projections.catch_up(&|_, _| {})?;
    for (follower, target, _) in projections.views()?.follow_rows()? {
        if let mindlog_commands::Target::Key(author) = target
            && mine.contains(&follower)
        {
            follow.authors.insert(author);
        }
    }
    follow.authors.extend(mine);
    Ok(follow)
}

/// The node's store as the replicator sees it: a handle per piece of work, so a scrub can still
/// get the store alone.
struct HostedStore(Arc<Hosted>);

impl mindlog_replicator::Store for HostedStore {
    fn ledger(&self) -> Result<Ledger, String> {
        // Never wait for a scrub: what fails now is gossip ignored, which peers' sync makes good.
        if !self.0.is_open() {
            return Err("the store is closed for a moment (a scrub)".into());
        }
        self.0.ledger().map_err(|e| format!("{e:#}"))
    }
    fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.commits()
    }
}

/// Starts the replicator when the node was asked to (`--p2p`): listens, dials `--peer`s, and
/// keeps the feeds it follows in step with the home's follows. Returns its listen addresses.
pub(crate) async fn start(home: &Home, hosted: &Arc<Hosted>, args: &NodeArgs) -> Result<Option<Handle>> {
    if args.p2p.is_empty() {
        return Ok(None);
    }
    let key = NodeKey::load_or_create(&home.dir().join(KEY_FILE)).map_err(anyhow::Error::msg)?;
    let (hosted2, home2) = (Arc::clone(hosted), home.clone());
    let follow = tokio::task::spawn_blocking(move || follow_set(&home2, &hosted2.ledger()?)).await??;
    let config = mindlog_replicator::Config {
        key,
        listen: args.p2p.clone(),
        peers: args.peer.clone(),
        mdns: args.mdns,
        follow: follow.clone(),
        limits: limits_from_env()?,
    };
    let handle = mindlog_replicator::start(Arc::new(HostedStore(Arc::clone(hosted))), config)?;
    if handle.wait_listening(Duration::from_secs(10)).await.is_empty() {
        anyhow::bail!("the replicator listens on none of {:?}", args.p2p);
    }
    // Every interface of a wildcard address, and every --p2p, is reported within moments.
    let mut seen = handle.listen_addrs().len();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = handle.listen_addrs().len();
        if now == seen {
            break;
        }
        seen = now;
    }
    hosted.set_replicator(handle.clone());
    tokio::spawn(keep_follow_in_step(home.clone(), Arc::clone(hosted), handle.clone(), follow));
    Ok(Some(handle))
}

/// `MINDLOG_SYNC_INTERVAL` (seconds, fractions allowed): how often heads are exchanged with each
/// peer; 10 by default.
fn limits_from_env() -> Result<mindlog_replicator::Limits> {
    let defaults = mindlog_replicator::Limits::default();
    Ok(mindlog_replicator::Limits {
        sync_interval: crate::home::seconds_from_env("MINDLOG_SYNC_INTERVAL", defaults.sync_interval)?,
        ..defaults
    })
}

/// Works the feeds followed out again after commits (at most every [`FOLLOW_EVERY`]): a
/// `mindlog follow` or a new identity takes effect without a restart.
async fn keep_follow_in_step(home: Home, hosted: Arc<Hosted>, handle: Handle, mut current: Follow) {
    let mut commits = hosted.commits();
    loop {
        if commits.changed().await.is_err() {
            commits = hosted.commits();
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
        commits.borrow_and_update();
        let (hosted2, home2) = (Arc::clone(&hosted), home.clone());
        match tokio::task::spawn_blocking(move || follow_set(&home2, &hosted2.ledger()?)).await {
            Ok(Ok(follow)) if follow != current => {
                tracing::info!(all = follow.all, authors = follow.authors.len(), "feeds followed changed");
                handle.set_follow(follow.clone());
                current = follow;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "working out the feeds to follow"),
            Err(_) => return,
        }
    }
}

/// What `mindlog peers` shows.
#[derive(Serialize)]
struct Peers {
    peer_id: String,
    listening: Vec<String>,
    peers: Vec<PeerInfo>,
    stats: Stats,
}

impl Report for Peers {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "this node: {}", self.peer_id)?;
        for address in &self.listening {
            writeln!(out, "  listening on {address}")?;
        }
        if self.peers.is_empty() {
            return writeln!(out, "no peers yet");
        }
        writeln!(
            out,
            "{:<52}  {:<9}  {:<24}  {:>5}  {:>8}  {:>8}  {:>7}  LAST SEEN",
            "PEER", "CONNECTED", "ADDRESS", "FEEDS", "LAG", "AHEAD", "SCORE"
        )?;
        for p in &self.peers {
            let connected = match (&p.blocked_until, p.connected) {
                (Some(_), _) => "blocked",
                (None, true) => "yes",
                (None, false) => "no",
            };
            writeln!(
                out,
                "{:<52}  {:<9}  {:<24}  {:>5}  {:>8}  {:>8}  {:>7.1}  {}",
                p.peer_id,
                connected,
                p.address.as_deref().unwrap_or("-"),
                p.feeds_in_common,
                p.lag,
                p.ahead,
                p.score,
                p.last_seen.as_deref().unwrap_or("-")
            )?;
        }
        let s = &self.stats;
        write!(out, "events received {}, sent {}, forks found {}", s.events_received, s.events_sent, s.forks_found)?;
        if !s.rejected.is_empty() {
            let rejected: Vec<String> = s.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect();
            write!(out, "; rejected: {}", rejected.join(", "))?;
        }
        writeln!(out)
    }
}

/// The running node's replicator; a refusal when the node does not replicate.
fn replicator(home: &Home) -> Result<Result<Handle, crate::refusal::Refusal>> {
    let Some(served) = crate::served::current() else {
        anyhow::bail!(
            "no node serves {}: peers are known to a running node (mindlog node --p2p /ip4/0.0.0.0/tcp/4001)",
            home.dir().display()
        );
    };
    Ok(served.hosted.replicator().cloned().ok_or(crate::refusal::Refusal::NotReplicating))
}

/// `mindlog peers`.
pub(crate) fn peers(home: &Home) -> Result<Outcome> {
    let handle = or_refuse!(replicator(home)?);
    let report = Peers {
        peer_id: handle.peer_id().to_string(),
        listening: handle.listen_addrs().iter().map(ToString::to_string).collect(),
        peers: handle.peers_blocking(),
        stats: handle.stats(),
    };
    emit(&report, home.format())?;
    Ok(Outcome::Success)
}

/// What `mindlog replicate` shows.
#[derive(Serialize)]
struct Replication {
    /// Every feed any peer offers.
    all: bool,
    /// The feeds replicated besides (every feed when `all`): your identities' and those they follow.
    followed: Vec<String>,
}

impl Report for Replication {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.all {
            writeln!(
                out,
                "replicating every feed any peer offers (mindlog replicate --followed for only the followed ones)"
            )?;
        } else {
            writeln!(
                out,
                "replicating only these feeds (mindlog follow KEY adds one; mindlog replicate --all for every feed):"
            )?;
        }
        for author in &self.followed {
            writeln!(out, "  {author}")?;
        }
        Ok(())
    }
}

/// `mindlog replicate [--all | --followed]`.
pub(crate) fn replicate(home: &Home, args: &ReplicateArgs) -> Result<Outcome> {
    if args.all || args.followed {
        let path = home.dir().join(MODE_FILE);
        let bytes = serde_json::to_vec_pretty(&Mode { all: args.all })?;
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let ledger = home.open()?;
    let follow = follow_set(home, &ledger)?;
    if let Some(handle) = crate::served::current().and_then(|s| s.hosted.replicator().cloned()) {
        handle.set_follow(follow.clone());
    }
    let report = Replication { all: follow.all, followed: follow.authors.iter().map(ToString::to_string).collect() };
    emit(&report, home.format())?;
    Ok(Outcome::Success)
}

/// One fork proof as `mindlog forks` shows it.
#[derive(Serialize)]
struct Fork {
    author: String,
    seq: u64,
    /// The two events, in hash order: hash, canonical envelope bytes (base64), signature (hex).
    events: Vec<ForkEvent>,
    /// The whole proof in its portable form (docs/format.md, "Fork proofs"), base64.
    proof: String,
}

#[derive(Serialize)]
struct ForkEvent {
    hash: String,
    ts: u64,
    kind: String,
    signed: String,
    signature: String,
}

#[derive(Serialize)]
#[serde(transparent)]
struct Forks(Vec<Fork>);

impl Report for Forks {
    fn text(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.0.is_empty() {
            return writeln!(out, "no fork proofs held");
        }
        for f in &self.0 {
            writeln!(out, "{} forked its feed at seq {}:", f.author, f.seq)?;
            for e in &f.events {
                writeln!(out, "  {}  {}  {}", e.hash, mindlog_ledger::format_time(e.ts), e.kind)?;
            }
        }
        Ok(())
    }
}

/// `mindlog forks`.
pub(crate) fn forks(home: &Home) -> Result<Outcome> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let ledger = home.open()?;
    let proofs = ledger.snapshot()?.forks()?;
    let report = Forks(
        proofs
            .iter()
            .map(|p: &ForkProof| Fork {
                author: p.author().to_string(),
                seq: p.seq(),
                events: p
                    .events()
                    .iter()
                    .zip(p.envelopes())
                    .zip(p.hashes())
                    .map(|(((bytes, signature), envelope), hash)| ForkEvent {
                        hash: hash.to_string(),
                        ts: envelope.ts,
                        kind: envelope.kind.clone(),
                        signed: b64.encode(bytes),
                        signature: signature.to_string(),
                    })
                    .collect(),
                proof: b64.encode(p.encode()),
            })
            .collect(),
    );
    emit(&report, home.format())?;
    Ok(Outcome::Success)
}
