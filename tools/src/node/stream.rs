//! Events out of the node: pages of the log (`GET /v1/events`), one event by hash, and live
//! subscriptions (`GET /v1/subscribe`) as WebSocket, Server-Sent Events or NDJSON.
//!
//! A subscription first reads the log itself from its offset (chunks rendered at once, one per
//! core and at least two), says `caught_up`, and then follows the node's [`Tail`]: one task that renders
//! each newly committed event once for every subscriber. The seam has no gap and no duplicate:
//! a subscriber joins the tail *before* its last read of the store, so every event committed
//! after that read reaches it through the tail, and it drops what the tail sends below the offset
//! it has reached. A slow subscriber costs only itself: its buffer ([`BUFFER`] items) fills, it
//! falls behind the tail's ring ([`TAIL`] events), and it goes back to reading the store from
//! where it stopped — no writer and no other subscriber ever waits for it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts as _, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use mindlog_ledger::{ExportedLine, Hash, LineFilter, PublicKey};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::api::{AppState, error};
use super::hosted::Hosted;

/// Items a subscriber may have waiting before its reader pauses.
const BUFFER: usize = 256;
/// Offsets read from the store at a time.
const CHUNK: u64 = 1024;
/// Events the tail keeps for subscribers that have not taken them yet.
const TAIL: usize = 4096;
/// How often an idle stream says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// What a subscription sends, in order: events, once `CaughtUp`, then events as they commit,
/// `Heartbeat`s while idle, and `End` (with the offset to resume from) when the node stops.
#[derive(Debug)]
enum Item {
    Event { offset: u64, line: Arc<str> },
    CaughtUp { next: u64 },
    Heartbeat { next: u64 },
    End { next: u64, reason: &'static str },
}

impl Item {
    /// The NDJSON and WebSocket form: one JSON object.
    fn json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// [`Item::json`], written at the end of `out` (a chunk of many items: no copy per item).
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = match self {
            Item::Event { offset, line } => write!(out, "{{\"offset\":{offset},\"event\":{line}}}"),
            Item::CaughtUp { next } => write!(out, "{{\"caught_up\":{{\"next\":{next}}}}}"),
            Item::Heartbeat { next } => write!(out, "{{\"heartbeat\":{{\"next\":{next}}}}}"),
            Item::End { next, reason } => write!(out, "{{\"end\":{{\"next\":{next},\"reason\":\"{reason}\"}}}}"),
        };
    }

    /// The Server-Sent Events form; an event's id is the offset to resume from after it.
    fn sse(&self) -> SseEvent {
        match self {
            Item::Event { offset, line } => {
                SseEvent::default().id((offset + 1).to_string()).event("event").data(&**line)
            }
            Item::CaughtUp { next } => {
                SseEvent::default().id(next.to_string()).event("caught_up").data(format!("{{\"next\":{next}}}"))
            }
            Item::Heartbeat { .. } => SseEvent::default().comment("heartbeat"),
            Item::End { next, reason } => {
                SseEvent::default().event("end").data(format!("{{\"next\":{next},\"reason\":\"{reason}\"}}"))
            }
        }
    }
}

/// `?after=&author=&kind=` of a subscription, and `&limit=` of a page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Wanted {
    /// The offset to start from: 0 for the whole log, or the `next` a stream gave.
    after: Option<u64>,
    /// Only this author's events (a public key in hex).
    author: Option<String>,
    /// Only events of this kind (`persona.created/1`).
    kind: Option<String>,
    /// `GET /v1/events`: at most this many (default 1,000, at most 100,000).
    limit: Option<u64>,
}

impl Wanted {
    /// The filter asked for, or why it is wrong.
    fn filter(&self) -> Result<LineFilter, String> {
        let author = match &self.author {
            None => None,
            Some(text) => Some(
                text.parse::<PublicKey>()
                    .map_err(|_| format!("author {text:?} is not a public key (64 hex characters)"))?,
            ),
        };
        Ok(LineFilter { author, kind: self.kind.clone() })
    }
}

/// One event's export line, with what a filter looks at.
#[derive(Debug)]
struct Line {
    offset: u64,
    author: PublicKey,
    kind: Box<str>,
    line: Arc<str>,
}

impl Line {
    fn of(exported: &ExportedLine<'_>) -> Line {
        Line {
            offset: exported.offset,
            author: exported.author,
            kind: exported.kind.into(),
            // Export lines are JSON: always UTF-8.
            line: String::from_utf8_lossy(exported.line).into(),
        }
    }
}

/// Reads the lines `filter` admits among `offsets` (at most `limit`) on a blocking thread: the
/// lines and the offset after the last one read.
async fn read(
    hosted: &Arc<Hosted>,
    offsets: std::ops::Range<u64>,
    filter: LineFilter,
    limit: u64,
) -> anyhow::Result<(Vec<Line>, u64)> {
    let hosted = Arc::clone(hosted);
    tokio::task::spawn_blocking(move || {
        let ledger = hosted.ledger()?;
        let mut lines = Vec::new();
        let next = ledger.export_lines(offsets, &filter, limit, &mut |exported| {
            lines.push(Line::of(exported));
            true
        })?;
        Ok((lines, next))
    })
    .await?
}

