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

/// A score recovers by this share of its distance to 0 every minute.
const RECOVERY_PER_MINUTE: f64 = 0.1;

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
    score: f64,
    scored_at: Instant,
    last_seen: Option<SystemTime>,
    pub(crate) received: u64,
    /// Its requests being answered now.
    pub(crate) serving: usize,
    /// Our fetches from it now.
    pub(crate) fetching: usize,
    /// A heads request to it is in flight.
    pub(crate) asking: bool,
    /// Gossip rate limit: tokens and when they were counted.
    tokens: f64,
    tokens_at: Instant,
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
            score: 0.0,
            scored_at: now,
            last_seen: None,
            received: 0,
            serving: 0,
            fetching: 0,
            asking: false,
            tokens: burst,
            tokens_at: now,
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
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.tokens_at).as_secs_f64() * rate).min(burst);
        self.tokens_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets what belongs to a connection.
    pub(crate) fn disconnected(&mut self) {
        self.connected = false;
        self.heads.clear();
        self.told.clear();
        self.serving = 0;
        self.fetching = 0;
        self.asking = false;
    }

    pub(crate) fn info(
        &mut self,
        id: &PeerId,
        local: &HashMap<PublicKey, (u64, Hash)>,
        gossip_score: Option<f64>,
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
                a.iter().filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_))).collect::<Multiaddr>().to_string()
            }),
            feeds_in_common: self.heads.len(),
            lag,
            ahead,
            score: (self.score() * 100.0).round() / 100.0,
            gossip_score: gossip_score.map(|s| (s * 100.0).round() / 100.0),
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
