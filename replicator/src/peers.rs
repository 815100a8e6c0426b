//! What a node knows of each peer: its addresses, the heads it reported, its score and the
//! limits on what it may ask and send.

use std::collections::{HashMap, HashSet};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use libp2p::{Multiaddr, PeerId};
use mindlog_ledger::{Hash, PublicKey};
use serde::Serialize;

/// Score penalties, by what the peer did.
pub(crate) mod penalty {
    /// A message or event that does not decode, or whose signature, hash or payload is wrong.
    pub(crate) const INVALID: f64 = 25.0;
    /// An event that does not continue its feed where the peer said it would.
    pub(crate) const BROKEN_CHAIN: f64 = 10.0;
    /// A gossip message over the rate limit.
    pub(crate) const FLOOD: f64 = 1.0;
    /// A request over the limit of requests at once, or over the size limit.
    pub(crate) const OVER_LIMIT: f64 = 5.0;
}

/// Sync requests a peer may send per second, on average, and at once (an honest node sends a
/// heads request every few seconds and a page request per page it fetches).
const REQUEST_RATE: f64 = 200.0;
const REQUEST_BURST: f64 = 400.0;

fn take(tokens: &mut f64, at: &mut Instant, rate: f64, burst: f64) -> bool {
    let now = Instant::now();
    *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
    *at = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        true
    } else {
        false
    }
}

/// A score recovers by this share of its distance to 0 every minute.
const RECOVERY_PER_MINUTE: f64 = 0.1;

/// A head told to a peer: author, seq and hash.
pub(crate) type Told = (PublicKey, (u64, Hash));

/// One peer, as `mindlog peers` and `GET /v1/peers` show it.
#[derive(Clone, Debug, Serialize)]
pub struct PeerInfo {
    /// Its peer id.
    pub peer_id: String,
    /// Connected now.
    pub connected: bool,
    /// The address of its connection (or the last one).
    pub address: Option<String>,
    /// Feeds both follow that it reported heads of.
    pub feeds_in_common: usize,
    /// Events it holds of those feeds that this node does not, as of its last report.
    pub lag: u64,
    /// Events this node holds of those feeds that it did not, as of its last report.
    pub ahead: u64,
    /// This node's score of it: 0 is neutral; below the disconnect threshold it is blocked.
    pub score: f64,
    /// gossipsub's own score of it.
    pub gossip_score: Option<f64>,
    /// In this node's gossip mesh (it receives every new event from this node at once).
    pub in_mesh: bool,
    /// When it was last heard from (RFC 3339).
    pub last_seen: Option<String>,
    /// Events received from it and stored.
    pub events_received: u64,
    /// Blocked until (RFC 3339), if blocked.
    pub blocked_until: Option<String>,
}

/// A peer's state.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) connected: bool,
    pub(crate) address: Option<Multiaddr>,
    /// Heads it reported, cumulative over this connection.
    pub(crate) heads: HashMap<PublicKey, (u64, Hash)>,
    /// Heads we told it, on this connection (a heads answer leaves out those unchanged).
    pub(crate) told: HashMap<PublicKey, (u64, Hash)>,
    /// Feeds found forked against it: not fetched from it again.
    pub(crate) diverged: HashSet<PublicKey>,
    /// Its heads could not be compared with ours: compare them all at its next answer.
    pub(crate) recheck: bool,
    /// Feeds not fetched from it until then (a page request it refused or failed).
    pub(crate) backoff: HashMap<PublicKey, Instant>,
    score: f64,
    scored_at: Instant,
    last_seen: Option<SystemTime>,
    pub(crate) received: u64,
    /// Its requests being answered now, each with the heads its answer tells (recorded in
    /// `told` once the answer is sent).
    pub(crate) serving: HashMap<libp2p::request_response::InboundRequestId, Vec<Told>>,
    /// Our fetches from it now.
    pub(crate) fetching: usize,
    /// Our other requests to it now (fork searches, fork proofs).
    pub(crate) other: usize,
    /// A heads request to it is in flight…
    pub(crate) asking: bool,
    /// …and another is wanted once it is answered.
    pub(crate) reask: bool,
    /// Bytes of its gossip waiting to be verified and stored.
    pub(crate) pending_bytes: usize,
    /// Rate limits: gossip messages and sync requests (tokens, and when they were counted).
    tokens: f64,
    tokens_at: Instant,
    request_tokens: f64,
    request_tokens_at: Instant,
    pub(crate) blocked_until: Option<SystemTime>,
}

