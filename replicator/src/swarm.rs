//! The replicator's event loop: one task owns the libp2p swarm and every peer's state; the
//! store's work runs on the writer thread ([`crate::store`]) and on blocking threads.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use libp2p::request_response::{self, InboundRequestId, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, Swarm, allow_block_list, connection_limits, gossipsub, identify, mdns, noise, tcp, yamux,
};
use mindlog_ledger::{Hash, PublicKey};
use tokio::sync::mpsc;

use crate::peers::{Peer, PeerInfo, penalty};
use crate::store::{self, Done, Job, Outcome, Source, read};
use crate::wire::{self, Gossip, MAX_GOSSIP, Request, Response, WireHead};
use crate::{Command, Config, Follow, Handle, Limits, Shared, StartError, Store};

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<wire::Codec>,
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
}

/// Connections at once, all peers together.
const MAX_CONNECTIONS: u32 = 512;
/// Heads kept of one peer (a heads answer of 8 MiB holds about 110,000).
const MAX_HEADS_PER_PEER: usize = 100_000;
/// Gossip bytes waiting to be verified and stored: of one peer, and of all.
const MAX_PENDING_BYTES_PER_PEER: usize = 16 << 20;
const MAX_PENDING_BYTES: usize = 128 << 20;
/// Peers remembered before those gone and not blocked are forgotten.
const MAX_PEER_ENTRIES: usize = 4096;
/// Our fork searches and fork-proof requests to one peer at once.
const MAX_OTHER_REQUESTS: usize = 2;
/// Pages of one feed handed to the writer and not yet stored, before the next is asked for.
const PAGES_AHEAD: usize = 4;
/// Events compared per step of a fork search.
const PROBE_EVENTS: u64 = 64;

/// A request of ours in flight.
#[derive(Debug)]
enum Pending {
    Heads,
    Page { author: PublicKey, from: u64, to: u64, fetch: u64 },
    Probe { author: PublicKey, from: u64, to: u64, blame: bool },
    Forks,
}

/// A peer's head beside ours: our head of its feed, and our hash at its seq (when ours is longer
/// and its head is new).
type Compared = (WireHead, Option<(u64, Hash)>, Option<Hash>);

/// A blocking read done for the loop.
enum Read {
    /// An answer to a peer's request.
    Answer {
        peer: PeerId,
        request: InboundRequestId,
        channel: ResponseChannel<Response>,
        response: Response,
        heads: bool,
    },
    /// Our side of a peer's heads: our head of each, and our hash at the peer's seq when ours is longer.
    Compared { peer: PeerId, rows: Vec<Compared>, forks_differ: bool },
    /// Our heads of some authors, to answer [`Command::Peers`].
    Local(HashMap<PublicKey, (u64, Hash)>, tokio::sync::oneshot::Sender<Vec<PeerInfo>>),
    /// Our side of a peer's heads could not be read (the store was closed): compare every head
    /// of that peer for forks at the next answer, as those told now are not told again.
    NotCompared { peer: PeerId },
}

fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    // An event's message id is its hash and its payload state: the same event from any peer is
    // one message, and a copy without its payload cannot shadow the copy with it. The envelope
    // bytes are the first field of `Gossip::Event` (variant 0, then a varint length), then the
    // 64-byte signature, then the payload's variant.
    let data = &message.data;
    if data.first() == Some(&0) {
        let (mut len, mut shift, mut at) = (0usize, 0u32, 1usize);
        while let Some(&b) = data.get(at) {
            at += 1;
            if shift > 28 {
                break;
            }
            len |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if let Some(bytes) = data.get(at..at + len) {
                    let mut id = mindlog_ledger::hash_envelope_bytes(bytes).0.to_vec();
                    id.push(data.get(at + len + 64).copied().unwrap_or(0xff));
                    return gossipsub::MessageId::from(id);
                }
                break;
            }
        }
    }
    gossipsub::MessageId::from(blake3::hash(data).as_bytes().to_vec())
}

