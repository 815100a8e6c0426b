//! `mindlog node`: the long-running process that owns a home's store and serves it over HTTP
//! (docs/api.md): commands, events, views, SQL, live subscriptions, and every `mindlog` command
//! run on the home while it runs ([`crate::remote`]).
//!
//! Shutdown order (Ctrl-C or SIGTERM): the listener stops accepting; the root cancellation token
//! fires, so every subscription sends its resume offset and ends; axum waits for the requests in
//! flight (an append in progress finishes: it runs on a blocking thread that is never cancelled,
//! but its answer is sent only if the node is still up when it is ready);
//! WebSocket tasks (which axum does not wait for) are awaited through the task tracker; after
//! [`SHUTDOWN_DEADLINE`] the node stops waiting. Then `node.json` is removed and the store closed.

pub(crate) mod api;
pub(crate) mod dashboard;
pub(crate) mod guard;
pub(crate) mod hosted;
pub(crate) mod metrics;
pub(crate) mod openapi;
pub(crate) mod replication;
pub(crate) mod stream;
pub(crate) mod writer;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Outcome;
use crate::cli::NodeArgs;
use crate::home::Home;

/// The file in the home that says a node serves it: its pid, address and start time.
pub(crate) const NODE_FILE: &str = "node.json";
/// The file in the home holding the node's bearer token (mode 0600).
pub(crate) const TOKEN_FILE: &str = "node.token";
/// The media type of `POST /v1/cli`: a [`CliRequest`] line, then the command's standard input;
/// the answer is a stream of [`Frame`]s.
pub(crate) const CLI_MEDIA_TYPE: &str = "application/vnd.mindlog.cli";
/// The node's page cache, MiB (see `mindlog_ledger::set_cache_mb`).
const NODE_CACHE_MB: usize = 256;
/// How long shutdown waits for requests and streams before it stops waiting.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// What `node.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct NodeInfo {
    pub(crate) pid: u32,
    pub(crate) address: SocketAddr,
    pub(crate) started: String,
    pub(crate) version: String,
    /// With `--p2p`: the node's peer id and the multiaddrs it listens on, each with
    /// `/p2p/<peer id>` (what another node's `--peer` takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) peer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) p2p: Vec<String>,
}

/// The first line of `POST /v1/cli`: the command line (without the program's name) and the
/// client's working folder, against which relative paths are read.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CliRequest {
    pub(crate) argv: Vec<String>,
    pub(crate) cwd: Option<PathBuf>,
    /// Whether the client's standard output is a terminal.
    #[serde(default)]
    pub(crate) terminal: bool,
}

/// One piece of a served command's answer: `[tag: u8][length: u32 big-endian][bytes]`, tag 1
/// standard output, 2 standard error, 3 the exit code (one byte), 4 progress (a JSON
/// [`Progress`](crate::served::Progress)).
#[derive(Debug, PartialEq)]
pub(crate) enum Frame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(u8),
    Progress(crate::served::Progress),
    /// A frame this client does not know (from a newer node), or progress it cannot read:
    /// skipped, as nothing the command prints depends on it.
    Unknown,
}

impl Frame {
    pub(crate) fn encode(tag: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() + 5);
        out.push(tag);
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
        out
    }

    /// The next frame, or `None` at the end of the stream.
    pub(crate) fn read(input: &mut dyn Read) -> io::Result<Option<Frame>> {
        let mut head = [0u8; 5];
        match input.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut bytes = vec![0u8; len];
        input.read_exact(&mut bytes)?;
        Ok(Some(match head[0] {
            1 => Frame::Stdout(bytes),
            2 => Frame::Stderr(bytes),
            3 => Frame::Exit(bytes.first().copied().unwrap_or(2)),
            4 => serde_json::from_slice(&bytes).map_or(Frame::Unknown, Frame::Progress),
            _ => Frame::Unknown,
        }))
    }
}

/// `mindlog open`: the running node's pages in a browser, through a new one-time login URL.
pub(crate) fn open(home: &Home, print: bool) -> Result<Outcome> {
    let Some(running) = crate::remote::node_for(Some(home.dir().to_owned()))? else {
        anyhow::bail!("no node serves {}: start one with `mindlog node`", home.dir().display());
    };
    let url = running.login_url()?;
    let mut out = crate::output::stdout();
    if print {
        writeln!(out, "{url}")?;
        return Ok(Outcome::Success);
    }
    let opener: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        &["cmd", "/C", "start", ""]
    } else {
        &["xdg-open"]
    };
    let opened = std::process::Command::new(opener[0])
        .args(&opener[1..])
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match opened {
        Ok(status) if status.success() => writeln!(out, "opened {url}")?,
        _ => writeln!(out, "open this in your browser (it signs you in once): {url}")?,
    }
    Ok(Outcome::Success)
}

