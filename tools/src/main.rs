//! The `mindlog` binary: parses the command line, runs one command, and maps the outcome to an
//! exit code (0 success, 1 the thing checked is wrong, 2 usage, I/O or internal error).

#[macro_use]
mod output;
#[macro_use]
mod refusal;

mod bench;
mod bench_node;
mod bench_p2p;
mod bench_query;
mod bench_tlog;
mod cli;
mod erase_cmds;
mod home;
mod ledger_cmds;
mod market_cmds;
mod node;
mod persona_cmds;
mod pmm;
mod pyjson;
mod query_cmds;
mod remote;
mod served;
mod session;
mod tlog_cmds;
mod ui;
mod workload;

use std::process::ExitCode;

/// mimalloc: events are decoded on worker threads and dropped on the folding thread, a pattern
/// the system allocator handles slowly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::home::Home;

/// What a command concluded, when it ran to the end.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Done; exit 0.
    Success,
    /// The thing checked is wrong (verify found a failure, `submit` had a rejected command),
    /// and the command has said so; exit 1.
    Failed,
    /// The command was rejected and appended nothing: `mindlog: REJECTION` on stderr, exit 1.
    Rejected(mindlog_commands::Rejection),
    /// The command refused its input and wrote nothing (an unknown or ambiguous name, a kind
    /// without its version, an instant before the thing existed, a bad line of an import):
    /// `mindlog: REFUSAL` on stderr, exit 1.
    Refused(refusal::Refusal),
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    init_tracing(&cli);
    install_panic_hook();
    // While a node serves this home, the command runs there (the node holds the store).
    if remote::forwards(&cli.command) {
        match remote::node_for(cli.home.clone()) {
            Ok(Some(node)) => return remote::forward(&node, cli, &args),
            Ok(None) => {}
            Err(e) => {
                eprintln!("mindlog: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::from(execute(cli).code)
}

/// Logs on stderr, at `warn` unless `MINDLOG_LOG` says otherwise (`info` for a node, in the
/// format of its `--log-format`).
fn init_tracing(cli: &Cli) {
    let (default, json) = match &cli.command {
        // libp2p says its peer id at info; the node says it itself.
        Command::Node(args) => ("info,libp2p_swarm=warn", args.log_format == cli::LogFormat::Json),
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MINDLOG_LOG").unwrap_or_else(|_| default.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json { builder.json().init() } else { builder.init() }
}

/// How a command ended: its exit code, and for one that did not succeed, why (the line it
/// printed on stderr), which the node's HTTP routes turn into a status.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) code: u8,
    pub(crate) failure: Option<Failure>,
}

/// Why a command did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command line is wrong (exit 2).
    Usage(String),
    /// The thing checked is wrong, and the command said so in its output (exit 1).
    Failed,
    /// A rule rejected the command (exit 1).
    Rejected(mindlog_commands::Rejection),
    /// The command refused its input (exit 1).
    Refused(refusal::Refusal),
    /// A query the engine refused as wrong (exit 1).
    BadQuery(String),
    /// A query ran past its time limit (exit 2).
    TimedOut(String),
    /// A query needed more memory than its limit (exit 2).
    TooLarge(String),
    /// The store is damaged: a panic (exit 2).
    Damaged(String),
    /// Anything else (exit 2).
    Error(String),
}

impl Failure {
    /// The one line the command printed about it (without `mindlog: `).
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Failed => "the check failed; the report says what".to_owned(),
            Failure::Rejected(rejection) => rejection.to_string(),
            Failure::Refused(refusal) => refusal.to_string(),
            Failure::Usage(m)
            | Failure::BadQuery(m)
            | Failure::TimedOut(m)
            | Failure::TooLarge(m)
            | Failure::Error(m) => m.clone(),
            Failure::Damaged(m) => format!("the store is damaged: {m}; run mindlog verify, then mindlog repair"),
        }
    }
}

/// Runs a parsed command inside the panic boundary (ARCHITECTURE.md, "Panic boundaries"): code
/// that is not ours (redb's B-tree on a damaged page) or that trusts a length read from the file
/// can panic on a damaged store; the user gets one line and exit 2, never a backtrace and exit
/// 101. Prints what went wrong on the command's stderr. The same for the process and for a
/// command a node runs for a client.
pub(crate) fn execute(cli: Cli) -> Finished {
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(result) => result,
        Err(payload) => return damaged_store(&*payload),
    };
    let (code, failure) = match result {
        Ok(Outcome::Success) => (0, None),
        Ok(Outcome::Failed) => (1, Some(Failure::Failed)),
        Ok(Outcome::Rejected(rejection)) => {
            say!("mindlog: {rejection}");
            (1, Some(Failure::Rejected(rejection)))
        }
        Ok(Outcome::Refused(refusal)) => {
            say!("mindlog: {refusal}");
            (1, Some(Failure::Refused(refusal)))
        }
        Err(e) => exit_for_error(&e),
    };
    Finished { code, failure }
}