fn build_swarm(config: &Config) -> Result<Swarm<Behaviour>, StartError> {
    let fail = |e: &dyn std::fmt::Display| StartError(format!("starting the replicator: {e}"));
    let mdns_on = config.mdns;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(config.key.0.clone())
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| fail(&e))?
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .message_id_fn(message_id)
                .max_transmit_size(MAX_GOSSIP)
                .heartbeat_interval(Duration::from_millis(500))
                .build()
                .map_err(|e| e.to_string())?;
            let mut gossipsub =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gossip_config)?;
            // gossipsub's own score counts invalid messages (what we Reject); the rest of its
            // score is off: nodes on one host (one IP) are normal here, and a quiet feed is no fault.
            let topic = gossipsub::IdentTopic::new(wire::TOPIC).hash();
            let mut params = gossipsub::PeerScoreParams {
                ip_colocation_factor_weight: 0.0,
                app_specific_weight: 0.0,
                ..Default::default()
            };
            params.topics.insert(
                topic,
                gossipsub::TopicScoreParams {
                    topic_weight: 1.0,
                    time_in_mesh_weight: 0.0,
                    first_message_deliveries_weight: 0.0,
                    mesh_message_deliveries_weight: 0.0,
                    mesh_failure_penalty_weight: 0.0,
                    invalid_message_deliveries_weight: -10.0,
                    invalid_message_deliveries_decay: 0.5,
                    ..Default::default()
                },
            );
            gossipsub.with_peer_score(params, gossipsub::PeerScoreThresholds::default())?;
            let identify = identify::Behaviour::new(
                identify::Config::new(wire::PROTOCOL_VERSION.into(), key.public())
                    .with_agent_version(format!("mindlog/{}", env!("CARGO_PKG_VERSION"))),
            );
            let sync = request_response::Behaviour::with_codec(
                wire::Codec,
                [(wire::SYNC_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
            );
            let mdns = if mdns_on {
                Some(mdns::tokio::Behaviour::new(mdns::Config::default(), key.public().to_peer_id())?)
            } else {
                None
            };
            let limits = connection_limits::Behaviour::new(
                connection_limits::ConnectionLimits::default()
                    .with_max_established_per_peer(Some(2))
                    .with_max_established(Some(MAX_CONNECTIONS))
                    .with_max_pending_incoming(Some(64)),
            );
            Ok(Behaviour { identify, gossipsub, sync, blocked: Default::default(), limits, mdns: Toggle::from(mdns) })
        })
        .map_err(|e| fail(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    Ok(swarm)
}

pub(crate) fn start(store: Arc<dyn Store>, config: Config) -> Result<Handle, StartError> {
    let mut swarm = build_swarm(&config)?;
    let topic = gossipsub::IdentTopic::new(wire::TOPIC);
    swarm.behaviour_mut().gossipsub.subscribe(&topic).map_err(|e| StartError(e.to_string()))?;
    for address in &config.listen {
        swarm.listen_on(address.clone()).map_err(|e| StartError(format!("listening on {address}: {e}")))?;
    }
    let shared = Arc::new(Shared::default());
    let (jobs_tx, jobs_rx) = std_mpsc::channel();
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    store::start_writer(Arc::clone(&store), Arc::clone(&shared), config.follow.clone(), jobs_rx, done_tx)
        .map_err(|e| StartError(format!("starting the replicator's writer: {e}")))?;
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (reads_tx, reads_rx) = mpsc::unbounded_channel();
    let peer_id = *swarm.local_peer_id();
    let configured = config.peers.iter().map(|a| (a.clone(), peer_of(a))).collect();
    let node = Node {
        swarm,
        store,
        shared: Arc::clone(&shared),
        limits: config.limits.clone(),
        follow: config.follow.clone(),
        topic,
        jobs: jobs_tx,
        reads: reads_tx,
        peers: HashMap::new(),
        fetches: HashMap::new(),
        fetch_numbers: 0,
        requests: HashMap::new(),
        local: HashMap::new(),
        configured,
        pending_events: 0,
        pending_bytes: 0,
    };
    tokio::spawn(node.run(commands_rx, done_rx, reads_rx));
    Ok(Handle { peer_id, shared, commands: commands_tx })
}

fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    address.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// A feed being fetched from one peer, page after page: the next page is asked for as soon as
/// the last one arrives (while the writer stores it), up to [`PAGES_AHEAD`] pages ahead.
#[derive(Debug)]
struct Fetch {
    peer: PeerId,
    /// The seq it fetches up to (the peer's head when it started).
    to: u64,
    /// Its number: answers to an earlier fetch of the feed are dropped.
    number: u64,
    /// The seq the next page starts at.
    next: u64,
    /// A page request is in flight.
    asking: bool,
    /// Pages handed to the writer, not yet stored.
    queued: usize,
}

struct Node {
    swarm: Swarm<Behaviour>,
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    limits: Limits,
    follow: Follow,
    topic: gossipsub::IdentTopic,
    jobs: std_mpsc::Sender<Job>,
    reads: mpsc::UnboundedSender<Read>,
    peers: HashMap<PeerId, Peer>,
    /// Feeds being fetched (one peer per feed), and the number the next fetch gets.
    fetches: HashMap<PublicKey, Fetch>,
    fetch_numbers: u64,
    requests: HashMap<OutboundRequestId, (PeerId, Pending)>,
    /// Our heads, as far as the loop has learnt them (the store is the truth; this plans fetches).
    local: HashMap<PublicKey, u64>,
    /// Peers to keep connected to.
    configured: Vec<(Multiaddr, Option<PeerId>)>,
    /// Gossip events sent to the writer and not yet done, and their bytes.
    pending_events: usize,
    pending_bytes: usize,
}

impl Node {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut done: mpsc::UnboundedReceiver<Done>,
        mut reads: mpsc::UnboundedReceiver<Read>,
    ) {
        let mut commits = self.store.commits();
        let mut sync = tokio::time::interval(self.limits.sync_interval);
        sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut redial = tokio::time::interval(self.limits.redial_interval);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first read of the tail sets where publishing starts.
        self.send_job(Job::Tail);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm(event),
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                Some(report) = done.recv() => self.on_done(report),
                Some(read) = reads.recv() => self.on_read(read),
                changed = commits.changed() => {
                    if changed.is_err() {
                        // The host's store went away for good.
                        commits = self.store.commits();
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    self.send_job(Job::Tail);
                }
                _ = sync.tick() => self.exchange_heads(),
                _ = redial.tick() => self.redial(),
            }
        }
        tracing::info!("replicator stopped");
    }

    /// Hands work to the writer thread; false if it has stopped (then nothing is done).
    fn send_job(&self, job: Job) -> bool {
        let sent = self.jobs.send(job).is_ok();
        if !sent {
            tracing::error!("the replicator's writer has stopped");
        }
        sent
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Peers(reply) => {
                let authors: Vec<PublicKey> = self.peers.values().flat_map(|p| p.heads.keys().copied()).collect();
                let store = Arc::clone(&self.store);
                let reads = self.reads.clone();
                tokio::task::spawn_blocking(move || {
                    let local = store.ledger().map(|l| read::local_heads(&l, &authors)).unwrap_or_default();
                    let _ = reads.send(Read::Local(local, reply));
                });
            }
            Command::Follow(follow) => {
                self.follow = follow.clone();
                self.send_job(Job::Follow(follow));
                // Our next heads request names the feeds now followed; peers answer with their
                // heads of those (none was told to us yet).
                self.exchange_heads();
            }
            Command::Dial(address) => {
                if let Err(e) = self.swarm.dial(address.clone()) {
                    tracing::warn!(%address, error = %e, "dialling");
                }
            }
            Command::Block(peer, blocked) => {
                if blocked {
                    self.swarm.behaviour_mut().blocked.block_peer(peer);
                } else {
                    self.swarm.behaviour_mut().blocked.unblock_peer(peer);
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.blocked_until = None;
                    }
                }
            }
            Command::PublishRaw(bytes) => {
                let _ = self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), bytes);
            }
        }
    }

    fn peer(&mut self, id: PeerId) -> &mut Peer {
        let burst = self.limits.gossip_burst;
        self.peers.entry(id).or_insert_with(|| Peer::new(burst))
    }

    /// Lowers a peer's score; below the threshold it is disconnected and blocked for a while.
    fn penalise(&mut self, id: PeerId, by: f64, reason: &'static str) {
        self.shared.counters.reject(reason);
        let threshold = self.limits.disconnect_score;
        let block_for = self.limits.block_for;
        // gossipsub ignores a peer below its graylist threshold (for the invalid messages we
        // rejected): such a peer is blocked too, or it could stay connected, ignored, forever.
        let graylisted = self
            .swarm
            .behaviour()
            .gossipsub
            .peer_score(&id)
            .is_some_and(|s| s < gossipsub::PeerScoreThresholds::default().graylist_threshold);
        let peer = self.peer(id);
        let score = peer.penalise(by);
        tracing::debug!(peer = %id, reason, score, "peer penalised");
        if (score < threshold || graylisted) && peer.blocked_until.is_none() {
            peer.blocked_until = Some(SystemTime::now() + block_for);
            tracing::warn!(peer = %id, score, reason, blocked_s = block_for.as_secs(), "peer blocked");
            self.shared.counters.disconnected.fetch_add(1, Ordering::Relaxed);
            self.swarm.behaviour_mut().blocked.block_peer(id);
        }
    }

    fn redial(&mut self) {
        // Peer ids cost nothing to make: past a bound, forget peers that are gone and not blocked.
        if self.peers.len() > MAX_PEER_ENTRIES {
            let configured: Vec<PeerId> = self.configured.iter().filter_map(|(_, id)| *id).collect();
            self.peers.retain(|id, p| p.connected || p.blocked_until.is_some() || configured.contains(id));
        }
        // Blocks that ran out.
        let now = SystemTime::now();
        let expired: Vec<PeerId> =
            self.peers.iter().filter(|(_, p)| p.blocked_until.is_some_and(|t| t <= now)).map(|(id, _)| *id).collect();
        for id in expired {
            self.swarm.behaviour_mut().blocked.unblock_peer(id);
            self.peer(id).blocked_until = None;
        }
        for (address, id) in self.configured.clone() {
            let connected = id.is_some_and(|id| self.swarm.is_connected(&id));
            let blocked = id.is_some_and(|id| self.peers.get(&id).is_some_and(|p| p.blocked_until.is_some()));
            if !connected && !blocked {
                let _ = self.swarm.dial(address);
            }
        }
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                let full = address.with_p2p(*self.swarm.local_peer_id()).unwrap_or_else(|a| a);
                tracing::info!(address = %full, "replicator listening");
                self.shared.listening.lock().unwrap_or_else(|e| e.into_inner()).push(full);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                let full = address.with_p2p(*self.swarm.local_peer_id()).unwrap_or_else(|a| a);
                self.shared.listening.lock().unwrap_or_else(|e| e.into_inner()).retain(|a| *a != full);
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                let peer = self.peer(peer_id);
                peer.address = Some(endpoint.get_remote_address().clone());
                peer.seen();
                if !peer.connected {
                    peer.connected = true;
                    self.shared.connected.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(peer = %peer_id, address = %endpoint.get_remote_address(), "peer connected");
                }
                if num_established.get() == 1 {
                    self.ask_heads(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                if let Some(peer) = self.peers.get_mut(&peer_id)
                    && peer.connected
                {
                    peer.disconnected();
                    self.shared.connected.fetch_sub(1, Ordering::Relaxed);
                    tracing::info!(peer = %peer_id, "peer disconnected");
                }
                self.requests.retain(|_, (p, _)| *p != peer_id);
                let lost: Vec<PublicKey> =
                    self.fetches.iter().filter(|(_, f)| f.peer == peer_id).map(|(a, _)| *a).collect();
                for author in &lost {
                    self.fetches.remove(author);
                }
                // A peer that left on good terms is forgotten (peer ids cost nothing to make).
                let configured = self.configured.iter().any(|(_, id)| *id == Some(peer_id));
                if !configured && self.peers.get_mut(&peer_id).is_some_and(Peer::forgettable) {
                    self.peers.remove(&peer_id);
                }
                for author in lost {
                    self.schedule(author);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }))
                if info.protocol_version != wire::PROTOCOL_VERSION =>
            {
                tracing::info!(peer = %peer_id, version = %info.protocol_version, "not a mindlog node of this version");
                let _ = self.swarm.disconnect_peer_id(peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, address) in found {
                    if !self.swarm.is_connected(&peer) {
                        tracing::info!(%peer, %address, "found by mDNS");
                        let _ = self.swarm.dial(address);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            _ => {}
        }
    }

    fn report(&mut self, message: &gossipsub::MessageId, peer: &PeerId, acceptance: gossipsub::MessageAcceptance) {
        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(message, peer, acceptance);
    }

    fn on_gossip(&mut self, peer: PeerId, id: gossipsub::MessageId, message: gossipsub::Message) {
        let (rate, burst) = (self.limits.gossip_rate, self.limits.gossip_burst);
        let p = self.peer(peer);
        p.seen();
        if !p.take_token(rate, burst) {
            self.report(&id, &peer, gossipsub::MessageAcceptance::Ignore);
            self.penalise(peer, penalty::FLOOD, "flood");
            return;
        }
        let bytes = message.data.len();
        let overloaded = self.pending_events >= self.limits.max_pending
            || self.pending_bytes + bytes > MAX_PENDING_BYTES
            || self.peer(peer).pending_bytes + bytes > MAX_PENDING_BYTES_PER_PEER;
        match wire::decode::<Gossip>(&message.data) {
            None => {
                self.report(&id, &peer, gossipsub::MessageAcceptance::Reject);
                self.penalise(peer, penalty::INVALID, "malformed");
            }
            Some(_) if overloaded => {
                // Left to sync: too much is waiting to be checked already.
                self.report(&id, &peer, gossipsub::MessageAcceptance::Ignore);
                self.shared.counters.reject("overloaded");
            }
            Some(gossip) => {
                let job = match gossip {
                    Gossip::Event(event) => {
                        Job::Ingest { source: Source::Gossip { message: id.clone(), peer, bytes }, events: vec![event] }
                    }
                    Gossip::Fork(proof) => Job::Forks { source: Some((id.clone(), peer, bytes)), proofs: vec![proof] },
                };
                if self.send_job(job) {
                    self.pending_events += 1;
                    self.pending_bytes += bytes;
                    self.peer(peer).pending_bytes += bytes;
                } else {
                    self.report(&id, &peer, gossipsub::MessageAcceptance::Ignore);
                }
            }
        }
    }

    /// A gossip message of `peer` of `bytes` bytes is done with.
    fn gossip_done(&mut self, peer: PeerId, bytes: usize) {
        self.pending_events = self.pending_events.saturating_sub(1);
        self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.pending_bytes = p.pending_bytes.saturating_sub(bytes);
        }
    }

    fn on_sync(&mut self, event: request_response::Event<Request, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request_id, request, channel } => {
                    self.on_request(peer, request_id, request, channel)
                }
                request_response::Message::Response { request_id, response } => {
                    self.peer(peer).seen();
                    if let Some((peer, pending)) = self.requests.remove(&request_id) {
                        self.on_response(peer, pending, response);
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                tracing::debug!(%peer, error = %error, "sync request failed");
                if let Some((peer, pending)) = self.requests.remove(&request_id) {
                    self.request_ended(peer, &pending);
                }
                if matches!(error, request_response::OutboundFailure::Io(ref e) if e.kind() == std::io::ErrorKind::InvalidData)
                {
                    self.penalise(peer, penalty::OVER_LIMIT, "malformed_response");
                }
            }
            request_response::Event::InboundFailure { peer, request_id, error, .. } => {
                tracing::debug!(%peer, error = %error, "answering a sync request failed");
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.serving.remove(&request_id);
                }
                if matches!(error, request_response::InboundFailure::Io(ref e) if e.kind() == std::io::ErrorKind::InvalidData)
                {
                    self.penalise(peer, penalty::OVER_LIMIT, "malformed_request");
                }
            }
            request_response::Event::ResponseSent { peer, request_id, .. } => {
                // The heads it was told are told now.
                if let Some(p) = self.peers.get_mut(&peer)
                    && let Some(told) = p.serving.remove(&request_id)
                {
                    p.told.extend(told);
                }
            }
        }
    }

    /// Bookkeeping when a request of ours ends without a usable answer.
    fn request_ended(&mut self, peer: PeerId, pending: &Pending) {
        match pending {
            Pending::Heads => self.heads_answered(peer),
            Pending::Page { author, fetch, .. } => {
                // Not from this peer again before the next heads round (another peer may serve it).
                if self.end_fetch(*author, *fetch) {
                    self.back_off(peer, *author);
                    self.schedule(*author);
                }
            }
            Pending::Probe { author, .. } => {
                // The search is over with nothing found: the feed may be fetched from it again.
                let p = self.peer(peer);
                p.other = p.other.saturating_sub(1);
                p.diverged.remove(author);
            }
            Pending::Forks => {
                let p = self.peer(peer);
                p.other = p.other.saturating_sub(1);
            }
        }
    }

    /// Our heads request to `peer` is done with: another goes out if one was wanted meanwhile.
    fn heads_answered(&mut self, peer: PeerId) {
        let p = self.peer(peer);
        p.asking = false;
        if std::mem::take(&mut p.reask) && p.connected {
            self.ask_heads(peer);
        }
    }

    /// Ends fetch `number` of `author`'s feed; false if that fetch had ended already.
    fn end_fetch(&mut self, author: PublicKey, number: u64) -> bool {
        match self.fetches.get(&author) {
            Some(f) if f.number == number => {
                let peer = f.peer;
                self.fetches.remove(&author);
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.fetching = p.fetching.saturating_sub(1);
                }
                true
            }
            _ => false,
        }
    }

    /// `author`'s feed is not fetched from `peer` for a sync interval.
    fn back_off(&mut self, peer: PeerId, author: PublicKey) {
        let until = std::time::Instant::now() + self.limits.sync_interval;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.backoff.insert(author, until);
        }
    }

    /// Whether `number` is the running fetch of `author`'s feed.
    fn current(&self, author: &PublicKey, number: u64) -> bool {
        self.fetches.get(author).is_some_and(|f| f.number == number)
    }

    /// Asks for the fetch's next page if none is asked for, the writer is not too far behind,
    /// and there is more to fetch.
    fn pump(&mut self, author: PublicKey) {
        let Some(f) = self.fetches.get_mut(&author) else { return };
        if f.asking || f.queued >= PAGES_AHEAD || f.next > f.to {
            return;
        }
        f.asking = true;
        let (peer, from, to, fetch) = (f.peer, f.next, f.to, f.number);
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, Request::Events { author, from, to });
        self.requests.insert(id, (peer, Pending::Page { author, from, to, fetch }));
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request_id: InboundRequestId,
        request: Request,
        channel: ResponseChannel<Response>,
    ) {
        let limit = self.limits.inbound_requests;
        let p = self.peer(peer);
        p.seen();
        let refused = if p.serving.len() >= limit {
            Some(("too many requests at once", "too_many_requests"))
        } else if !p.take_request_token() {
            Some(("too many requests", "request_flood"))
        } else {
            None
        };
        if let Some((why, reason)) = refused {
            let _ = self.swarm.behaviour_mut().sync.send_response(channel, Response::Refused(why.into()));
            self.penalise(peer, penalty::OVER_LIMIT, reason);
            return;
        }
        p.serving.insert(request_id, Vec::new());
        let store = Arc::clone(&self.store);
        let reads = self.reads.clone();
        let ours = self.follow.clone();
        tokio::task::spawn_blocking(move || {
            let ledger = store.ledger();
            let (response, heads) = match (ledger, request) {
                (Err(e), _) => (Response::Refused(e), false),
                (Ok(ledger), Request::Heads { all, authors }) => {
                    let wanted = Follow { all, authors: authors.into_iter().collect() };
                    match read::heads(&ledger, &wanted, &ours) {
                        Ok((heads, forks)) => (Response::Heads { heads, forks }, true),
                        Err(e) => (Response::Refused(e), false),
                    }
                }
                (Ok(_), Request::Events { author, .. }) if !ours.follows(&author) => {
                    (Response::Refused("not replicated here".into()), false)
                }
                (Ok(ledger), Request::Events { author, from, to }) => match read::page(&ledger, &author, from, to) {
                    Ok(events) => (Response::Events(events), false),
                    Err(e) => (Response::Refused(e), false),
                },
                (Ok(ledger), Request::Forks { after }) => match read::forks(&ledger, after) {
                    Ok(proofs) => (Response::Forks(proofs), false),
                    Err(e) => (Response::Refused(e), false),
                },
            };
            let _ = reads.send(Read::Answer { peer, request: request_id, channel, response, heads });
        });
    }

    fn on_read(&mut self, read: Read) {
        match read {
            Read::Answer { peer, request, channel, mut response, heads } => {
                if heads
                    && let Response::Heads { heads: list, .. } = &mut response
                    && let Some(p) = self.peers.get_mut(&peer)
                {
                    // Leave out what this peer was told already on this connection; what this
                    // answer tells counts as told once it is sent.
                    list.retain(|h| p.told.get(&h.author) != Some(&(h.seq, h.hash)));
                    if let Some(told) = p.serving.get_mut(&request) {
                        told.extend(list.iter().map(|h| (h.author, (h.seq, h.hash))));
                    }
                }
                if let Response::Events(events) = &response {
                    self.shared.counters.sent.fetch_add(events.len() as u64, Ordering::Relaxed);
                }
                if self.swarm.behaviour_mut().sync.send_response(channel, response).is_err()
                    && let Some(p) = self.peers.get_mut(&peer)
                {
                    p.serving.remove(&request);
                }
            }
            Read::Compared { peer, rows, forks_differ } => {
                for (head, local, ours_at) in rows {
                    if let Some(local) = local {
                        self.local.insert(head.author, local.0);
                    }
                    let local_seq = local.map_or(0, |l| l.0);
                    let searched = self.peers.get(&peer).is_some_and(|p| p.diverged.contains(&head.author));
                    if head.seq > local_seq {
                        self.schedule(head.author);
                    } else if searched {
                        // A fork with this peer is known or being searched for.
                    } else if (head.seq == local_seq && local.is_some_and(|l| l.1 != head.hash))
                        || (head.seq < local_seq && ours_at.is_some_and(|h| h != head.hash))
                    {
                        // Its head is not in our feed: a fork at or before its seq.
                        self.probe(peer, head.author, head.seq, false);
                    }
                }
                if forks_differ {
                    self.ask_forks(peer, None);
                }
            }
            Read::NotCompared { peer } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.recheck = true;
                }
            }
            Read::Local(local, reply) => {
                let mut out: Vec<PeerInfo> = Vec::new();
                let mesh: std::collections::HashSet<PeerId> =
                    self.swarm.behaviour().gossipsub.mesh_peers(&self.topic.hash()).copied().collect();
                let ids: Vec<PeerId> = self.peers.keys().copied().collect();
                for id in ids {
                    let gossip = self.swarm.behaviour().gossipsub.peer_score(&id);
                    if let Some(p) = self.peers.get_mut(&id) {
                        out.push(p.info(&id, &local, gossip, mesh.contains(&id)));
                    }
                }
                out.sort_by(|a, b| b.connected.cmp(&a.connected).then(a.peer_id.cmp(&b.peer_id)));
                let _ = reply.send(out);
            }
        }
    }

    fn exchange_heads(&mut self) {
        let ids: Vec<PeerId> = self.peers.iter().filter(|(_, p)| p.connected).map(|(id, _)| *id).collect();
        for id in ids {
            self.ask_heads(id);
        }
    }

    /// Asks `peer` for its heads of the feeds we follow; one request at a time per peer.
    fn ask_heads(&mut self, peer: PeerId) {
        let p = self.peer(peer);
        if p.asking {
            p.reask = true;
            return;
        }
        p.asking = true;
        let request = Request::Heads { all: self.follow.all, authors: self.follow.authors.iter().copied().collect() };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.requests.insert(id, (peer, Pending::Heads));
    }

    fn ask_forks(&mut self, peer: PeerId, after: Option<PublicKey>) {
        let p = self.peer(peer);
        if p.other >= MAX_OTHER_REQUESTS {
            return;
        }
        p.other += 1;
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, Request::Forks { after });
        self.requests.insert(id, (peer, Pending::Forks));
    }

    fn on_response(&mut self, peer: PeerId, pending: Pending, response: Response) {
        match (pending, response) {
            (Pending::Heads, Response::Heads { heads, forks }) => {
                self.shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
                let follow = self.follow.clone();
                let p = self.peer(peer);
                let mut changed: std::collections::HashSet<PublicKey> =
                    heads.iter().filter(|h| follow.follows(&h.author)).map(|h| h.author).collect();
                if std::mem::take(&mut p.recheck) {
                    changed.extend(p.heads.keys().copied());
                }
                for h in heads.iter().filter(|h| changed.contains(&h.author)) {
                    if p.heads.len() < MAX_HEADS_PER_PEER || p.heads.contains_key(&h.author) {
                        p.heads.insert(h.author, (h.seq, h.hash));
                    }
                }
                // Every head the peer reported on this connection is compared again (a fetch
                // may have been put off while another peer served that feed); only the changed
                // ones are checked for forks.
                let all: Vec<WireHead> = p
                    .heads
                    .iter()
                    .map(|(author, (seq, hash))| WireHead { author: *author, seq: *seq, hash: *hash })
                    .collect();
                self.heads_answered(peer);
                let store = Arc::clone(&self.store);
                let reads = self.reads.clone();
                tokio::task::spawn_blocking(move || {
                    let Ok(ledger) = store.ledger() else {
                        let _ = reads.send(Read::NotCompared { peer });
                        return;
                    };
                    let rows = all
                        .into_iter()
                        .map(|h| {
                            let local = ledger.head(&h.author).map(|l| (l.seq, l.hash));
                            let ours_at = match local {
                                Some((seq, _)) if changed.contains(&h.author) && seq > h.seq && h.seq > 0 => {
                                    read::hash_at(&ledger, &h.author, h.seq)
                                }
                                _ => None,
                            };
                            (h, local, ours_at)
                        })
                        .collect();
                    let forks_differ = ledger
                        .snapshot()
                        .ok()
                        .and_then(|s| read::forks_digest(&s).ok())
                        .is_some_and(|ours| ours != forks);
                    let _ = reads.send(Read::Compared { peer, rows, forks_differ });
                });
            }
            (Pending::Page { author, from, to, fetch }, Response::Events(events)) => {
                if !self.current(&author, fetch) {
                    return; // an answer to a fetch that ended
                }
                if events.is_empty() {
                    // It said it held more than it gives: believe it no more, and ask another.
                    self.end_fetch(author, fetch);
                    if let Some(p) = self.peers.get_mut(&peer)
                        && p.heads.get(&author).is_some_and(|h| h.0 >= from)
                    {
                        p.heads.remove(&author);
                    }
                    self.back_off(peer, author);
                    self.penalise(peer, penalty::OVER_LIMIT, "empty_page");
                    self.schedule(author);
                    return;
                }
                // The next page starts after this one's last event, if this one is what was asked
                // (the writer checks every event; a page that is not stops the fetch there).
                let last = events.last().and_then(|e| mindlog_ledger::EnvelopeRef::decode(&e.bytes).ok());
                let expected = from + events.len() as u64 - 1;
                let next = match last {
                    Some(env) if env.author == author && env.seq == expected => expected.saturating_add(1),
                    _ => to.saturating_add(1),
                };
                if let Some(f) = self.fetches.get_mut(&author) {
                    f.asking = false;
                    f.queued += 1;
                    f.next = next;
                }
                if self.send_job(Job::Ingest { source: Source::Page { peer, author, from, to, fetch }, events }) {
                    self.pump(author);
                } else {
                    self.end_fetch(author, fetch);
                }
            }
            (Pending::Probe { author, from, to, blame }, Response::Events(events)) => {
                if !self.send_job(Job::FindFork { peer, author, from, to, events, blame })
                    && let Some(p) = self.peers.get_mut(&peer)
                {
                    p.other = p.other.saturating_sub(1);
                }
            }
            (Pending::Forks, Response::Forks(proofs)) => {
                let p = self.peer(peer);
                p.other = p.other.saturating_sub(1);
                if proofs.len() >= wire::FORKS_PAGE {
                    // A full page: ask for the next one, after its last author.
                    let last =
                        proofs.last().and_then(|b| mindlog_ledger::ForkProof::decode(b).ok()).map(|p| p.author());
                    if last.is_some() {
                        self.ask_forks(peer, last);
                    }
                }
                self.send_job(Job::Forks { source: None, proofs });
            }
            (pending, Response::Refused(reason)) => {
                tracing::debug!(%peer, %reason, "sync request refused");
                self.request_ended(peer, &pending);
            }
            (pending, _) => {
                // An answer of the wrong kind.
                self.request_ended(peer, &pending);
                self.penalise(peer, penalty::INVALID, "malformed_response");
            }
        }
    }

    /// Fetches `author`'s feed from a connected peer that holds more of it, if no fetch of it runs.
    fn schedule(&mut self, author: PublicKey) {
        if self.fetches.contains_key(&author) || !self.follow.follows(&author) {
            return;
        }
        let ours = self.local.get(&author).copied().unwrap_or(0);
        let limit = self.limits.outbound_fetches;
        let best = self
            .peers
            .iter()
            .filter(|(_, p)| {
                p.connected
                    && p.fetching < limit
                    && !p.diverged.contains(&author)
                    && p.backoff.get(&author).is_none_or(|until| *until <= std::time::Instant::now())
            })
            .filter_map(|(id, p)| p.heads.get(&author).map(|h| (*id, h.0)))
            .filter(|(_, seq)| *seq > ours)
            .max_by_key(|(id, seq)| (*seq, *id));
        if let Some((peer, to)) = best {
            self.fetch_numbers += 1;
            let number = self.fetch_numbers;
            self.fetches.insert(author, Fetch { peer, to, number, next: ours + 1, asking: false, queued: 0 });
            self.peer(peer).fetching += 1;
            self.pump(author);
        }
    }

    /// Asks `peer` for its events of `author` up to `seq`, to find where its feed and ours part.
    /// `blame`: the peer sent an event that does not fit our feed; unless the feeds differ, that
    /// was its fault.
    fn probe(&mut self, peer: PeerId, author: PublicKey, seq: u64, blame: bool) {
        let from = seq.saturating_sub(PROBE_EVENTS - 1).max(1);
        self.probe_range(peer, author, from, seq, blame);
    }

    fn probe_range(&mut self, peer: PeerId, author: PublicKey, from: u64, to: u64, blame: bool) {
        let Some(p) = self.peers.get_mut(&peer).filter(|p| p.connected) else { return };
        if p.other >= MAX_OTHER_REQUESTS {
            // Searching enough with this peer already; the next heads exchange asks again.
            return;
        }
        p.other += 1;
        // Not fetched from this peer while the search runs, nor after a fork is found.
        p.diverged.insert(author);
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, Request::Events { author, from, to });
        self.requests.insert(id, (peer, Pending::Probe { author, from, to, blame }));
    }

    fn publish_fork(&mut self, proof: Vec<u8>) {
        if let Ok(p) = mindlog_ledger::ForkProof::decode(&proof) {
            // Never fetch that feed again from a peer on another branch.
            let author = p.author();
            for peer in self.peers.values_mut() {
                if peer.heads.get(&author).is_some_and(|h| !p.hashes().contains(&h.1)) {
                    peer.diverged.insert(author);
                }
            }
        }
        let _ = self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), wire::encode(&Gossip::Fork(proof)));
    }

    fn on_done(&mut self, report: Done) {
        match report {
            Done::Ingested { source, outcomes, last, split_at, proofs } => {
                for proof in proofs {
                    self.publish_fork(proof);
                }
                self.on_ingested(source, outcomes, last, split_at)
            }
            Done::Forks { source, new, invalid, failed } => {
                if let Some((message, peer, bytes)) = &source {
                    use gossipsub::MessageAcceptance::{Accept, Ignore, Reject};
                    let acceptance = match (invalid > 0, failed, new.is_empty()) {
                        (true, _, _) => Reject,
                        (false, false, false) => Accept,
                        _ => Ignore,
                    };
                    self.report(message, peer, acceptance);
                    self.gossip_done(*peer, *bytes);
                    if invalid > 0 {
                        self.penalise(*peer, penalty::INVALID, "bad_fork_proof");
                    }
                } else if invalid > 0 {
                    self.shared.counters.reject("bad_fork_proof");
                }
                for proof in new {
                    if source.is_none() {
                        self.publish_fork(proof);
                    }
                }
            }
            Done::ForkSearch { peer, author, earlier, invalid, forked, blame, proof, resume } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.other = p.other.saturating_sub(1);
                }
                if let Some(proof) = proof {
                    self.publish_fork(proof);
                }
                if invalid {
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.diverged.remove(&author);
                    }
                    self.penalise(peer, penalty::INVALID, "bad_signature");
                } else if let Some(seq) = earlier {
                    self.probe(peer, author, seq - 1, false);
                } else if let Some(from) = resume {
                    self.probe_range(peer, author, from, from + PROBE_EVENTS - 1, blame);
                } else if !forked {
                    // No fork after all: the event that did not fit was the peer's own doing.
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.diverged.remove(&author);
                    }
                    if blame {
                        self.penalise(peer, penalty::BROKEN_CHAIN, "broken_chain");
                    }
                    self.schedule(author);
                }
            }
            Done::Tail(events) => {
                let n = events.len() as u64;
                for event in events {
                    if let Ok(env) = mindlog_ledger::EnvelopeRef::decode(&event.bytes) {
                        self.note_local(env.author, env.seq);
                    }
                    match self
                        .swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(self.topic.clone(), wire::encode(&Gossip::Event(event)))
                    {
                        Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
                        Err(e) => tracing::trace!(error = %e, "not gossiped (peers pull it)"),
                    }
                }
                self.shared.counters.sent.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    fn on_ingested(
        &mut self,
        source: Source,
        outcomes: Vec<Outcome>,
        last: Option<(PublicKey, u64)>,
        split_at: Option<(PublicKey, u64)>,
    ) {
        let stored = outcomes.iter().filter(|o| matches!(o, Outcome::Stored)).count() as u64;
        if let Some((author, seq)) = last {
            self.note_local(author, seq);
        }
        match source {
            Source::Gossip { message, peer, bytes } => {
                self.gossip_done(peer, bytes);
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.received += stored;
                }
                let outcome = outcomes.into_iter().next().unwrap_or(Outcome::Failed("no outcome".into()));
                use gossipsub::MessageAcceptance::{Accept, Ignore, Reject};
                let acceptance = match &outcome {
                    Outcome::Stored => Accept,
                    Outcome::Invalid(_) => Reject,
                    // Held already, not followed, early, or not fitting our feed (perhaps a
                    // fork the sender relays in good faith): not passed on, no fault yet.
                    _ => Ignore,
                };
                self.report(&message, &peer, acceptance);
                match outcome {
                    Outcome::Invalid(_) => self.penalise(peer, penalty::INVALID, "bad_signature"),
                    Outcome::Early => self.ask_heads(peer),
                    Outcome::BrokenLink | Outcome::Fork => {
                        if let Some((author, at)) = split_at {
                            self.probe(peer, author, at, true);
                        }
                    }
                    _ => {}
                }
            }
            Source::Page { peer, author, from: _, to, fetch } => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.received += stored;
                }
                if outcomes.iter().any(|o| matches!(o, Outcome::Invalid(_))) {
                    self.end_fetch(author, fetch);
                    if let Some(p) = self.peers.get_mut(&peer) {
                        p.heads.remove(&author);
                    }
                    self.penalise(peer, penalty::INVALID, "bad_page");
                    self.schedule(author);
                    return;
                }
                if !self.current(&author, fetch) {
                    return; // a page of a fetch that ended (its events are stored all the same)
                }
                if let Some((_, at)) = split_at {
                    self.end_fetch(author, fetch);
                    self.probe(peer, author, at, true);
                    return;
                }
                let reached = last.map_or(0, |(_, seq)| seq);
                let trouble = outcomes.iter().any(|o| matches!(o, Outcome::Failed(_) | Outcome::Early));
                let done = match self.fetches.get_mut(&author) {
                    Some(f) => {
                        f.queued = f.queued.saturating_sub(1);
                        trouble || reached >= to || (f.next > f.to && f.queued == 0 && !f.asking)
                    }
                    None => true,
                };
                if done {
                    // Finished, or the writer could not store it: start again from what is held.
                    self.end_fetch(author, fetch);
                    if trouble {
                        // The writer could not store it (the store may be closed for a scrub):
                        // not from this peer again before the next heads round.
                        self.back_off(peer, author);
                    }
                    self.schedule(author);
                } else {
                    self.pump(author);
                }
            }
        }
    }

    fn note_local(&mut self, author: PublicKey, seq: u64) {
        let ours = self.local.entry(author).or_insert(0);
        *ours = (*ours).max(seq);
    }
}