/// `GET /v1/events?after=&limit=&author=&kind=`: export lines (NDJSON, importable as they are);
/// the `mindlog-next` header is the `after` of the next page.
pub(crate) async fn events(State(state): State<AppState>, Query(wanted): Query<Wanted>) -> Response {
    let filter = match wanted.filter() {
        Ok(filter) => filter,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let limit = wanted.limit.unwrap_or(1000).clamp(1, 100_000);
    match read(&state.hosted, wanted.after.unwrap_or(0)..u64::MAX, filter, limit).await {
        Ok((lines, next)) => {
            let mut body = Vec::with_capacity(lines.iter().map(|l| l.line.len() + 1).sum());
            for Line { line, .. } in lines {
                body.extend_from_slice(line.as_bytes());
                body.push(b'\n');
            }
            (
                [
                    (header::CONTENT_TYPE, super::api::NDJSON.to_owned()),
                    (header::HeaderName::from_static("mindlog-next"), next.to_string()),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &format!("{e:#}")),
    }
}

/// `GET /v1/events/{hash}`: one event's export line.
pub(crate) async fn event(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    let Ok(hash) = hash.parse::<Hash>() else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "an event hash is 64 lowercase hex characters");
    };
    let hosted = std::sync::Arc::clone(&state.hosted);
    let found = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<Vec<u8>>> {
        let ledger = hosted.ledger()?;
        let Some((offset, _)) = ledger.snapshot()?.find_hash_prefix(&hash.to_string())?.into_iter().next() else {
            return Ok(None);
        };
        let mut found = None;
        ledger.export_lines(offset..offset + 1, &LineFilter::default(), 1, &mut |exported| {
            found = Some(exported.line.to_vec());
            false
        })?;
        Ok(found)
    })
    .await;
    match found {
        Ok(Ok(Some(line))) => ([(header::CONTENT_TYPE, "application/json")], line).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "not_found", &format!("no event {hash} in this store")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &format!("{e:#}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string()),
    }
}

/// The node's live tail: every event committed while someone listens, rendered once and sent
/// to every subscriber that has caught up.
pub(crate) struct Tail {
    sender: broadcast::Sender<Arc<Line>>,
}

impl Tail {
    /// Starts the task that follows `hosted`'s commits until `shutdown`.
    pub(crate) fn start(hosted: Arc<Hosted>, shutdown: CancellationToken, tracker: &TaskTracker) -> Tail {
        let (sender, _) = broadcast::channel(TAIL);
        let tail = sender.clone();
        tracker.spawn(async move {
            let mut commits = hosted.commits();
            let mut next = None;
            loop {
                commits.borrow_and_update();
                if let Err(e) = follow(&hosted, &tail, &mut next).await {
                    tracing::warn!(error = %format!("{e:#}"), "the live tail could not read the log; subscribers read the store");
                    next = None;
                }
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return,
                    changed = commits.changed() => if changed.is_err() { return },
                }
            }
        });
        Tail { sender }
    }
}

/// Sends every event stored from `next` on to the tail's subscribers (from the end of the log
/// when `next` is unknown). With nobody listening it only moves on: whoever subscribes after
/// the log's length was read reads those events from the store (it subscribes before it reads).
async fn follow(
    hosted: &Arc<Hosted>,
    tail: &broadcast::Sender<Arc<Line>>,
    next: &mut Option<u64>,
) -> anyhow::Result<()> {
    loop {
        let len = {
            let hosted = Arc::clone(hosted);
            tokio::task::spawn_blocking(move || anyhow::Ok(hosted.ledger()?.log_len()?)).await??
        };
        let from = match *next {
            Some(from) if tail.receiver_count() > 0 => from,
            _ => {
                *next = Some(len);
                return Ok(());
            }
        };
        if from >= len {
            return Ok(());
        }
        let (lines, after) = read(hosted, from..len.min(from + CHUNK), LineFilter::default(), u64::MAX).await?;
        for line in lines {
            let _ = tail.send(Arc::new(line));
        }
        *next = Some(after);
    }
}

