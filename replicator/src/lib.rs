//! mindlog's replicator: nodes find each other over libp2p, push new events to each other
//! (gossipsub), pull what they missed (a request-response sync protocol comparing the heads of
//! the feeds both follow), verify everything they receive through the ledger's verified ingest,
//! catch forks and keep their proofs, and score and block peers that misbehave.
//!
//! It moves signed events and never touches views: a node's projections catch up on what it
//! stores like on any append. docs/replication.md describes the protocols and limits.

#![warn(missing_docs, missing_debug_implementations)]

mod peers;
mod store;
mod swarm;
mod wire;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use libp2p::{Multiaddr, PeerId};
use mindlog_ledger::{Ledger, PublicKey};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

pub use crate::peers::PeerInfo;

/// The store the replicator works on. The replicator takes a handle for each piece of work and
/// drops it after, so that its host can close the store for a moment (a scrub needs the last
/// handle).
pub trait Store: Send + Sync + 'static {
    /// A handle on the store (it may wait while the host holds the store closed).
    fn ledger(&self) -> Result<Ledger, String>;
    /// Changes after every commit to the store.
    fn commits(&self) -> watch::Receiver<u64>;
}

/// A store that is one open [`Ledger`], watched through its commit hook: for tests,
/// benchmarks and hosts without scrubs.
#[derive(Debug, Clone)]
pub struct LedgerStore {
    ledger: Ledger,
    commits: Arc<watch::Sender<u64>>,
}

impl LedgerStore {
    /// Watches `ledger`'s commits (it takes the ledger's one commit hook).
    pub fn new(ledger: Ledger) -> LedgerStore {
        let commits = Arc::new(watch::Sender::new(0));
        let sender = Arc::clone(&commits);
        ledger.on_commit(move || sender.send_modify(|n| *n += 1));
        LedgerStore { ledger, commits }
    }
}

impl Store for LedgerStore {
    fn ledger(&self) -> Result<Ledger, String> {
        Ok(self.ledger.clone())
    }
    fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }
}

/// Which feeds a node replicates: every feed any peer offers, and/or the feeds of some authors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    /// Every feed.
    pub all: bool,
    /// These authors' feeds (besides every feed when `all`).
    pub authors: BTreeSet<PublicKey>,
}

impl Follow {
    /// Every feed.
    pub fn all() -> Follow {
        Follow { all: true, authors: BTreeSet::new() }
    }

    /// Whether `author`'s feed is replicated.
    pub fn follows(&self, author: &PublicKey) -> bool {
        self.all || self.authors.contains(author)
    }
}

/// Limits and timings. The defaults suit a federation node; tests shorten the timings.
#[derive(Clone, Debug)]
pub struct Limits {
    /// How often heads are exchanged with each peer (also on connect).
    pub sync_interval: Duration,
    /// How often configured peers that are not connected are dialled again.
    pub redial_interval: Duration,
    /// Gossip messages a peer may send per second, on average…
    pub gossip_rate: f64,
    /// …and at once.
    pub gossip_burst: f64,
    /// Sync requests of one peer served at once (an honest node sends at most a heads request,
    /// `outbound_fetches` pages and two fork searches at once).
    pub inbound_requests: usize,
    /// Feeds fetched from one peer at once.
    pub outbound_fetches: usize,
    /// A peer whose score falls below this is disconnected and blocked.
    pub disconnect_score: f64,
    /// How long a blocked peer stays blocked.
    pub block_for: Duration,
    /// Events waiting to be verified and stored before gossip is ignored.
    pub max_pending: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            sync_interval: Duration::from_secs(10),
            redial_interval: Duration::from_secs(5),
            gossip_rate: 2000.0,
            gossip_burst: 5000.0,
            inbound_requests: 16,
            outbound_fetches: 8,
            disconnect_score: -100.0,
            block_for: Duration::from_secs(600),
            max_pending: 50_000,
        }
    }
}

/// How to run a replicator.
#[derive(Clone, Debug)]
pub struct Config {
    /// The node's network key (its peer id).
    pub key: NodeKey,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start and again whenever they are not connected (with `/p2p/<id>`).
    pub peers: Vec<Multiaddr>,
    /// Discover peers on the local network with mDNS (multicast: never in tests).
    pub mdns: bool,
    /// Feeds to replicate.
    pub follow: Follow,
    /// Limits and timings.
    pub limits: Limits,
}

/// The node's libp2p identity: an Ed25519 key of its own, separate from every author key (a
/// peer id says nothing about whose feeds a node holds, and a node holds no author key at all
/// when it only relays).
#[derive(Clone)]
pub struct NodeKey(libp2p::identity::Keypair);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey({})", self.peer_id())
    }
}

impl NodeKey {
    /// A new random key.
    pub fn generate() -> NodeKey {
        NodeKey(libp2p::identity::Keypair::generate_ed25519())
    }

    /// The key from its 32 secret bytes.
    pub fn from_secret(mut secret: [u8; 32]) -> NodeKey {
        // ed25519_from_bytes fails only for a wrong length.
        NodeKey(libp2p::identity::Keypair::ed25519_from_bytes(&mut secret).expect("32 bytes"))
    }

