//! Events out of the node: pages of the log (`GET /v1/events`), one event by hash, and live
//! subscriptions (`GET /v1/subscribe`) as WebSocket, Server-Sent Events or NDJSON.
//!
//! A subscription reads the log itself from its offset, never a copy kept for it: it replays
//! what is stored, says `caught_up`, then waits for the next commit and reads again from where
//! it stopped. So there is no seam to fall into (no gap, no duplicate: each read starts at the
//! offset after the last event sent), and a slow subscriber costs only itself: its buffer
//! ([`BUFFER`] items) fills, its reader waits, and it goes on from the store when it drains —
//! no writer and no other subscriber ever waits for it.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts as _, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use mindlog_ledger::{Hash, LineFilter, PublicKey};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::api::{AppState, error};

/// Items a subscriber may have waiting before its reader pauses.
const BUFFER: usize = 256;
/// Events read from the store at a time.
const CHUNK: u64 = 1024;
/// How often an idle stream says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// What a subscription sends, in order: events, once `CaughtUp`, then events as they commit,
/// `Heartbeat`s while idle, and `End` (with the offset to resume from) when the node stops.
#[derive(Debug)]
enum Item {
    Event { offset: u64, line: Vec<u8> },
    CaughtUp { next: u64 },
    Heartbeat { next: u64 },
    End { next: u64, reason: &'static str },
}

impl Item {
    /// The NDJSON and WebSocket form: one JSON object.
    fn json(&self) -> String {
        match self {
            Item::Event { offset, line } => {
                format!("{{\"offset\":{offset},\"event\":{}}}", String::from_utf8_lossy(line))
            }
            Item::CaughtUp { next } => format!("{{\"caught_up\":{{\"next\":{next}}}}}"),
            Item::Heartbeat { next } => format!("{{\"heartbeat\":{{\"next\":{next}}}}}"),
            Item::End { next, reason } => format!("{{\"end\":{{\"next\":{next},\"reason\":\"{reason}\"}}}}"),
        }
    }

    /// The Server-Sent Events form; an event's id is the offset to resume from after it.
    fn sse(&self) -> SseEvent {
        match self {
            Item::Event { offset, line } => {
                SseEvent::default().id((offset + 1).to_string()).event("event").data(String::from_utf8_lossy(line))
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

/// Reads up to `limit` lines from `next` on a blocking thread: the lines and the offset after them.
async fn read(
    state: &AppState,
    next: u64,
    filter: LineFilter,
    limit: u64,
) -> anyhow::Result<(Vec<(u64, Vec<u8>)>, u64)> {
    let hosted = std::sync::Arc::clone(&state.hosted);
    tokio::task::spawn_blocking(move || {
        let ledger = hosted.ledger()?;
        let mut lines = Vec::new();
        let next = ledger.export_lines(next..u64::MAX, &filter, limit, &mut |offset, line| {
            lines.push((offset, line.to_vec()));
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
    match read(&state, wanted.after.unwrap_or(0), filter, limit).await {
        Ok((lines, next)) => {
            let mut body = Vec::with_capacity(lines.iter().map(|(_, l)| l.len() + 1).sum());
            for (_, line) in lines {
                body.extend_from_slice(&line);
                body.push(b'\n');
            }
            (
                [
                    (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
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
        ledger.export_lines(offset..offset + 1, &LineFilter::default(), 1, &mut |_, line| {
            found = Some(line.to_vec());
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

/// Starts a subscription's reader: items arrive on the receiver, [`BUFFER`] at most waiting.
fn subscription(state: &AppState, after: u64, filter: LineFilter) -> mpsc::Receiver<Item> {
    let (tx, rx) = mpsc::channel(BUFFER);
    let state = state.clone();
    state.tracker.clone().spawn(async move {
        let _counted = state.metrics.subscriber();
        let shutdown = state.shutdown.clone();
        let mut commits = state.hosted.commits();
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
        loop {
            commits.borrow_and_update();
            // Everything stored from `next` on, then `caught_up` (once).
            loop {
                let (lines, after_read) = match read(&state, next, filter.clone(), CHUNK).await {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), next, "a subscription could not read the log");
                        let _ = tx.send(Item::End { next, reason: "error" }).await;
                        return;
                    }
                };
                let full = lines.len() as u64 == CHUNK;
                for (offset, line) in lines {
                    send!(Item::Event { offset, line });
                    next = offset + 1;
                }
                next = next.max(after_read);
                if !full {
                    break;
                }
            }
            if !caught_up {
                caught_up = true;
                send!(Item::CaughtUp { next });
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    let _ = tx.send(Item::End { next, reason: "shutdown" }).await;
                    return;
                }
                _ = tx.closed() => return,
                changed = commits.changed() => if changed.is_err() {
                    let _ = tx.send(Item::End { next, reason: "closed" }).await;
                    return;
                },
                _ = tokio::time::sleep_until(last_sent + HEARTBEAT) => send!(Item::Heartbeat { next }),
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
        let mut chunk = String::new();
        for item in items {
            chunk.push_str(&item.json());
            chunk.push('\n');
        }
        Ok::<_, Infallible>(Bytes::from(chunk))
    });
    ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response()
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