/// Starts a subscription's reader: items arrive on the receiver, [`BUFFER`] at most waiting.
fn subscription(state: &AppState, after: u64, filter: LineFilter) -> mpsc::Receiver<Item> {
    let (tx, rx) = mpsc::channel(BUFFER);
    let state = state.clone();
    state.tracker.clone().spawn(async move {
        let _counted = state.metrics.subscriber();
        let shutdown = state.shutdown.clone();
        let mut next = after;
        let mut caught_up = false;
        // Heartbeats are due HEARTBEAT after the last item sent, whatever woke the reader since.
        let mut last_sent = tokio::time::Instant::now();
        // Sends an item unless the node stops or the subscriber went away first.
        macro_rules! send {
            ($item:expr) => {{
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => {
                        let end = tx.send(Item::End { next, reason: "shutdown" });
                        let _ = tokio::time::timeout(Duration::from_secs(1), end).await;
                        return;
                    }
                    sent = tx.send($item) => if sent.is_err() { return },
                }
                last_sent = tokio::time::Instant::now();
            }};
        }
        let window = std::thread::available_parallelism().map_or(1, |n| n.get()).max(2);
        loop {
            // Join the tail first, then read the store to its end: nothing falls between.
            let mut live = state.tail.sender.subscribe();
            // Chunks of offsets, `window` of them read at once, sent in order.
            let mut reads = VecDeque::new();
            let mut ahead = next;
            loop {
                while reads.len() < window {
                    let offsets = ahead..ahead.saturating_add(CHUNK);
                    ahead = offsets.end;
                    let hosted = Arc::clone(&state.hosted);
                    let filter = filter.clone();
                    reads.push_back((
                        offsets.end,
                        tokio::spawn(async move { read(&hosted, offsets, filter, u64::MAX).await }),
                    ));
                }
                let (end, reading) = reads.pop_front().expect("a read in flight");
                let (lines, after_read) = match reading.await.map_err(anyhow::Error::from).and_then(|r| r) {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), next, "a subscription could not read the log");
                        let _ = tx.send(Item::End { next, reason: "error" }).await;
                        return;
                    }
                };
                for Line { offset, line, .. } in lines {
                    send!(Item::Event { offset, line });
                }
                next = next.max(after_read);
                if after_read < end || end == u64::MAX {
                    break; // the end of the log: later reads found nothing
                }
            }
            for (_, reading) in reads {
                reading.abort();
            }
            if !caught_up {
                caught_up = true;
                send!(Item::CaughtUp { next });
            }
            // Live: what the tail sends, until this subscriber falls behind it.
            loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => {
                        let _ = tx.send(Item::End { next, reason: "shutdown" }).await;
                        return;
                    }
                    _ = tx.closed() => return,
                    received = live.recv() => match received {
                        Ok(line) if line.offset < next => {}
                        Ok(line) if line.offset == next => {
                            next += 1;
                            if filter.admits(&line.author, &line.kind) {
                                send!(Item::Event { offset: line.offset, line: Arc::clone(&line.line) });
                            }
                        }
                        // Behind the tail (or it skipped ahead): read the store again.
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                            tracing::debug!(next, "a subscriber fell behind the live tail; it reads the store");
                            state.metrics.fell_behind();
                            break;
                        }
                        Err(broadcast::error::RecvError::Closed) => {
                            let _ = tx.send(Item::End { next, reason: "closed" }).await;
                            return;
                        }
                    },
                    _ = tokio::time::sleep_until(last_sent + HEARTBEAT) => send!(Item::Heartbeat { next }),
                }
            }
        }
    });
    rx
}

/// `GET /v1/subscribe?after=&author=&kind=`: WebSocket (an upgrade request), Server-Sent Events
/// (`Accept: text/event-stream`; `Last-Event-ID` resumes), or NDJSON (anything else).
pub(crate) async fn subscribe(
    State(state): State<AppState>,
    Query(wanted): Query<Wanted>,
    request: Request,
) -> Response {
    let filter = match wanted.filter() {
        Ok(filter) => filter,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let headers: &HeaderMap = request.headers();
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let after = resume.or(wanted.after).unwrap_or(0);
    let upgrade =
        headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let sse =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    if upgrade {
        let (mut parts, _) = request.into_parts();
        let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(ws) => ws,
            Err(rejection) => return rejection.into_response(),
        };
        let tracker = state.tracker.clone();
        return ws
            .on_upgrade(move |socket| tracker.track_future(websocket(socket, subscription(&state, after, filter))));
    }
    let rx = subscription(&state, after, filter);
    let items = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    if sse {
        // Each item is its own SSE event; heartbeats are SSE comments.
        return Sse::new(items.map(|item| Ok::<_, Infallible>(item.sse()))).into_response();
    }
    // Whatever is waiting goes out as one chunk: a catch-up is not a write per event.
    let lines = items.ready_chunks(BUFFER).map(|items| {
        let mut chunk = String::with_capacity(items.len() * 1024);
        for item in items {
            item.write_json(&mut chunk);
            chunk.push('\n');
        }
        Ok::<_, Infallible>(Bytes::from(chunk))
    });
    ([(header::CONTENT_TYPE, super::api::NDJSON)], Body::from_stream(lines)).into_response()
}

/// A WebSocket subscription: items as text messages; at the end, the `end` item and a close
/// frame whose reason is the offset to resume from.
async fn websocket(mut socket: WebSocket, mut rx: mpsc::Receiver<Item>) {
    loop {
        tokio::select! {
            item = rx.recv() => {
                let Some(item) = item else { break };
                let end = match &item { Item::End { next, .. } => Some(*next), _ => None };
                if socket.send(Message::Text(item.json().into())).await.is_err() {
                    return;
                }
                if let Some(next) = end {
                    let frame = CloseFrame { code: axum::extract::ws::close_code::AWAY, reason: format!("resume after={next}").into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {} // a subscriber has nothing to say; pings are answered by the library
            },
        }
    }
}
