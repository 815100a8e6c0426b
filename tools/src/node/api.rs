//! The node's HTTP routes (docs/api.md). Every route that reads a view, the statistics, verify,
//! export or SQL runs the `mindlog` command that prints the same thing ([`served_command`]):
//! the route is a command line, the JSON answer is that command's `--json` report, and an error
//! is the one line the command prints, with a status ([`status_of`]). Commands go through the
//! node's writer, which decides them as the CLI's `Session` does ([`crate::session::decide_on`]).
//! Nothing here decides a rule or shapes a report.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{self, BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use futures::TryStreamExt as _;
use mindlog_commands::Rejection;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::guard::{self, LoginCodes};
use super::hosted::Hosted;
use super::metrics::Metrics;
use super::stream::Tail;
use super::{CLI_MEDIA_TYPE, CliRequest, Frame};
use crate::cli::Cli;
use crate::home::Home;
use crate::output::Format;
use crate::refusal::Refusal;
use crate::served::{self, Progress, Served, Sink};
use crate::session::{NotRun, Written, written};
use crate::{Failure, Finished};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

pub(crate) struct Shared {
    pub(crate) hosted: Arc<Hosted>,
    pub(crate) token: String,
    pub(crate) address: SocketAddr,
    pub(crate) allow_remote: bool,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) login: LoginCodes,
    pub(crate) metrics: Metrics,
    /// Newly committed events, rendered once for every live subscriber.
    pub(crate) tail: Tail,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        hosted: Arc<Hosted>,
        token: String,
        address: SocketAddr,
        allow_remote: bool,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        login: LoginCodes,
        metrics: Metrics,
    ) -> AppState {
        let tail = Tail::start(Arc::clone(&hosted), shutdown.clone(), &tracker);
        AppState(Arc::new(Shared { tail, hosted, token, address, allow_remote, shutdown, tracker, login, metrics }))
    }
}

/// The view routes: each is the command line whose `--json` report it serves (`{name}` is the
/// path parameter; query parameters become flags: `?as_of=2026-01-01` is `--as-of 2026-01-01`,
/// `?all=true` is `--all`). `limit` and `offset` page a report that is a list.
pub(crate) const VIEWS: &[(&str, &[&str])] = &[
    ("/v1/personas", &["persona", "list"]),
    ("/v1/personas/{persona}", &["persona", "show", "{persona}"]),
    ("/v1/personas/{persona}/memories", &["memory", "list", "{persona}"]),
    ("/v1/listings", &["market", "list"]),
    ("/v1/listings/{listing}", &["market", "show", "{listing}"]),
    ("/v1/leaderboard/{board}", &["leaderboard", "{board}", "--limit", "1000000"]),
    ("/v1/reputation/{subject}", &["rep", "show", "{subject}"]),
    ("/v1/audit/pending", &["audit", "pending"]),
    ("/v1/audit/sessions/{session}", &["audit", "show", "{session}"]),
    ("/v1/identities", &["identity", "list"]),
    ("/v1/projections", &["projections", "status"]),
    ("/v1/stats", &["stats"]),
    ("/v1/peers", &["peers"]),
    ("/v1/replication", &["replicate"]),
    ("/v1/forks", &["forks"]),
];

/// The routes whose POST body is not JSON: their media type, and whether it is streamed (no size
/// limit).
pub(crate) const NOT_JSON: &[(&str, &str, bool)] = &[
    ("/v1/cli", CLI_MEDIA_TYPE, true),
    ("/v1/events", NDJSON, true),
    ("/v1/witness/add-checkpoint", "text/plain", false),
];

/// One route: method, path, handler and what the API document says of it — declared once for
/// the router, `/openapi.json` and the test that tries each route without a token.
pub(crate) struct Route {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    handler: MethodRouter<AppState>,
    pub(crate) doc: Doc,
}

/// What `/openapi.json` says of a route.
pub(crate) struct Doc {
    pub(crate) summary: std::borrow::Cow<'static, str>,
    /// Query parameters: name, meaning.
    pub(crate) query: &'static [(&'static str, &'static str)],
    /// The request body, if any.
    pub(crate) request: Option<Media>,
    /// The answer of a success.
    pub(crate) answer: Media,
}

/// A body: its media type, and the schema of a JSON one (a component's name; `NAME[]` an array
/// of them), if it has one.
pub(crate) type Media = (&'static str, Option<&'static str>);

const JSON: &str = "application/json";
const PAGED: &[(&str, &str)] =
    &[("limit", "At most this many items of a list"), ("offset", "Skip this many items of a list first")];
const SUBSCRIPTION: &[(&str, &str)] = &[
    ("after", "The offset to start from: 0 for the whole log, or the `next` a stream gave"),
    ("author", "Only this author's events (a public key in hex)"),
    ("kind", "Only events of this kind (`persona.created/1`)"),
];
const SIGNER: &[(&str, &str)] = &[("as", "Sign as this local identity (a name from `mindlog identity list`)")];

fn route(method: &'static str, path: &'static str, handler: MethodRouter<AppState>, doc: Doc) -> Route {
    Route { method, path, handler, doc }
}

fn doc(summary: impl Into<std::borrow::Cow<'static, str>>, answer: Media) -> Doc {
    Doc { summary: summary.into(), query: &[], request: None, answer }
}