impl Peer {
    pub(crate) fn new(burst: f64) -> Peer {
        let now = Instant::now();
        Peer {
            connected: false,
            address: None,
            heads: HashMap::new(),
            told: HashMap::new(),
            diverged: HashSet::new(),
            backoff: HashMap::new(),
            recheck: false,
            score: 0.0,
            scored_at: now,
            last_seen: None,
            received: 0,
            serving: HashMap::new(),
            fetching: 0,
            other: 0,
            asking: false,
            reask: false,
            pending_bytes: 0,
            tokens: burst,
            tokens_at: now,
            request_tokens: REQUEST_BURST,
            request_tokens_at: now,
            blocked_until: None,
        }
    }

    /// The score now (recovering toward 0 with time).
    pub(crate) fn score(&mut self) -> f64 {
        let minutes = self.scored_at.elapsed().as_secs_f64() / 60.0;
        self.score *= (1.0 - RECOVERY_PER_MINUTE).powf(minutes);
        self.scored_at = Instant::now();
        self.score
    }

    /// Lowers the score; the new score.
    pub(crate) fn penalise(&mut self, by: f64) -> f64 {
        let score = self.score() - by;
        self.score = score;
        score
    }

    pub(crate) fn seen(&mut self) {
        self.last_seen = Some(SystemTime::now());
    }

    /// Takes one gossip token; false when the peer is over its rate.
    pub(crate) fn take_token(&mut self, rate: f64, burst: f64) -> bool {
        take(&mut self.tokens, &mut self.tokens_at, rate, burst)
    }

    /// Takes one sync-request token; false when the peer asks too often.
    pub(crate) fn take_request_token(&mut self) -> bool {
        take(&mut self.request_tokens, &mut self.request_tokens_at, REQUEST_RATE, REQUEST_BURST)
    }

    /// Whether this entry can be forgotten: not connected, not blocked, nothing held against it.
    pub(crate) fn forgettable(&mut self) -> bool {
        !self.connected && self.blocked_until.is_none() && self.score() > -1.0
    }

    /// Forgets what belongs to a connection.
    pub(crate) fn disconnected(&mut self) {
        self.connected = false;
        self.heads.clear();
        self.told.clear();
        self.diverged.clear();
        self.backoff.clear();
        self.serving.clear();
        self.fetching = 0;
        self.other = 0;
        self.asking = false;
        self.reask = false;
    }

    pub(crate) fn info(
        &mut self,
        id: &PeerId,
        local: &HashMap<PublicKey, (u64, Hash)>,
        gossip_score: Option<f64>,
        in_mesh: bool,
    ) -> PeerInfo {
        let (mut lag, mut ahead) = (0, 0);
        for (author, (seq, _)) in &self.heads {
            let ours = local.get(author).map_or(0, |h| h.0);
            lag += seq.saturating_sub(ours);
            ahead += ours.saturating_sub(*seq);
        }
        PeerInfo {
            peer_id: id.to_string(),
            connected: self.connected,
            // The peer id is its own column.
            address: self.address.as_ref().map(|a| {
                a.iter()
                    .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
                    .collect::<Multiaddr>()
                    .to_string()
            }),
            feeds_in_common: self.heads.len(),
            lag,
            ahead,
            score: (self.score() * 100.0).round() / 100.0,
            gossip_score: gossip_score.map(|s| (s * 100.0).round() / 100.0),
            in_mesh,
            last_seen: self.last_seen.map(rfc3339),
            events_received: self.received,
            blocked_until: self.blocked_until.map(rfc3339),
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    let micros = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    mindlog_ledger::format_time(micros)
}