/// `mindlog node`.
pub(crate) fn run(home: &Home, args: &NodeArgs) -> Result<Outcome> {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        anyhow::bail!(
            "--listen {} is reachable from other hosts: add --allow-remote to mean it (the token still guards every route)",
            args.listen
        );
    }
    let node_file = home.dir().join(NODE_FILE);
    if let Some(running) = crate::remote::node_for(Some(home.dir().to_owned()))? {
        let info = &running.info;
        anyhow::bail!(
            "a node already serves {} (pid {}, http://{}): stop it first",
            home.dir().display(),
            info.pid,
            info.address
        );
    }
    // A long-running node reads the same pages again and again: a larger page cache than a
    // one-shot command's (MINDLOG_CACHE_MB still wins).
    mindlog_ledger::set_cache_mb(NODE_CACHE_MB);
    let ledger = home.open()?;
    let projections = mindlog_projections::Projections::new(&ledger);
    crate::session::catch_up_views(&projections)?;
    drop(projections);
    let token = token(&home.dir().join(TOKEN_FILE))?;
    let metrics = metrics::Metrics::default();
    let hosted = hosted::Hosted::new(ledger, metrics.clone());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let outcome = runtime.block_on(serve(home, args, Arc::clone(&hosted), metrics, token, &node_file));
    hosted.close();
    let _ = std::fs::remove_file(&node_file);
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome
}

async fn serve(
    home: &Home,
    args: &NodeArgs,
    hosted: Arc<hosted::Hosted>,
    metrics: metrics::Metrics,
    token: String,
    node_file: &Path,
) -> Result<Outcome> {
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let login = guard::LoginCodes::default();
    let code = login.issue();
    let state = api::AppState::new(
        Arc::clone(&hosted),
        token,
        address,
        args.allow_remote,
        shutdown.clone(),
        tracker.clone(),
        login,
        metrics,
    );
    let app = api::router(state);
    let replicator = replication::start(home, &hosted, args).await?;

    let info = NodeInfo {
        pid: std::process::id(),
        address,
        started: jiff::Timestamp::now().to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        peer_id: replicator.as_ref().map(|r| r.peer_id().to_string()),
        p2p: replicator.as_ref().map_or_else(Vec::new, |r| r.listen_addrs().iter().map(ToString::to_string).collect()),
    };
    crate::home::write_atomically(node_file, &serde_json::to_vec_pretty(&info)?)?;
    let mut out = crate::output::stdout();
    writeln!(out, "listening on http://{address}")?;
    writeln!(out, "token in {}", home.dir().join(TOKEN_FILE).display())?;
    writeln!(out, "browser login (once): http://{address}/login?code={code}")?;
    for p2p in &info.p2p {
        writeln!(out, "p2p listening on {p2p}")?;
    }
    out.flush()?;
    drop(out);
    tracing::info!(%address, home = %home.dir().display(), pid = info.pid, "node started");

    let stop = shutdown.clone();
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        stop.cancel();
    });
    let graceful = shutdown.clone();
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move { graceful.cancelled().await });
    let server = tokio::spawn(async move { server.await });
    shutdown.cancelled().await;
    tracker.close();
    let finished = tokio::time::timeout(SHUTDOWN_DEADLINE, async {
        let served = server.await;
        tracker.wait().await;
        served
    })
    .await;
    signals.abort();
    match finished {
        Ok(Ok(Ok(()))) => tracing::info!("node stopped"),
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "the server failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "the server task failed"),
        Err(_) => {
            tracing::warn!(deadline_s = SHUTDOWN_DEADLINE.as_secs(), "stopped waiting for requests at the deadline")
        }
    }
    Ok(Outcome::Success)
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The node's token: the one in `path` if it is there (a node restarted keeps its clients), else
/// a new one, 256 random bits in hex, written to a file created exclusively with mode 0600.
fn token(path: &Path) -> Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let text = text.trim();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                anyhow::bail!(
                    "{} can be read by others (mode {mode:o}): remove it, and a new one is made",
                    path.display()
                );
            }
        }
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(text.to_owned());
        }
        anyhow::bail!("{} does not hold a token: remove it, and a new one is made", path.display());
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("reading random bytes: {e}"))?;
    let token = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}