pub(crate) fn table() -> Vec<Route> {
    let mut all = vec![
        route(
            "GET",
            "/health",
            get(health),
            doc("Whether the node is up and its store open; needs no token", (JSON, Some("Health"))),
        ),
        route(
            "GET",
            "/metrics",
            get(super::metrics::render),
            doc(
                "Prometheus metrics (OpenMetrics text); no token from the node's own machine",
                ("application/openmetrics-text", None),
            ),
        ),
        route(
            "GET",
            "/login",
            get(guard::login),
            Doc {
                query: &[("code", "The one-time code `mindlog node` printed")],
                ..doc(
                    "Trades the one-time login code for a cookie that holds the token (for browsers)",
                    ("text/plain", None),
                )
            },
        ),
        route(
            "POST",
            "/v1/login",
            post(guard::new_login),
            doc("A new one-time login URL for a browser (`mindlog open`): {\"url\": …}", (JSON, None)),
        ),
        route(
            "POST",
            "/v1/cli",
            post(cli),
            Doc {
                request: Some((CLI_MEDIA_TYPE, None)),
                ..doc(
                    "Runs a mindlog command line (the CLI through the node; from the node's machine only)",
                    (CLI_MEDIA_TYPE, None),
                )
            },
        ),
        route(
            "POST",
            "/v1/commands",
            post(command),
            Doc {
                query: SIGNER,
                request: Some((JSON, Some("Command"))),
                ..doc(
                    "Decides and appends one command; the events written, after the durable commit",
                    (JSON, Some("Written[]")),
                )
            },
        ),
        route(
            "POST",
            "/v1/commands:batch",
            post(batch),
            Doc {
                query: SIGNER,
                request: Some((JSON, Some("Command[]"))),
                ..doc("Several commands in order, each on its own; one result each", (JSON, Some("BatchResult[]")))
            },
        ),
        route(
            "GET",
            "/v1/events",
            get(super::stream::events),
            Doc {
                query: &[
                    ("after", "The offset to start from"),
                    ("limit", "At most this many events (default 1,000, at most 100,000)"),
                    ("author", "Only this author's events"),
                    ("kind", "Only events of this kind"),
                ],
                ..doc(
                    "A page of the log as export lines (importable); the mindlog-next header is the next page's `after`",
                    (NDJSON, None),
                )
            },
        ),
        route(
            "POST",
            "/v1/events",
            post(ingest),
            Doc {
                request: Some((NDJSON, None)),
                ..doc(
                    "Adds events signed elsewhere (export lines), checked, all or nothing, as `mindlog import`",
                    (JSON, None),
                )
            },
        ),
        route("GET", "/v1/events/{hash}", get(super::stream::event), doc("One event's export line", (JSON, None))),
        route(
            "GET",
            "/v1/subscribe",
            get(super::stream::subscribe),
            Doc {
                query: SUBSCRIPTION,
                ..doc(
                    "Live events: what is stored after an offset, then `caught_up`, then each event as it commits; \
                 NDJSON, Server-Sent Events (Accept: text/event-stream) or WebSocket (an upgrade request)",
                    (NDJSON, None),
                )
            },
        ),
        route("GET", "/v1/feeds", get(feeds), doc("Every feed's head: author, seq, hash, offset", (JSON, None))),
        route(
            "POST",
            "/v1/verify",
            post(verify),
            Doc {
                query: &[
                    ("views", "Also check the views (true)"),
                    ("full", "Also rebuild the views and compare (true)"),
                ],
                ..doc(
                    "Verifies the store: `mindlog verify`'s report; with Accept: application/x-ndjson, progress lines, then the report",
                    (JSON, None),
                )
            },
        ),
        route(
            "POST",
            "/v1/query",
            post(query),
            Doc {
                request: Some((JSON, Some("QueryBody"))),
                ..doc(
                    "Read-only SQL: JSON rows, or NDJSON, CSV or Arrow IPC (application/vnd.apache.arrow.stream) by Accept",
                    (JSON, None),
                )
            },
        ),
        route(
            "GET",
            "/v1/export.jsonl",
            get(export_jsonl),
            Doc {
                query: &[("include_private", "Include private payloads (true)")],
                ..doc("The whole log as export lines, streamed: `mindlog export --jsonl`", (NDJSON, None))
            },
        ),
        route(
            "GET",
            "/v1/export/{table}",
            get(export_parquet),
            doc(
                "One table as Parquet (`events.parquet`, `personas.parquet`, …): `mindlog export --parquet`",
                ("application/vnd.apache.parquet", None),
            ),
        ),
        route(
            "POST",
            "/v1/erasures",
            post(erasures),
            Doc {
                request: Some((JSON, Some("ErasureBody"))),
                ..doc(
                    "Erases a memory's text (`memory forget --erase`), a persona's private data (`persona erase`) or events' payloads (`erase`): that command's report",
                    (JSON, None),
                )
            },
        ),
        route(
            "GET",
            "/v1/checkpoint",
            get(checkpoint),
            Doc {
                query: &[("author", "The feed's author: a key, an identity name or a key prefix (default: yours)")],
                ..doc(
                    "The newest checkpoint published in a feed that checks here (`mindlog checkpoint`): C2SP tlog-checkpoint in a signed note",
                    (TEXT, None),
                )
            },
        ),
        route(
            "POST",
            "/v1/checkpoint",
            post(sign),
            Doc {
                query: SIGNER,
                ..doc(
                    "Signs a checkpoint of your feed at its head and publishes it in the feed (`mindlog sign`): the signed note",
                    (TEXT, None),
                )
            },
        ),
        route(
            "GET",
            "/v1/proof",
            get(proof),
            Doc {
                query: &[
                    ("event", "An event's hash or unique prefix: its inclusion proof (`mindlog prove EVENT`)"),
                    ("author", "With old and new: a consistency proof of this feed (`mindlog prove --consistency`)"),
                    ("old", "The older size (1 or more)"),
                    ("new", "The newer size: that of a checkpoint published in the feed"),
                ],
                ..doc(
                    "A proof against a checkpoint published in the feed, never another root: C2SP tlog-proof@v1 for an event, tlog-witness's add-checkpoint body for consistency",
                    (TEXT, None),
                )
            },
        ),
        route(
            "POST",
            "/v1/witness/add-checkpoint",
            post(add_checkpoint),
            Doc {
                request: Some((TEXT, None)),
                ..doc(
                    "C2SP tlog-witness's add-checkpoint: `old N`, a consistency proof from the size this node's identity last cosigned of the feed, a blank line, the new checkpoint; answers with the cosignature line (`mindlog witness cosign -`)",
                    (TEXT, None),
                )
            },
        ),
        route("GET", "/openapi.json", get(openapi), doc("This document (Swagger UI at /docs)", (JSON, None))),
    ];
    for (path, template) in VIEWS {
        let handler =
            move |State(state): State<AppState>, params: RawPathParams, Query(query): Query<Vec<(String, String)>>| {
                view(state, template, params, query)
            };
        all.push(Route {
            method: "GET",
            path,
            handler: get(handler),
            doc: Doc { query: PAGED, ..doc(view_summary(template), (JSON, None)) },
        });
    }
    all
}

