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
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &state.metrics.0.registry).is_err() {
        return super::api::error(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", "encoding the metrics");
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}