/// Help and version go to stdout (exit 0); `mindlog` or a command group alone prints its help on
/// stderr (exit 2); any other usage error is one line on stderr (exit 2):
/// `mindlog: <what is wrong>; see mindlog <command> --help`.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            let args: Vec<String> = std::env::args().skip(1).collect();
            eprintln!("mindlog: {}", usage_line(e, &args));
            ExitCode::from(2)
        }
    }
}

/// A usage error on one line, `<what is wrong>; see mindlog <command> --help`, for the command
/// line `args` (without the program's name).
pub(crate) fn usage_line(e: &clap::Error, args: &[String]) -> String {
    format!("{}; see {} --help", one_line(&e.render().to_string()), command_path(args).join(" "))
}

/// clap's error message without its usage block: the message and its tips, on one line.
fn one_line(rendered: &str) -> String {
    let mut text = String::new();
    for line in rendered.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push_str(if text.ends_with(':') { " " } else { "; " });
        }
        text.push_str(line.strip_prefix("error: ").unwrap_or(line));
    }
    text
}

/// `mindlog` and the subcommands named in `args`, as far as they go (`mindlog market show`).
fn command_path(args: &[String]) -> Vec<String> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut path = vec!["mindlog".to_owned()];
    for arg in args {
        if arg.starts_with('-') {
            continue;
        }
        match command.find_subcommand(arg) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                let sub = sub.clone();
                command = sub;
            }
            None if path.len() > 1 => break,
            None => continue, // a value of a global flag, such as --home DIR
        }
    }
    path
}

/// The first panic's message, on one line, as the panic hook kept it.
static PANIC_MESSAGE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Keeps the first panic's message for [`damaged_store`] instead of printing it with a
/// backtrace (`MINDLOG_LOG=debug` logs where it happened, with the backtrace).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = panic_text(info.payload());
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        if tracing::enabled!(tracing::Level::DEBUG) {
            let backtrace = std::backtrace::Backtrace::force_capture();
            tracing::debug!(location = ?info.location(), %message, %backtrace, "panic");
        }
        let mut slot = PANIC_MESSAGE.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(message);
        }
    }));
}