/// A view route's summary: the command whose `--json` report it serves.
fn view_summary(template: &[&str]) -> String {
    let command =
        template.iter().filter(|a| !a.starts_with("--") && a.parse::<u64>().is_err()).copied().collect::<Vec<_>>();
    format!("`mindlog {} --json`'s report (other query parameters are its flags)", command.join(" "))
}

pub(crate) fn router(state: AppState) -> Router {
    let mut paths: std::collections::BTreeMap<&'static str, MethodRouter<AppState>> = Default::default();
    for Route { path, handler, .. } in table() {
        let merged = match paths.remove(path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        paths.insert(path, merged);
    }
    let mut router = Router::new();
    for (path, handler) in paths {
        let limit = if NOT_JSON.iter().any(|(p, _, streamed)| *p == path && *streamed) {
            axum::extract::DefaultBodyLimit::disable()
        } else {
            axum::extract::DefaultBodyLimit::max(BODY_LIMIT)
        };
        router = router.route(path, handler.layer(limit));
    }
    router
        .merge(super::openapi::swagger_ui())
        .merge(super::dashboard::router())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route; see docs/api.md") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .layer(axum::middleware::from_fn_with_state(state.clone(), super::metrics::count))
        .with_state(state)
}

/// The largest JSON body a route takes (the streamed ones, `/v1/cli` and `POST /v1/events`, take any).
const BODY_LIMIT: usize = 16 << 20;

/// The body of every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong: a stable code (`bad_request`, `unauthorized`, `not_found`, `rejected`,
/// `head_moved`, `refused`, …) and the one line `mindlog` prints for it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    code: String,
    message: String,
}

impl ErrorBody {
    fn new(code: &str, message: &str) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: code.to_owned(), message: message.to_owned() } }
    }
}

/// `{"error": {"code": CODE, "message": MESSAGE}}` with `status`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