    /// The key in `path` (32 secret bytes in hex), made there with mode 0600 when absent.
    pub fn load_or_create(path: &Path) -> Result<NodeKey, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?.permissions().mode();
                    if mode & 0o077 != 0 {
                        return Err(format!("{shown} can be read by others (mode {:o}): chmod 600 it", mode & 0o777));
                    }
                }
                let mut secret = [0u8; 32];
                let text = text.trim();
                if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("{shown} does not hold a node key (64 hex digits)"));
                }
                for (i, byte) in secret.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
                }
                Ok(NodeKey::from_secret(secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = NodeKey::generate();
                let secret = key.secret();
                let text: String = secret.iter().map(|b| format!("{b:02x}")).collect();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                use std::io::Write;
                let mut file = options.open(path).map_err(|e| format!("creating {shown}: {e}"))?;
                file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| format!("{shown}: {e}"))?;
                Ok(key)
            }
            Err(e) => Err(format!("reading {shown}: {e}")),
        }
    }

    fn secret(&self) -> [u8; 32] {
        let pair = self.0.clone().try_into_ed25519().expect("an Ed25519 key");
        let mut out = [0u8; 32];
        out.copy_from_slice(pair.secret().as_ref());
        out
    }

    /// The peer id.
    pub fn peer_id(&self) -> PeerId {
        self.0.public().to_peer_id()
    }
}

/// Counters of what the replicator did, since it started.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) forks: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) rejected: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    pub(crate) disconnected: AtomicU64,
}

impl Counters {
    pub(crate) fn reject(&self, reason: &'static str) {
        *self.rejected.lock().unwrap_or_else(|e| e.into_inner()).entry(reason).or_default() += 1;
    }
}

/// What the replicator did, since it started.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Events received from peers and stored.
    pub events_received: u64,
    /// Events sent to peers (gossip published, and pages served).
    pub events_sent: u64,
    /// Messages and events rejected, by reason.
    pub rejected: std::collections::BTreeMap<String, u64>,
    /// Forks found here.
    pub forks_found: u64,
    /// Peers disconnected for their score.
    pub peers_blocked: u64,
    /// Peers connected now.
    pub peers_connected: u64,
    /// Heads exchanges answered (each a round of pull sync with one peer).
    pub syncs: u64,
}

/// What the replicator and its handles share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    pub(crate) listening: std::sync::Mutex<Vec<Multiaddr>>,
    pub(crate) connected: AtomicU64,
}

/// Why the replicator did not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

/// A request to the running replicator.
pub(crate) enum Command {
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Follow(Follow),
    Dial(Multiaddr),
    Block(PeerId, bool),
    PublishRaw(Vec<u8>),
}

/// The running replicator. Dropping every handle stops it.
#[derive(Clone, Debug)]
pub struct Handle {
    peer_id: PeerId,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Handle {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The addresses it listens on, each with `/p2p/<peer id>`.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.shared.listening.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until it listens on at least one address, for up to `timeout`.
    pub async fn wait_listening(&self, timeout: Duration) -> Vec<Multiaddr> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let addrs = self.listen_addrs();
            if !addrs.is_empty() || tokio::time::Instant::now() >= deadline {
                return addrs;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The peers known, connected or not.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Peers(tx)).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// [`Handle::peers`], from a thread that is not async.
    pub fn peers_blocking(&self) -> Vec<PeerInfo> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Peers(tx)).is_err() {
            return Vec::new();
        }
        rx.blocking_recv().unwrap_or_default()
    }

    /// Replicates these feeds from now on.
    pub fn set_follow(&self, follow: Follow) {
        let _ = self.commands.send(Command::Follow(follow));
    }

    /// Dials a peer.
    pub fn dial(&self, address: Multiaddr) {
        let _ = self.commands.send(Command::Dial(address));
    }

    /// Blocks a peer (its connections close, and it cannot connect) or unblocks it: what an
    /// operator does by hand, and what a test does to partition nodes.
    pub fn block(&self, peer: PeerId, blocked: bool) {
        let _ = self.commands.send(Command::Block(peer, blocked));
    }

    /// Publishes raw bytes on the gossip topic, unchecked: lets a test act as a misbehaving peer.
    #[doc(hidden)]
    pub fn publish_raw(&self, bytes: Vec<u8>) {
        let _ = self.commands.send(Command::PublishRaw(bytes));
    }

    /// What it did so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            events_received: c.received.load(Ordering::Relaxed),
            events_sent: c.sent.load(Ordering::Relaxed),
            rejected: c
                .rejected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            forks_found: c.forks.load(Ordering::Relaxed),
            peers_blocked: c.disconnected.load(Ordering::Relaxed),
            peers_connected: self.shared.connected.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
        }
    }
}

/// Starts a replicator on the current tokio runtime.
pub fn start(store: Arc<dyn Store>, config: Config) -> Result<Handle, StartError> {
    swarm::start(store, config)
}

/// Test-only building blocks: the wire form of gossip, for tests that act as a misbehaving peer.
#[doc(hidden)]
pub mod testing {
    use mindlog_ledger::{PayloadState, SignedEvent};

    use crate::wire::{Gossip, WireEvent, WirePayload, encode};

    /// The gossip message carrying `event` (its payload as given).
    pub fn gossip_event(event: &SignedEvent) -> Vec<u8> {
        let payload = match &event.payload {
            PayloadState::Inline => WirePayload::Inline,
            PayloadState::Present(s) => WirePayload::Present { salt: s.salt, bytes: s.bytes.clone() },
            PayloadState::Erased => WirePayload::Erased,
            PayloadState::Withheld => WirePayload::Withheld,
        };
        encode(&Gossip::Event(WireEvent { bytes: event.bytes.clone(), signature: event.signature, payload }))
    }
}