/// What a panic said.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// The first panic's message, if any thread panicked (in a node, only the panic of this request
/// counts: another request's panic says nothing about this one).
fn panic_message() -> Option<String> {
    if served::current().is_some() {
        return None;
    }
    PANIC_MESSAGE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A command panicked: `mindlog: the store is damaged: MESSAGE; run mindlog verify, then mindlog
/// repair`, exit 2.
fn damaged_store(payload: &(dyn std::any::Any + Send)) -> Finished {
    let message =
        panic_message().unwrap_or_else(|| panic_text(payload).split_whitespace().collect::<Vec<_>>().join(" "));
    say!("mindlog: the store is damaged: {message}; run mindlog verify, then mindlog repair");
    Finished { code: 2, failure: Some(Failure::Damaged(message)) }
}

fn exit_for_error(error: &anyhow::Error) -> (u8, Option<Failure>) {
    let closed_pipe = error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if closed_pipe || output::reader_went_away() {
        // The reader went away (`mindlog log --json | head -1`): not an error.
        return (0, None);
    }
    let message = match panic_message() {
        // A worker thread panicked and the command failed with it: say what the panic said.
        Some(panic) => format!("{error:#} (a worker thread stopped: {panic})"),
        None => format!("{error:#}"),
    };
    say!("mindlog: {message}");
    // A query the engine refused as wrong is the user's to fix (exit 1), like a refusal; a store
    // or output failure is not (exit 2).
    let bad_query = error
        .chain()
        .any(|c| c.downcast_ref::<mindlog_query::QueryError>().is_some_and(mindlog_query::QueryError::is_bad_query));
    let limit = error.chain().find_map(|c| match c.downcast_ref::<mindlog_query::QueryError>() {
        Some(mindlog_query::QueryError::TimedOut { .. }) => Some(Failure::TimedOut(message.clone())),
        Some(mindlog_query::QueryError::OutOfMemory { .. }) => Some(Failure::TooLarge(message.clone())),
        _ => None,
    });
    match limit {
        Some(failure) => (2, Some(failure)),
        None if bad_query => (1, Some(Failure::BadQuery(message))),
        None => (2, Some(Failure::Error(message))),
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let format = if cli.json { output::Format::Json } else { output::Format::Text };
    if let Some(name) = &cli.as_identity {
        or_refuse!(home::identity_name(name));
    }
    let home = Home::resolve(cli.home, cli.as_identity, format)?;
    match cli.command {
        Command::Init => ledger_cmds::init(&home),
        Command::Gen(args) => ledger_cmds::generate(&home, &args),
        Command::Log(args) => ledger_cmds::log(&home, &args),
        Command::Stats(args) => ledger_cmds::stats(&home, &args),
        Command::Verify(args) => ledger_cmds::verify(&home, &args),
        Command::Repair => ledger_cmds::repair(&home),
        Command::Compact => ledger_cmds::compact(&home),
        Command::Node(args) => node::run(&home, &args),
        Command::Open { print } => node::open(&home, print),
        Command::Peers => node::replication::peers(&home),
        Command::Replicate(args) => node::replication::replicate(&home, &args),
        Command::Forks => node::replication::forks(&home),
        Command::Sign { output } => tlog_cmds::sign(&home, output.as_deref()),
        Command::Checkpoint { author, output } => tlog_cmds::checkpoint(&home, author.as_deref(), output.as_deref()),
        Command::Prove { event, consistency, output } => match (event, consistency.as_deref()) {
            (_, Some([author, old, new])) => {
                let size = |s: &str| {
                    anyhow::Context::with_context(s.parse::<u64>(), || format!("{s:?} is not a size (a whole number)"))
                };
                tlog_cmds::prove_consistency(&home, author, size(old)?, size(new)?, output.as_deref())
            }
            (Some(event), _) => tlog_cmds::prove(&home, &event, output.as_deref()),
            _ => anyhow::bail!("give an EVENT, or --consistency AUTHOR OLD NEW"),
        },
        Command::Check { file, key, witness, old } => tlog_cmds::check(&home, &file, &key, &witness, old.as_deref()),
        Command::Witness(cli::WitnessCmd::Cosign { checkpoint, output }) => {
            tlog_cmds::witness_cosign(&home, &checkpoint, output.as_deref())
        }
        Command::Export(args) => ledger_cmds::export(&home, &args),
        Command::Erase(args) => erase_cmds::erase(&home, &args),
        Command::Import(args) => ledger_cmds::import(&home, &args),
        Command::Bench(args) if args.store.is_some() && args.what != cli::BenchWhat::Query => {
            anyhow::bail!("--store is for mindlog bench query only")
        }
        Command::Bench(args) if args.what == cli::BenchWhat::Node => bench_node::run(&args, format),
        Command::Bench(args) if args.what == cli::BenchWhat::P2p => bench_p2p::run(&args, format),
        Command::Bench(args) if args.what == cli::BenchWhat::Tlog => bench_tlog::run(&args, format),
        Command::Bench(args) if args.what == cli::BenchWhat::Query => bench_query::run(&args, format),
        Command::Bench(args) => bench::run(&args, format),
        Command::Demo(args) => ledger_cmds::demo(&home, &args),
        Command::Persona(cmd) => persona_cmds::persona(&home, cmd),
        Command::Commitment(cmd) => persona_cmds::write_declared(&home, cmd.command()),
        Command::Memory(cmd) => persona_cmds::memory(&home, cmd),
        Command::Write(cmd) => persona_cmds::write_declared(&home, cmd.command()),
        Command::Model(cmd) => persona_cmds::write_declared(&home, cmd.command()),
        Command::Submit { file } => persona_cmds::submit(&home, &file),
        Command::Projections(cmd) => persona_cmds::projections(&home, cmd),
        Command::Query(args) => query_cmds::query(&home, &args),
        Command::Identity(cmd) => market_cmds::identity(&home, cmd),
        Command::Market(cmd) => market_cmds::market(&home, cmd),
        Command::Follow(c) => market_cmds::follow(&home, c),
        Command::Unfollow(c) => market_cmds::unfollow(&home, c),
        Command::Guild(cmd) => persona_cmds::write_declared(&home, cmd.command()),
        Command::Award(c) => market_cmds::award(&home, c),
        Command::Leaderboard { board, limit } => market_cmds::leaderboard(&home, board, limit),
        Command::Rep(cmd) => market_cmds::rep(&home, cmd),
        Command::Audit(cmd) => market_cmds::audit(&home, cmd),
    }
}