/// The status and code of a command that did not succeed.
pub(crate) fn status_of(failure: &Failure) -> (StatusCode, &'static str) {
    fn rejection(r: &Rejection) -> (StatusCode, &'static str) {
        match r {
            Rejection::UnknownPersona(_)
            | Rejection::UnknownCommitment(_)
            | Rejection::UnknownMemory(_)
            | Rejection::Unknown { .. } => (StatusCode::NOT_FOUND, "not_found"),
            _ => (StatusCode::CONFLICT, "rejected"),
        }
    }
    match failure {
        Failure::Usage(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        Failure::Failed => (StatusCode::UNPROCESSABLE_ENTITY, "failed"),
        Failure::Rejected(r) => rejection(r),
        Failure::Refused(Refusal::Reference(r)) => match rejection(r) {
            (StatusCode::NOT_FOUND, code) => (StatusCode::NOT_FOUND, code),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
        },
        Failure::Refused(
            Refusal::UnknownAuthor { .. }
            | Refusal::UnknownKind { .. }
            | Refusal::UnknownSession { .. }
            | Refusal::UnknownEvent { .. }
            | Refusal::NotYetCreated { .. }
            | Refusal::NoCheckpoint { .. }
            | Refusal::NoCheckpointAt { .. },
        ) => (StatusCode::NOT_FOUND, "not_found"),
        Failure::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
        Failure::BadQuery(_) => (StatusCode::BAD_REQUEST, "bad_query"),
        Failure::TimedOut(_) => (StatusCode::REQUEST_TIMEOUT, "timed_out"),
        Failure::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        Failure::Damaged(_) => (StatusCode::INTERNAL_SERVER_ERROR, "damaged"),
        Failure::Error(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// A piece of a served command's answer, as it is produced.
pub(crate) enum Piece {
    Out(Vec<u8>),
    Err(Vec<u8>),
    Progress(Progress),
    Done(Finished),
}

/// A served command's output, sent to the handler as it is written. A full channel holds the
/// command up (it writes into a bounded buffer); a handler that went away reads as a closed pipe.
struct ChannelSink(mpsc::Sender<Piece>);

impl ChannelSink {
    /// Waits for room in the channel. Not tokio's `blocking_send`, which refuses to run inside a
    /// runtime: a command may write from inside one of its own (`query` does).
    fn send(&self, piece: Piece) -> io::Result<()> {
        futures::executor::block_on(self.0.send(piece)).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Sink for ChannelSink {
    fn stdout(&self, bytes: &[u8]) -> io::Result<()> {
        self.send(Piece::Out(bytes.to_vec()))
    }

    fn stderr(&self, bytes: &[u8]) -> io::Result<()> {
        self.send(Piece::Err(bytes.to_vec()))
    }

    fn progress(&self, progress: Progress) {
        let _ = self.0.try_send(Piece::Progress(progress));
    }
}

/// What a served command is given: its command line (without the program's name), the client's
/// working folder, and its standard input. Read on the blocking thread (it may read the request).
type Input = Box<dyn FnOnce() -> Result<Invocation, String> + Send>;

/// A command line to run as a served command, and what it runs against.
#[derive(Default)]
pub(crate) struct Invocation {
    argv: Vec<String>,
    /// The client's working folder.
    cwd: Option<PathBuf>,
    /// The client's standard input.
    stdin: Option<Box<dyn Read + Send>>,
    /// Whether the client's standard output is a terminal.
    terminal: bool,
}

/// An input of just a command line (a route's).
pub(super) fn just(argv: Vec<String>) -> Input {
    Box::new(move || Ok(Invocation { argv, ..Invocation::default() }))
}

/// Runs a `mindlog` command on a blocking thread as a served command ([`crate::served`]), and
/// returns its output as it comes, ending with [`Piece::Done`].
pub(crate) fn served_command(state: &AppState, input: Input) -> mpsc::Receiver<Piece> {
    let (tx, rx) = mpsc::channel(16);
    let hosted = Arc::clone(&state.hosted);
    // A thread of its own, not tokio's blocking pool: a command may run a runtime of its own
    // (`query` does), which a thread of the node's runtime may not.
    let spawned = std::thread::Builder::new().name("mindlog-served".into()).spawn(move || {
        let sink: Arc<dyn Sink> = Arc::new(ChannelSink(tx.clone()));
        let finished = match input() {
            Err(message) => {
                let _ = sink.stderr(format!("mindlog: {message}\n").as_bytes());
                Finished { code: 2, failure: Some(Failure::Usage(message)) }
            }
            Ok(Invocation { argv, cwd, stdin, terminal }) => {
                let served = Served { sink: Arc::clone(&sink), stdin: Mutex::new(stdin), cwd, terminal, hosted };
                served::within(served, || parse_and_execute(argv))
            }
        };
        let _ = futures::executor::block_on(tx.send(Piece::Done(finished)));
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start a thread for a command");
    }
    rx
}

/// The served side of `main`: parse, then [`crate::execute`].
fn parse_and_execute(argv: Vec<String>) -> Finished {
    use clap::Parser as _;
    use clap::error::ErrorKind;
    let full: Vec<String> = std::iter::once("mindlog".to_owned()).chain(argv).collect();
    match Cli::try_parse_from(&full) {
        Ok(cli) if !crate::remote::forwards(&cli.command) => {
            let message = "`mindlog node` and `mindlog bench` do not run through a node".to_owned();
            say!("mindlog: {message}");
            Finished { code: 2, failure: Some(Failure::Usage(message)) }
        }
        Ok(cli) => crate::execute(cli),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            use std::io::Write as _;
            let mut out = crate::output::stdout();
            let _ = write!(out, "{}", e.render()).and_then(|()| out.flush());
            Finished { code: 0, failure: None }
        }
        Err(e) => {
            let line = crate::usage_line(&e, &full[1..]);
            say!("mindlog: {line}");
            Finished { code: 2, failure: Some(Failure::Usage(line)) }
        }
    }
}

/// A served command's whole output (its messages on stderr aside), and how it finished.
async fn collect(mut rx: mpsc::Receiver<Piece>) -> (Vec<u8>, Finished) {
    let mut out = Vec::new();
    while let Some(piece) = rx.recv().await {
        match piece {
            Piece::Out(b) => out.extend(b),
            Piece::Err(_) | Piece::Progress(_) => {}
            Piece::Done(finished) => return (out, finished),
        }
    }
    let failure = Failure::Error("the command stopped without finishing".into());
    (out, Finished { code: 2, failure: Some(failure) })
}

/// The error answer of a command that did not succeed: the one line it printed.
fn failed(failure: &Failure) -> Response {
    let (status, code) = status_of(failure);
    error(status, code, &failure.message())
}

/// Runs a command line and answers with its output as `content_type`, streamed as it is written;
/// a command that fails before it writes anything answers with its error.
pub(super) async fn stream_command(state: &AppState, argv: Vec<String>, content_type: &'static str) -> Response {
    let mut rx = served_command(state, just(argv));
    let first = loop {
        match rx.recv().await {
            Some(Piece::Out(bytes)) => break bytes,
            Some(Piece::Err(_) | Piece::Progress(_)) => {}
            Some(Piece::Done(finished)) => {
                return match &finished.failure {
                    None => ([(header::CONTENT_TYPE, content_type)], Body::empty()).into_response(),
                    Some(failure) => failed(failure),
                };
            }
            None => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the command stopped"),
        }
    };
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await? {
                Piece::Out(bytes) => return Some((Ok(Bytes::from(bytes)), rx)),
                Piece::Err(_) | Piece::Progress(_) => continue,
                Piece::Done(finished) => {
                    let failure = finished.failure?;
                    // The status is sent: the body ends with an error, so the client sees a broken
                    // transfer, never a short answer that looks whole.
                    tracing::warn!(?failure, "a streamed command failed after it started writing");
                    return Some((Err(io::Error::other(failure.message())), rx));
                }
            }
        }
    });
    let body = futures::stream::once(async move { Ok::<_, io::Error>(Bytes::from(first)) }).chain(rest);
    ([(header::CONTENT_TYPE, content_type)], Body::from_stream(body)).into_response()
}

use futures::StreamExt as _;

/// `POST /v1/cli`: the CLI through the node ([`crate::remote`]). The body is a [`CliRequest`]
/// line, then the command's standard input; the answer is the command's [`Frame`]s.
async fn cli(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if !peer.ip().is_loopback() {
        // A command line names files on the node's machine (export -o, import FILE): only a
        // client on that machine may send one.
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the CLI runs through a node only from the node's own machine",
        );
    }
    let reader = SyncIoBridge::new(StreamReader::new(request.into_body().into_data_stream().map_err(io::Error::other)));
    let input: Input = Box::new(move || {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        (&mut reader).take(1 << 20).read_until(b'\n', &mut line).map_err(|e| format!("reading the request: {e}"))?;
        let request: CliRequest =
            serde_json::from_slice(&line).map_err(|e| format!("the first line is not a command request: {e}"))?;
        // The whole input first, into a scratch file: a client sends all of its stdin before it
        // reads an answer, so a command answering as it reads would fill the connection both
        // ways and wait forever.
        let mut spool = tempfile::tempfile().map_err(|e| format!("spooling standard input: {e}"))?;
        io::copy(&mut reader, &mut spool).map_err(|e| format!("reading standard input: {e}"))?;
        io::Seek::rewind(&mut spool).map_err(|e| format!("spooling standard input: {e}"))?;
        let stdin: Box<dyn Read + Send> = Box::new(spool);
        Ok(Invocation { argv: request.argv, cwd: request.cwd, stdin: Some(stdin), terminal: request.terminal })
    });
    let rx = served_command(&state, input);
    let frames = futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let piece = rx.recv().await?;
        let (bytes, next) = match piece {
            Piece::Out(b) => (Frame::encode(1, &b), Some(rx)),
            Piece::Err(b) => (Frame::encode(2, &b), Some(rx)),
            Piece::Progress(p) => (Frame::encode(4, &serde_json::to_vec(&p).unwrap_or_default()), Some(rx)),
            Piece::Done(finished) => (Frame::encode(3, &[finished.code]), None),
        };
        Some((Ok::<_, Infallible>(Bytes::from(bytes)), next))
    });
    ([(header::CONTENT_TYPE, CLI_MEDIA_TYPE)], Body::from_stream(frames)).into_response()
}

