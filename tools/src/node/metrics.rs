//! `GET /metrics`: Prometheus text (prometheus-client), and the middleware that counts requests.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::api::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Peer {
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
    status: u16,
}

/// The node's metrics. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    events: Gauge,
    appended: Counter,
    append_seconds: Histogram,
    commit_group: Histogram,
    subscribers: Gauge,
    fell_behind: Counter,
    requests: Family<Route, Counter>,
    query_seconds: Histogram,
    p2p: P2p,
}

/// The replicator's figures, read from it at each scrape.
#[derive(Default)]
struct P2p {
    peers: Gauge,
    received: Counter,
    sent: Counter,
    rejected: Family<Reason, Counter>,
    forks: Counter,
    blocked: Counter,
    lag: Family<Peer, Gauge>,
}

impl P2p {
    fn register(&self, registry: &mut Registry) {
        registry.register("p2p_peers", "Peers connected", self.peers.clone());
        registry.register("p2p_events_received", "Events received from peers and stored", self.received.clone());
        registry.register("p2p_events_sent", "Events sent to peers (gossip and sync pages)", self.sent.clone());
        registry.register("p2p_rejected", "Messages and events from peers rejected, by reason", self.rejected.clone());
        registry.register("p2p_forks_found", "Forks found by this node", self.forks.clone());
        registry.register("p2p_peers_blocked", "Peers disconnected and blocked for their score", self.blocked.clone());
        registry.register(
            "p2p_sync_lag",
            "Events a peer holds of the feeds both follow that this node does not",
            self.lag.clone(),
        );
    }

    /// Brings the figures up to the replicator's.
    fn update(&self, stats: &mindlog_replicator::Stats, peers: &[mindlog_replicator::PeerInfo]) {
        let to = |counter: &Counter, value: u64| {
            counter.inc_by(value.saturating_sub(counter.get()));
        };
        self.peers.set(i64::try_from(stats.peers_connected).unwrap_or(i64::MAX));
        to(&self.received, stats.events_received);
        to(&self.sent, stats.events_sent);
        to(&self.forks, stats.forks_found);
        to(&self.blocked, stats.peers_blocked);
        for (reason, n) in &stats.rejected {
            to(&self.rejected.get_or_create(&Reason { reason: reason.clone() }), *n);
        }
        self.lag.clear();
        for p in peers.iter().filter(|p| p.connected) {
            self.lag.get_or_create(&Peer { peer: p.peer_id.clone() }).set(i64::try_from(p.lag).unwrap_or(i64::MAX));
        }
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("mindlog");
        let events = Gauge::default();
        let appended = Counter::default();
        let append_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let commit_group = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        let subscribers = Gauge::default();
        let fell_behind = Counter::default();
        let requests = Family::<Route, Counter>::default();
        let query_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        registry.register("events", "Events in the store", events.clone());
        registry.register("appended_events", "Events appended through the API", appended.clone());
        registry.register(
            "append_seconds",
            "Time from a command's arrival to its durable commit",
            append_seconds.clone(),
        );
        registry.register(
            "commit_group_commands",
            "Commands the writer decided together and appended in one commit",
            commit_group.clone(),
        );
        registry.register("subscribers", "Live subscriptions open", subscribers.clone());
        registry.register(
            "subscribers_fell_behind",
            "Times a live subscriber fell behind the live tail and went back to reading the store",
            fell_behind.clone(),
        );
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("query_seconds", "SQL query time", query_seconds.clone());
        let p2p = P2p::default();
        p2p.register(&mut registry);
        Metrics(Arc::new(Inner {
            registry,
            events,
            appended,
            append_seconds,
            commit_group,
            subscribers,
            fell_behind,
            requests,
            query_seconds,
            p2p,
        }))
    }
}

impl Metrics {
    /// A command appended `events` in `took`.
    pub(crate) fn appended(&self, events: u64, took: Duration) {
        self.0.appended.inc_by(events);
        self.0.append_seconds.observe(took.as_secs_f64());
    }

    /// The writer appended the events of `commands` commands in one commit.
    pub(crate) fn commit_group(&self, commands: usize) {
        self.0.commit_group.observe(commands as f64);
    }

    pub(crate) fn queried(&self, took: Duration) {
        self.0.query_seconds.observe(took.as_secs_f64());
    }

    /// A subscription opened; it counts until the guard drops.
    pub(crate) fn subscriber(&self) -> SubscriberGuard {
        self.0.subscribers.inc();
        SubscriberGuard(self.clone())
    }
}

impl Metrics {
    /// A live subscriber fell behind the tail.
    pub(crate) fn fell_behind(&self) {
        self.0.fell_behind.inc();
    }
}

/// Counts one open subscription.
pub(crate) struct SubscriberGuard(Metrics);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.0.subscribers.dec();
    }
}

/// Counts every request by route (the matched pattern, never the raw path) and status.
pub(crate) async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let response = next.run(request).await;
    state.metrics.0.requests.get_or_create(&Route { route, status: response.status().as_u16() }).inc();
    response
}

pub(crate) async fn render(State(state): State<AppState>) -> Response {
    let hosted = std::sync::Arc::clone(&state.hosted);
    let events = tokio::task::spawn_blocking(move || hosted.ledger().ok()?.snapshot().ok()?.len().ok()).await;
    if let Ok(Some(n)) = events {
        state.metrics.0.events.set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    if let Some(replicator) = state.hosted.replicator() {
        let peers = replicator.peers().await;
        state.metrics.0.p2p.update(&replicator.stats(), &peers);
    }
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &state.metrics.0.registry).is_err() {
        return super::api::error(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", "encoding the metrics");
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}