/// A view route: the command line of `template`, its `--json` report.
async fn view(
    state: AppState,
    template: &'static [&'static str],
    params: RawPathParams,
    query: Vec<(String, String)>,
) -> Response {
    let params: HashMap<&str, &str> = params.iter().collect();
    let mut argv = vec!["--json".to_owned()];
    for part in template {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => argv.push(params.get(name).copied().unwrap_or_default().to_owned()),
            None => argv.push((*part).to_owned()),
        }
    }
    let (mut limit, mut offset) = (None, 0usize);
    for (key, value) in query {
        let number = || value.parse::<usize>().map_err(|_| format!("{key}={value:?} is not a number"));
        match key.as_str() {
            "limit" => match number() {
                Ok(n) => limit = Some(n),
                Err(m) => return error(StatusCode::BAD_REQUEST, "bad_request", &m),
            },
            "offset" => match number() {
                Ok(n) => offset = n,
                Err(m) => return error(StatusCode::BAD_REQUEST, "bad_request", &m),
            },
            _ => flag(&mut argv, &key, &value),
        }
    }
    let out = match report(&state, argv).await {
        Ok(out) => out,
        Err(failure) => return failed(&failure),
    };
    match serde_json::from_slice::<serde_json::Value>(&out) {
        Ok(serde_json::Value::Array(items)) => {
            let total = items.len();
            let page: Vec<_> = items.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect();
            let mut response = axum::Json(page).into_response();
            response.headers_mut().insert("x-total-count", HeaderValue::from(total));
            response
        }
        Ok(value) => axum::Json(value).into_response(),
        Err(_) => ([(header::CONTENT_TYPE, NDJSON)], out).into_response(),
    }
}

/// A command's `--json` report (the command line says `--json`), or why there is none: a command
/// that fails after printing a report of what failed (`verify`, `check`) still gives its report.
pub(super) async fn report(state: &AppState, argv: Vec<String>) -> Result<Vec<u8>, Failure> {
    let (out, finished) = collect(served_command(state, just(argv))).await;
    match finished.failure {
        Some(failure) if out.is_empty() || !matches!(failure, Failure::Failed) => Err(failure),
        _ => Ok(out),
    }
}

/// A query parameter as a flag: `as_of=X` is `--as-of X`, `all=true` is `--all`, `all=false` nothing.
fn flag(argv: &mut Vec<String>, key: &str, value: &str) {
    let name = format!("--{}", key.replace('_', "-"));
    match value {
        "true" | "" => argv.push(name),
        "false" => {}
        _ => {
            argv.push(name);
            argv.push(value.to_owned());
        }
    }
}

/// `GET /openapi.json`: every route and method of this node, from [`routes`] (docs/api.md
/// describes each).
async fn openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOCUMENT.get_or_init(|| super::openapi::document(&table()).to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, JSON)], text.clone()).into_response()
}

/// `GET /health`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok`, or `closing` while the store is closed (for a scrub, or at shutdown).
    status: &'static str,
    /// The node's version.
    version: &'static str,
    store_open: bool,
    /// An erasure's scrub waits for other requests to let go of the store.
    scrub_pending: bool,
}

async fn health(State(state): State<AppState>) -> Response {
    let open = state.hosted.is_open();
    let status = if open { "ok" } else { "closing" };
    let scrub_pending = state.hosted.scrub_pending();
    axum::Json(Health { status, version: env!("CARGO_PKG_VERSION"), store_open: open, scrub_pending }).into_response()
}

/// `?as=NAME`: sign as this local identity.
#[derive(Debug, Default, Deserialize)]
struct Signer {
    #[serde(rename = "as")]
    as_identity: Option<String>,
}

/// One command to run: its JSON form (docs/commands.md) and an optional `expect_head`.
fn parse_command(mut value: serde_json::Value) -> Result<(mindlog_commands::Command, Option<u64>), String> {
    let expect = match value.as_object_mut().and_then(|o| o.remove("expect_head")) {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or("expect_head must be a number: the seq of your feed's head, 0 for none")?),
    };
    let command = serde_json::from_value(value).map_err(|e| format!("not a command: {e} (docs/commands.md)"))?;
    Ok((command, expect))
}

/// What one command of `POST /v1/commands` or `:batch` became.
enum Ran {
    Written(Vec<Written>),
    Failed(StatusCode, &'static str, String),
}

/// One command's result in `POST /v1/commands:batch`: the events it wrote, or why none.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct BatchResult {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<Vec<Written>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
}

impl Ran {
    fn result(self) -> BatchResult {
        match self {
            Ran::Written(events) => BatchResult { ok: true, events: Some(events), error: None },
            Ran::Failed(_, code, message) => {
                BatchResult { ok: false, events: None, error: Some(ErrorDetail { code: code.to_owned(), message }) }
            }
        }
    }
}

/// Decides and appends `commands` in order, through the node's writer (the same decision as the
/// CLI's [`crate::session::Session`]): each on its own, answered after its durable commit.
async fn run_commands(
    state: &AppState,
    signer: Option<String>,
    commands: Vec<serde_json::Value>,
) -> Result<Vec<Ran>, Response> {
    if let Some(name) = &signer
        && let Err(refusal) = crate::home::identity_name(name)
    {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "refused", &refusal.to_string()));
    }
    // Loaded once and kept by the node: no blocking thread for this.
    let served = Served {
        sink: Arc::new(NullSink),
        stdin: Mutex::new(None),
        cwd: None,
        terminal: false,
        hosted: Arc::clone(&state.hosted),
    };
    let identity = match served::within(served, || Home::resolve(None, signer, Format::Json)?.identity()) {
        Ok(identity) => identity,
        Err(e) if e.downcast_ref::<crate::home::NoIdentity>().is_some() => {
            return Err(error(StatusCode::NOT_FOUND, "not_found", &format!("{e:#}")));
        }
        Err(e) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &format!("{e:#}"))),
    };
    // Every command is queued at once: the writer keeps one author's commands in order.
    let started = Instant::now();
    let mut answers = Vec::with_capacity(commands.len());
    for value in commands {
        answers.push(match parse_command(value) {
            Ok((command, expect)) => match state.hosted.writer().submit(identity.clone(), false, command, expect) {
                Ok(answer) => Ok(answer),
                Err(e) => return Err(error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &format!("{e:#}"))),
            },
            Err(message) => Err(message),
        });
    }
    let mut out = Vec::with_capacity(answers.len());
    for answer in answers {
        let outcome = match answer {
            Err(message) => {
                out.push(Ran::Failed(StatusCode::BAD_REQUEST, "bad_request", message));
                continue;
            }
            Ok(answer) => answer.await.unwrap_or_else(|_| Err(super::writer::lost())),
        };
        out.push(match outcome {
            Ok(Ok(events)) => {
                state.metrics.appended(events.len() as u64, started.elapsed());
                Ran::Written(written(&events))
            }
            Ok(Err(NotRun::Rejected(rejection))) => {
                let message = rejection.to_string();
                let (status, code) = status_of(&Failure::Rejected(rejection));
                Ran::Failed(status, code, message)
            }
            Ok(Err(NotRun::HeadMoved { expected, found })) => Ran::Failed(
                StatusCode::CONFLICT,
                "head_moved",
                format!(
                    "expect_head {expected}, but the feed's head is at seq {found}: read it again and decide again"
                ),
            ),
            // Later commands were queued already: each gets its own answer.
            Err(e) => Ran::Failed(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{e:#}")),
        });
    }
    Ok(out)
}

/// Output of a command run for a route that prints nothing.
struct NullSink;

impl Sink for NullSink {
    fn stdout(&self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn stderr(&self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// `POST /v1/commands`: one command; the events it appended, after the durable commit.
async fn command(State(state): State<AppState>, Query(signer): Query<Signer>, body: Bytes) -> Response {
    let value = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(value) => value,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", &format!("the body is not JSON: {e}")),
    };
    match run_commands(&state, signer.as_identity, vec![value]).await {
        Err(response) => response,
        Ok(mut ran) => match ran.pop() {
            Some(Ran::Written(events)) => (StatusCode::OK, axum::Json(events)).into_response(),
            Some(Ran::Failed(status, code, message)) => error(status, code, &message),
            None => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no result"),
        },
    }
}

/// `POST /v1/commands:batch`: an array of commands, run in order (each on its own, as `submit`
/// runs them); one result per command.
async fn batch(State(state): State<AppState>, Query(signer): Query<Signer>, body: Bytes) -> Response {
    let commands = match serde_json::from_slice::<Vec<serde_json::Value>>(&body) {
        Ok(commands) => commands,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("the body is not a JSON array of commands: {e}"),
            );
        }
    };
    match run_commands(&state, signer.as_identity, commands).await {
        Err(response) => response,
        Ok(ran) => axum::Json(ran.into_iter().map(Ran::result).collect::<Vec<_>>()).into_response(),
    }
}

/// `POST /v1/events`: signed events as export lines (NDJSON), checked and added all or nothing
/// by `mindlog import`.
async fn ingest(State(state): State<AppState>, request: Request) -> Response {
    let reader = SyncIoBridge::new(StreamReader::new(request.into_body().into_data_stream().map_err(io::Error::other)));
    let input: Input = Box::new(move || {
        let stdin: Box<dyn Read + Send> = Box::new(reader);
        Ok(Invocation {
            argv: vec!["--json".into(), "import".into(), "-".into()],
            stdin: Some(stdin),
            ..Invocation::default()
        })
    });
    let (out, finished) = collect(served_command(&state, input)).await;
    match &finished.failure {
        None => ([(header::CONTENT_TYPE, "application/json")], out).into_response(),
        Some(failure) => failed(failure),
    }
}

async fn feeds(State(state): State<AppState>) -> Response {
    let hosted = Arc::clone(&state.hosted);
    let heads =
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> { Ok(hosted.ledger()?.snapshot()?.heads()?) }).await;
    match heads {
        Ok(Ok(heads)) => axum::Json(heads).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &format!("{e:#}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string()),
    }
}

/// `POST /v1/verify?views=true|full=true`: `mindlog verify --json`; a store that fails its check
/// answers 200 with `"ok": false` in the report.
async fn verify(
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let mut argv = vec!["--json".to_owned(), "verify".to_owned()];
    for (key, value) in &query {
        if !matches!(key.as_str(), "views" | "full") {
            return error(StatusCode::BAD_REQUEST, "bad_request", &format!("unknown parameter {key:?}: views or full"));
        }
        flag(&mut argv, key, value);
    }
    let rx = served_command(&state, just(argv));
    // The report, or (NDJSON) progress lines as verify goes, then the report.
    let reported = |out: &[u8], finished: &Finished| -> Result<serde_json::Value, (StatusCode, &'static str, String)> {
        match &finished.failure {
            Some(Failure::Failed) | None if !out.is_empty() => serde_json::from_slice(out)
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("verify's report: {e}"))),
            Some(failure) => {
                let (status, code) = status_of(failure);
                Err((status, code, failure.message()))
            }
            None => Err((StatusCode::INTERNAL_SERVER_ERROR, "internal", "verify printed nothing".to_owned())),
        }
    };
    if !accepts(&headers, NDJSON) {
        let (out, finished) = collect(rx).await;
        return match reported(&out, &finished) {
            Ok(report) => axum::Json(report).into_response(),
            Err((status, code, message)) => error(status, code, &message),
        };
    }
    let lines = futures::stream::unfold((rx, Vec::new(), false), move |(mut rx, mut out, done)| async move {
        if done {
            return None;
        }
        loop {
            let line = match rx.recv().await {
                Some(Piece::Out(bytes)) => {
                    out.extend(bytes);
                    continue;
                }
                Some(Piece::Err(_)) => continue,
                Some(Piece::Progress(p)) => (serde_json::json!({ "progress": p }), false),
                Some(Piece::Done(finished)) => match reported(&out, &finished) {
                    Ok(report) => (serde_json::json!({ "report": report }), true),
                    Err((_, code, message)) => (serde_json::json!(ErrorBody::new(code, &message)), true),
                },
                None => (serde_json::json!(ErrorBody::new("internal", "verify stopped")), true),
            };
            let mut bytes = serde_json::to_vec(&line.0).unwrap_or_default();
            bytes.push(b'\n');
            return Some((Ok::<_, Infallible>(Bytes::from(bytes)), (rx, out, line.1)));
        }
    });
    ([(header::CONTENT_TYPE, NDJSON)], Body::from_stream(lines)).into_response()
}

/// The media type of the Arrow IPC stream format.
const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The NDJSON media type.
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// Whether the request's `Accept` header names `media_type`.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(media_type))
}

/// The body of `POST /v1/query`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryBody {
    /// Read-only SQL (SELECT, WITH, EXPLAIN); the tables are in docs/query.md.
    sql: String,
    /// An instant for the time-dependent columns.
    as_of: Option<String>,
    /// Seconds before the query is cancelled (default 60).
    timeout_s: Option<f64>,
}

/// `POST /v1/query`: read-only SQL, as `mindlog query`: JSON rows, or NDJSON, CSV or Arrow IPC by
/// the `Accept` header.
async fn query(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let body: QueryBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error(StatusCode::BAD_REQUEST, "bad_request", &format!("the body is not {{\"sql\": ...}}: {e}"));
        }
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let (format, content_type) = if accept.contains("text/csv") {
        ("csv", "text/csv")
    } else if accept.contains(ARROW_STREAM) {
        ("arrow", ARROW_STREAM)
    } else if accept.contains(NDJSON) {
        ("jsonl", NDJSON)
    } else if accept.contains("application/json") || accept.contains("*/*") {
        ("json", "application/json")
    } else {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "answers are application/json, application/x-ndjson, text/csv or application/vnd.apache.arrow.stream",
        );
    };
    let mut argv = vec!["query".to_owned(), body.sql, "--format".to_owned(), format.to_owned()];
    if let Some(at) = body.as_of {
        argv.extend(["--as-of".to_owned(), at]);
    }
    if let Some(seconds) = body.timeout_s {
        argv.extend(["--timeout".to_owned(), format!("{seconds}s")]);
    }
    let started = Instant::now();
    let response = stream_command(&state, argv, content_type).await;
    state.metrics.queried(started.elapsed());
    response
}

/// The body of `POST /v1/erasures`: exactly one of a memory (with its persona), a persona's
/// private data (`persona` with `"private": true`), or events.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErasureBody {
    /// The persona (one of yours), by name, id or id prefix.
    persona: Option<String>,
    /// With `persona`: the memory to forget and erase (id or prefix).
    memory: Option<String>,
    /// With `persona` and no `memory`: erase every private payload of the persona.
    #[serde(default)]
    private: bool,
    /// Events whose payloads to erase (hashes or unique prefixes).
    #[serde(default)]
    events: Vec<String>,
    /// Why (recorded in the signed erasure events; it is public).
    #[serde(default)]
    reason: String,
}

impl ErasureBody {
    /// The command line that does the erasure, or why the body names none. Values from the body
    /// are only ever positional arguments after `--` or a flag's own `--flag=value`: none can
    /// be read as another flag.
    fn argv(self) -> Result<Vec<String>, String> {
        let mut argv: Vec<String> = vec!["--json".into()];
        let reason = format!("--reason={}", self.reason);
        match (self.persona, self.memory, self.private, self.events.is_empty()) {
            (Some(persona), Some(memory), false, true) => {
                // `memory forget --erase` takes no reason (its erasure event records none).
                if !self.reason.is_empty() {
                    return Err("a memory's erasure takes no reason".into());
                }
                argv.extend(["memory".into(), "forget".into(), "--erase".into(), "--".into(), persona, memory]);
            }
            (Some(persona), None, true, true) => {
                argv.extend(["persona".into(), "erase".into(), reason, "--".into(), persona])
            }
            (None, None, false, false) => {
                argv.extend(["erase".into(), reason, "--".into()]);
                argv.extend(self.events);
            }
            _ => {
                return Err("name what to erase: {\"persona\", \"memory\"}, {\"persona\", \"private\": true} or {\"events\": [...]}".into());
            }
        }
        Ok(argv)
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// A command's whole output as text, or its error.
async fn text_command(state: &AppState, input: Input) -> Response {
    let (out, finished) = collect(served_command(state, input)).await;
    match &finished.failure {
        None => ([(header::CONTENT_TYPE, TEXT)], out).into_response(),
        Some(failure) => failed(failure),
    }
}

#[derive(Debug, Default, Deserialize)]
struct CheckpointQuery {
    author: Option<String>,
}

/// `GET /v1/checkpoint[?author=KEY]`: `mindlog checkpoint [AUTHOR]`.
async fn checkpoint(State(state): State<AppState>, Query(q): Query<CheckpointQuery>) -> Response {
    let mut argv = vec!["checkpoint".to_owned()];
    if let Some(author) = q.author {
        argv.extend(["--".to_owned(), author]);
    }
    text_command(&state, just(argv)).await
}

/// `POST /v1/checkpoint[?as=NAME]`: `mindlog sign`.
async fn sign(State(state): State<AppState>, Query(signer): Query<Signer>) -> Response {
    let mut argv = Vec::new();
    if let Some(name) = signer.as_identity {
        argv.extend(["--as".to_owned(), name]);
    }
    argv.push("sign".to_owned());
    text_command(&state, just(argv)).await
}

#[derive(Debug, Default, Deserialize)]
struct ProofQuery {
    event: Option<String>,
    author: Option<String>,
    old: Option<u64>,
    new: Option<u64>,
}

/// `GET /v1/proof?event=HASH` or `?author=KEY&old=N&new=M`: `mindlog prove`.
async fn proof(State(state): State<AppState>, Query(q): Query<ProofQuery>) -> Response {
    let argv = match q {
        ProofQuery { event: Some(event), author: None, old: None, new: None } => {
            vec!["prove".to_owned(), "--".to_owned(), event]
        }
        ProofQuery { event: None, author: Some(author), old: Some(old), new: Some(new) } => {
            vec!["prove".to_owned(), "--consistency".to_owned(), author, old.to_string(), new.to_string()]
        }
        _ => return error(StatusCode::BAD_REQUEST, "bad_request", "give event=HASH, or author=KEY, old=N and new=M"),
    };
    text_command(&state, just(argv)).await
}

/// `POST /v1/witness/add-checkpoint`: `mindlog witness cosign -` on the body; answers with the
/// cosignature line(s) of this node's identity, as C2SP tlog-witness does.
async fn add_checkpoint(State(state): State<AppState>, body: Bytes) -> Response {
    let input: Input = Box::new(move || {
        let stdin: Box<dyn Read + Send> = Box::new(io::Cursor::new(body));
        Ok(Invocation {
            argv: vec!["--json".into(), "witness".into(), "cosign".into(), "-".into()],
            stdin: Some(stdin),
            ..Invocation::default()
        })
    });
    let (out, finished) = collect(served_command(&state, input)).await;
    match &finished.failure {
        // A split view: the report with both checkpoints is the evidence, so it is the answer.
        Some(Failure::Failed) => {
            return (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "application/json")], out).into_response();
        }
        Some(failure) => return failed(failure),
        None => {}
    }
    let made: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    let witness = made["witness"].as_str().unwrap_or_default();
    let lines: String = made["text"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.strip_prefix("\u{2014} ").is_some_and(|rest| rest.starts_with(&format!("{witness} "))))
        .map(|l| format!("{l}\n"))
        .collect();
    ([(header::CONTENT_TYPE, TEXT)], lines).into_response()
}

/// `POST /v1/erasures`: the erasure commands of the CLI, whose scrub rewrites the file.
async fn erasures(State(state): State<AppState>, body: Bytes) -> Response {
    let argv = match serde_json::from_slice::<ErasureBody>(&body)
        .map_err(|e| format!("the body is not an erasure: {e}"))
        .and_then(ErasureBody::argv)
    {
        Ok(argv) => argv,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let (out, finished) = collect(served_command(&state, just(argv))).await;
    match &finished.failure {
        None => ([(header::CONTENT_TYPE, "application/json")], out).into_response(),
        Some(failure) => failed(failure),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ExportQuery {
    include_private: Option<bool>,
}

/// `GET /v1/export.jsonl`: `mindlog export --jsonl`, streamed.
async fn export_jsonl(State(state): State<AppState>, Query(q): Query<ExportQuery>) -> Response {
    let mut argv = vec!["export".to_owned(), "--jsonl".to_owned()];
    if q.include_private == Some(true) {
        argv.push("--include-private".to_owned());
    }
    stream_command(&state, argv, NDJSON).await
}

/// `GET /v1/export/{table}.parquet`: `mindlog export --parquet` into a scratch folder, then the
/// one file asked for.
async fn export_parquet(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(table) = file
        .strip_suffix(".parquet")
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "ask for TABLE.parquet (mindlog query --tables lists the tables)",
        );
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string()),
    };
    let argv = vec!["export".to_owned(), "--parquet".to_owned(), dir.path().display().to_string()];
    let (_, finished) = collect(served_command(&state, just(argv))).await;
    if let Some(failure) = &finished.failure {
        return failed(failure);
    }
    match tokio::fs::read(dir.path().join(format!("{table}.parquet"))).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/vnd.apache.parquet")], bytes).into_response(),
        Err(_) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no table {table:?} (mindlog query --tables lists the tables)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(body: &str) -> Result<Vec<String>, String> {
        serde_json::from_str::<ErasureBody>(body).map_err(|e| e.to_string())?.argv()
    }

    #[test]
    fn an_erasure_body_never_becomes_a_flag() {
        assert_eq!(argv(r#"{"events": ["--help"]}"#).unwrap(), ["--json", "erase", "--reason=", "--", "--help"]);
        assert_eq!(
            argv(r#"{"persona": "-x", "private": true, "reason": "--local"}"#).unwrap(),
            ["--json", "persona", "erase", "--reason=--local", "--", "-x"]
        );
        assert_eq!(
            argv(r#"{"persona": "Echo", "memory": "--as=bob"}"#).unwrap(),
            ["--json", "memory", "forget", "--erase", "--", "Echo", "--as=bob"]
        );
        assert!(argv(r#"{"persona": "Echo"}"#).is_err());
        assert!(argv(r#"{"persona": "Echo", "memory": "ab", "reason": "why"}"#).is_err());
        assert!(argv(r#"{"events": [], "persona": "Echo", "private": true, "memory": "ab"}"#).is_err());
    }
}
